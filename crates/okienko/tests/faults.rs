//! Faults, end to end: an expired consent, a bank that is down, a bank that sends malformed
//! JSON. The chat answers clearly, nothing crashes, and nothing leaks into the logs.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

const WAIT: Duration = Duration::from_secs(60);

async fn linked_chat(gw: &Proc, psu: &str) -> (Chat, String) {
    let mut chat = Chat::connect(&gw.url, "pl").await;
    chat.say("połącz bank").await;
    let reply = chat.expect("link", "", WAIT).await;
    let url = part(&reply, "link")["url"].as_str().unwrap().to_owned();
    let consent = url
        .split("AIS%3A")
        .nth(1)
        .or_else(|| url.split("AIS:").nth(1))
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let callback = approve_at_bank(&url, psu, "demo", "approve").await;
    assert_eq!(http().get(&callback).send().await.unwrap().status(), 200);
    chat.expect("account_list", "", WAIT).await;
    (chat, consent)
}

async fn fault(bank: &Proc, body: serde_json::Value) {
    let r = http()
        .post(format!("{}/sandbox/faults", bank.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "fault injection: {}", r.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_consent_asks_to_relink() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let (mut chat, consent) = linked_chat(&gw, "anna").await;
    let r = http()
        .post(format!("{}/sandbox/consents/{consent}/expire", bank.url))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    chat.say("saldo").await;
    let reply = chat.expect("text", "wygasła", WAIT).await;
    assert!(
        reply["quick_replies"]
            .to_string()
            .contains("intent:link_bank")
    );
    // And linking again works.
    let (_chat2, _) = linked_chat(&gw, "anna").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_down_gives_a_clear_message_and_a_later_retry() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let (mut chat, _) = linked_chat(&gw, "anna").await;

    // The bank answers 503 for a while: the chat says so, shows the last synced balance,
    // and tells the customer when the bank is back.
    fault(&bank, json!({"mode": "unavailable", "count": 6})).await;
    chat.say("ile mam na koncie?").await;
    chat.expect("text", "nie odpowiada", WAIT).await;
    chat.expect("balance_card", "", WAIT).await;
    chat.expect("text", "znowu odpowiada", WAIT).await;

    // The bank process dies: still a clear answer, and the gateway stays healthy.
    let mut bank = bank;
    bank.kill();
    chat.say("saldo").await;
    chat.expect("text", "nie odpowiada", WAIT).await;
    let health = http()
        .get(format!("{}/healthz", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bank_json_is_logged_without_content() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = spawn_gateway(dir.path(), &bank.url, None);
    let (mut chat, _) = linked_chat(&gw, "anna").await;
    let truth = bank_truth(&bank.url, "anna").await;
    fault(&bank, json!({"mode": "malformed_json", "count": 20})).await;
    chat.say("ile mam na koncie?").await;
    chat.expect("text", "Przepraszam", WAIT).await;
    let log = gw.log();
    assert!(!log.is_empty());
    for acc in truth["accounts"].as_array().unwrap() {
        if let Some(iban) = acc["iban"].as_str() {
            assert!(!log.contains(iban), "the gateway log holds bank content");
        }
        assert!(
            !log.contains("resourceId"),
            "the gateway log holds bank JSON"
        );
    }
}
