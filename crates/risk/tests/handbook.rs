//! The Fraud Detection Handbook benchmark path: the delayed terminal risk, the book's card
//! precision@k, and the whole bench on a small slice of the real simulated data set
//! (../shared/data/fraud/handbook_sim_5000c_183d, skipped with a message when absent).

use std::path::PathBuf;

use okienko_risk::handbook::{
    CardScore, HandbookOptions, Protocol, bench_handbook, card_precision_at_k,
    card_precision_at_k_by,
};
use okienko_risk::terminal::TerminalRisk;
use okienko_risk::{GbdtParams, RiskError};

const DAY: i64 = 86_400;

#[test]
fn terminal_risk_reads_only_labels_older_than_the_delay() {
    let mut t: TerminalRisk<u32> = TerminalRisk::new(7);
    let t0 = 1_000 * DAY;
    t.record(&1, t0, true);
    t.record(&1, t0 + 60, false);
    // Inside the delay: nothing is known yet.
    assert_eq!(t.features(&1, t0 + 3 * DAY), [0.0; 6]);
    // Just past the delay: both payments fall in the 1-day window; one of two was fraud.
    let f = t.features(&1, t0 + 7 * DAY + 120);
    assert_eq!(&f[..3], &[2.0, 2.0, 2.0]);
    assert_eq!(&f[3..], &[0.5, 0.5, 0.5]);
    // Two days later only the 7- and 30-day windows still hold them.
    let f = t.features(&1, t0 + 9 * DAY);
    assert_eq!(&f[..3], &[0.0, 2.0, 2.0]);
    assert_eq!(f[3], 0.0);
    // Another terminal knows nothing.
    assert_eq!(t.features(&2, t0 + 9 * DAY), [0.0; 6]);
    // Old entries are pruned but the 30-day window still answers correctly.
    t.record(&1, t0 + 60 * DAY, false);
    assert_eq!(
        t.features(&1, t0 + 8 * DAY + 60 * DAY)[..3],
        [0.0, 1.0, 1.0]
    );
}

#[test]
fn card_precision_ranks_cards_by_their_best_transaction_and_forgets_found_cards() {
    // Day 1: card 10 fraud (scores 0.9 and 0.1), card 11 legit (0.8), card 12 fraud (0.2).
    // Day 2: card 10 again (fraud, 0.95: already found, so removed), card 13 legit (0.5),
    // card 12 fraud (0.4).
    let days = [1, 1, 1, 1, 2, 2, 2];
    let cards = [10, 10, 11, 12, 10, 13, 12];
    let scores = [0.9, 0.1, 0.8, 0.2, 0.95, 0.5, 0.4];
    let labels = [true, false, false, true, true, false, true];
    // k = 1: day 1 top card 10 (fraud) → 1; day 2 (10 removed) top card 13 (legit) → 0.
    assert_eq!(card_precision_at_k(&days, &cards, &scores, &labels, 1), 0.5);
    // k = 2: day 1 {10, 11} → 1/2; day 2 {13, 12} → 1/2.
    assert_eq!(card_precision_at_k(&days, &cards, &scores, &labels, 2), 0.5);
}

#[test]
fn card_scores_other_than_max_let_several_suspicious_payments_outrank_one() {
    // One day: card 1 has one payment at 0.6; card 2 has three at 0.4 (fraud); card 3 one at
    // 0.1. Max ranks card 1 first; noisy-OR (1 - 0.6³ = 0.784) and sum (1.2) rank card 2 first.
    let days = [1, 1, 1, 1, 1];
    let cards = [1, 2, 2, 2, 3];
    let scores = [0.6, 0.4, 0.4, 0.4, 0.1];
    let labels = [false, true, false, false, false];
    let at1 = |c| card_precision_at_k_by(&days, &cards, &scores, &labels, 1, c);
    assert_eq!(at1(CardScore::Max), 0.0);
    assert_eq!(at1(CardScore::NoisyOr), 1.0);
    assert_eq!(at1(CardScore::Sum), 1.0);
    assert_eq!(
        at1(CardScore::Max),
        card_precision_at_k(&days, &cards, &scores, &labels, 1)
    );
    // With k covering every card all rules agree: 1 fraud card of 3 → 1/3.
    for c in [CardScore::Max, CardScore::NoisyOr, CardScore::Sum] {
        let v = card_precision_at_k_by(&days, &cards, &scores, &labels, 3, c);
        assert!((v - 1.0 / 3.0).abs() < 1e-12, "{c:?}: {v}");
    }
}

