//! A verified cache of Cedar's decisions, keyed by the request's *shape*.
//!
//! Cedar evaluates the same few policies over a handful of facts, so the decision for a customer
//! asking for their own balance on the web chat with a valid balances consent is the same for
//! every customer. The cache keeps one [`Verdict`] per shape: the actor's kind (for a customer,
//! only whether they are the data subject; a system job by name; a bank agent by name with the
//! exact case named and their exact open cases, and whether that case is about the subject), the
//! purpose, the set of valid consent scopes, the channel and whether the room holds the holder
//! alone. That is everything [`crate::cedar::Vocabulary::build`] puts into the Cedar request
//! except the customer ids themselves.
//!
//! Why this is sound: the only thing dropped from the key is *which* customer ids appear, and
//! Cedar offers no operation on an entity id besides comparing it with another entity or with a
//! literal in a policy. Renaming customers consistently (subject ↔ subject, another customer ↔
//! another customer) therefore cannot change a decision, as long as no policy names a particular
//! customer. [`cacheable`] checks that when the engine is built: a policy set with an entity
//! literal of any type but `Action` and `Channel` turns the cache off and every request goes to
//! Cedar. The property test `cached_decisions_equal_cedars` (tests/properties.rs) checks the
//! equality on random requests against an engine without the cache.
//!
//! The cache belongs to one [`crate::PolicyEngine`] and so to one immutable policy set: loading
//! other policies means a new engine, with an empty cache. Denials are cached with their
//! explanation, so a repeated denial costs no second evaluation either. Failures to evaluate are
//! never cached (they are logged each time). It must never decide on its own: every entry was
//! filled from Cedar for the same shape.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use okienko_core::ConsentScope;

use crate::case::CaseId;
use crate::policy::{Facts, Verdict};
use crate::purpose::{AccessRequest, Actor, ChannelContext, Purpose, Room};

/// More distinct shapes than this (only agents' cases can make many) empties the cache first.
const MAX_ENTRIES: usize = 16_384;

/// Who asks, as far as the policies can tell actors apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Principal {
    Customer {
        is_subject: bool,
    },
    System(Box<str>),
    Agent {
        staff: Box<str>,
        case: Option<CaseId>,
        open_cases: Box<[CaseId]>,
        /// Whether the named case (if open) is about the request's subject.
        case_about_subject: Option<bool>,
    },
}

/// Everything the Cedar request depends on, except the customer ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Shape {
    principal: Principal,
    purpose: Purpose,
    /// Bit `i` set when `ALL_SCOPES[i]` is valid.
    scopes: u8,
    channel: ChannelContext,
    holder_alone: bool,
}

fn scope_bit(s: ConsentScope) -> u8 {
    match s {
        ConsentScope::Balances => 1,
        ConsentScope::Transactions => 2,
        ConsentScope::Payments => 4,
        ConsentScope::Alerts => 8,
    }
}

impl Shape {
    pub(crate) fn of(req: &AccessRequest, facts: &Facts) -> Shape {
        let principal = match &req.actor {
            Actor::Customer(c) => Principal::Customer {
                is_subject: *c == req.subject,
            },
            Actor::System(job) => Principal::System(job.as_str().into()),
            Actor::BankAgent(staff) => {
                let mut open_cases = facts.agent_cases.clone();
                open_cases.sort_unstable();
                open_cases.dedup();
                Principal::Agent {
                    staff: staff.as_str().into(),
                    case: req.case,
                    open_cases: open_cases.into_boxed_slice(),
                    case_about_subject: facts.case_subject.map(|s| s == req.subject),
                }
            }
        };
        Shape {
            principal,
            purpose: req.purpose,
            scopes: facts
                .valid_scopes
                .iter()
                .fold(0, |bits, s| bits | scope_bit(*s)),
            channel: req.channel,
            holder_alone: req.room == Room::HolderAlone,
        }
    }
}

/// How often the cache answered and how often Cedar had to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    /// False when the policies name particular entities and every request goes to Cedar.
    pub enabled: bool,
}

