//! Training and scoring behaviour: determinism, a clear fraud burst, model file safety.

mod common;

use std::collections::HashMap;

use okienko_risk::{CustomerState, GbdtParams, RiskEngine, RiskModel, RuleSet, train};

fn params(seed: u64) -> GbdtParams {
    GbdtParams {
        n_trees: 40,
        min_data_in_leaf: 5,
        seed,
        ..GbdtParams::default()
    }
}

#[test]
fn same_seed_gives_identical_model_bytes_and_scores() {
    let fraud: Vec<u64> = (0..40).step_by(3).collect();
    let rows = common::stream(7, 40, 60, &fraud, 45);
    let (m1, _) = train(&rows, &params(11)).unwrap();
    let (m2, _) = train(&rows, &params(11)).unwrap();
    let b1 = m1.to_json().unwrap();
    assert_eq!(b1, m2.to_json().unwrap());
    let (m3, _) = train(&rows, &params(12)).unwrap();
    assert_ne!(b1, m3.to_json().unwrap(), "the seed drives row subsampling");

    // A model loaded from its bytes scores exactly like the original.
    let loaded = RiskModel::from_json(&b1).unwrap();
    assert_eq!(loaded, m1);
    let later = common::stream(99, 10, 20, &[3], 10);
    let score_all = |m: RiskModel| {
        let engine = RiskEngine::new(m, RuleSet::default_rules().unwrap()).unwrap();
        let mut states: HashMap<u64, CustomerState> = HashMap::new();
        later
            .iter()
            .map(|r| engine.score(states.entry(r.customer).or_default(), &r.tx))
            .collect::<Vec<f32>>()
    };
    // The compiled (branch-free) forest predicts what the tree walk predicts.
    let forest = m1.gbdt.compile().unwrap();
    let ex = okienko_risk::FeatureExtractor::new(&m1.categories);
    let mut st = CustomerState::new();
    for r in &later {
        let f = ex.observe(&mut st, &r.tx);
        assert!((forest.margin(&f) - m1.gbdt.margin(&f)).abs() < 1e-4);
    }
    let s1 = score_all(m1);
    assert_eq!(s1, score_all(loaded));
    assert!(s1.iter().all(|s| (0.0..=1.0).contains(s)));
}

#[test]
fn a_clear_fraud_burst_scores_far_above_normal_transactions() {
    let fraud: Vec<u64> = (0..60).step_by(2).collect();
    let rows = common::stream(3, 60, 60, &fraud, 40);
    let (model, _) = train(&rows, &params(5)).unwrap();
    let engine = RiskEngine::new(model, RuleSet::default_rules().unwrap()).unwrap();

    // A new customer, unseen in training: 50 quiet days, then a burst on day 55.
    let test = common::stream(1234, 1, 56, &[0], 55);
    let mut state = CustomerState::new();
    let (mut normal, mut burst) = (Vec::new(), Vec::new());
    for r in &test {
        let a = engine.assess(&mut state, &r.tx);
        if r.is_fraud {
            burst.push(a.score);
        } else if (14..55).contains(&(r.tx.ts - common::start()).num_days()) {
            normal.push(a.score);
        }
    }
    let max_normal = normal.iter().copied().fold(0.0, f32::max);
    let min_burst = burst.iter().copied().fold(1.0, f32::min);
    assert!(burst.len() == 8 && !normal.is_empty());
    assert!(
        max_normal < 0.2,
        "normal transactions stay low: {max_normal}"
    );
    assert!(
        min_burst > 0.8,
        "every burst transaction is high: {min_burst}"
    );
}

#[test]
fn rules_raise_the_score_and_give_reasons() {
    let rows = common::stream(3, 30, 40, &[1, 2, 3, 4], 30);
    let (model, _) = train(&rows, &params(5)).unwrap();
    let rules = RuleSet::from_toml(
        r#"
version = "test-1"
[[rule]]
id = "big"
reason_pl = "Duża kwota"
reason_en = "Large amount"
min_score = 0.97
all = [{ feature = "log_amount", op = ">", value = 9.0 }]
"#,
    )
    .unwrap();
    let engine = RiskEngine::new(model, rules).unwrap();
    let mut state = CustomerState::new();
    let mut tx = rows[0].tx.clone();
    tx.amount = rust_decimal::Decimal::new(5_000_000, 0);
    let a = engine.assess(&mut state, &tx);
    assert!(a.score >= 0.97);
    assert_eq!(a.rules_version, "test-1");
    assert_eq!(a.rule_hits.len(), 1);
    assert_eq!(a.rule_hits[0].reason_pl, "Duża kwota");
}

#[test]
fn bad_rules_and_tampered_models_are_clear_errors() {
    let unknown = "version = \"1\"\n[[rule]]\nid = \"x\"\nreason_pl = \"a\"\nreason_en = \"a\"\nmin_score = 0.5\nall = [{ feature = \"shoe_size\", op = \">\", value = 1 }]\n";
    let e = RuleSet::from_toml(unknown).unwrap_err().to_string();
    assert!(e.contains("unknown feature `shoe_size`"), "{e}");
    assert!(RuleSet::from_toml("version = \"\"").is_err());
    assert!(RuleSet::from_toml("not toml at all [[[").is_err());
    let bad_op = unknown
        .replace("shoe_size", "n_prior")
        .replace("\">\"", "\"=>\"");
    assert!(RuleSet::from_toml(&bad_op).is_err());
    RuleSet::default_rules().unwrap();

    let rows = common::stream(3, 20, 30, &[1, 2], 20);
    let (model, _) = train(&rows, &params(5)).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&model.to_json().unwrap()).unwrap();
    v["gbdt"]["trees"][0]["nodes"][0]["left"] = serde_json::json!(0);
    let e = RiskModel::from_json(v.to_string().as_bytes()).unwrap_err();
    assert!(e.to_string().contains("malformed"), "{e}");
    v["gbdt"]["trees"][0]["nodes"][0]["feature"] = serde_json::json!(999);
    assert!(RiskModel::from_json(v.to_string().as_bytes()).is_err());
    assert!(RiskModel::from_json(b"{}").is_err());
    assert!(RiskModel::from_json(&[0xff, 0x00]).is_err());
}

#[test]
fn training_without_both_classes_is_an_error() {
    let rows = common::stream(3, 5, 10, &[], 0);
    assert!(train(&rows, &params(1)).is_err());
    assert!(train::<u64>(&[], &params(1)).is_err());
}
