//! How money and dates look to a customer: "1 234,56 zł" in Polish, "$1,234.56" in English,
//! dates in the customer's own zone (Europe/Warsaw unless they said otherwise).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::lang::Lang;
use crate::money::{Currency, Money};

/// The zone used when a customer has not chosen one.
pub const DEFAULT_TZ: Tz = chrono_tz::Europe::Warsaw;

fn group(int_part: &str, sep: &str) -> String {
    let digits: Vec<char> = int_part.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(*c);
    }
    out
}

/// Formats an amount for a customer in their language.
pub fn money(m: &Money, lang: Lang) -> String {
    let abs = m.amount().abs();
    let s = abs.to_string();
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
        None => (s.clone(), None),
    };
    let sign = if m.is_negative() { "-" } else { "" };
    match lang {
        Lang::Pl => {
            let num = match frac {
                Some(f) => format!("{},{}", group(&int_part, " "), f),
                None => group(&int_part, " "),
            };
            let unit = match m.currency() {
                Currency::PLN => "zł".to_owned(),
                Currency::EUR => "€".to_owned(),
                other => other.code().to_owned(),
            };
            format!("{sign}{num} {unit}")
        }
        Lang::En => {
            let num = match frac {
                Some(f) => format!("{}.{}", group(&int_part, ","), f),
                None => group(&int_part, ","),
            };
            match m.currency() {
                Currency::USD => format!("{sign}${num}"),
                Currency::GBP => format!("{sign}£{num}"),
                Currency::EUR => format!("{sign}€{num}"),
                other => format!("{sign}{} {num}", other.code()),
            }
        }
    }
}

/// A calendar date: "31.10.2026" in Polish, "31 Oct 2026" in English.
pub fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Pl => d.format("%d.%m.%Y").to_string(),
        Lang::En => d.format("%-d %b %Y").to_string(),
    }
}

/// An instant shown in the customer's zone.
pub fn datetime(t: DateTime<Utc>, tz: Tz, lang: Lang) -> String {
    let local = t.with_timezone(&tz);
    match lang {
        Lang::Pl => local.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => local.format("%-d %b %Y %H:%M").to_string(),
    }
}

/// The customer's local calendar date of an instant.
pub fn local_date(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polish_and_english_money() {
        let m = Money::parse("1234.56", "PLN").unwrap();
        assert_eq!(money(&m, Lang::Pl), "1 234,56 zł");
        let u = Money::parse("1234.56", "USD").unwrap();
        assert_eq!(money(&u, Lang::En), "$1,234.56");
        let n = Money::parse("-1234567.5", "USD").unwrap();
        assert_eq!(money(&n, Lang::En), "-$1,234,567.50");
        let small = Money::parse("5", "PLN").unwrap();
        assert_eq!(money(&small, Lang::Pl), "5,00 zł");
        assert_eq!(money(&m, Lang::En), "PLN 1,234.56");
    }

    #[test]
    fn dates_in_the_customers_zone() {
        // 23:30 UTC on 31 Oct is already 1 Nov in Warsaw (UTC+1 in winter).
        let t: DateTime<Utc> = "2026-10-31T23:30:00Z".parse().unwrap();
        assert_eq!(local_date(t, DEFAULT_TZ).to_string(), "2026-11-01");
        assert_eq!(datetime(t, DEFAULT_TZ, Lang::Pl), "01.11.2026 00:30");
        let d: NaiveDate = "2026-10-31".parse().unwrap();
        assert_eq!(date(d, Lang::En), "31 Oct 2026");
        assert_eq!(date(d, Lang::Pl), "31.10.2026");
    }
}
