//! Transactions as the gateway keeps them, and the filters customers ask for.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, TransactionId};
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Booked,
    Pending,
}

impl BookingStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "booked" => Some(BookingStatus::Booked),
            "pending" => Some(BookingStatus::Pending),
            _ => None,
        }
    }
}

/// One transaction. `id` is the gateway's and survives pending → booked; the bank's own ids are
/// kept by the sync engine, not here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: TransactionId,
    pub account_id: AccountId,
    pub status: BookingStatus,
    /// The date the customer thinks of: booking date when booked, else value/entry date.
    pub date: NaiveDate,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    /// Negative for money leaving the account.
    pub amount: Money,
    /// Cleaned merchant or counterparty name ("Biedronka").
    pub merchant: Option<String>,
    /// The bank's description, never overwritten by cleaning.
    pub raw_description: String,
    pub category: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// An inclusive range of calendar dates (in the customer's zone, as they said it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl DateRange {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }
}

/// Which way money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Money out (payments).
    Debit,
    /// Money in.
    Credit,
}

/// What a customer asked to see: "płatności w Biedronce w październiku powyżej 50 zł".
///
/// Amount bounds compare against the absolute amount, since customers say "over 50 zł" of a
/// payment that the bank records as -50.00.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxFilter {
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub merchant: Option<String>,
    pub amount_min: Option<Decimal>,
    pub amount_max: Option<Decimal>,
    pub currency: Option<Currency>,
    pub direction: Option<Direction>,
}

impl TxFilter {
    pub fn matches(&self, tx: &Transaction) -> bool {
        let range = DateRange {
            from: self.date_from,
            to: self.date_to,
        };
        if !range.contains(tx.date) {
            return false;
        }
        let abs = tx.amount.amount().abs();
        if self.amount_min.is_some_and(|m| abs < m) || self.amount_max.is_some_and(|m| abs > m) {
            return false;
        }
        if self.currency.is_some_and(|c| c != tx.amount.currency()) {
            return false;
        }
        match self.direction {
            Some(Direction::Debit) if !tx.amount.is_negative() => return false,
            Some(Direction::Credit) if tx.amount.is_negative() => return false,
            _ => {}
        }
        if let Some(want) = &self.merchant {
            let want = fold(want);
            let hay = [tx.merchant.as_deref(), Some(tx.raw_description.as_str())];
            if !hay.iter().flatten().any(|h| fold(h).contains(&want)) {
                return false;
            }
        }
        true
    }
}

/// Lower case without Polish diacritics, so "Żabka", "zabka" and "ŻABKA" compare equal.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(|c| c.to_lowercase())
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn tx(date: &str, amount: &str, merchant: &str) -> Transaction {
        Transaction {
            id: TransactionId::new(),
            account_id: AccountId::new(),
            status: BookingStatus::Booked,
            date: date.parse().unwrap(),
            booking_date: None,
            value_date: None,
            amount: Money::parse(amount, "PLN").unwrap(),
            merchant: Some(merchant.into()),
            raw_description: format!("PLATNOSC KARTA {merchant}"),
            category: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn filter_by_merchant_month_and_amount() {
        let f = TxFilter {
            date_from: Some("2026-10-01".parse().unwrap()),
            date_to: Some("2026-10-31".parse().unwrap()),
            merchant: Some("biedronka".into()),
            amount_min: Some(dec!(50)),
            ..Default::default()
        };
        assert!(f.matches(&tx("2026-10-31", "-50.00", "Biedronka")));
        assert!(!f.matches(&tx("2026-11-01", "-80.00", "Biedronka")));
        assert!(!f.matches(&tx("2026-10-05", "-49.99", "Biedronka")));
        assert!(!f.matches(&tx("2026-10-05", "-99.00", "Żabka")));
        let z = TxFilter {
            merchant: Some("zabka".into()),
            ..Default::default()
        };
        assert!(z.matches(&tx("2026-10-05", "-99.00", "Żabka")));
    }
}
