//! Shared generator of small synthetic customer streams for the tests.

#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use okienko_risk::{GeoPoint, LabelledTx, Tx};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

pub const CATEGORIES: [&str; 5] = [
    "grocery_pos",
    "gas_transport",
    "shopping_net",
    "food_dining",
    "travel",
];

pub fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_672_531_200, 0).unwrap() // 2023-01-01
}

/// `customers` customers over `days` days, daytime habits, a few merchants each; customers
/// listed in `fraud_on` get a night burst of large online payments at new merchants on day
/// `fraud_day`. Sorted by time.
pub fn stream(
    seed: u64,
    customers: u64,
    days: i64,
    fraud_on: &[u64],
    fraud_day: i64,
) -> Vec<LabelledTx<u64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for c in 0..customers {
        let home = GeoPoint::new(50.0 + (c % 5) as f64, 19.0 + (c % 7) as f64).unwrap();
        for d in 0..days {
            let n = rng.random_range(1..4);
            for _ in 0..n {
                let hour = rng.random_range(8..20);
                let ts = start()
                    + Duration::days(d)
                    + Duration::hours(hour)
                    + Duration::seconds(rng.random_range(0..3600));
                let cat = CATEGORIES[rng.random_range(0..4)];
                let cents: i64 = rng.random_range(500..8000);
                let mut tx = Tx::new(ts, Decimal::new(cents, 2));
                tx.category = Some(cat.into());
                tx.merchant = Some(format!("shop-{c}-{}", rng.random_range(0..6)));
                tx.location = Some(
                    GeoPoint::new(home.lat + rng.random_range(-0.05..0.05), home.long).unwrap(),
                );
                tx.card_present = Some(!cat.ends_with("_net"));
                out.push(LabelledTx {
                    customer: c,
                    tx,
                    is_fraud: false,
                });
            }
        }
        if fraud_on.contains(&c) {
            for k in 0..8 {
                let ts = start()
                    + Duration::days(fraud_day)
                    + Duration::hours(1)
                    + Duration::minutes(7 * k);
                let cents: i64 = rng.random_range(60_000..150_000);
                let mut tx = Tx::new(ts, Decimal::new(cents, 2));
                tx.category = Some(if k % 2 == 0 { "shopping_net" } else { "travel" }.into());
                tx.merchant = Some(format!("fraud-merchant-{k}"));
                tx.location = Some(GeoPoint::new(-33.9, 151.2).unwrap());
                tx.card_present = Some(false);
                out.push(LabelledTx {
                    customer: c,
                    tx,
                    is_fraud: true,
                });
            }
        }
    }
    out.sort_by_key(|r| r.tx.ts);
    out
}
