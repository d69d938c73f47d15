//! Conversions between domain values and the portable column forms: ids and dates as text,
//! money as minor units plus a currency code. Reading back never panics: a value that does not
//! parse becomes `StoreError::Corrupt(column)`, naming the column and never the value.

use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use okienko_core::{Currency, Money};
use rust_decimal::Decimal;

use crate::error::StoreError;

pub(crate) fn parse<T: FromStr>(s: &str, column: &'static str) -> Result<T, StoreError> {
    s.parse().map_err(|_| StoreError::Corrupt(column))
}

pub(crate) fn parse_opt<T: FromStr>(
    s: Option<&str>,
    column: &'static str,
) -> Result<Option<T>, StoreError> {
    s.map(|s| parse(s, column)).transpose()
}

/// ISO date text. Only years 1..=9999 keep the text fixed-width (and so sortable).
pub(crate) fn date(d: NaiveDate, field: &'static str) -> Result<String, StoreError> {
    if !(1..=9999).contains(&d.year()) {
        return Err(StoreError::Invalid(field));
    }
    Ok(d.format("%Y-%m-%d").to_string())
}

pub(crate) fn date_opt(
    d: Option<NaiveDate>,
    field: &'static str,
) -> Result<Option<String>, StoreError> {
    d.map(|d| date(d, field)).transpose()
}

pub(crate) fn read_date(s: &str, column: &'static str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| StoreError::Corrupt(column))
}

pub(crate) fn read_date_opt(
    s: Option<&str>,
    column: &'static str,
) -> Result<Option<NaiveDate>, StoreError> {
    s.map(|s| read_date(s, column)).transpose()
}

/// RFC 3339 in UTC with nanoseconds: fixed width, so text order is time order, and exact round trip.
pub(crate) fn instant(t: DateTime<Utc>, field: &'static str) -> Result<String, StoreError> {
    if !(1..=9999).contains(&t.year()) {
        return Err(StoreError::Invalid(field));
    }
    Ok(t.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

pub(crate) fn read_instant(s: &str, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(column))
}

/// The amount in the currency's minor units ("-12.34 PLN" → -1234).
pub(crate) fn minor(m: &Money, field: &'static str) -> Result<i64, StoreError> {
    let mut d = m.amount();
    d.rescale(m.currency().minor_units());
    if d.scale() != m.currency().minor_units() {
        return Err(StoreError::Invalid(field));
    }
    i64::try_from(d.mantissa()).map_err(|_| StoreError::Invalid(field))
}

pub(crate) fn read_money(
    amount_minor: i64,
    currency: &str,
    amount_column: &'static str,
    currency_column: &'static str,
) -> Result<Money, StoreError> {
    let cur: Currency = parse(currency, currency_column)?;
    Money::new(Decimal::new(amount_minor, cur.minor_units()), cur)
        .map_err(|_| StoreError::Corrupt(amount_column))
}

pub(crate) fn count(v: i64, column: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_through_minor_units() {
        for (a, c) in [
            ("-12.34", "PLN"),
            ("0.00", "EUR"),
            ("1500", "JPY"),
            ("999999999999.99", "USD"),
        ] {
            let m = Money::parse(a, c).unwrap();
            let back = read_money(minor(&m, "a").unwrap(), c, "a", "c").unwrap();
            assert_eq!(back, m);
        }
    }

    #[test]
    fn bad_stored_values_are_corrupt_not_panics() {
        assert!(matches!(
            read_money(1, "QQQ", "a", "c"),
            Err(StoreError::Corrupt("c"))
        ));
        assert!(matches!(
            read_money(i64::MAX, "PLN", "a", "c"),
            Err(StoreError::Corrupt("a"))
        ));
        assert!(matches!(
            read_date("2026-13-01", "d"),
            Err(StoreError::Corrupt("d"))
        ));
        assert!(matches!(
            read_instant("yesterday", "t"),
            Err(StoreError::Corrupt("t"))
        ));
    }

    #[test]
    fn instants_are_fixed_width_and_exact() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.000000007Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = instant(t, "t").unwrap();
        assert_eq!(s, "2026-01-02T03:04:05.000000007Z");
        assert_eq!(read_instant(&s, "t").unwrap(), t);
    }
}
