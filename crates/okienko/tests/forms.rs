//! Forms end to end over a real gateway and sandbox bank: a transfer asked for piece by piece,
//! a question in the middle answered without losing the form, a correction, a read-back
//! confirmation, and an old confirm button that never acts twice. Transfers from the chat are
//! off here, so the form's own mechanics are tested; paying for real is `transfers.rs`.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

/// A gateway whose transfer form only reads back (payments off).
fn gateway_without_payments(dir: &std::path::Path, bank_url: &str) -> Proc {
    let envs = [
        ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
        ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
        ("OKIENKO_BANK__BASE_URL", bank_url.to_owned()),
        ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
        ("OKIENKO_BANK__TIMEOUT_SECS", "3".to_owned()),
        ("OKIENKO_PAYMENTS__ENABLED", "false".to_owned()),
    ];
    spawn(&["serve"], &envs, dir, "listening on")
}

fn text_of(reply: &Value) -> String {
    reply["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn button(reply: &Value, prefix: &str) -> String {
    reply["quick_replies"]
        .as_array()
        .and_then(|q| {
            q.iter()
                .filter_map(|b| b["payload"].as_str())
                .find(|p| p.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no {prefix} button in {reply}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polish_transfer_form_with_a_question_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway_without_payments(dir.path(), &bank.url);
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;

    chat.say("chce zrobic przelew").await;
    let ask = chat.expect("text", "Ile mam przelać", WAIT).await;
    assert!(!button(&ask, "form:cancel").is_empty());

    // Another task in the middle: answered for real, and the form waits.
    chat.say("ile mam na koncie?").await;
    chat.expect("balance_card", "", WAIT).await;
    let reminder = chat.expect("text", "przelew czeka", WAIT).await;
    chat.press(&button(&reminder, "form:resume")).await;
    chat.expect("text", "Ile mam przelać", WAIT).await;

    chat.say("50 zl").await;
    chat.expect("text", "Komu", WAIT).await;
    chat.say("Tomkowi").await;
    let read_back = chat.expect("text", "Sprawdź", WAIT).await;
    let t = text_of(&read_back);
    assert!(t.contains("50,00 zł") && t.contains("Tomek"), "{t}");
    let old_confirm = button(&read_back, "form:confirm:");

    // A correction gets a new read-back with the same form.
    chat.say("nie, 60 zł").await;
    let corrected = chat.expect("text", "Sprawdź", WAIT).await;
    let t = text_of(&corrected);
    assert!(t.contains("60,00 zł") && t.contains("Tomek"), "{t}");
    let confirm = button(&corrected, "form:confirm:");
    assert_eq!(confirm, old_confirm, "a correction keeps the form's id");

    chat.press(&confirm).await;
    let done = chat.expect("text", "nic nie zostało wysłane", WAIT).await;
    assert!(!text_of(&done).contains("Sprawdź"));

    // A second press of the same button finds no form: nothing happens twice.
    chat.press(&confirm).await;
    chat.expect("text", "już obsłużony", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_transfer_read_back_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway_without_payments(dir.path(), &bank.url);
    let mut chat = Chat::connect(&gw.url, "en").await;

    chat.say("send 20 pln to John").await;
    let read_back = chat.expect("text", "Please check", WAIT).await;
    let t = text_of(&read_back);
    assert!(t.contains("20.00") && t.contains("John"), "{t}");

    // Neither yes nor no: asked again, nothing runs.
    chat.say("hmm maybe").await;
    chat.expect("text", "didn't get that", WAIT).await;

    chat.say("cancel").await;
    chat.expect("text", "Nothing was sent", WAIT).await;
    chat.press(&button(&read_back, "form:confirm:")).await;
    chat.expect("text", "won't send it twice", WAIT).await;
}