#[test]
fn validation_folds_move_the_whole_protocol_back() {
    let v = Protocol::BOOK.validation();
    assert_eq!(v, Protocol::BOOK.shifted_back(14));
    assert_eq!(v.train_start_day, 101);
    assert_eq!(Protocol::BOOK.shifted_back(42).train_start_day, 73);
    assert_eq!(v.train_days, Protocol::BOOK.train_days);
}

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/fraud/handbook_sim_5000c_183d");
    if dir.join("transactions.csv.gz").exists() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared data sets are not mounted)",
            dir.display()
        );
        None
    }
}

/// 600 customers, train days 40–46, delay 47–53, test 54–60, few small trees: seconds in a
/// debug build, and still a real run of the book's protocol on real simulator output.
fn slice() -> HandbookOptions {
    HandbookOptions {
        protocol: Protocol {
            train_start_day: 40,
            train_days: 7,
            delay_days: 7,
            test_days: 7,
        },
        max_customer: Some(600),
        params: GbdtParams {
            n_trees: 40,
            learning_rate: 0.1,
            max_leaves: 8,
            max_depth: 3,
            ..GbdtParams::default()
        },
        chapter5_folds: false,
        ..HandbookOptions::default()
    }
}

#[test]
fn handbook_bench_on_a_slice_beats_the_rules_and_is_deterministic() {
    let Some(dir) = data_dir() else { return };
    let a = bench_handbook(&dir, &slice()).expect("bench runs");
    let meta = &a["_meta"];
    assert_eq!(meta["train_days"], serde_json::json!([40, 46]));
    assert_eq!(meta["test_days"], serde_json::json!([54, 60]));
    assert!(meta["train_frauds"].as_u64().unwrap() > 10, "{meta}");
    assert!(meta["test_frauds"].as_u64().unwrap() > 10, "{meta}");
    let ap = a["average_precision"].as_f64().unwrap();
    let rules_ap = a["baselines"]["rules_only"]["average_precision"]
        .as_f64()
        .unwrap();
    let lr_ap = a["baselines"]["book_features_logistic_regression"]["average_precision"]
        .as_f64()
        .unwrap();
    // The slice is small, so only clear margins are asserted: a useful model, well above the
    // fraud rate and the hard rules alone (which were written for other data).
    assert!(ap > 0.3, "average precision {ap}");
    assert!(ap > rules_ap + 0.1, "ours {ap} vs rules {rules_ap}");
    assert!(lr_ap > 0.2, "logistic regression {lr_ap}");
    let cp = a["card_precision_at_100"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&cp) && cp > 0.0, "card precision {cp}");
    let auc = a["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.7 && auc <= 1.0, "roc auc {auc}");
    // Same data, same seed: the same figures.
    let b = bench_handbook(&dir, &slice()).expect("bench runs");
    assert_eq!(a["average_precision"], b["average_precision"]);
    assert_eq!(a["card_precision_at_100"], b["card_precision_at_100"]);
    assert_eq!(a["baselines"], b["baselines"]);
}

