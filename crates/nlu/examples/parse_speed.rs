//! Times `Nlu::parse` on a few everyday questions: `cargo run --release -p okienko-nlu --example
//! parse_speed [ROUNDS]`. Prints microseconds per parse for each (JSON), for profiling the chat
//! path's understanding step.
fn main() {
    let nlu = okienko_nlu::Nlu::new();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let merchants: Vec<String> = ["Biedronka", "Żabka", "Orlen", "Allegro", "Netflix"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut out = serde_json::Map::new();
    for q in [
        "ile mam na koncie?",
        "pokaż transakcje z zeszłego tygodnia",
        "what did I pay at Starbucks last month",
        "przelej 50 zł Annie",
    ] {
        let t = std::time::Instant::now();
        let mut n = 0usize;
        for _ in 0..rounds {
            n += nlu.parse(q, today, &merchants).slots.merchant.is_some() as usize;
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
        out.insert(
            q.to_owned(),
            serde_json::json!({"us_per_parse": (us * 100.0).round() / 100.0, "merchant_hits": n}),
        );
    }
    println!("{}", serde_json::Value::Object(out));
}
