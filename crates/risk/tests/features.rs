//! The incremental per-customer features equal a batch recomputation from the full history.

mod common;

use std::collections::HashMap;

use okienko_risk::{CustomerState, FeatureExtractor, Features, N_FEATURES, Tx, feature_index};
use rust_decimal::prelude::ToPrimitive;

fn f(name: &str) -> usize {
    feature_index(name).unwrap()
}

fn amt(t: &Tx) -> f64 {
    t.amount.to_f64().unwrap()
}

/// z of `x` against `hist` computed in two passes (sample standard deviation, floor 0.05).
fn z(hist: &[f64], x: f64) -> f64 {
    if hist.len() < 2 {
        return 0.0;
    }
    let l: Vec<f64> = hist.iter().map(|a| a.ln_1p()).collect();
    let mean = l.iter().sum::<f64>() / l.len() as f64;
    let var = l.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (l.len() - 1) as f64;
    (x.ln_1p() - mean) / var.sqrt().max(0.05)
}

/// Batch features of `hist[i]` given `hist[..i]`, computed from scratch.
fn batch(hist: &[Tx], i: usize) -> HashMap<&'static str, f64> {
    let tx = &hist[i];
    let prior = &hist[..i];
    let ts = tx.ts.timestamp();
    let a = amt(tx);
    let amounts: Vec<f64> = prior.iter().map(amt).collect();
    let cat: Vec<f64> = prior
        .iter()
        .filter(|p| p.category == tx.category)
        .map(amt)
        .collect();
    let mut m = HashMap::new();
    m.insert("n_prior", prior.len() as f64);
    m.insert("amount_z", z(&amounts, a));
    m.insert("category_n_prior", cat.len() as f64);
    m.insert("category_amount_z", z(&cat, a));
    m.insert(
        "merchant_n_prior",
        prior.iter().filter(|p| p.merchant == tx.merchant).count() as f64,
    );
    if let Some(last) = prior.last() {
        m.insert(
            "log_secs_since_last",
            ((ts - last.ts.timestamp()) as f64).ln_1p(),
        );
        let mean = amounts.iter().sum::<f64>() / amounts.len() as f64;
        m.insert("amount_ratio", a / mean);
        let n = prior.len() as f64;
        let hour = |t: &Tx| chrono::Timelike::hour(&t.ts) as i64;
        let h = hour(tx);
        let near = prior
            .iter()
            .filter(|p| ((hour(p) - h + 24) % 24) <= 1 || ((h - hour(p) + 24) % 24) <= 1)
            .count();
        m.insert("hour_habit", near as f64 / n);
        let night = prior
            .iter()
            .filter(|p| [22, 23, 0, 1, 2, 3].contains(&hour(p)))
            .count();
        m.insert("night_share", night as f64 / n);
        let (lat, long) = prior.iter().fold((0.0, 0.0), |(a, b), p| {
            let g = p.location.unwrap();
            (a + g.lat, b + g.long)
        });
        let usual = okienko_risk::GeoPoint::new(lat / n, long / n).unwrap();
        m.insert("distance_km", tx.location.unwrap().distance_km(&usual));
        let cnp = prior
            .iter()
            .filter(|p| p.card_present == Some(false))
            .count();
        m.insert("cnp_share", cnp as f64 / n);
        let days = ((ts - prior[0].ts.timestamp()) as f64 / 86_400.0).max(1.0);
        let in24: Vec<&Tx> = hist[..=i]
            .iter()
            .filter(|p| ts - p.ts.timestamp() < 86_400)
            .collect();
        m.insert("count_24h_vs_rate", in24.len() as f64 / (n / days));
        let s24: f64 = in24.iter().map(|p| amt(p)).sum();
        m.insert(
            "sum_24h_vs_daily_spend",
            s24 / (amounts.iter().sum::<f64>() / days),
        );
    }
    for (name, w) in [("10m", 600), ("1h", 3600), ("24h", 86_400), ("7d", 604_800)] {
        let inside: Vec<&Tx> = hist[..=i]
            .iter()
            .filter(|p| ts - p.ts.timestamp() < w)
            .collect();
        let count: &'static str = Box::leak(format!("count_{name}").into_boxed_str());
        let sum: &'static str = Box::leak(format!("log_sum_{name}").into_boxed_str());
        m.insert(count, inside.len() as f64);
        m.insert(sum, inside.iter().map(|p| amt(p)).sum::<f64>().ln_1p());
    }
    // Per-event flags inside the last 24 h, each judged against its own prior history.
    let (mut new_m, mut new_c, mut zsum) = (0.0, 0.0, 0.0);
    for j in 0..=i {
        if ts - hist[j].ts.timestamp() < 86_400 {
            let pj = &hist[..j];
            new_m += (!pj.iter().any(|p| p.merchant == hist[j].merchant)) as u8 as f64;
            new_c += (!pj.iter().any(|p| p.category == hist[j].category)) as u8 as f64;
            let am: Vec<f64> = pj.iter().map(amt).collect();
            zsum += (z(&am, amt(&hist[j])).clamp(0.0, 10.0) * 1000.0).round() / 1000.0;
        }
    }
    m.insert("new_merchants_24h", new_m);
    m.insert("new_categories_24h", new_c);
    m.insert("z_burst_24h", zsum);
    m
}

#[test]
fn incremental_features_equal_batch_recomputation() {
    let rows = common::stream(21, 6, 40, &[2, 4], 30);
    let ex = FeatureExtractor::new(&[]);
    let mut states: HashMap<u64, CustomerState> = HashMap::new();
    let mut hist: HashMap<u64, Vec<Tx>> = HashMap::new();
    let mut checked = 0;
    for r in &rows {
        let got: Features = ex.observe(states.entry(r.customer).or_default(), &r.tx);
        let h = hist.entry(r.customer).or_default();
        h.push(r.tx.clone());
        let want = batch(h, h.len() - 1);
        for (name, v) in want {
            let g = got[f(name)] as f64;
            let tol = if name == "z_burst_24h" {
                0.003
            } else {
                1e-4 * v.abs().max(1.0)
            };
            assert!(
                (g - v).abs() <= tol,
                "tx {checked} feature {name}: incremental {g} vs batch {v}"
            );
        }
        checked += 1;
    }
    assert!(checked > 300);
    assert_eq!(N_FEATURES, okienko_risk::FEATURE_NAMES.len());
}

#[test]
fn out_of_order_and_extreme_transactions_do_not_panic() {
    let ex = FeatureExtractor::new(&[]);
    let mut s = CustomerState::new();
    let t = common::start();
    let mut tx = Tx::new(t, rust_decimal::Decimal::MAX);
    let f1 = ex.observe(&mut s, &tx);
    assert!(f1.iter().all(|v| v.is_finite()));
    tx.ts = t - chrono::Duration::days(400); // older than the last one seen
    tx.amount = rust_decimal::Decimal::ZERO;
    let f2 = ex.observe(&mut s, &tx);
    assert!(f2.iter().all(|v| v.is_finite()));
    assert_eq!(
        f2[f("count_10m")],
        2.0,
        "a late transaction counts at the newest time seen"
    );
    assert_eq!(s.transactions_seen(), 2);
}
