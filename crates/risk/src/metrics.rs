//! Ranking metrics for fraud scores: average precision (AUPRC, as scikit-learn computes it),
//! ROC-AUC, and the alert threshold that keeps the false-positive rate at or under a target.

/// Indices sorted by descending score (ties in index order, so results are deterministic).
fn order(scores: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
    idx
}

/// Average precision: sum over distinct thresholds of (R_k - R_{k-1}) * P_k.
pub fn average_precision(scores: &[f32], labels: &[bool]) -> f64 {
    let pos = labels.iter().filter(|l| **l).count();
    if pos == 0 || scores.len() != labels.len() {
        return 0.0;
    }
    let idx = order(scores);
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0usize, 0usize, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        while i < idx.len() && scores[idx[i]] == s {
            if labels[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    ap
}

/// ROC-AUC with ties counted half.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> f64 {
    let pos = labels.iter().filter(|l| **l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.0;
    }
    let idx = order(scores);
    let (mut fp, mut area) = (0f64, 0f64);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        let (mut gp, mut gn) = (0f64, 0f64);
        while i < idx.len() && scores[idx[i]] == s {
            if labels[idx[i]] {
                gp += 1.0;
            } else {
                gn += 1.0;
            }
            i += 1;
        }
        // Positives in this group beat every negative ranked below (and half of the tied ones).
        area += gp * (neg - fp - gn) + gp * gn / 2.0;
        fp += gn;
    }
    area / (pos * neg)
}

/// The lowest threshold `t` such that alerting on `score >= t` keeps false positives at or
/// under `max_fpr` of the negatives. `f32::INFINITY` when even the top score would exceed it.
pub fn threshold_at_fpr(scores: &[f32], labels: &[bool], max_fpr: f64) -> f32 {
    let neg = labels.iter().filter(|l| !**l).count();
    let budget = (max_fpr * neg as f64).floor() as usize;
    let idx = order(scores);
    let (mut fp, mut thr) = (0usize, f32::INFINITY);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        let mut group_fp = 0;
        let mut j = i;
        while j < idx.len() && scores[idx[j]] == s {
            group_fp += (!labels[idx[j]]) as usize;
            j += 1;
        }
        if fp + group_fp > budget {
            break;
        }
        fp += group_fp;
        thr = s;
        i = j;
    }
    thr
}

/// Share of positives with `score >= thr`.
pub fn recall_at(scores: &[f32], labels: &[bool], thr: f32) -> f64 {
    let pos = labels.iter().filter(|l| **l).count();
    if pos == 0 {
        return 0.0;
    }
    let tp = scores
        .iter()
        .zip(labels)
        .filter(|(s, l)| **l && **s >= thr)
        .count();
    tp as f64 / pos as f64
}

/// Value at quantile `q` (0..=1) of `v` (sorted in place).
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    v[k.min(v.len() - 1)]
}