pub(crate) struct DecisionCache {
    enabled: bool,
    map: RwLock<HashMap<Shape, Verdict>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl DecisionCache {
    pub(crate) fn new(enabled: bool) -> Self {
        DecisionCache {
            enabled,
            map: RwLock::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The cached verdict for this shape, if Cedar decided it before.
    pub(crate) fn get(&self, shape: &Shape) -> Option<Verdict> {
        if !self.enabled {
            return None;
        }
        let map = match self.map.read() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let found = map.get(shape).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps Cedar's verdict for this shape.
    pub(crate) fn put(&self, shape: Shape, verdict: &Verdict) {
        if !self.enabled {
            return;
        }
        let mut map = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(shape, verdict.clone());
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let entries = match self.map.read() {
            Ok(m) => m.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        };
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            enabled: self.enabled,
        }
    }
}

/// Whether decisions may be cached by shape: no policy names an entity other than an action or a
/// channel (a policy naming a customer, an agent, a job or a customer's data would make the ids
/// matter). Judged on Cedar's own JSON form of each policy, where every entity reference is an
/// object with a `type` and an `id`. Anything unexpected answers false.
pub(crate) fn cacheable(policies: &cedar_policy::PolicySet) -> bool {
    fn names_an_entity(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(o) => {
                let literal = match (o.get("type"), o.get("id")) {
                    (Some(serde_json::Value::String(t)), Some(serde_json::Value::String(_))) => {
                        let base = t.rsplit("::").next().unwrap_or(t);
                        base != "Action" && base != "Channel"
                    }
                    _ => false,
                };
                literal || o.values().any(names_an_entity)
            }
            serde_json::Value::Array(a) => a.iter().any(names_an_entity),
            _ => false,
        }
    }
    policies.policies().all(|p| match p.to_json() {
        Ok(json) => !names_an_entity(&json),
        Err(_) => false,
    }) && policies.templates().next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::PolicySet;
    use okienko_core::CustomerId;

    fn set(src: &str) -> PolicySet {
        src.parse().unwrap()
    }

    #[test]
    fn policies_naming_a_particular_entity_are_not_cacheable() {
        assert!(cacheable(&set(
            r#"permit(principal is Customer, action == Action::"service.balance", resource)
               when { context.channel != Channel::"platform_readable" };"#
        )));
        assert!(cacheable(&set(
            r#"forbid(principal, action in [Action::"advertising", Action::"marketing"], resource);"#
        )));
        for named in [
            r#"permit(principal == Customer::"c1", action, resource);"#,
            r#"permit(principal, action, resource) when { resource.owner == Customer::"c1" };"#,
            r#"permit(principal, action, resource == CustomerData::"c1");"#,
            r#"permit(principal, action, resource) when { principal in [BankAgent::"a", BankAgent::"b"] };"#,
            r#"permit(principal in BankAgent::"team", action, resource);"#,
            r#"forbid(principal, action, resource) unless { principal != SystemJob::"x" };"#,
        ] {
            assert!(!cacheable(&set(named)), "{named}");
        }
    }

    #[test]
    fn shapes_ignore_which_customer_but_not_anything_else() {
        let (a, b) = (CustomerId::new(), CustomerId::new());
        let facts = Facts {
            valid_scopes: vec![ConsentScope::Transactions, ConsentScope::Balances],
            ..Facts::default()
        };
        let reordered = Facts {
            valid_scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
            ..Facts::default()
        };
        let req = |actor, subject| AccessRequest {
            actor,
            subject,
            purpose: Purpose::ServiceBalance,
            channel: ChannelContext::WebChat,
            room: Room::HolderAlone,
            case: None,
        };
        let own_a = Shape::of(&req(Actor::Customer(a), a), &facts);
        assert_eq!(own_a, Shape::of(&req(Actor::Customer(b), b), &reordered));
        assert_ne!(own_a, Shape::of(&req(Actor::Customer(a), b), &facts));
        assert_ne!(
            own_a,
            Shape::of(&req(Actor::Customer(a), a), &Facts::default())
        );
        let shared = req(Actor::Customer(a), a).in_shared_room();
        assert_ne!(own_a, Shape::of(&shared, &facts));
        assert_ne!(
            Shape::of(&req(Actor::System("a".into()), a), &facts),
            Shape::of(&req(Actor::System("b".into()), a), &facts)
        );
    }
}
