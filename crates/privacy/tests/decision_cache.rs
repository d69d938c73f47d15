//! The decision cache never decides anything Cedar would not: for random requests, the engine the
//! gate uses (cache on, shared across every case, so most answers come from the cache and were
//! filled by *other* customers' requests of the same shape) gives exactly the verdict of an
//! engine that asks Cedar every time — decision, reason and policy ids. Ids come from small pools
//! so that shapes repeat, matches and near misses are frequent, and agents' cases overlap.

use std::sync::LazyLock;

use okienko_core::{ConsentScope, CustomerId};
use okienko_privacy::{
    AccessRequest, Actor, CaseId, ChannelContext, Decision, Facts, PolicyEngine, Purpose, Room,
};
use proptest::prelude::*;
use uuid::Uuid;

static CACHED: LazyLock<PolicyEngine> = LazyLock::new(|| {
    PolicyEngine::embedded()
        .expect("the embedded policies validate")
        .checking_requests()
});

static CEDAR: LazyLock<PolicyEngine> = LazyLock::new(|| {
    PolicyEngine::embedded()
        .expect("the embedded policies validate")
        .checking_requests()
        .without_cache()
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
        3 => (0u8..6).prop_map(|i| Actor::Customer(customer(i))),
        1 => prop::sample::select(vec!["agent-1", "agent-2", ""])
            .prop_map(|s| Actor::BankAgent(s.into())),
        1 => prop::sample::select(vec!["guard.scoring", "payments", "notices", "\"; drop"])
            .prop_map(|s| Actor::System(s.into())),
    ]
}

fn any_request() -> impl Strategy<Value = AccessRequest> {
    (
        any_actor(),
        0u8..6,
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
        // Any order, duplicates too: the cache keys the set.
        prop::collection::vec(prop::sample::select(SCOPES.to_vec()), 0..=5),
        prop::collection::vec(0u8..3, 0..=3),
        prop::option::of(0u8..6),
    )
        .prop_map(|(valid_scopes, cases, case_subject)| Facts {
            valid_scopes,
            agent_cases: cases.into_iter().map(case).collect(),
            case_subject: case_subject.map(customer),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6000))]

    #[test]
    fn cached_decisions_equal_cedars(req in any_request(), facts in any_facts()) {
        let reference = CEDAR.decide(&req, &facts);
        // First answer (maybe filled now), then the cached one: both equal Cedar's.
        prop_assert_eq!(&CACHED.decide(&req, &facts), &reference, "{:?} {:?}", req, facts);
        prop_assert_eq!(&CACHED.decide(&req, &facts), &reference, "{:?} {:?}", req, facts);
    }
}

#[test]
fn the_cache_answers_repeated_shapes_and_tells_customers_apart() {
    let engine = PolicyEngine::embedded().unwrap();
    let stats = engine.cache_stats();
    assert!(
        stats.enabled,
        "the shipped policies name no particular entity"
    );
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 0, 0));
    let facts = Facts {
        valid_scopes: vec![ConsentScope::Balances],
        ..Facts::default()
    };
    let own = |c| AccessRequest::customer(c, Purpose::ServiceBalance, ChannelContext::WebChat);
    for _ in 0..100 {
        let v = engine.decide(&own(CustomerId::new()), &facts);
        assert_eq!(v.decision, Decision::Allow);
    }
    let stats = engine.cache_stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, 99, 1));
    // Someone else's data has another shape, and Cedar's answer for it: denied.
    let (a, b) = (CustomerId::new(), CustomerId::new());
    let theirs = AccessRequest {
        actor: Actor::Customer(a),
        ..own(b)
    };
    assert_ne!(engine.decide(&theirs, &facts).decision, Decision::Allow);
    assert_eq!(engine.cache_stats().entries, 2);
    // A valid consent for transactions only is another shape too.
    let other_scope = Facts {
        valid_scopes: vec![ConsentScope::Transactions],
        ..Facts::default()
    };
    assert_ne!(
        engine.decide(&own(a), &other_scope).decision,
        Decision::Allow
    );
}

#[test]
fn policies_that_name_a_customer_turn_the_cache_off_and_still_decide_per_customer() {
    let vip = customer(1);
    let policy = format!(
        r#"@id("one_customer") permit(principal == Customer::"{vip}", action == Action::"service.balance", resource is CustomerData) when {{ resource.owner == principal }};"#
    );
    let engine = PolicyEngine::from_sources(
        okienko_privacy::policy::SCHEMA,
        &[("one.cedar", policy.as_str())],
    )
    .unwrap();
    assert!(!engine.cache_stats().enabled);
    let facts = Facts::default();
    let req = |c| AccessRequest::customer(c, Purpose::ServiceBalance, ChannelContext::WebChat);
    for _ in 0..3 {
        assert_eq!(engine.decide(&req(vip), &facts).decision, Decision::Allow);
        assert_ne!(
            engine.decide(&req(customer(2)), &facts).decision,
            Decision::Allow
        );
    }
    assert_eq!(engine.cache_stats().hits, 0);
}
