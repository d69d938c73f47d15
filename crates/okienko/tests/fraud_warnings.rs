//! Fraud warnings end to end over real processes: `okienko sandbox-bank` and `okienko serve`, a
//! customer linked at the sandbox bank, a fraud episode pushed through the bank's control API,
//! one warning in the web chat, "Nie, zablokuj kartę" blocking the card at the bank (checked
//! through the bank's own API), and bank warnings through `POST /admin/warnings`. With the
//! customer's alert settings: "wyłącz wszystkie powiadomienia" leaves fraud warnings on but
//! stops bank warnings; the customer's own quiet hours (in their zone) hold a low-severity
//! warning and bank warnings until they end, while a high-severity warning comes at once.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

const WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "test-admin-token-4f1c9a";

fn gateway(dir: &std::path::Path, bank: &str) -> Proc {
    gateway_with(dir, bank, &[])
}

fn gateway_with(dir: &std::path::Path, bank: &str, extra: &[(&'static str, &str)]) -> Proc {
    let mut envs = vec![
        ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
        ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
        ("OKIENKO_BANK__BASE_URL", bank.to_owned()),
        ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
        ("OKIENKO_BANK__TIMEOUT_SECS", "3".to_owned()),
        // Tests run at any hour: no quiet hours here (they are unit-tested with a fake clock).
        ("OKIENKO_GUARD__QUIET_HOURS", "00:00-00:00".to_owned()),
        ("OKIENKO_GUARD__ADMIN_TOKEN", TOKEN.to_owned()),
    ];
    envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    spawn(&["serve"], &envs, dir, "listening on")
}

/// Every reply that arrives within `wait`.
async fn drain(chat: &mut Chat, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        // The outer timeout ends first, so `expect` is dropped instead of panicking.
        let inner = left + Duration::from_secs(30);
        match tokio::time::timeout(left, chat.expect("any", "", inner)).await {
            Ok(r) => out.push(r),
            Err(_) => return out,
        }
    }
}

async fn post_json(url: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut rb = http().post(url).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let v = resp.json().await.unwrap_or(Value::Null);
    (status, v)
}

fn is_warning(r: &Value) -> bool {
    let t = r.to_string();
    t.contains("Czy to Ty?") || t.contains("Was this you?")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fraud_episode_warns_once_and_no_blocks_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway(dir.path(), &bank.url);
    assert!(
        gw.log().contains("hard rules alone"),
        "the gateway says at start which scoring it runs"
    );
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;

    // The first sync is the baseline: two years of history warn nobody.
    let early = drain(&mut chat, Duration::from_secs(3)).await;
    assert!(!early.iter().any(is_warning), "{early:#?}");

    let (status, injected) = post_json(
        &format!("{}/sandbox/customers/anna/fraud-episode", bank.url),
        json!({ "count": 4, "amount": "1249.00" }),
        None,
    )
    .await;
    assert_eq!(status, 201, "{injected}");

    // The next sync (the customer asks for the balance) brings the episode in.
    chat.say("ile mam na koncie?").await;
    let warning = chat.expect("any", "Czy to Ty?", WAIT).await;
    let text = warning.to_string();
    assert!(text.contains("zł"), "{text}");
    let qr = warning["quick_replies"].as_array().unwrap();
    assert_eq!(qr.len(), 2, "{warning}");
    assert_eq!(qr[0]["label"], "Tak, to ja");
    assert_eq!(qr[1]["label"], "Nie, zablokuj kartę");
    let no = qr[1]["payload"].as_str().unwrap().to_owned();
    let more = drain(&mut chat, Duration::from_secs(4)).await;
    assert!(
        !more.iter().any(is_warning),
        "one episode warns once: {more:#?}"
    );

    // Another suspicious payment within the episode window: no second warning.
    let (status, _) = post_json(
        &format!("{}/sandbox/customers/anna/transactions", bank.url),
        json!({ "amount": "899.00", "merchant": "GADGETS-NOW.SHOP", "city": "LAGOS", "country": "NG" }),
        None,
    )
    .await;
    assert_eq!(status, 201);
    chat.say("ile mam na koncie?").await;
    chat.expect("balance_card", "", WAIT).await;
    let after = drain(&mut chat, Duration::from_secs(5)).await;
    assert!(
        !after.iter().any(is_warning),
        "the same episode does not warn again: {after:#?}"
    );

    // "Nie, zablokuj kartę": the card is blocked at the bank and a case is opened.
    chat.press(&no).await;
    let done = chat.expect("any", "Zablokowałem", WAIT).await;
    assert!(
        done.to_string().contains("zgłoszenie oszustwa nr"),
        "{done}"
    );
    let cards: Value = http()
        .get(format!("{}/sandbox/customers/anna/cards", bank.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cards = cards["cards"].as_array().unwrap();
    assert!(!cards.is_empty());
    assert!(cards.iter().any(|c| c["status"] == "blocked"), "{cards:?}");
    // The bank now declines the card.
    let (status, _) = post_json(
        &format!("{}/sandbox/customers/anna/transactions", bank.url),
        json!({ "amount": "10.00" }),
        None,
    )
    .await;
    assert_eq!(status, 409);
    // Pressing again changes nothing.
    chat.press(&no).await;
    chat.expect("any", "już załatwiona", WAIT).await;

    let log = gw.log();
    assert!(log.contains("fraud case opened"));
    assert_no_amounts(&log, &["1249", "1 249"]);
    assert!(!log.contains("ELECTRO-MEGASTORE"), "merchants in logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_warnings_reach_each_linked_customer_once() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway(dir.path(), &bank.url);
    let mut anna = Chat::connect(&gw.url, "pl").await;
    link(&mut anna, "połącz bank", "anna").await;
    let mut john = Chat::connect(&gw.url, "en").await;
    link(&mut john, "connect my bank", "john").await;
    let url = format!("{}/admin/warnings", gw.url);
    let good = json!({
        "id": "campaign-2026-11-sms",
        "text_pl": "Uwaga: fałszywe SMS-y o dopłacie do paczki.",
        "text_en": "Beware: fake texts about a parcel surcharge.",
        "bank": "sandbox",
    });

    let (s, _) = post_json(&url, good.clone(), Some("wrong-token")).await;
    assert_eq!(s, 401);
    let (s, _) = post_json(&url, good.clone(), None).await;
    assert_eq!(s, 401);
    let (s, v) = post_json(&url, json!({ "id": "x" }), Some(TOKEN)).await;
    assert_eq!(s, 400, "{v}");
    let mut empty = good.clone();
    empty["text_pl"] = json!("   ");
    let (s, v) = post_json(&url, empty, Some(TOKEN)).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("text_pl"));

    let (s, v) = post_json(&url, good.clone(), Some(TOKEN)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["delivered"], 2);
    anna.expect("any", "fałszywe SMS-y", WAIT).await;
    john.expect("any", "fake texts", WAIT).await;

    // A repeat delivers nothing more.
    let (s, v) = post_json(&url, good, Some(TOKEN)).await;
    assert_eq!(s, 200);
    assert_eq!(v["delivered"], 0);
    assert_eq!(v["already_delivered"], 2);
    let again = drain(&mut anna, Duration::from_secs(3)).await;
    assert!(!again.iter().any(|r| r.to_string().contains("SMS-y")));
}

/// Replies until each of `texts` was seen in one of them (panics after `wait`).
async fn collect_until(chat: &mut Chat, texts: &[&str], wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut out: Vec<Value> = Vec::new();
    while !texts
        .iter()
        .all(|t| out.iter().any(|r| r.to_string().contains(t)))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "not all of {texts:?} came: {out:#?}");
        out.extend(drain(chat, left.min(Duration::from_secs(1))).await);
    }
    out
}

fn count(log: &str, what: &str) -> usize {
    log.matches(what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_notices_off_keeps_fraud_warnings_and_stops_bank_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway(dir.path(), &bank.url);
    let mut anna = Chat::connect(&gw.url, "pl").await;
    link(&mut anna, "połącz bank", "anna").await;
    let mut john = Chat::connect(&gw.url, "en").await;
    link(&mut john, "connect my bank", "john").await;
    anna.say("wyłącz wszystkie powiadomienia").await;
    anna.expect("any", "Wszystkie powiadomienia są wyłączone", WAIT)
        .await;

    // A fraud episode on her card still warns her: warnings about her own account are exempt.
    let (status, v) = post_json(
        &format!("{}/sandbox/customers/anna/fraud-episode", bank.url),
        json!({ "count": 4, "amount": "1249.00" }),
        None,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    anna.say("ile mam na koncie?").await;
    let w = anna.expect("any", "Czy to Ty?", WAIT).await;
    assert_eq!(w["quick_replies"].as_array().unwrap().len(), 2, "{w}");

    // A bank warning (a scam campaign) respects "all off": John gets it, Anna does not.
    let url = format!("{}/admin/warnings", gw.url);
    let notice = json!({
        "id": "campaign-all-off",
        "text_pl": "Uwaga: fałszywi konsultanci banku proszą o instalację AnyDesk.",
        "text_en": "Beware: fake bank staff ask you to install AnyDesk.",
        "bank": "sandbox",
    });
    let (s, v) = post_json(&url, notice.clone(), Some(TOKEN)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["delivered"], 1, "{v}");
    assert_eq!(v["skipped_all_notices_off"], 1, "{v}");
    john.expect("any", "fake bank staff", WAIT).await;
    let quiet = drain(&mut anna, Duration::from_secs(4)).await;
    assert!(
        !quiet.iter().any(|r| r.to_string().contains("AnyDesk")),
        "{quiet:#?}"
    );

    // Turning notices back on: the same warning, published again, reaches her once; John
    // already had it.
    anna.say("włącz powiadomienia").await;
    anna.expect("any", "", WAIT).await;
    let (s, v) = post_json(&url, notice, Some(TOKEN)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["delivered"], 1, "{v}");
    assert_eq!(v["already_delivered"], 1, "{v}");
    assert_eq!(v["skipped_all_notices_off"], 0, "{v}");
    anna.expect("any", "AnyDesk", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_low_severity_and_bank_warnings_but_not_high_severity() {
    use chrono::{Duration as CDuration, Timelike, Utc};
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    // The gateway's default has no quiet hours; the customers set their own. Held warnings are
    // checked every second.
    let gw = gateway_with(
        dir.path(),
        &bank.url,
        &[("OKIENKO_NOTICES__TICK_SECS", "1")],
    );
    let mut anna = Chat::connect(&gw.url, "pl").await;
    link(&mut anna, "połącz bank", "anna").await;
    let mut john = Chat::connect(&gw.url, "en").await;
    link(&mut john, "connect my bank", "john").await;

    // Quiet hours in the customers' zone (chat.timezone, Europe/Warsaw) from an hour ago until
    // the start of the minute after next: they end 60–120 s from now, in UTC `quiet_end`.
    let now = Utc::now();
    let tz = chrono_tz::Europe::Warsaw;
    let end_utc = (now + CDuration::seconds(120))
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let start_local = (now - CDuration::hours(1)).with_timezone(&tz);
    let end_local = end_utc.with_timezone(&tz);
    let hm = |t: chrono::DateTime<chrono_tz::Tz>| format!("{:02}:{:02}", t.hour(), t.minute());
    let (from, to) = (hm(start_local), hm(end_local));
    anna.say(&format!("cisza nocna od {from} do {to}")).await;
    anna.expect("any", &format!("cisza nocna: {from}–{to}"), WAIT)
        .await;
    john.say(&format!("quiet hours from {from} to {to}")).await;
    john.expect("any", &format!("quiet hours: {from}–{to}"), WAIT)
        .await;

    // Anna: a low-severity episode (online payments at new merchants) is held.
    let (status, v) = post_json(
        &format!("{}/sandbox/customers/anna/fraud-episode", bank.url),
        json!({ "count": 4, "amount": "1249.00" }),
        None,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    anna.say("ile mam na koncie?").await;
    anna.expect("balance_card", "", WAIT).await;
    let held = drain(&mut anna, Duration::from_secs(4)).await;
    assert!(!held.iter().any(is_warning), "{held:#?}");
    assert_eq!(
        count(&gw.log(), "warning held until quiet hours end"),
        1,
        "{}",
        gw.log()
    );

    // John: one payment hundreds of times his usual is high severity: it warns at once,
    // quiet hours or not.
    let (status, v) = post_json(
        &format!("{}/sandbox/customers/john/transactions", bank.url),
        json!({ "amount": "250000.00", "merchant": "GOLD-BULLION.SHOP", "city": "LAGOS", "country": "NG" }),
        None,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    john.say("what's my balance?").await;
    john.expect("any", "Was this you?", WAIT).await;
    assert!(Utc::now() < end_utc, "the test ran past the quiet hours");

    // A bank warning during quiet hours is held for both.
    let url = format!("{}/admin/warnings", gw.url);
    let notice = json!({
        "id": "campaign-quiet",
        "text_pl": "Uwaga: fałszywe SMS-y o dopłacie do paczki.",
        "text_en": "Beware: fake texts about a parcel surcharge.",
        "bank": "sandbox",
    });
    let (s, v) = post_json(&url, notice.clone(), Some(TOKEN)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["delivered"], 0, "{v}");
    assert_eq!(v["held_for_quiet_hours"], 2, "{v}");
    // Publishing again while held adds nothing.
    let (_, v) = post_json(&url, notice.clone(), Some(TOKEN)).await;
    assert_eq!(v["held_for_quiet_hours"], 2, "{v}");
    let early = drain(&mut anna, Duration::from_secs(3)).await;
    assert!(
        !early
            .iter()
            .any(|r| is_warning(r) || r.to_string().contains("SMS-y")),
        "{early:#?}"
    );
    assert!(Utc::now() < end_utc, "the test ran past the quiet hours");

    // When the quiet hours end, Anna gets the held fraud warning and the bank warning, each
    // once, and not before the end; John gets the bank warning.
    let deadline = Duration::from_secs((end_utc - Utc::now()).num_seconds().max(0) as u64 + 60);
    let got = collect_until(&mut anna, &["Czy to Ty?", "fałszywe SMS-y"], deadline).await;
    assert!(
        Utc::now() >= end_utc,
        "a held warning came before the quiet hours ended"
    );
    let w = got.iter().find(|r| is_warning(r)).unwrap();
    assert_eq!(w["quick_replies"].as_array().unwrap().len(), 2, "{w}");
    john.expect("any", "fake texts", WAIT).await;
    let after = drain(&mut anna, Duration::from_secs(3)).await;
    assert!(
        !after
            .iter()
            .any(|r| is_warning(r) || r.to_string().contains("SMS-y")),
        "each once: {after:#?}"
    );
    let (_, v) = post_json(&url, notice, Some(TOKEN)).await;
    assert_eq!(v["already_delivered"], 2, "{v}");
    assert_eq!(v["held_for_quiet_hours"], 0, "{v}");
    let log = gw.log();
    assert_no_amounts(&log, &["250000", "250 000"]);
    assert!(
        !log.contains("SMS-y") && !log.contains("AnyDesk"),
        "texts in logs"
    );
}
