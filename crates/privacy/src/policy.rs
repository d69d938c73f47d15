//! The access decision, made by Cedar.
//!
//! The policies live in `crates/privacy/policies/*.cedar` beside the schema
//! `okienko.cedarschema`; they are embedded in the binary and validated against the schema (strict
//! mode) when the engine is built, so a policy that does not validate stops start-up. Every policy
//! carries an `@id`, and the ids of the policies that determined a decision go into the audit row.
//!
//! Cedar answers allow or deny. A denial is then explained for the caller ([`DenyReason`]) by
//! asking the same policies two "what if" questions: would it be allowed with every consent scope
//! valid in a private one-to-one place (if not, the actor may not act for this subject), and with
//! every scope valid in the actual place (if not, the place is not private; else the consent is
//! missing). The explanation never changes the decision.
//!
//! Decisions are cached by the request's shape (module `decision_cache`): Cedar decides each
//! shape once per engine (allow, or deny with its explanation) and later requests of the same
//! shape get that verdict in well under a microsecond. The cache is on only when no policy names
//! a particular entity, and a property test holds it equal to Cedar.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use cedar_policy::{
    Authorizer, Decision as CedarDecision, PolicyId, PolicySet, Schema, ValidationMode, Validator,
};
use okienko_core::{ConsentScope, CustomerId};
use serde::Serialize;

use crate::case::CaseId;
use crate::cedar::{ALL_SCOPES, Place, Vocabulary};
use crate::decision_cache::{CacheStats, DecisionCache, Shape, cacheable};
use crate::purpose::{AccessRequest, ChannelContext, Room};

/// The Cedar schema the policies are validated against.
pub const SCHEMA: &str = include_str!("../policies/okienko.cedarschema");

/// The policy files, by name.
pub const POLICY_FILES: [(&str, &str); 4] = [
    ("customer.cedar", include_str!("../policies/customer.cedar")),
    ("agent.cedar", include_str!("../policies/agent.cedar")),
    ("system.cedar", include_str!("../policies/system.cedar")),
    (
        "forbidden.cedar",
        include_str!("../policies/forbidden.cedar"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// Advertising, marketing, profiling, sharing, third-party model training.
    ForbiddenPurpose,
    /// The actor is not allowed to act for this subject (for this purpose).
    NotTheSubject,
    /// No valid consent covers the purpose's scope.
    NoConsent,
    /// The data would be shown where a platform, or someone else in the room, can read it.
    ChannelNotPrivate,
    /// The policy engine could not evaluate the request; the gate fails closed.
    PolicyEngine,
}

impl DenyReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            DenyReason::ForbiddenPurpose => "forbidden_purpose",
            DenyReason::NotTheSubject => "not_the_subject",
            DenyReason::NoConsent => "no_consent",
            DenyReason::ChannelNotPrivate => "channel_not_private",
            DenyReason::PolicyEngine => "policy_engine",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    Allow,
    Deny(DenyReason),
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny(r) => r.as_str(),
        }
    }
}

/// A decision with the ids of the policies that determined it (none for a default deny).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub policies: Vec<String>,
}

impl Verdict {
    /// The audit form: `allow[customer_balance]`, `deny:forbidden_purpose[forbidden_purpose]`,
    /// `deny:no_consent[]`. Read it back with [`crate::audit::parse_decision`].
    pub fn audit_string(&self) -> String {
        let ids = self.policies.join(",");
        match self.decision {
            Decision::Allow => format!("allow[{ids}]"),
            Decision::Deny(r) => format!("deny:{}[{ids}]", r.as_str()),
        }
    }
}

/// Facts the gate looked up before deciding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The subject's consent scopes that are valid now.
    pub valid_scopes: Vec<ConsentScope>,
    /// For a bank agent: the open cases assigned to them.
    pub agent_cases: Vec<CaseId>,
    /// The customer the request's case is about, if that case is open.
    pub case_subject: Option<CustomerId>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the Cedar schema does not parse: {0}")]
    Schema(String),
    #[error("{file} does not parse: {message}")]
    Parse { file: String, message: String },
    #[error("a policy in {file} has no @id annotation")]
    MissingId { file: String },
    #[error("two policies are called {0}")]
    DuplicateId(String),
    #[error("the policies do not validate against the schema: {0}")]
    Invalid(String),
    #[error("the policy vocabulary does not build: {0}")]
    Vocabulary(String),
    #[error("the embedded policies failed to load: {0}")]
    Embedded(String),
}

