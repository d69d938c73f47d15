//! Property tests of the Cedar policies through the engine the gate uses: no generated request
//! with a forbidden purpose is ever allowed, and an allowed request always comes from the subject
//! themself, from an agent inside an open case of that subject, or from a system job with a
//! purpose jobs may use; and it is never shown on a platform-readable channel except the access
//! log. Ids come from small pools so that matches (and near misses) are frequent.

use std::sync::LazyLock;

use okienko_core::{ConsentScope, CustomerId};
use okienko_privacy::{
    AccessRequest, Actor, CaseId, ChannelContext, Decision, DenyReason, Facts, PolicyEngine,
    Purpose, Room,
};
use proptest::prelude::*;
use uuid::Uuid;

static ENGINE: LazyLock<PolicyEngine> = LazyLock::new(|| {
    PolicyEngine::embedded()
        .expect("the embedded policies validate")
        .checking_requests()
});

fn customer(i: u8) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(0xC000 + u128::from(i)))
}

fn case(i: u8) -> CaseId {
    CaseId::from_uuid(Uuid::from_u128(0xCA5E + u128::from(i)))
}

const SCOPES: [ConsentScope; 4] = [
    ConsentScope::Balances,
    ConsentScope::Transactions,
    ConsentScope::Payments,
    ConsentScope::Alerts,
];

fn any_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        (0u8..3).prop_map(|i| Actor::Customer(customer(i))),
        prop::sample::select(vec!["agent-1", "agent-2", ""])
            .prop_map(|s| Actor::BankAgent(s.into())),
        prop::sample::select(vec![
            "guard.scoring",
            "payments",
            "ads.exporter",
            "\"; drop"
        ])
        .prop_map(|s| Actor::System(s.into())),
    ]
}

fn any_request() -> impl Strategy<Value = AccessRequest> {
    (
        any_actor(),
        0u8..3,
        prop::sample::select(Purpose::ALL.to_vec()),
        prop::sample::select(ChannelContext::ALL.to_vec()),
        prop::bool::ANY,
        prop::option::of(0u8..3),
    )
        .prop_map(
            |(actor, subject, purpose, channel, shared, case_no)| AccessRequest {
                actor,
                subject: customer(subject),
                purpose,
                channel,
                room: if shared {
                    Room::Shared
                } else {
                    Room::HolderAlone
                },
                case: case_no.map(case),
            },
        )
}

fn any_facts() -> impl Strategy<Value = Facts> {
    (
        prop::sample::subsequence(SCOPES.to_vec(), 0..=4),
        prop::sample::subsequence(vec![0u8, 1, 2], 0..=3),
        prop::option::of(0u8..3),
    )
        .prop_map(|(valid_scopes, cases, case_subject)| Facts {
            valid_scopes,
            agent_cases: cases.into_iter().map(case).collect(),
            case_subject: case_subject.map(customer),
        })
}

const FORBIDDEN: [Purpose; 5] = [
    Purpose::Advertising,
    Purpose::Marketing,
    Purpose::Profiling,
    Purpose::ThirdPartySharing,
    Purpose::ModelTraining,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn a_forbidden_purpose_is_never_allowed(
        req in any_request(),
        facts in any_facts(),
        purpose in prop::sample::select(FORBIDDEN.to_vec()),
    ) {
        let req = AccessRequest { purpose, ..req };
        let v = ENGINE.decide(&req, &facts);
        prop_assert_eq!(v.decision, Decision::Deny(DenyReason::ForbiddenPurpose));
        prop_assert_eq!(v.policies, vec!["forbidden_purpose".to_owned()]);
    }

    #[test]
    fn allowed_means_the_subject_an_agent_in_its_case_or_a_protecting_job(
        req in any_request(),
        facts in any_facts(),
    ) {
        let v = ENGINE.decide(&req, &facts);
        if v.decision == Decision::Allow {
            prop_assert!(!FORBIDDEN.contains(&req.purpose));
            let legitimate = match &req.actor {
                Actor::Customer(c) => *c == req.subject,
                Actor::BankAgent(_) => {
                    req.purpose == Purpose::ServiceSupport
                        && req.case.is_some_and(|k| facts.agent_cases.contains(&k))
                        && facts.case_subject == Some(req.subject)
                }
                Actor::System(_) => matches!(
                    req.purpose,
                    Purpose::ServiceFraudAlert
                        | Purpose::ServicePayment
                        | Purpose::ServiceNoticeLowBalance
                        | Purpose::ServiceNoticeLargePayment
                        | Purpose::ServiceNoticeSalary
                        | Purpose::ServiceNoticeRecurringUp
                        | Purpose::ServiceNoticeDuplicate
                        | Purpose::ServiceNoticeSubscription
                ),
            };
            prop_assert!(legitimate, "{:?} {:?}", req, facts);
            prop_assert!(
                req.channel != ChannelContext::PlatformReadable
                    || req.purpose == Purpose::ServiceAccessLog,
                "{:?}", req
            );
            if let Some(scope) = req.purpose.required_scope()
                && (matches!(req.actor, Actor::Customer(_))
                    || req.purpose.as_str().starts_with("service.notice."))
            {
                prop_assert!(facts.valid_scopes.contains(&scope), "{:?} {:?}", req, facts);
            }
            if matches!(req.actor, Actor::Customer(_)) {
                prop_assert_eq!(req.room, Room::HolderAlone);
            }
            prop_assert_eq!(v.policies.len(), 1);
        } else {
            // A denial names a reason; only the forbid policy is ever cited for one.
            prop_assert!(v.policies.is_empty() || v.policies == vec!["forbidden_purpose".to_owned()]);
        }
    }
}
