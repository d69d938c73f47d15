//! Slot exact match over tests/data/slots_exact.tsv: the whole slots object must equal the
//! expected JSON (every key, nothing extra), for at least 95 % of the lines.

use chrono::NaiveDate;
use okienko_nlu::Nlu;

#[test]
fn slot_exact_match_is_at_least_95_percent() {
    let data = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/slots_exact.tsv"
    ))
    .unwrap();
    let nlu = Nlu::new();
    let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let (mut n, mut right) = (0usize, 0usize);
    for line in data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (text, want) = line.split_once('\t').unwrap();
        let want: serde_json::Value = serde_json::from_str(want).unwrap();
        let got = serde_json::to_value(nlu.parse(text, today, &[]).slots).unwrap();
        n += 1;
        if got == want {
            right += 1;
        } else {
            println!("slot miss: {text}\n   want {want}\n   got  {got}");
        }
    }
    let acc = right as f64 / n as f64;
    println!("slot exact match {right}/{n} = {acc:.4}");
    assert!(n >= 50);
    assert!(acc >= 0.95, "slot exact match {acc:.4} below 0.95");
}
