//! Slot parsing through the public API and the JSON line contract.

use chrono::NaiveDate;
use okienko_core::{Currency, Lang};
use okienko_nlu::{Intent, Nlu, Parse};
use rust_decimal_macros::dec;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn parse(text: &str) -> Parse {
    Nlu::new().parse(text, day(2026, 11, 30), &[])
}

#[test]
fn brief_examples_end_to_end() {
    let p = parse("przelej 50 zł Annie");
    assert_eq!((p.intent, p.lang), (Intent::Transfer, Lang::Pl));
    assert_eq!(p.slots.amount, Some(dec!(50)));
    assert_eq!(p.slots.currency, Some(Currency::PLN));
    assert_eq!(p.slots.recipient.as_deref(), Some("anna"));

    let p = parse("send $20 to John");
    assert_eq!((p.intent, p.lang), (Intent::Transfer, Lang::En));
    assert_eq!(p.slots.amount, Some(dec!(20)));
    assert_eq!(p.slots.currency, Some(Currency::USD));
    assert_eq!(p.slots.recipient.as_deref(), Some("john"));

    let p = parse("płatności w Biedronce w październiku");
    assert_eq!(p.intent, Intent::Transactions);
    assert_eq!(p.slots.merchant.as_deref(), Some("biedronka"));
    assert_eq!(
        (p.slots.date_from, p.slots.date_to),
        (Some(day(2026, 10, 1)), Some(day(2026, 10, 31)))
    );

    let p = parse("show my transactions over $100 this month");
    assert_eq!(p.intent, Intent::Transactions);
    assert_eq!(p.slots.amount_min, Some(dec!(100)));
    assert_eq!(p.slots.amount, None);
    assert_eq!(p.slots.currency, Some(Currency::USD));
    assert_eq!(
        (p.slots.date_from, p.slots.date_to),
        (Some(day(2026, 11, 1)), Some(day(2026, 11, 30)))
    );

    let p = parse("what did I pay at Starbucks last month");
    assert_eq!(p.intent, Intent::Transactions);
    assert_eq!(p.slots.merchant.as_deref(), Some("starbucks"));
    assert_eq!(
        (p.slots.date_from, p.slots.date_to),
        (Some(day(2026, 10, 1)), Some(day(2026, 10, 31)))
    );

    let p = parse("ile wydałem na jedzenie w tym miesiącu");
    assert_eq!(p.intent, Intent::SpendingSummary);
    assert_eq!(p.slots.category.as_deref(), Some("jedzenie"));
    assert_eq!(p.slots.date_from, Some(day(2026, 11, 1)));

    let p = parse("alert me when over 500 zł");
    assert_eq!(p.intent, Intent::AlertSettings);
    assert_eq!(p.slots.amount_min, Some(dec!(500)));

    let p = parse("transakcje od 50 do 100 zł");
    assert_eq!(
        (p.slots.amount_min, p.slots.amount_max),
        (Some(dec!(50)), Some(dec!(100)))
    );

    let p = parse("wyślij 100 zł do Piotra Nowaka");
    assert_eq!(p.slots.recipient.as_deref(), Some("piotr nowak"));
    assert_eq!(p.slots.amount_max, None);
}

#[test]
fn known_merchants_are_matched_inflected_and_output_as_written() {
    let known = vec![
        "Biedronka".to_owned(),
        "Żabka".to_owned(),
        "Starbucks".to_owned(),
    ];
    let p = Nlu::new().parse(
        "ile wydałem w zabce w zeszłym tygodniu",
        day(2026, 11, 30),
        &known,
    );
    assert_eq!(p.slots.merchant.as_deref(), Some("żabka"));
    assert_eq!(
        (p.slots.date_from, p.slots.date_to),
        (Some(day(2026, 11, 23)), Some(day(2026, 11, 29)))
    );
}

#[test]
fn year_boundary_through_the_api() {
    let p = Nlu::new().parse("transakcje w grudniu", day(2026, 1, 10), &[]);
    assert_eq!(
        (p.slots.date_from, p.slots.date_to),
        (Some(day(2025, 12, 1)), Some(day(2025, 12, 31)))
    );
}

#[test]
fn json_line_matches_the_contract() {
    let line = Nlu::new().parse_json_line("przelej 120,50 zł Annie", day(2026, 11, 30));
    assert!(!line.ends_with('\n'));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["text"], "przelej 120,50 zł Annie");
    assert_eq!(v["lang"], "pl");
    assert_eq!(v["intent"], "transfer");
    assert!(v["confidence"].as_f64().unwrap() > 0.5);
    assert_eq!(v["slots"]["amount"], "120.50");
    assert_eq!(v["slots"]["currency"], "PLN");
    assert_eq!(v["slots"]["recipient"], "anna");
    let keys: Vec<&String> = v["slots"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "absent slots are not serialised: {keys:?}");

    let line = Nlu::new().parse_json_line("payments 2025-03-01", day(2026, 11, 30));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["slots"]["date_from"], "2025-03-01");
    assert_eq!(v["slots"]["date_to"], "2025-03-01");
    assert_eq!(v["slots"]["amount"], serde_json::Value::Null);
}

/// The recipient inside a whole transfer request, not alone: the amount, the currency and the
/// verb around it must not leak into the name, and the declined form comes back as the base
/// form ("Tomkowi" → tomek), with or without diacritics, wherever the name stands.
#[test]
fn recipient_in_a_full_transfer_request_is_reduced_to_its_base_form() {
    // (text, amount, recipient); Polish requests in złoty, English ones in dollars.
    let pl = [
        ("przelej 50 zł Tomkowi", "50", "tomek"),
        ("przelej 50 zl Tomkowi", "50", "tomek"),
        ("przelej Tomkowi 50 zł", "50", "tomek"),
        ("wyślij 20 zł do Tomka", "20", "tomek"),
        ("przelej 35 zł Annie za kino", "35", "anna"),
        ("przelej mamie 100 zł", "100", "mama"),
    ];
    let en = [
        ("send $20 to John", "20", "john"),
        ("send 20 dollars to John please", "20", "john"),
        ("transfer $20 to john", "20", "john"),
    ];
    let cases = pl
        .iter()
        .map(|c| (c, Lang::Pl, Currency::PLN))
        .chain(en.iter().map(|c| (c, Lang::En, Currency::USD)));
    for (&(text, amount, recipient), lang, currency) in cases {
        let p = parse(text);
        assert_eq!((p.intent, p.lang), (Intent::Transfer, lang), "{text}");
        let got = p.slots.amount.map(|a| a.to_string());
        assert_eq!(got.as_deref(), Some(amount), "{text}");
        assert_eq!(p.slots.currency, Some(currency), "{text}");
        assert_eq!(p.slots.recipient.as_deref(), Some(recipient), "{text}");
    }
}
