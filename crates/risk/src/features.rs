//! Per-customer features, kept incrementally: one [`CustomerState`] per customer, updated by
//! [`FeatureExtractor::observe`] with each transaction in time order. `observe` first computes
//! the transaction's feature vector from the history strictly before it (velocity windows
//! include the transaction itself), then folds the transaction into the state. Training replays
//! the stream through exactly this function, and live scoring calls it too: one code path, so
//! training and serving features cannot drift apart.

use std::collections::HashMap;

use chrono::{Datelike, Timelike};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::tx::{GeoPoint, Tx};
use crate::window::{Event, WINDOWS_SECS, Windows};

/// Names of the features, in vector order. Rules refer to features by these names.
pub const FEATURE_NAMES: [&str; 31] = [
    "log_amount",
    "hour_of_day",
    "day_of_week",
    "category_code",
    "card_not_present",
    "n_prior",
    "log_secs_since_last",
    "amount_z",
    "amount_ratio",
    "category_n_prior",
    "category_share",
    "category_amount_z",
    "category_amount_ratio",
    "merchant_n_prior",
    "hour_habit",
    "night_share",
    "count_10m",
    "log_sum_10m",
    "count_1h",
    "log_sum_1h",
    "count_24h",
    "log_sum_24h",
    "count_7d",
    "log_sum_7d",
    "count_24h_vs_rate",
    "sum_24h_vs_daily_spend",
    "distance_km",
    "cnp_share",
    "z_burst_24h",
    "new_merchants_24h",
    "new_categories_24h",
];

/// Number of features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// One feature vector.
pub type Features = [f32; N_FEATURES];

/// Index of a feature by name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURE_NAMES.iter().position(|n| *n == name)
}

/// Hours counted as night for the `night_share` habit (22:00–03:59 local).
const NIGHT_HOURS: [usize; 6] = [22, 23, 0, 1, 2, 3];

/// Largest amount z-score remembered for the burst feature.
const Z_CAP: f64 = 10.0;

/// Running mean and variance (Welford) of `ln(1 + amount)`, plus the plain amount sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AmountStats {
    pub n: u32,
    mean: f64,
    m2: f64,
    sum: f64,
}

impl AmountStats {
    fn push(&mut self, amount: f64) {
        let x = amount.ln_1p();
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self.sum += amount;
    }

    /// z-score of `amount` against the history; 0 with fewer than two prior amounts.
    fn z(&self, amount: f64) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let sd = (self.m2 / (self.n - 1) as f64).sqrt().max(0.05);
        (amount.ln_1p() - self.mean) / sd
    }

    /// `amount` over the mean amount; -1 without history.
    fn ratio(&self, amount: f64) -> f64 {
        if self.n == 0 {
            return -1.0;
        }
        amount / (self.sum / self.n as f64).max(0.01)
    }
}

/// Everything remembered about one customer: a few KB, independent of history length except
/// for the merchant and category sets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CustomerState {
    n: u32,
    first_ts: i64,
    last_ts: i64,
    amounts: AmountStats,
    categories: HashMap<String, AmountStats>,
    merchants: HashMap<String, u32>,
    hours: [u32; 24],
    loc_n: u32,
    loc_lat_sum: f64,
    loc_long_sum: f64,
    cnp_known: u32,
    cnp_count: u32,
    windows: Windows,
}

impl CustomerState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of transactions seen.
    pub fn transactions_seen(&self) -> u32 {
        self.n
    }
}

/// Turns (state, transaction) into a feature vector. Holds the category vocabulary that the
/// model was trained with, so category codes mean the same at training and scoring.
#[derive(Debug, Clone, Default)]
pub struct FeatureExtractor {
    categories: HashMap<String, u16>,
}

