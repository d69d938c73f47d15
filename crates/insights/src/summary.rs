//! A period's spending: totals by category and merchant, against what the customer usually spends
//! in a period of the same length, and the categories that changed the most.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use okienko_core::{Currency, Money, Transaction};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::category::{Categoriser, Category};

/// How many earlier periods make "usual".
pub const USUAL_PERIODS: i64 = 3;
/// Merchants listed in a summary.
pub const TOP_MERCHANTS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryTotal {
    pub category: Category,
    /// Money spent, as a positive amount.
    pub spent: Money,
    pub count: u32,
    /// The average over the earlier periods, when there was history.
    pub usual: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MerchantTotal {
    pub merchant: String,
    pub spent: Money,
    pub count: u32,
}

/// What the customer spent from `from` to `to` (inclusive) in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpendingSummary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currency: Currency,
    pub total: Money,
    /// The average total of the earlier periods of the same length, when there was history.
    pub usual_total: Option<Money>,
    /// Largest first.
    pub by_category: Vec<CategoryTotal>,
    pub top_merchants: Vec<MerchantTotal>,
    /// Categories by how much more (positive) or less than usual was spent, largest change first.
    pub changes: Vec<(Category, Money)>,
}

/// The earlier window that "usual" is computed from: [`USUAL_PERIODS`] periods of the same length
/// right before `from`. Callers read transactions from this date on.
pub fn history_start(from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let days = (to - from).num_days() + 1;
    from - Duration::days(days * USUAL_PERIODS)
}

/// Summarises outgoing payments. `txs` may include the history window (see [`history_start`]);
/// only payments in the currency most of the period's payments use are counted, so a summary never
/// adds złoty to dollars. Returns `None` when nothing was spent in the period.
pub fn summarise(
    txs: &[Transaction],
    from: NaiveDate,
    to: NaiveDate,
    categoriser: &Categoriser,
    overrides: &HashMap<String, Category>,
) -> Option<SpendingSummary> {
    let spent: Vec<&Transaction> = txs.iter().filter(|t| t.amount.is_negative()).collect();
    let currency = main_currency(
        spent
            .iter()
            .filter(|t| t.date >= from && t.date <= to)
            .map(|t| t.amount.currency()),
    )?;
    let days = (to - from).num_days() + 1;
    let start = history_start(from, to);
    // A history period counts only if the customer's data reaches back to its start.
    let oldest = txs.iter().map(|t| t.date).min();
    let periods_with_history = (1..=USUAL_PERIODS)
        .filter(|k| oldest.is_some_and(|o| o <= from - Duration::days(days * k)))
        .count() as i64;

    let mut cats: BTreeMap<Category, (Decimal, u32, Decimal)> = BTreeMap::new();
    let mut merchants: HashMap<String, (Decimal, u32)> = HashMap::new();
    let mut total = Decimal::ZERO;
    let mut usual_total = Decimal::ZERO;
    for t in spent.iter().filter(|t| t.amount.currency() == currency) {
        let amount = -t.amount.amount();
        let (name, category) =
            categoriser.categorise(t.merchant.as_deref(), &t.raw_description, false, overrides);
        // The customer's own correction first, then a category the bank gave, then the table.
        let corrected = name
            .as_deref()
            .is_some_and(|n| overrides.contains_key(&okienko_core::transaction::fold(n)));
        let category = match t.category.as_deref().and_then(Category::parse) {
            Some(given) if !corrected => given,
            _ => category,
        };
        if t.date >= from && t.date <= to {
            let e = cats.entry(category).or_default();
            e.0 += amount;
            e.1 += 1;
            total += amount;
            let m = merchants
                .entry(name.unwrap_or_else(|| category.as_str().to_owned()))
                .or_default();
            m.0 += amount;
            m.1 += 1;
        } else if t.date >= start && t.date < from {
            cats.entry(category).or_default().2 += amount;
            usual_total += amount;
        }
    }
    let money = |d: Decimal| Money::new(d.round_dp(currency.minor_units()), currency).ok();
    let average = |d: Decimal| {
        (periods_with_history > 0)
            .then(|| money(d / Decimal::from(periods_with_history)))
            .flatten()
    };
    if total.is_zero() {
        return None;
    }
    let mut by_category: Vec<CategoryTotal> = cats
        .iter()
        .filter(|(_, (now, _, _))| !now.is_zero())
        .filter_map(|(c, (now, count, before))| {
            Some(CategoryTotal {
                category: *c,
                spent: money(*now)?,
                count: *count,
                usual: average(*before),
            })
        })
        .collect();
    by_category.sort_by(|a, b| {
        b.spent
            .amount()
            .cmp(&a.spent.amount())
            .then(a.category.cmp(&b.category))
    });
    let mut top_merchants: Vec<MerchantTotal> = merchants
        .into_iter()
        .filter_map(|(merchant, (spent, count))| {
            Some(MerchantTotal {
                merchant,
                spent: money(spent)?,
                count,
            })
        })
        .collect();
    top_merchants.sort_by(|a, b| {
        b.spent
            .amount()
            .cmp(&a.spent.amount())
            .then(a.merchant.cmp(&b.merchant))
    });
    top_merchants.truncate(TOP_MERCHANTS);
    let mut changes: Vec<(Category, Money)> = if periods_with_history > 0 {
        cats.iter()
            .filter_map(|(c, (now, _, before))| {
                let usual = *before / Decimal::from(periods_with_history);
                let delta = (*now - usual).round_dp(currency.minor_units());
                (!delta.is_zero())
                    .then(|| money(delta).map(|m| (*c, m)))
                    .flatten()
            })
            .collect()
    } else {
        Vec::new()
    };
    changes.sort_by(|a, b| {
        b.1.amount()
            .abs()
            .cmp(&a.1.amount().abs())
            .then(a.0.cmp(&b.0))
    });
    changes.truncate(3);
    Some(SpendingSummary {
        from,
        to,
        currency,
        total: money(total)?,
        usual_total: average(usual_total),
        by_category,
        top_merchants,
        changes,
    })
}