/// The validated policies, the schema and the authorizer. Build once, share behind an `Arc`.
pub struct PolicyEngine {
    policies: PolicySet,
    schema: Schema,
    vocabulary: Vocabulary,
    authorizer: Authorizer,
    /// Check every request and entity store against the schema too (tests; costs a few µs).
    check_requests: bool,
    /// Cedar's verdicts by request shape, for this policy set only.
    cache: DecisionCache,
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine")
            .field("policies", &self.policy_ids())
            .finish_non_exhaustive()
    }
}

impl PolicyEngine {
    /// The policies shipped in this binary.
    pub fn embedded() -> Result<Self, PolicyError> {
        Self::from_sources(SCHEMA, &POLICY_FILES)
    }

    /// The embedded policies, parsed and validated once per process and shared by every gate
    /// (and so is their decision cache).
    pub fn embedded_shared() -> Result<Arc<Self>, PolicyError> {
        static SHARED: OnceLock<Result<Arc<PolicyEngine>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::embedded().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(PolicyError::Embedded)
    }

    /// Parses the schema and the policy files, names each policy by its `@id`, and validates the
    /// set against the schema in strict mode.
    pub fn from_sources(schema_src: &str, files: &[(&str, &str)]) -> Result<Self, PolicyError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(schema_src)
            .map_err(|e| PolicyError::Schema(e.to_string()))?;
        let mut policies = PolicySet::new();
        let mut seen = HashSet::new();
        for (file, src) in files {
            let parsed: PolicySet =
                src.parse()
                    .map_err(|e: cedar_policy::ParseErrors| PolicyError::Parse {
                        file: (*file).to_owned(),
                        message: e.to_string(),
                    })?;
            for p in parsed.policies() {
                let id = p.annotation("id").ok_or_else(|| PolicyError::MissingId {
                    file: (*file).to_owned(),
                })?;
                if !seen.insert(id.to_owned()) {
                    return Err(PolicyError::DuplicateId(id.to_owned()));
                }
                policies
                    .add(p.new_id(PolicyId::new(id)))
                    .map_err(|e| PolicyError::DuplicateId(e.to_string()))?;
            }
        }
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(PolicyError::Invalid(errors.join("; ")));
        }
        Ok(PolicyEngine {
            cache: DecisionCache::new(cacheable(&policies)),
            policies,
            schema,
            vocabulary: Vocabulary::new().map_err(|e| PolicyError::Vocabulary(e.to_string()))?,
            authorizer: Authorizer::new(),
            check_requests: false,
        })
    }

    /// Also validate every request and its entities against the schema.
    pub fn checking_requests(mut self) -> Self {
        self.check_requests = true;
        self
    }

    /// Asks Cedar every time (the reference the cache is tested and benchmarked against).
    pub fn without_cache(mut self) -> Self {
        self.cache = DecisionCache::new(false);
        self
    }

    /// How the decision cache has done so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The ids of the loaded policies, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Cedar's answer for `req` under `facts`, evaluated as if in `place`, and whether it was
    /// clean (no policy failed to evaluate).
    fn evaluate(
        &self,
        req: &AccessRequest,
        facts: &Facts,
        place: Place<'_>,
    ) -> Option<(CedarDecision, Vec<String>, bool)> {
        let schema = self.check_requests.then_some(&self.schema);
        match self.vocabulary.build(req, facts, place, schema) {
            Ok((request, entities)) => {
                let response = self
                    .authorizer
                    .is_authorized(&request, &self.policies, &entities);
                let diagnostics = response.diagnostics();
                let clean = diagnostics.errors().next().is_none();
                if !clean {
                    tracing::warn!(
                        purpose = req.purpose.as_str(),
                        "a Cedar policy failed to evaluate; it was skipped"
                    );
                }
                let mut ids: Vec<String> = diagnostics.reason().map(|id| id.to_string()).collect();
                ids.sort();
                Some((response.decision(), ids, clean))
            }
            Err(e) => {
                tracing::error!(purpose = req.purpose.as_str(), error = %e, "policy request not built");
                None
            }
        }
    }

    /// The decision for one request: Cedar's, from the cache when Cedar already decided a
    /// request of the same shape.
    pub fn decide(&self, req: &AccessRequest, facts: &Facts) -> Verdict {
        if !self.cache.enabled() {
            return self.decide_with_cedar(req, facts).0;
        }
        let shape = Shape::of(req, facts);
        if let Some(verdict) = self.cache.get(&shape) {
            return verdict;
        }
        let (verdict, clean) = self.decide_with_cedar(req, facts);
        if clean {
            self.cache.put(shape, &verdict);
        }
        verdict
    }

    /// Asks Cedar (and, for a denial no forbid explains, asks it why); the flag is false when
    /// the request could not be built or a policy failed to evaluate (not cached).
    fn decide_with_cedar(&self, req: &AccessRequest, facts: &Facts) -> (Verdict, bool) {
        let actual = Place {
            scopes: &facts.valid_scopes,
            channel: req.channel,
            holder_alone: req.room == Room::HolderAlone,
        };
        let Some((decision, policies, clean)) = self.evaluate(req, facts, actual) else {
            let verdict = Verdict {
                decision: Decision::Deny(DenyReason::PolicyEngine),
                policies: Vec::new(),
            };
            return (verdict, false);
        };
        let decision = match decision {
            CedarDecision::Allow => Decision::Allow,
            // Deny with reasons means a forbid fired; the only forbid is the purpose forbid.
            CedarDecision::Deny if !policies.is_empty() => {
                Decision::Deny(DenyReason::ForbiddenPurpose)
            }
            CedarDecision::Deny => Decision::Deny(self.explain(req, facts)),
        };
        (Verdict { decision, policies }, clean)
    }

    /// Why the policies denied a request no forbid matched (see the module doc).
    fn explain(&self, req: &AccessRequest, facts: &Facts) -> DenyReason {
        let allowed = |place: Place<'_>| {
            matches!(
                self.evaluate(req, facts, place),
                Some((CedarDecision::Allow, _, _))
            )
        };
        let private = Place {
            scopes: &ALL_SCOPES,
            channel: ChannelContext::WebChat,
            holder_alone: true,
        };
        if !allowed(private) {
            return DenyReason::NotTheSubject;
        }
        let here = Place {
            scopes: &ALL_SCOPES,
            channel: req.channel,
            holder_alone: req.room == Room::HolderAlone,
        };
        if !allowed(here) {
            return DenyReason::ChannelNotPrivate;
        }
        DenyReason::NoConsent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::purpose::{Actor, Purpose};

    fn engine() -> PolicyEngine {
        PolicyEngine::embedded()
            .expect("embedded policies validate")
            .checking_requests()
    }

    fn scopes() -> Facts {
        Facts {
            valid_scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
            ..Facts::default()
        }
    }

    #[test]
    fn the_embedded_policies_validate_against_the_schema_without_warnings() {
        let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
        let e = PolicyEngine::embedded().unwrap();
        let result = Validator::new(schema).validate(&e.policies, ValidationMode::Strict);
        assert!(result.validation_passed_without_warnings());
        assert_eq!(
            e.policy_ids(),
            [
                "agent_open_case",
                "customer_access_log",
                "customer_balance",
                "customer_own_service",
                "customer_transactions",
                "forbidden_purpose",
                "system_job_notices_balance",
                "system_job_notices_transactions",
                "system_job_protects_customer",
            ]
        );
        // The only forbid is the purpose forbid: `decide` relies on it.
        let forbids: Vec<_> = e
            .policies
            .policies()
            .filter(|p| p.effect() == cedar_policy::Effect::Forbid)
            .map(|p| p.id().to_string())
            .collect();
        assert_eq!(forbids, ["forbidden_purpose"]);
    }

    #[test]
    fn a_policy_that_does_not_validate_is_a_start_up_error() {
        let typo = r#"@id("typo") permit(principal is Customer, action == Action::"service.balance", resource is CustomerData) when { resource.valid_scope.contains("balances") };"#;
        let err = PolicyEngine::from_sources(SCHEMA, &[("typo.cedar", typo)]).unwrap_err();
        assert!(matches!(err, PolicyError::Invalid(_)), "{err}");
        let bad_channel = r#"@id("c") permit(principal, action, resource) when { context.channel == Channel::"telegram" };"#;
        assert!(PolicyEngine::from_sources(SCHEMA, &[("c.cedar", bad_channel)]).is_err());
        let unnamed = r#"permit(principal, action, resource);"#;
        assert!(matches!(
            PolicyEngine::from_sources(SCHEMA, &[("u.cedar", unnamed)]),
            Err(PolicyError::MissingId { .. })
        ));
        let twice = r#"@id("x") permit(principal, action, resource); @id("x") forbid(principal, action, resource);"#;
        assert!(matches!(
            PolicyEngine::from_sources(SCHEMA, &[("t.cedar", twice)]),
            Err(PolicyError::DuplicateId(_))
        ));
    }

    #[test]
    fn forbidden_purposes_are_denied_whatever_else_holds() {
        let e = engine();
        let c = CustomerId::new();
        let case = CaseId::new();
        let facts = Facts {
            valid_scopes: ALL_SCOPES.to_vec(),
            agent_cases: vec![case],
            case_subject: Some(c),
        };
        for p in Purpose::ALL.into_iter().filter(|p| !p.is_service()) {
            for actor in [
                Actor::Customer(c),
                Actor::System("any".into()),
                Actor::BankAgent("a1".into()),
            ] {
                let req = AccessRequest {
                    actor,
                    subject: c,
                    purpose: p,
                    channel: ChannelContext::Internal,
                    room: Room::HolderAlone,
                    case: Some(case),
                };
                let v = e.decide(&req, &facts);
                assert_eq!(v.decision, Decision::Deny(DenyReason::ForbiddenPurpose));
                assert_eq!(v.policies, ["forbidden_purpose"]);
                assert_eq!(
                    v.audit_string(),
                    "deny:forbidden_purpose[forbidden_purpose]"
                );
            }
        }
    }

    #[test]
    fn customer_reads_own_data_with_consent_only() {
        let e = engine();
        let c = CustomerId::new();
        let req = AccessRequest::customer(c, Purpose::ServiceBalance, ChannelContext::WebChat);
        let v = e.decide(&req, &scopes());
        assert_eq!(v.decision, Decision::Allow);
        assert_eq!(v.audit_string(), "allow[customer_balance]");
        let none = e.decide(&req, &Facts::default());
        assert_eq!(none.decision, Decision::Deny(DenyReason::NoConsent));
        assert_eq!(none.audit_string(), "deny:no_consent[]");
        let only_tx = Facts {
            valid_scopes: vec![ConsentScope::Transactions],
            ..Facts::default()
        };
        assert_eq!(
            e.decide(&req, &only_tx).decision,
            Decision::Deny(DenyReason::NoConsent)
        );
        let other = AccessRequest {
            actor: Actor::Customer(CustomerId::new()),
            ..req.clone()
        };
        assert_eq!(
            e.decide(&other, &scopes()).decision,
            Decision::Deny(DenyReason::NotTheSubject)
        );
        let leaky = AccessRequest {
            channel: ChannelContext::PlatformReadable,
            ..req.clone()
        };
        assert_eq!(
            e.decide(&leaky, &scopes()).decision,
            Decision::Deny(DenyReason::ChannelNotPrivate)
        );
        let group = req.in_shared_room();
        assert_eq!(
            e.decide(&group, &scopes()).decision,
            Decision::Deny(DenyReason::ChannelNotPrivate)
        );
    }

    #[test]
    fn an_agent_needs_the_open_case_of_this_customer() {
        let e = engine();
        let c = CustomerId::new();
        let case = CaseId::new();
        let req = AccessRequest::agent("agent-7", c, case, ChannelContext::Internal);
        let in_case = Facts {
            agent_cases: vec![case],
            case_subject: Some(c),
            ..Facts::default()
        };
        let v = e.decide(&req, &in_case);
        assert_eq!(v.decision, Decision::Allow);
        assert_eq!(v.policies, ["agent_open_case"]);
        for facts in [
            // The case is someone else's.
            Facts {
                agent_cases: vec![case],
                case_subject: Some(CustomerId::new()),
                ..Facts::default()
            },
            // The case is not assigned to this agent, or is closed.
            Facts {
                agent_cases: vec![CaseId::new()],
                case_subject: Some(c),
                ..Facts::default()
            },
            Facts::default(),
        ] {
            assert_eq!(
                e.decide(&req, &facts).decision,
                Decision::Deny(DenyReason::NotTheSubject)
            );
        }
        let balance = AccessRequest {
            purpose: Purpose::ServiceBalance,
            ..req.clone()
        };
        assert_eq!(
            e.decide(&balance, &in_case).decision,
            Decision::Deny(DenyReason::NotTheSubject)
        );
    }
}