impl FeatureExtractor {
    /// `categories` in code order (code = index). Unknown categories get code -1.
    pub fn new(categories: &[String]) -> Self {
        let categories = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i.min(u16::MAX as usize) as u16))
            .collect();
        Self { categories }
    }

    /// The features of `tx` given the history in `state`, then `tx` folded into `state`.
    /// Transactions older than the newest one seen are treated as happening at that moment.
    pub fn observe(&self, state: &mut CustomerState, tx: &Tx) -> Features {
        let ts = tx.ts.timestamp().max(state.last_ts);
        let amount = tx.amount.abs().to_f64().unwrap_or(f64::MAX).min(1e15);
        let cents = cents(tx.amount);
        let local = tx.ts + chrono::Duration::seconds(tx.utc_offset_secs as i64);
        let hour = local.hour() as usize;
        let n = state.n;
        let nf = n as f64;
        let mut f = [0f32; N_FEATURES];

        f[0] = amount.ln_1p() as f32;
        f[1] = hour as f32 + local.minute() as f32 / 60.0;
        f[2] = local.weekday().num_days_from_monday() as f32;
        f[3] = tx
            .category
            .as_ref()
            .and_then(|c| self.categories.get(c))
            .map_or(-1.0, |c| *c as f32);
        f[4] = match tx.card_present {
            Some(true) => 0.0,
            Some(false) => 1.0,
            None => -1.0,
        };
        f[5] = n as f32;
        f[6] = if n == 0 {
            -1.0
        } else {
            ((ts - state.last_ts) as f64).ln_1p() as f32
        };
        let z = state.amounts.z(amount);
        f[7] = z as f32;
        f[8] = state.amounts.ratio(amount) as f32;
        // One hash lookup per key: the same entry is read for features and updated below.
        let mut cat = tx
            .category
            .as_ref()
            .and_then(|c| state.categories.get_mut(c));
        let cat_n = cat.as_ref().map_or(0, |c| c.n);
        f[9] = cat_n as f32;
        f[10] = if n == 0 {
            -1.0
        } else {
            (cat_n as f64 / nf) as f32
        };
        f[11] = cat.as_ref().map_or(0.0, |c| c.z(amount)) as f32;
        f[12] = cat.as_ref().map_or(-1.0, |c| c.ratio(amount)) as f32;
        if let Some(c) = cat.as_mut() {
            c.push(amount);
        }
        let cat_known = cat.is_some();
        let merchant = tx
            .merchant
            .as_ref()
            .and_then(|m| state.merchants.get_mut(m));
        let merchant_n = merchant.as_ref().map_or(0, |k| **k);
        let merchant_known = merchant.is_some();
        if let Some(k) = merchant {
            *k += 1;
        }
        f[13] = merchant_n as f32;
        if n == 0 {
            f[14] = -1.0;
            f[15] = -1.0;
        } else {
            let near =
                state.hours[(hour + 23) % 24] + state.hours[hour] + state.hours[(hour + 1) % 24];
            f[14] = (near as f64 / nf) as f32;
            let night: u32 = NIGHT_HOURS.iter().map(|h| state.hours[*h]).sum();
            f[15] = (night as f64 / nf) as f32;
        }

        let new_merchant = tx.merchant.is_some() && merchant_n == 0;
        let new_category = tx.category.is_some() && cat_n == 0;
        state.windows.push(Event {
            ts,
            cents,
            z_milli: (z.clamp(0.0, Z_CAP) * 1000.0).round() as i64,
            new_merchant,
            new_category,
        });
        for w in 0..WINDOWS_SECS.len() {
            let a = state.windows.agg(w);
            f[16 + 2 * w] = a.count as f32;
            f[17 + 2 * w] = (a.cents as f64 / 100.0).ln_1p() as f32;
        }
        let day = state.windows.agg(2);
        if n == 0 {
            f[24] = -1.0;
            f[25] = -1.0;
        } else {
            let days = ((ts - state.first_ts) as f64 / 86_400.0).max(1.0);
            f[24] = (day.count as f64 / (nf / days)) as f32;
            f[25] = (day.cents as f64 / 100.0 / (state.amounts.sum / days).max(0.01)) as f32;
        }
        f[26] = match (tx.location, state.loc_n) {
            (Some(p), k) if k > 0 => {
                let usual = GeoPoint {
                    lat: state.loc_lat_sum / k as f64,
                    long: state.loc_long_sum / k as f64,
                };
                p.distance_km(&usual) as f32
            }
            _ => -1.0,
        };
        f[27] = if state.cnp_known == 0 {
            -1.0
        } else {
            (state.cnp_count as f64 / state.cnp_known as f64) as f32
        };
        f[28] = (day.z_milli as f64 / 1000.0) as f32;
        f[29] = day.new_merchants as f32;
        f[30] = day.new_categories as f32;

        // Fold the transaction in.
        if n == 0 {
            state.first_ts = ts;
        }
        state.n += 1;
        state.last_ts = ts;
        state.amounts.push(amount);
        // Known category and merchant were updated above; new ones are inserted here.
        if let (Some(c), false) = (&tx.category, cat_known) {
            let mut stats = AmountStats::default();
            stats.push(amount);
            state.categories.insert(c.clone(), stats);
        }
        if let (Some(m), false) = (&tx.merchant, merchant_known) {
            state.merchants.insert(m.clone(), 1);
        }
        state.hours[hour] += 1;
        if let Some(p) = tx.location {
            state.loc_n += 1;
            state.loc_lat_sum += p.lat;
            state.loc_long_sum += p.long;
        }
        if let Some(present) = tx.card_present {
            state.cnp_known += 1;
            state.cnp_count += (!present) as u32;
        }
        for v in f.iter_mut() {
            if !v.is_finite() {
                *v = -1.0;
            }
        }
        f
    }
}

/// Amount in cents, saturating at 10^15 so absurd input cannot overflow window sums.
fn cents(amount: Decimal) -> i64 {
    amount
        .abs()
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|c| c.round().to_i64())
        .unwrap_or(i64::MAX)
        .min(1_000_000_000_000_000)
}