/// The currency most payments use; ties go to the alphabetically first code, for determinism.
fn main_currency(currencies: impl Iterator<Item = Currency>) -> Option<Currency> {
    let mut counts: BTreeMap<String, (u32, Currency)> = BTreeMap::new();
    for c in currencies {
        counts.entry(c.code().to_owned()).or_insert((0, c)).0 += 1;
    }
    counts
        .into_values()
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.code().cmp(a.1.code())))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_core::{AccountId, BookingStatus, TransactionId};

    fn tx(date: &str, amount: &str, cur: &str, raw: &str) -> Transaction {
        let date: NaiveDate = date.parse().unwrap();
        Transaction {
            id: TransactionId::new(),
            account_id: AccountId::new(),
            status: BookingStatus::Booked,
            date,
            booking_date: Some(date),
            value_date: None,
            amount: Money::parse(amount, cur).unwrap(),
            merchant: None,
            raw_description: raw.into(),
            category: None,
            updated_at: chrono::Utc::now(),
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn totals_by_category_and_merchant_against_the_usual() {
        let txs = vec![
            // November: the period.
            tx("2026-11-03", "-100.00", "PLN", "BIEDRONKA 123 WARSZAWA"),
            tx("2026-11-10", "-50.50", "PLN", "ZABKA Z1 WARSZAWA"),
            tx("2026-11-12", "-300.00", "PLN", "ORLEN STACJA 4"),
            tx("2026-11-15", "5000.00", "PLN", "WYNAGRODZENIE"),
            tx("2026-11-20", "-12.00", "USD", "STARBUCKS STORE"),
            // The three 30-day periods before: groceries 90 each time, no fuel.
            tx("2026-10-20", "-90.00", "PLN", "LIDL 7"),
            tx("2026-09-20", "-90.00", "PLN", "LIDL 7"),
            tx("2026-08-20", "-90.00", "PLN", "LIDL 7"),
            tx("2026-08-02", "-1.00", "PLN", "KIOSK"),
        ];
        let s = summarise(
            &txs,
            d("2026-11-01"),
            d("2026-11-30"),
            &Categoriser::new(),
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(s.currency.code(), "PLN");
        assert_eq!(s.total.amount_string(), "450.50");
        assert_eq!(s.by_category[0].category, Category::Fuel);
        assert_eq!(s.by_category[0].spent.amount_string(), "300.00");
        assert_eq!(s.by_category[1].category, Category::Groceries);
        assert_eq!(s.by_category[1].spent.amount_string(), "150.50");
        assert_eq!(s.by_category[1].count, 2);
        assert_eq!(
            s.by_category[1].usual.as_ref().unwrap().amount_string(),
            "90.00"
        );
        assert_eq!(s.usual_total.as_ref().unwrap().amount_string(), "90.00");
        assert_eq!(s.top_merchants[0].merchant, "Orlen");
        assert_eq!(s.changes[0].0, Category::Fuel);
        assert_eq!(s.changes[0].1.amount_string(), "300.00");
        assert_eq!(s.changes[1].1.amount_string(), "60.50");
    }

    #[test]
    fn no_spending_no_summary_and_no_history_no_usual() {
        let only_income = vec![tx("2026-11-15", "10.00", "PLN", "ZWROT")];
        assert!(
            summarise(
                &only_income,
                d("2026-11-01"),
                d("2026-11-30"),
                &Categoriser::new(),
                &HashMap::new()
            )
            .is_none()
        );
        let fresh = vec![tx("2026-11-15", "-10.00", "PLN", "ZABKA")];
        let s = summarise(
            &fresh,
            d("2026-11-01"),
            d("2026-11-30"),
            &Categoriser::new(),
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(s.usual_total, None);
        assert!(s.changes.is_empty());
    }
}
