//! Intent accuracy over the hand-written PL/EN examples in tests/data/intents.tsv.

use chrono::NaiveDate;
use okienko_core::Lang;
use okienko_nlu::{Intent, Nlu};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

#[test]
fn intent_accuracy_is_at_least_95_percent() {
    let data = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/intents.tsv"
    ))
    .unwrap();
    let nlu = Nlu::new();
    let (mut total, mut right, mut lang_right) = (0usize, 0usize, 0usize);
    let mut per_intent = std::collections::HashMap::<String, usize>::new();
    let mut misses = Vec::new();
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.splitn(3, '\t');
        let (lang, intent, text) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap(),
        );
        let want = Intent::parse(intent).unwrap_or_else(|| panic!("unknown intent {intent}"));
        let want_lang: Lang = lang.parse().unwrap();
        *per_intent.entry(intent.to_owned()).or_default() += 1;
        let p = nlu.parse(text, today(), &[]);
        total += 1;
        assert!((0.0..=1.0).contains(&p.confidence));
        if p.intent == want {
            right += 1;
        } else {
            misses.push(format!(
                "{lang}\t{intent}\t{text}\t→ {} ({:.2})",
                p.intent.as_str(),
                p.confidence
            ));
        }
        if p.lang == want_lang {
            lang_right += 1;
        } else if text.chars().any(char::is_alphabetic) {
            println!("lang miss: {text} → {}", p.lang);
        }
    }
    for m in &misses {
        println!("miss: {m}");
    }
    let acc = right as f64 / total as f64;
    println!("intent accuracy {right}/{total} = {acc:.3}; lang {lang_right}/{total}");
    for i in Intent::ALL {
        assert!(
            per_intent.get(i.as_str()).copied().unwrap_or(0) >= 15,
            "{} needs ≥ 15 examples",
            i.as_str()
        );
    }
    assert!(acc >= 0.95, "accuracy {acc:.3} below 0.95");
    assert!(lang_right as f64 / total as f64 >= 0.9);
}

#[test]
fn confidence_is_low_when_rules_barely_match_and_high_when_clear() {
    let nlu = Nlu::new();
    let clear = nlu.parse("zablokuj kartę", today(), &[]);
    assert_eq!(clear.intent, Intent::CardBlock);
    assert!(clear.confidence >= 0.7, "{}", clear.confidence);
    let oos = nlu.parse("jaka jest pogoda", today(), &[]);
    assert_eq!(oos.intent, Intent::OutOfScope);
    let weak = nlu.parse("karta", today(), &[]);
    assert!(weak.confidence < 0.5, "{weak:?}");
}
