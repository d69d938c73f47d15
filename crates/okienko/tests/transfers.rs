//! Transfers from the chat end to end over real processes (`okienko sandbox-bank` and
//! `okienko serve`): "przelej 50 zł Tomkowi" with the payee's IBAN typed in, the new-payee warning,
//! the read-back, a double press of confirm, approval in the sandbox bank's app (decoupled SCA),
//! the receipt pushed into the chat, the payee saved and found by name next time, and the money
//! on both sides at the bank and in each side's own chat balance (read over AIS). Also: a gateway restarted between confirm and approval still
//! completes the payment exactly once; a hard limit refuses with nothing sent; a bad IBAN is
//! refused with a clear message.

mod support;

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde_json::Value;
use support::*;

/// The longest wait for one reply or one bank-side change; every wait below is bounded by it
/// and fails with what it received meanwhile.
const WAIT: Duration = Duration::from_secs(60);
/// The longest a whole test may take: a hang anywhere (a send, a bank call) fails instead of
/// blocking the suite.
const TEST_LIMIT: Duration = Duration::from_secs(300);

async fn within(steps: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_LIMIT, steps).await.is_err() {
        panic!("the test did not finish within {TEST_LIMIT:?}");
    }
}

fn gateway(dir: &std::path::Path, bank: &str, extra: &[(&str, &str)]) -> Proc {
    let mut envs = vec![
        ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
        ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
        ("OKIENKO_BANK__BASE_URL", bank.to_owned()),
        ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
        ("OKIENKO_BANK__TIMEOUT_SECS", "3".to_owned()),
        ("OKIENKO_PAYMENTS__POLL_SECS", "1".to_owned()),
        ("OKIENKO_GUARD__QUIET_HOURS", "00:00-00:00".to_owned()),
    ];
    for (k, v) in extra {
        envs.push((k, (*v).to_owned()));
    }
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
                .join("\n")
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

fn spaced(iban: &str) -> String {
    iban.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn first_account(bank: &str, psu: &str) -> (String, Decimal, usize) {
    let truth = bank_truth(bank, psu).await;
    let acc = &truth["accounts"][0];
    let iban = acc["iban"].as_str().unwrap().to_owned();
    let available: Decimal = acc["balances"]["interimAvailable"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let txs = acc["transactions"].as_array().map_or(0, Vec::len);
    (iban, available, txs)
}

/// A sandbox customer besides anna who banks in PLN (john banks in USD, and the bank refuses
/// transfers between currencies).
async fn pln_payee(bank: &str) -> String {
    for i in 3..=5 {
        let psu = format!("cust{i:05}");
        if bank_truth(bank, &psu).await["currency"] == "PLN" {
            return psu;
        }
    }
    panic!("no PLN customer among the sandbox's first five");
}

async fn ledger(bank: &str) -> Value {
    http()
        .get(format!("{bank}/sandbox/ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Logs in to the sandbox bank's app as `psu` and approves every payment waiting there;
/// returns how many it approved.
async fn approve_in_bank_app(bank: &str, psu: &str) -> usize {
    let c = http();
    let page = c
        .post(format!("{bank}/app/login"))
        .form(&[("psu_id", psu), ("password", "demo")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"session\" value=\"";
    let s = page.find(marker).unwrap() + marker.len();
    let session = page[s..s + page[s..].find('"').unwrap()].to_owned();
    let marker = "name=\"payment_id\" value=\"";
    let mut ids: Vec<String> = page
        .match_indices(marker)
        .map(|(i, _)| {
            let s = i + marker.len();
            page[s..s + page[s..].find('"').unwrap()].to_owned()
        })
        .collect();
    ids.dedup();
    for id in &ids {
        let resp = c
            .post(format!("{bank}/app/decide"))
            .form(&[
                ("session", session.as_str()),
                ("payment_id", id.as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    ids.len()
}

async fn wait_for_app_payment(bank: &str, psu: &str) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let n = approve_in_bank_app(bank, psu).await;
        if n > 0 || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn payments_with_status(l: &Value, status: &str) -> usize {
    l["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["transactionStatus"] == status)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anna_sends_john_50_zl_from_the_chat_and_it_arrives_once() {
    within(anna_sends_john_50_zl_from_the_chat_and_it_arrives_once_steps()).await;
}

async fn anna_sends_john_50_zl_from_the_chat_and_it_arrives_once_steps() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway(dir.path(), &bank.url, &[]);
    let payee = pln_payee(&bank.url).await;
    let (john_iban, john_before, john_txs) = first_account(&bank.url, &payee).await;
    let (anna_iban, anna_before, _) = first_account(&bank.url, "anna").await;
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;

    chat.say("przelej 50 zł Tomkowi").await;
    chat.expect("text", "Nie znam jeszcze konta", WAIT).await;
    // One digit wrong: refused by its check digits, and the form waits for a good one.
    let mut bad = john_iban.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
    chat.say(&spaced(&String::from_utf8(bad).unwrap())).await;
    chat.expect("text", "nie jest poprawny numer konta", WAIT)
        .await;
    chat.say(&spaced(&john_iban)).await;
    chat.expect("text", "login", WAIT).await;
    chat.say("anna").await;
    let warning = chat.expect("text", "nowy odbiorca", WAIT).await;
    let t = text_of(&warning);
    let last4 = &john_iban[john_iban.len() - 4..];
    assert!(t.contains("50,00 zł") && t.contains(last4), "{t}");
    assert!(!t.contains(&john_iban[4..12]), "the IBAN is masked: {t}");
    assert!(warning.to_string().contains("form:sure:"));
    chat.press(&button(&warning, "form:sure:")).await;
    let read_back = chat.expect("text", "Sprawdź przelew", WAIT).await;
    let t = text_of(&read_back);
    assert!(
        t.contains("50,00 zł") && t.contains("Tomek") && t.contains(&format!("•••• {last4}")),
        "{t}"
    );
    assert!(
        t.contains(&anna_iban[anna_iban.len() - 4..]),
        "from which account: {t}"
    );
    let confirm = button(&read_back, "form:confirm:");
    // A double press: the first sends, the second finds no form.
    chat.press(&confirm).await;
    chat.press(&confirm).await;
    chat.expect("text", "aplikację banku", WAIT).await;
    chat.expect("text", "już obsłużony", WAIT).await;
    assert_eq!(payments_with_status(&ledger(&bank.url).await, "RCVD"), 1);

    assert_eq!(wait_for_app_payment(&bank.url, "anna").await, 1);
    let receipt = chat.expect("text", "Przelew wykonany", WAIT).await;
    let t = text_of(&receipt);
    assert!(
        t.contains("50,00 zł") && t.contains("ACSC") && t.contains("Tomek"),
        "{t}"
    );
    chat.press(&button(&receipt, "transfer:save:")).await;
    chat.expect("text", "Zapisałem odbiorcę", WAIT).await;

    // The bank: one payment, executed, the ledger consistent, the money on both sides.
    let l = ledger(&bank.url).await;
    assert_eq!(l["consistent"], true, "{l}");
    assert_eq!(l["payments"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(payments_with_status(&l, "ACSC"), 1, "{l}");
    let (_, john_after, john_txs_after) = first_account(&bank.url, &payee).await;
    let (_, anna_after, _) = first_account(&bank.url, "anna").await;
    assert_eq!(john_after - john_before, Decimal::from(50));
    assert_eq!(anna_before - anna_after, Decimal::from(50));
    assert_eq!(john_txs_after, john_txs + 1);

    // Next time the saved payee is found by name: no account question, no new-payee warning,
    // the login remembered.
    chat.say("przelej 20 zł Tomkowi").await;
    let read_back = chat.expect("text", "Sprawdź przelew", WAIT).await;
    assert!(!text_of(&read_back).contains("nowy odbiorca"));
    chat.say("tak").await;
    chat.expect("text", "aplikację banku", WAIT).await;
    assert_eq!(wait_for_app_payment(&bank.url, "anna").await, 1);
    let receipt = chat.expect("text", "Przelew wykonany", WAIT).await;
    assert!(text_of(&receipt).contains("20,00 zł"));
    assert!(
        receipt["quick_replies"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "a saved payee is not offered again"
    );
    let l = ledger(&bank.url).await;
    assert_eq!(payments_with_status(&l, "ACSC"), 2, "{l}");
    let (_, anna_end, _) = first_account(&bank.url, "anna").await;
    assert_eq!(anna_before - anna_end, Decimal::from(70));

    // The customer's own AIS view through the chat shows the new balance.
    chat.say("ile mam na koncie?").await;
    let balance = chat.expect("balance_card", "", WAIT).await;
    let shown = balance.to_string();
    assert!(
        shown.contains(&anna_end.to_string()),
        "{shown} vs {anna_end}"
    );
    // And the payee's, read over AIS by the gateway for their own chat, shows the money in.
    let mut payee_chat = Chat::connect(&gw.url, "pl").await;
    link(&mut payee_chat, "połącz bank", &payee).await;
    payee_chat.say("ile mam na koncie?").await;
    let balance = payee_chat.expect("balance_card", "", WAIT).await;
    let (_, john_end, _) = first_account(&bank.url, &payee).await;
    assert_eq!(john_end - john_before, Decimal::from(70));
    let shown = balance.to_string();
    assert!(
        shown.contains(&john_end.to_string()),
        "{shown} vs {john_end}"
    );

    // Nothing of it reached the gateway's log.
    let log = gw.log();
    for secret in [john_iban.as_str(), anna_iban.as_str(), "Tomkowi"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_restarted_before_approval_still_pays_exactly_once() {
    within(a_gateway_restarted_before_approval_still_pays_exactly_once_steps()).await;
}

async fn a_gateway_restarted_before_approval_still_pays_exactly_once_steps() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let mut gw = gateway(dir.path(), &bank.url, &[]);
    let payee = pln_payee(&bank.url).await;
    let (john_iban, john_before, _) = first_account(&bank.url, &payee).await;
    let mut chat = Chat::connect(&gw.url, "en").await;
    link(&mut chat, "connect my bank", "anna").await;

    chat.say(&format!("send 35 PLN to John {}", spaced(&john_iban)))
        .await;
    chat.expect("text", "login", WAIT).await;
    chat.say("anna").await;
    let warning = chat.expect("text", "new payee", WAIT).await;
    chat.say("yes").await;
    let read_back = chat.expect("text", "Please check", WAIT).await;
    assert!(
        text_of(&read_back).contains("35.00"),
        "{}",
        text_of(&read_back)
    );
    drop(warning);
    chat.press(&button(&read_back, "form:confirm:")).await;
    chat.expect("text", "bank's app", WAIT).await;

    // The gateway dies before the customer approves; a new one recovers the payment.
    gw.kill();
    let gw2 = gateway(dir.path(), &bank.url, &[]);
    assert_eq!(wait_for_app_payment(&bank.url, "anna").await, 1);
    let deadline = Instant::now() + WAIT;
    while !gw2.log().contains("payment finished") {
        assert!(Instant::now() < deadline, "no finish: {}", gw2.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(gw2.log().contains("payments recovery"), "{}", gw2.log());
    let l = ledger(&bank.url).await;
    assert_eq!(l["consistent"], true, "{l}");
    assert_eq!(l["payments"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(payments_with_status(&l, "ACSC"), 1, "{l}");
    let (_, john_after, _) = first_account(&bank.url, &payee).await;
    assert_eq!(john_after - john_before, Decimal::from(35));
    // It stays once: more polling rounds change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ledger(&bank.url).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_with_nothing_sent() {
    within(limits_refuse_with_nothing_sent_steps()).await;
}

async fn limits_refuse_with_nothing_sent_steps() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway(
        dir.path(),
        &bank.url,
        &[
            ("OKIENKO_PAYMENTS__MAX_PER_TRANSFER", "100"),
            ("OKIENKO_PAYMENTS__MAX_PER_DAY", "150"),
        ],
    );
    let payee = pln_payee(&bank.url).await;
    let (john_iban, _, _) = first_account(&bank.url, &payee).await;
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;

    chat.say(&format!("przelej 500 zł Tomkowi na {john_iban}"))
        .await;
    chat.expect("text", "login", WAIT).await;
    chat.say("anna").await;
    let refused = chat.expect("text", "najwyżej 100,00 zł", WAIT).await;
    assert!(text_of(&refused).contains("Nic nie zostało wysłane"));
    assert!(
        !refused.to_string().contains("form:confirm:"),
        "no confirm button"
    );
    // "tak" to a refusal sends nothing.
    chat.say("tak").await;
    chat.expect("text", "najwyżej 100,00 zł", WAIT).await;
    assert_eq!(
        ledger(&bank.url).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // A smaller amount within the per-transfer limit goes to the read-back.
    chat.say("nie, 100 zł").await;
    let warning = chat.expect("text", "nowy odbiorca", WAIT).await;
    chat.press(&button(&warning, "form:sure:")).await;
    let read_back = chat.expect("text", "Sprawdź przelew", WAIT).await;
    chat.press(&button(&read_back, "form:confirm:")).await;
    chat.expect("text", "aplikację banku", WAIT).await;

    // The day's limit counts it: 100 requested, 150 a day → another 60 is refused.
    chat.say(&format!("przelej 60 zł Tomkowi na {john_iban}"))
        .await;
    let refused = chat.expect("text", "Dzienny limit", WAIT).await;
    assert!(
        text_of(&refused).contains("50,00 zł"),
        "{}",
        text_of(&refused)
    );
    assert_eq!(
        ledger(&bank.url).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
