//! Spending summaries end to end: real sandbox bank, real gateway, the web chat over a WebSocket.
//! The totals the chat states and the numbers its chart is drawn from are checked against the
//! bank's own transactions; the chart is a real PNG of the promised size.

mod support;

use std::time::Duration;

use base64::Engine as _;
use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// "1 234,56 zł" → 1234.56
fn pl_amount(s: &str) -> Decimal {
    let digits: String = s
        .trim()
        .trim_end_matches('.')
        .trim_end_matches("zł")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    digits
        .replace(',', ".")
        .parse()
        .unwrap_or_else(|_| panic!("amount {s:?}"))
}

fn last_month(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first_this = today.with_day(1).unwrap();
    let last = first_this.pred_opt().unwrap();
    (last.with_day(1).unwrap(), last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polish_spending_summary_matches_the_bank_and_draws_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;

    chat.say("ile wydalem w zeszlym miesiacu?").await;
    let reply = chat.expect("image", "Wydatki", WAIT).await;
    assert_eq!(reply["sensitivity"], "financial");

    // The bank's own figure: every PLN payment out of anna's accounts last month.
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Warsaw)
        .date_naive();
    let (from, to) = last_month(today);
    let truth = bank_truth(&bank.url, "anna").await;
    let mut expected = Decimal::ZERO;
    for acc in truth["accounts"].as_array().unwrap() {
        for t in acc["transactions"].as_array().unwrap() {
            let date: NaiveDate = t["bookingDate"]
                .as_str()
                .or(t["valueDate"].as_str())
                .unwrap()
                .parse()
                .unwrap();
            let amount: Decimal = t["amount"].as_str().unwrap().parse().unwrap();
            if t["currency"] == "PLN" && amount < Decimal::ZERO && date >= from && date <= to {
                expected -= amount;
            }
        }
    }
    assert!(expected > Decimal::ZERO, "anna spent nothing last month?");

    let parts = reply["parts"].as_array().unwrap();
    let text = parts[0]["text"].as_str().unwrap();
    let first_line = text.lines().next().unwrap();
    let stated = pl_amount(first_line.rsplit(": ").next().unwrap());
    assert_eq!(stated, expected, "{text}");

    // The bar chart: a real PNG of the promised size, drawn from numbers that add up to the total.
    let images: Vec<&Value> = parts.iter().filter(|p| p["kind"] == "image").collect();
    assert_eq!(images.len(), 2, "bars and the balance line");
    let bars = images[0];
    let png_bytes = base64::engine::general_purpose::STANDARD
        .decode(bars["data_base64"].as_str().unwrap())
        .unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    assert_eq!(
        (reader.info().width, reader.info().height),
        (
            bars["width"].as_u64().unwrap() as u32,
            bars["height"].as_u64().unwrap() as u32
        )
    );
    assert_eq!(reader.info().width, 640);
    let alt = bars["alt"].as_str().unwrap();
    let drawn: Decimal = alt
        .lines()
        .skip(1)
        .map(|l| pl_amount(l.rsplit(": ").next().unwrap()))
        .sum();
    assert_eq!(drawn, expected, "{alt}");
    assert!(images[1]["alt"].as_str().unwrap().contains("Saldo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_summary_for_a_period_without_spending_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let mut chat = Chat::connect(&gw.url, "en").await;
    link(&mut chat, "connect my bank", "john").await;
    chat.say("how much did I spend in January 2001?").await;
    chat.expect("text", "no spending", WAIT).await;
}
