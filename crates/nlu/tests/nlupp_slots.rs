//! English amounts and dates against NLU++ banking's normalised slot values (Casanueva et al.,
//! 2022, CC BY 4.0; ../shared/data/nlupp_banking, read in place, never copied).
//!
//! Every `amount_of_money`, `date`, `date_period`, `date_from` and `date_to` annotation of the
//! 20 folds is run through the public parser (`Nlu::parse`) on the annotated words alone (a bare
//! number without a currency: on the whole utterance, where "more than 400" makes it money), with
//! today = NLU++'s reference date 2022-03-15, and compared exactly:
//! - `amount_of_money`: the amount (any of amount / amount_min / amount_max) and the currency,
//!   NLU++'s "ambiguous" currency meaning we must not invent one;
//! - `date`: one day, so date_from = date_to = the value;
//! - `date_from` / `date_to`: the matching end of our range;
//! - `date_period` of type "absolute": both ends.
//!
//! Excluded and counted: `date_period` types "relative" ("monthly", "3 days": a length, not a
//! range), "ambiguous" ("lately") and "periodic" ("4th of each month"), and free-text `date`
//! values ("some days ago"). Also counted apart: values NLU++ resolves into the future (weekday
//! names, "tomorrow", "next week"), which okienko reads as the past on purpose — a customer asks
//! about transactions that happened — unless the words say the future ("next", "in 3 days").
//! Misses are printed so a parser change shows what it fixed or broke.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use okienko_nlu::{Nlu, Slots};
use rust_decimal::Decimal;
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nlupp_banking")
}

fn ymd(v: &Value) -> Option<NaiveDate> {
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    NaiveDate::from_ymd_opt(
        i32::try_from(n("year")?).ok()?,
        n("month")? as u32,
        n("day")? as u32,
    )
}

#[derive(Default)]
struct Tally {
    right: usize,
    total: usize,
}

enum Check {
    Amount(Decimal, Option<String>),
    Day(NaiveDate),
    From(NaiveDate),
    To(NaiveDate),
    Range(NaiveDate, NaiveDate),
}

fn judge(check: &Check, s: &Slots) -> bool {
    match check {
        Check::Amount(want, cur) => {
            let got = s.amount.or(s.amount_min).or(s.amount_max);
            let got_cur = s
                .currency
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| v.as_str().map(str::to_owned));
            got == Some(*want) && got_cur == *cur
        }
        Check::Day(d) => s.date_from == Some(*d) && s.date_to == Some(*d),
        Check::From(d) => s.date_from == Some(*d),
        Check::To(d) => s.date_to == Some(*d),
        Check::Range(a, b) => s.date_from == Some(*a) && s.date_to == Some(*b),
    }
}

#[test]
fn english_amounts_and_dates_match_nlupp_values() {
    let dir = data_dir();
    if !dir.join("fold0.json").exists() {
        eprintln!(
            "SKIPPED: NLU++ banking data not found at {} (../shared/data/nlupp_banking)",
            dir.display()
        );
        return;
    }
    let today = NaiveDate::from_ymd_opt(2022, 3, 15).unwrap();
    let nlu = Nlu::new();
    let mut amounts = Tally::default();
    let mut dates = Tally::default();
    let mut excluded: std::collections::BTreeMap<String, usize> = Default::default();
    let mut future_policy = Tally::default();
    for fold in 0..20 {
        let path = dir.join(format!("fold{fold}.json"));
        let rows: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for row in rows {
            let Some(slots) = row.get("slots").and_then(Value::as_object) else {
                continue;
            };
            for (name, slot) in slots {
                let text = slot["text"].as_str().unwrap_or_default();
                let value = slot.get("value").or_else(|| slot.get("values"));
                let Some(value) = value else { continue };
                let check = match name.as_str() {
                    "amount_of_money" => {
                        let want: Decimal = value["amount"].to_string().parse().unwrap();
                        let cur = value["currency"].as_str().unwrap_or("ambiguous");
                        let cur = (cur != "ambiguous").then(|| cur.to_owned());
                        Check::Amount(want, cur)
                    }
                    "date" | "date_from" | "date_to" => {
                        let Some(d) = ymd(value) else {
                            *excluded.entry(format!("{name}: free text")).or_default() += 1;
                            continue;
                        };
                        match name.as_str() {
                            "date" => Check::Day(d),
                            "date_from" => Check::From(d),
                            _ => Check::To(d),
                        }
                    }
                    "date_period" => {
                        let kind = value["type"].as_str().unwrap_or_default();
                        if kind != "absolute" {
                            *excluded.entry(format!("date_period: {kind}")).or_default() += 1;
                            continue;
                        }
                        match (ymd(&value["from"]), ymd(&value["to"])) {
                            (Some(a), Some(b)) => Check::Range(a, b),
                            _ => {
                                *excluded.entry("date_period: no ends".into()).or_default() += 1;
                                continue;
                            }
                        }
                    }
                    _ => continue,
                };
                // A bare number is money only in its sentence ("more than 400"): those are read
                // in the whole utterance, everything else in the annotated words alone.
                let input = match &check {
                    Check::Amount(_, None) => row["text"].as_str().unwrap_or_default(),
                    _ => text,
                };
                let got = nlu.parse(input, today, &[]).slots;
                let ok = judge(&check, &got);
                let future = match &check {
                    Check::Day(d) | Check::From(d) | Check::To(d) => *d > today,
                    Check::Range(_, b) => *b > today,
                    Check::Amount(..) => false,
                };
                let tally = match &check {
                    Check::Amount(..) => &mut amounts,
                    _ if future && !ok && !says_future(text) => &mut future_policy,
                    _ => &mut dates,
                };
                tally.total += 1;
                if ok {
                    tally.right += 1;
                } else {
                    println!(
                        "miss {name}: {text:?} want {value} got from={:?} to={:?} amount={:?}/{:?}/{:?} {:?}",
                        got.date_from,
                        got.date_to,
                        got.amount,
                        got.amount_min,
                        got.amount_max,
                        got.currency
                    );
                }
            }
        }
    }
    let rate = |t: &Tally| t.right as f64 / t.total.max(1) as f64;
    println!(
        "NLU++ amounts: {}/{} = {:.4}",
        amounts.right,
        amounts.total,
        rate(&amounts)
    );
    println!(
        "NLU++ dates:   {}/{} = {:.4}",
        dates.right,
        dates.total,
        rate(&dates)
    );
    println!(
        "NLU++ future-by-default values read as past by policy (not counted above): {}",
        future_policy.total
    );
    for (k, n) in &excluded {
        println!("NLU++ excluded {k}: {n}");
    }
    assert!(amounts.total >= 100 && dates.total >= 200);
    assert!(
        rate(&amounts) >= AMOUNT_FLOOR,
        "amount exact match below floor"
    );
    assert!(rate(&dates) >= DATE_FLOOR, "date exact match below floor");
}

/// Words that put a date in the future; without them okienko reads a date as the past.
fn says_future(text: &str) -> bool {
    let t = text.to_lowercase();
    ["next", "tomorrow", "from now", "in ", "coming", "upcoming"]
        .iter()
        .any(|w| t.contains(w))
}

/// Exact-match rates reached (printed by the test), with a little room below.
const AMOUNT_FLOOR: f64 = 0.95;
const DATE_FLOOR: f64 = 0.84;
