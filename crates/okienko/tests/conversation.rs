//! End to end over real sockets and real processes: `okienko sandbox-bank` and `okienko serve`
//! on random ports, a customer in the web chat over a WebSocket, and the bank's consent page
//! approved over HTTP. Every number the chat shows is checked against the bank's own data.

mod support;

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde_json::Value;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

fn dec(v: &Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}

/// The bank's transactions of one customer as (date, amount, currency, merchant text).
struct TruthTx {
    date: NaiveDate,
    amount: Decimal,
    currency: String,
    text: String,
}

fn truth_transactions(truth: &Value) -> Vec<TruthTx> {
    let mut out = Vec::new();
    for acc in truth["accounts"].as_array().unwrap() {
        for t in acc["transactions"].as_array().unwrap() {
            let date = t["bookingDate"]
                .as_str()
                .or(t["valueDate"].as_str())
                .unwrap();
            out.push(TruthTx {
                date: date.parse().unwrap(),
                amount: dec(&t["amount"]),
                currency: t["currency"].as_str().unwrap().to_owned(),
                text: format!(
                    "{} {}",
                    t["counterparty"].as_str().unwrap_or(""),
                    t["description"].as_str().unwrap_or("")
                )
                .to_lowercase(),
            });
        }
    }
    out
}

fn truth_available(truth: &Value) -> Vec<(String, Decimal)> {
    truth["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["currency"].as_str().unwrap().to_owned(),
                dec(&a["balances"]["interimAvailable"]),
            )
        })
        .collect()
}

