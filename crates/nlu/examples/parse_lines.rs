//! Reads lines on stdin, prints the `okienko nlu parse` JSON line for each (today 2026-11-30).
use std::io::BufRead;
fn main() {
    let nlu = okienko_nlu::Nlu::new();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    for l in std::io::stdin().lock().lines().map_while(Result::ok) {
        println!("{}", nlu.parse_json_line(&l, today));
    }
}