#[test]
fn handbook_bench_refuses_a_missing_file_and_a_foreign_csv() {
    let missing = PathBuf::from("/nonexistent/handbook");
    assert!(matches!(
        bench_handbook(&missing, &slice()),
        Err(RiskError::Io { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("transactions.csv");
    std::fs::write(&f, "tx_id,customer_id\n1,2\n").unwrap();
    assert!(matches!(
        bench_handbook(&f, &slice()),
        Err(RiskError::MissingColumn(_))
    ));
    std::fs::write(
        &f,
        "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO\n\
         0,2018-04-01 00:00:31,1,2,-5.00,31,0,0,0\n",
    )
    .unwrap();
    let e = bench_handbook(&f, &slice()).unwrap_err().to_string();
    assert!(e.contains("row 1") && e.contains("negative"), "{e}");
    assert!(!e.contains("5.00"), "error leaks the amount: {e}");
}

#[test]
fn terminal_fraud_age_counts_from_the_oldest_fraud_past_the_delay() {
    let mut t: TerminalRisk<u32> = TerminalRisk::new(7);
    let t0 = 1_000 * DAY;
    t.record(&1, t0 - DAY, false);
    // No fraud known yet: -1, as for a terminal never seen.
    assert_eq!(t.known_fraud_age_days(&1, t0 + 9 * DAY), -1.0);
    assert_eq!(t.known_fraud_age_days(&9, t0), -1.0);
    t.record(&1, t0, true);
    t.record(&1, t0 + 2 * DAY, true);
    // Inside the delay the fraud is not known.
    assert_eq!(t.known_fraud_age_days(&1, t0 + 6 * DAY), -1.0);
    // Three days past the delay: the oldest fraud is 3 days old; the newer one does not reset it.
    assert_eq!(t.known_fraud_age_days(&1, t0 + 10 * DAY), 3.0);
    // Past the 30-day window the first fraud drops out and the second is the oldest.
    assert_eq!(t.known_fraud_age_days(&1, t0 + 38 * DAY), 29.0);
    t.record(&1, t0 + 60 * DAY, false);
    assert_eq!(t.known_fraud_age_days(&1, t0 + 61 * DAY), -1.0);
}

#[test]
fn handbook_feature_options_add_the_book_windows_and_the_fraud_age() {
    let Some(dir) = data_dir() else { return };
    let on = bench_handbook(&dir, &slice()).expect("bench runs");
    let names: Vec<String> = on["_meta"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(names.iter().any(|n| n == "amount_over_avg_7d"), "{names:?}");
    let n = names.len();
    assert_eq!(
        names[n - 3..],
        [
            "terminal_known_fraud_age_days",
            "terminal_ordinary_frauds_30d",
            "terminal_genuine_since_first_fraud_30d"
        ]
    );
    // The book's rule ranks cards by default.
    assert_eq!(on["_meta"]["card_score"], "max");
    let off = bench_handbook(
        &dir,
        &HandbookOptions {
            customer_windows: false,
            terminal_fraud_age: false,
            terminal_compromise: false,
            ..slice()
        },
    )
    .expect("bench runs");
    let n_off = off["_meta"]["features"].as_array().unwrap().len();
    assert_eq!(n_off + 12, names.len());
    // The baselines do not depend on our features.
    assert_eq!(
        on["baselines"]["book_features_logistic_regression"],
        off["baselines"]["book_features_logistic_regression"]
    );
}

#[test]
fn terminal_compromise_evidence_reads_only_known_labels_and_unexplained_frauds() {
    let mut t: TerminalRisk<u32> = TerminalRisk::new(7);
    let t0 = 1_000 * DAY;
    // Never seen, or no known fraud: no evidence.
    assert_eq!(t.compromise_features(&1, t0), [0.0, -1.0]);
    t.record_payment(&1, t0 - DAY, false, true);
    assert_eq!(t.compromise_features(&1, t0 + 8 * DAY), [0.0, -1.0]);
    // A fraud the card's own spending explains (not ordinary), then one it does not, then a
    // genuine payment.
    t.record_payment(&1, t0, true, false);
    t.record_payment(&1, t0 + DAY, true, true);
    t.record_payment(&1, t0 + 2 * DAY, false, true);
    // Inside the delay nothing of that is known.
    assert_eq!(t.compromise_features(&1, t0 + 6 * DAY), [0.0, -1.0]);
    // Past the delay of the first fraud only: no unexplained fraud yet, nothing genuine since.
    assert_eq!(t.compromise_features(&1, t0 + 7 * DAY + 60), [0.0, 0.0]);
    // All three known: one unexplained fraud, one genuine payment since the first fraud.
    assert_eq!(t.compromise_features(&1, t0 + 9 * DAY + 60), [1.0, 1.0]);
    // `record` keeps its meaning: a fraud recorded without the flag is not "ordinary".
    t.record(&2, t0, true);
    assert_eq!(t.compromise_features(&2, t0 + 8 * DAY), [0.0, 0.0]);
    // Past the 30-day window the frauds are forgotten.
    assert_eq!(t.compromise_features(&1, t0 + 40 * DAY), [0.0, -1.0]);
}
