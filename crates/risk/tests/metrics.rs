//! The ranking metrics against hand-computed values.

use okienko_risk::metrics::{average_precision, recall_at, roc_auc, threshold_at_fpr};

#[test]
fn metrics_match_hand_computed_values() {
    let s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
    let l = [true, false, true, false, false, false];
    // Precision at the two positives: 1/1 and 2/3; AP = 0.5 * 1 + 0.5 * 2/3.
    assert!((average_precision(&s, &l) - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
    // 8 pairs, positive above negative in 7 of them.
    assert!((roc_auc(&s, &l) - 7.0 / 8.0).abs() < 1e-12);
    // One false positive allowed out of four negatives at 25 % FPR: alert on >= 0.7.
    assert_eq!(threshold_at_fpr(&s, &l, 0.25), 0.7);
    assert_eq!(recall_at(&s, &l, 0.7), 1.0);
    // No false positive allowed: only the top score.
    assert_eq!(threshold_at_fpr(&s, &l, 0.0), 0.9);
    // Ties are taken as a group or not at all.
    let t = [0.9, 0.9, 0.1];
    let tl = [true, false, false];
    assert_eq!(threshold_at_fpr(&t, &tl, 0.0), f32::INFINITY);
    assert_eq!(average_precision(&[1.0, 0.0], &[false, false]), 0.0);
}
