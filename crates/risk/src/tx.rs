//! `Tx`: what the risk engine needs to know about one card or account transaction. Richer than
//! `okienko_core::Transaction` where the bank feed has more (exact time, location, card-present
//! flag); [`Tx::from_transaction`] fills what core has and leaves the rest unknown.

use chrono::{DateTime, NaiveTime, Utc};
use okienko_core::Transaction;
use rust_decimal::Decimal;

use crate::error::RiskError;

/// A point on Earth in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub long: f64,
}

impl GeoPoint {
    /// Checks the range; bad coordinates are an error, not a silent zero.
    pub fn new(lat: f64, long: f64) -> Result<Self, RiskError> {
        if !(lat.is_finite() && long.is_finite()) || lat.abs() > 90.0 || long.abs() > 180.0 {
            return Err(RiskError::Invalid("coordinates out of range".into()));
        }
        Ok(Self { lat, long })
    }

    /// Great-circle distance in km.
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        let (la1, la2) = (self.lat.to_radians(), other.lat.to_radians());
        let dla = la2 - la1;
        let dlo = (other.long - self.long).to_radians();
        let a = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().min(1.0).asin()
    }
}

/// One transaction to score. `amount` is the absolute value of the payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Tx {
    pub ts: DateTime<Utc>,
    /// The customer's offset from UTC in seconds, for time-of-day habits (0 when unknown).
    pub utc_offset_secs: i32,
    pub amount: Decimal,
    pub category: Option<String>,
    pub merchant: Option<String>,
    pub location: Option<GeoPoint>,
    /// `Some(false)` for card-not-present (online) payments, `None` when the feed does not say.
    pub card_present: Option<bool>,
}

impl Tx {
    /// A transaction with just time and amount; set the other fields as the feed allows.
    pub fn new(ts: DateTime<Utc>, amount: Decimal) -> Self {
        Self {
            ts,
            utc_offset_secs: 0,
            amount: amount.abs(),
            category: None,
            merchant: None,
            location: None,
            card_present: None,
        }
    }

    /// From the gateway's transaction. Core keeps only a date, so the time is noon of that day
    /// unless the bank feed supplied more (callers with exact times should build `Tx` directly).
    pub fn from_transaction(t: &Transaction) -> Self {
        let ts = t
            .date
            .and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN))
            .and_utc();
        let mut tx = Tx::new(ts, t.amount.amount());
        tx.category = t.category.clone();
        tx.merchant = t.merchant.clone();
        tx
    }
}
