//! `okienko bench ledger`: the sandbox ledger's two-phase transfers per second beside a plain
//! insert of the same rows into a vector, in the same run, with the ledger's invariant check
//! after. Deterministic for a seed.

use std::time::Instant;

use chrono::NaiveDate;
use okienko_core::Currency;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::ledger::{Ledger, LedgerError};

/// Runs `transfers` transfers among `accounts` accounts; returns the JSON figures.
pub fn ledger_bench(transfers: usize, accounts: usize, seed: u64) -> Value {
    let accounts = accounts.max(2);
    let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows: Vec<(usize, usize, Decimal)> = (0..transfers)
        .map(|_| {
            let a = rng.random_range(0..accounts);
            let mut b = rng.random_range(0..accounts - 1);
            if b >= a {
                b += 1;
            }
            (a, b, Decimal::new(rng.random_range(1..50_000), 2))
        })
        .collect();
    let keys: Vec<String> = (0..accounts).map(|i| format!("acc{i:06}")).collect();
    let mut ledger = Ledger::default();
    let _ = ledger.open("world", Currency::PLN, None);
    for k in &keys {
        let _ = ledger.open(k, Currency::PLN, Some(Decimal::ZERO));
        let _ = ledger.book_external("world", k, Decimal::new(1_000_000, 2), day);
    }
    let t = Instant::now();
    let mut lat = Vec::with_capacity(rows.len());
    let (mut posted, mut refused) = (0u64, 0u64);
    for (a, b, amount) in &rows {
        let s = Instant::now();
        match ledger.reserve(&keys[*a], &keys[*b], *amount, day) {
            Ok(id) => {
                if ledger.post(id, day).is_ok() {
                    posted += 1;
                }
            }
            Err(LedgerError::InsufficientFunds) => refused += 1,
            Err(_) => {}
        }
        lat.push(s.elapsed().as_nanos() as u64);
    }
    let ledger_secs = t.elapsed().as_secs_f64();
    let check = ledger.check();
    // Baseline: the same rows appended to a plain vector (what a ledger without checks costs).
    let t = Instant::now();
    let mut plain: Vec<(String, String, Decimal, NaiveDate)> = Vec::with_capacity(rows.len());
    for (a, b, amount) in &rows {
        plain.push((keys[*a].clone(), keys[*b].clone(), *amount, day));
    }
    let plain_secs = t.elapsed().as_secs_f64();
    std::hint::black_box(&plain);
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    json!({
        "transfers": rows.len(),
        "accounts": accounts,
        "posted": posted,
        "refused_insufficient_funds": refused,
        "transfers_per_second": rows.len() as f64 / ledger_secs.max(1e-9),
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "invariants_hold": check.is_ok(),
        "baseline": {
            "what": "plain insert of the same rows into a Vec",
            "rows_per_second": rows.len() as f64 / plain_secs.max(1e-9),
        },
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_moves_money_and_keeps_the_invariants() {
        let v = super::ledger_bench(2000, 20, 1);
        assert_eq!(v["invariants_hold"], true);
        assert_eq!(v["transfers"], 2000);
        assert!(v["posted"].as_u64().unwrap() > 1000, "{v}");
        assert!(v["transfers_per_second"].as_f64().unwrap() > 0.0);
    }
}
