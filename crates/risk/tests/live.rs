//! Live scoring: deterministic for a seed, rules alone without a model, and the online-burst rule
//! firing for a customer who pays in person.

use chrono::{DateTime, Duration, Utc};
use okienko_risk::{CustomerState, LiveScorer, RuleSet, Severity, Tx};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

fn history(seed: u64) -> Vec<Tx> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let start: DateTime<Utc> = "2026-01-01T08:00:00Z".parse().unwrap();
    let shops = ["BIEDRONKA", "ZABKA", "LIDL", "ORLEN", "ROSSMANN"];
    (0..400)
        .map(|i| {
            let ts = start + Duration::minutes(i * 300 + r.random_range(0..120));
            let mut t = Tx::new(ts, Decimal::new(r.random_range(500..15_000), 2));
            t.merchant = Some(shops[r.random_range(0..shops.len())].to_owned());
            t.card_present = Some(true);
            t
        })
        .collect()
}

fn burst(after: DateTime<Utc>) -> Vec<Tx> {
    [
        "ELECTRO-MEGASTORE.COM",
        "LUXWATCH OUTLET",
        "GIFTCARDS-24.SHOP",
    ]
    .iter()
    .enumerate()
    .map(|(i, m)| {
        let mut t = Tx::new(
            after + Duration::minutes(180 + 3 * i as i64),
            Decimal::new(124_900, 2),
        );
        t.merchant = Some((*m).to_owned());
        t.card_present = Some(false);
        t
    })
    .collect()
}

fn run(scorer: &LiveScorer, seed: u64) -> Vec<f32> {
    let mut st = CustomerState::new();
    let h = history(seed);
    let last = h.last().unwrap().ts;
    for t in &h {
        scorer.observe(&mut st, t);
    }
    burst(last)
        .iter()
        .map(|t| scorer.assess(&mut st, t).score)
        .collect()
}

#[test]
fn scoring_is_deterministic_for_a_seed() {
    let scorer = LiveScorer::rules_only(RuleSet::default_rules().unwrap());
    assert!(!scorer.has_model());
    for seed in [1, 7, 42] {
        assert_eq!(run(&scorer, seed), run(&scorer, seed), "seed {seed}");
    }
}

#[test]
fn an_online_burst_fires_the_rule_and_normal_shopping_does_not() {
    let scorer = LiveScorer::rules_only(RuleSet::default_rules().unwrap());
    let mut st = CustomerState::new();
    let h = history(3);
    let last = h.last().unwrap().ts;
    for t in &h[..300] {
        scorer.observe(&mut st, t);
    }
    for t in &h[300..] {
        let a = scorer.assess(&mut st, t);
        assert!(a.rule_hits.is_empty(), "normal shopping flagged: {a:?}");
    }
    let scores: Vec<_> = burst(last)
        .iter()
        .map(|t| scorer.assess(&mut st, t))
        .collect();
    assert!(
        scores[0].rule_hits.is_empty(),
        "one online payment is not a burst"
    );
    for a in &scores[1..] {
        assert!(
            a.rule_hits
                .iter()
                .any(|h| h.id == "online_burst_unusual_for_customer"),
            "{a:?}"
        );
        assert_eq!(LiveScorer::severity(a), Severity::Low);
    }
}