fn shown_balances(reply: &Value) -> Vec<(String, Decimal)> {
    part(reply, "balance_card")["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["currency"].as_str().unwrap().to_owned(),
                dec(&a["amount"]),
            )
        })
        .collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polish_conversation_link_balance_filter_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let mut chat = Chat::connect(&gw.url, "pl").await;

    let hello = chat.ask("cześć", "text").await;
    assert!(hello.to_string().contains("Okienko"));

    // An unclear message gets the likely intents back as buttons, not a guess.
    let unsure = chat.ask("karta", "text").await;
    let buttons = unsure["quick_replies"].to_string();
    assert!(buttons.contains("intent:card_block"), "{unsure}");
    assert!(buttons.contains("intent:card_unblock"), "{unsure}");

    // The data's use gets a true answer.
    let ads = chat
        .ask("czy używacie moich danych do reklam?", "text")
        .await;
    assert!(ads.to_string().contains("Nie."), "{ads}");

    // A link the customer brings is checked by the guard.
    chat.ask("czy ten link jest bezpieczny?", "text").await;
    chat.say("https://mbank.pl-logowanie.site/login").await;
    chat.expect("text", "oszustwo", WAIT).await;

    let consent = link(&mut chat, "połącz bank", "anna").await;
    let truth = bank_truth(&bank.url, "anna").await;

    // Balance: every account, the bank's own interimAvailable.
    let reply = chat.ask("ile mam na koncie?", "balance_card").await;
    assert_eq!(
        sorted(shown_balances(&reply)),
        sorted(truth_available(&truth))
    );
    let card = part(&reply, "balance_card");
    assert!(
        card["accounts"][0]["available"]
            .as_str()
            .unwrap()
            .ends_with(" zł")
    );

    // Payments at Biedronka in October (the most recent October up to today).
    let today = chrono::Utc::now().date_naive();
    let year = if today.month() >= 10 {
        today.year()
    } else {
        today.year() - 1
    };
    let from = NaiveDate::from_ymd_opt(year, 10, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(year, 10, 31).unwrap();
    let expected: Vec<TruthTx> = truth_transactions(&truth)
        .into_iter()
        .filter(|t| t.date >= from && t.date <= to && t.text.contains("biedronka"))
        .collect();
    assert!(
        !expected.is_empty(),
        "the sandbox should have Biedronka payments in October"
    );
    chat.say("płatności w Biedronce w październiku").await;
    let reply = chat.expect("transactions_table", "", WAIT).await;
    let table = part(&reply, "transactions_table");
    assert_eq!(table["total"].as_u64().unwrap() as usize, expected.len());
    let mut shown: Vec<Decimal> = Vec::new();
    let mut page = table.clone();
    loop {
        for r in page["rows"].as_array().unwrap() {
            shown.push(dec(&r["raw_amount"]));
            assert!(r["amount"].as_str().unwrap().ends_with(" zł"));
        }
        let Some(next) = page["next_page"].as_str() else {
            break;
        };
        chat.press(next).await;
        let reply = chat.expect("transactions_table", "", WAIT).await;
        page = part(&reply, "transactions_table").clone();
    }
    assert_eq!(
        sorted(shown),
        sorted(expected.iter().map(|t| t.amount).collect())
    );

    // Disconnect: withdrawn at the bank, data gone from the store.
    chat.say("odłącz bank").await;
    chat.expect("text", "Odłączyłem", WAIT).await;
    let status: Value = http()
        .get(format!("{}/v1/consents/{consent}/status", bank.url))
        .header("X-Request-ID", uuid())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["consentStatus"], "terminatedByTpp");
    let again = chat.ask("ile mam na koncie?", "any").await;
    assert!(again.to_string().contains("połącz") || again.to_string().contains("Połącz"));

    // The raw database files hold none of the customer's account numbers any more.
    let data = dir.path().join("data");
    for acc in truth["accounts"].as_array().unwrap() {
        if let Some(iban) = acc["iban"].as_str() {
            for f in ["okienko.sqlite", "okienko.sqlite-wal"] {
                assert!(
                    !file_contains(&data.join(f), iban),
                    "{f} still holds an IBAN"
                );
            }
        }
    }
    // Nor do the logs: no account number, no balance, nothing the customer typed.
    let gw_log = gw.log();
    assert!(!gw_log.is_empty());
    for needle in ["Biedronce", "ile mam na koncie", "pl-logowanie"] {
        assert!(
            !gw_log.contains(needle),
            "the gateway log holds the customer's words"
        );
    }
    for (_, amount) in truth_available(&truth) {
        assert!(
            !gw_log.contains(&amount.to_string()),
            "the gateway log holds a balance"
        );
    }
    // Nor a transaction amount (the distinctive ones: short amounts like "5.00" match unrelated
    // digits) in any of the forms the chat writes them.
    for t in truth_transactions(&truth) {
        let a = t.amount.abs().to_string();
        if a.len() >= 6 {
            for form in [a.clone(), a.replace('.', ",")] {
                assert!(!gw_log.contains(&form), "the gateway log holds an amount");
            }
        }
    }
    for p in [&gw, &bank] {
        let log = p.log();
        for acc in truth["accounts"].as_array().unwrap() {
            if let Some(iban) = acc["iban"].as_str() {
                assert!(!log.contains(iban), "a log line holds an IBAN");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_conversation_amount_and_month_filter() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let mut chat = Chat::connect(&gw.url, "en").await;
    let ads = chat.ask("do you use my data for ads?", "text").await;
    assert!(ads.to_string().contains("No."), "{ads}");
    link(&mut chat, "connect my bank", "john").await;
    let truth = bank_truth(&bank.url, "john").await;

    let reply = chat.ask("what's my balance?", "balance_card").await;
    assert_eq!(
        sorted(shown_balances(&reply)),
        sorted(truth_available(&truth))
    );
    assert!(
        part(&reply, "balance_card")["accounts"][0]["available"]
            .as_str()
            .unwrap()
            .contains('$')
    );

    let today =
        okienko_core::format::local_date(chrono::Utc::now(), okienko_core::format::DEFAULT_TZ);
    let first = today.with_day(1).unwrap();
    let expected: Vec<Decimal> = truth_transactions(&truth)
        .into_iter()
        .filter(|t| {
            t.date >= first
                && t.date <= today
                && t.amount.abs() >= Decimal::from(100)
                && t.currency == "USD"
        })
        .map(|t| t.amount)
        .collect();
    chat.say("show my transactions over $100 this month").await;
    let reply = chat.expect("any", "", WAIT).await;
    if expected.is_empty() {
        assert!(reply.to_string().contains("no transactions"), "{reply}");
    } else {
        let table = part(&reply, "transactions_table");
        assert_eq!(table["total"].as_u64().unwrap() as usize, expected.len());
        let rows: Vec<Decimal> = table["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| dec(&r["raw_amount"]))
            .collect();
        for r in &rows {
            assert!(r.abs() >= Decimal::from(100));
            assert!(expected.contains(r));
        }
    }

    chat.say("disconnect my bank").await;
    chat.expect("text", "disconnected", WAIT).await;
}

fn uuid() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        (n >> 64) as u32,
        n as u64 & 0xffff_ffff_ffff
    )
}
