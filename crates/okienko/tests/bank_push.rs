//! The sandbox bank pushes new transactions (issue 5), end to end over real processes:
//! `okienko sandbox-bank --notify-secret-file` and `okienko serve` with the same secret and a
//! scheduled sync once a day. The gateway asks for notifications when it creates the consent
//! (`TPP-Notification-URI`); a booking at the bank is pushed, signed, to `/bank/notifications`,
//! the gateway syncs that consent at once and the fraud warning ("Czy to Ty?") arrives in the web
//! chat without the customer asking anything. Forged, stale, malformed and unknown notifications
//! are refused and sync nothing; a repeated idempotency key syncs once.
//!
//! Held warnings survive a restart: a Messenger customer (Messenger keeps its customers across
//! restarts; web chat sessions do not) in their quiet hours gets a bank warning and a
//! low-severity fraud warning held; the gateway is killed and started again; when the quiet
//! hours end each arrives once.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::messenger::{fake_graph, spawn_messenger_gateway};
use support::*;

const WAIT: Duration = Duration::from_secs(60);
const SECRET: &str = "bank-push-test-secret-5b1f0e7c";
const TOKEN: &str = "test-admin-token-4f1c9a";

fn secret_file(dir: &Path) -> String {
    let p = dir.join("notify.secret");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    p.display().to_string()
}

fn bank(dir: &Path) -> Proc {
    let file = secret_file(dir);
    spawn(
        &[
            "sandbox-bank",
            "--port",
            "0",
            "--customers",
            "5",
            "--notify-secret-file",
            &file,
        ],
        &[],
        dir,
        "listening on",
    )
}

/// The gateway's settings for these tests: notifications on, the scheduled sync once a day.
fn envs(dir: &Path, bank: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
        ("OKIENKO_BANK__BASE_URL", bank.to_owned()),
        ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
        ("OKIENKO_BANK__TIMEOUT_SECS", "3".to_owned()),
        (
            "OKIENKO_BANK__NOTIFY_SECRET_FILE",
            dir.join("notify.secret").display().to_string(),
        ),
        ("OKIENKO_SYNC_INTERVAL_SECS", "86400".to_owned()),
        ("OKIENKO_GUARD__QUIET_HOURS", "00:00-00:00".to_owned()),
        ("OKIENKO_GUARD__ADMIN_TOKEN", TOKEN.to_owned()),
        ("OKIENKO_NOTICES__TICK_SECS", "1".to_owned()),
    ]
}

fn gateway(dir: &Path, bank: &str) -> Proc {
    let mut e = envs(dir, bank);
    e.push(("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()));
    spawn(&["serve"], &e, dir, "listening on")
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let r = http().post(url).json(&body).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
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
        let inner = left + Duration::from_secs(30);
        match tokio::time::timeout(left, chat.expect("any", "", inner)).await {
            Ok(r) => out.push(r),
            Err(_) => return out,
        }
    }
}

fn is_warning(r: &Value) -> bool {
    let t = r.to_string();
    t.contains("Czy to Ty?") || t.contains("Was this you?")
}

fn count(log: &str, what: &str) -> usize {
    log.matches(what).count()
}

/// Waits until `log()` holds `what` at least `n` times.
async fn wait_log(p: &Proc, what: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    while count(&p.log(), what) < n {
        assert!(
            Instant::now() < deadline,
            "{what:?} not {n} times in the log: {}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends a notification to the gateway as the bank would, with `secret` and `ts`.
async fn notify(gw: &str, secret: &str, ts: i64, key: &str, body: &[u8]) -> (u16, Value) {
    let sig = okienko_server::bank_notify::sign(secret.as_bytes(), ts, key, body);
    let r = http()
        .post(format!("{gw}/bank/notifications"))
        .header("content-type", "application/json")
        .header("X-Request-ID", key)
        .header("X-Notification-Timestamp", ts.to_string())
        .header("X-Notification-Signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_at_the_bank_warns_in_the_chat_without_a_scheduled_sync() {
    let dir = tempfile::tempdir().unwrap();
    let bank = bank(dir.path());
    let gw = gateway(dir.path(), &bank.url);
    let mut chat = Chat::connect(&gw.url, "pl").await;
    let consent = link(&mut chat, "połącz bank", "anna").await;
    // The first sync is the baseline: two years of history warn nobody.
    let early = drain(&mut chat, Duration::from_secs(2)).await;
    assert!(!early.iter().any(is_warning), "{early:#?}");
    let synced = "synced after a bank notification";
    assert_eq!(count(&gw.log(), synced), 0);

    // A fraud episode lands on her card account: the bank pushes it, the gateway syncs, and the
    // warning comes while she says nothing.
    let (s, v) = post(
        &format!("{}/sandbox/customers/anna/fraud-episode", bank.url),
        json!({ "count": 4, "amount": "1249.00" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let warning = chat.expect("any", "Czy to Ty?", WAIT).await;
    assert_eq!(
        warning["quick_replies"].as_array().unwrap().len(),
        2,
        "{warning}"
    );
    wait_log(&bank, "notification delivered", 1).await;
    wait_log(&gw, synced, 1).await;
    assert!(gw.log().contains("bank notification accepted"));

    // A plain booking (a merchant debit) is pushed and synced too: one notification, one sync.
    let (s, v) = post(
        &format!("{}/sandbox/customers/anna/bookings", bank.url),
        json!({ "type": "debit", "amount": "23.50", "counterparty": "ZABKA" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    wait_log(&bank, "notification delivered", 2).await;
    wait_log(&gw, synced, 2).await;
    let more = drain(&mut chat, Duration::from_secs(2)).await;
    assert!(!more.iter().any(is_warning), "one episode warns once");

    // Hostile notifications: refused with a clear 4xx, and nothing is synced.
    let truth = bank_truth(&bank.url, "anna").await;
    let account = truth["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let good = serde_json::to_vec(&json!({ "consentId": consent, "accountId": account })).unwrap();
    let now = chrono::Utc::now().timestamp();
    let syncs = count(&gw.log(), synced);
    let key = || uuid_key();
    let forged = notify(&gw.url, "not-the-shared-secret", now, &key(), &good).await;
    assert_eq!(forged.0, 401, "{forged:?}");
    assert_eq!(forged.1["error"], "bad_signature");
    let stale = notify(&gw.url, SECRET, now - 3600, &key(), &good).await;
    assert_eq!(stale.0, 401, "{stale:?}");
    assert_eq!(stale.1["error"], "stale");
    let unsigned = http()
        .post(format!("{}/bank/notifications", gw.url))
        .header("content-type", "application/json")
        .body(good.clone())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(unsigned, 401);
    let other =
        serde_json::to_vec(&json!({ "consentId": "no-such-consent", "accountId": account }))
            .unwrap();
    let unknown = notify(&gw.url, SECRET, now, &key(), &other).await;
    assert_eq!(unknown.0, 404, "{unknown:?}");
    let other =
        serde_json::to_vec(&json!({ "consentId": consent, "accountId": "not-hers" })).unwrap();
    let unknown = notify(&gw.url, SECRET, now, &key(), &other).await;
    assert_eq!(unknown.0, 404, "{unknown:?}");
    let extra = serde_json::to_vec(
        &json!({ "consentId": consent, "accountId": account, "amount": "1.00" }),
    )
    .unwrap();
    let malformed = notify(&gw.url, SECRET, now, &key(), &extra).await;
    assert_eq!(malformed.0, 400, "{malformed:?}");
    let garbage = notify(&gw.url, SECRET, now, &key(), b"\x00\xffnot json").await;
    assert_eq!(garbage.0, 400, "{garbage:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(&gw.log(), synced),
        syncs,
        "a refused notification synced"
    );

    // A good one syncs once; its retry (the same key) is answered and syncs nothing more.
    let k = key();
    let first = notify(&gw.url, SECRET, now, &k, &good).await;
    assert_eq!(first.0, 202, "{first:?}");
    assert_eq!(first.1["status"], "accepted");
    wait_log(&gw, synced, syncs + 1).await;
    let again = notify(&gw.url, SECRET, chrono::Utc::now().timestamp(), &k, &good).await;
    assert_eq!(again.0, 202, "{again:?}");
    assert_eq!(again.1["status"], "already_accepted");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&gw.log(), synced), syncs + 1);

    let log = format!("{}{}", gw.log(), bank.log());
    assert!(!log.contains(SECRET), "the secret in a log");
    assert_no_amounts(&log, &["1249", "1 249", "23.50", "23,50"]);
}

fn uuid_key() -> String {
    // A v4-shaped random key from the clock and a counter (the tests need no uuid crate).
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
    format!("{:08x}-0000-4000-8000-{:012x}", n, t & 0xffff_ffff_ffff)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_warnings_survive_a_gateway_restart_and_arrive_once_when_quiet_hours_end() {
    use chrono::{Duration as CDuration, Timelike, Utc};
    let dir = tempfile::tempdir().unwrap();
    let bank = bank(dir.path());
    let (graph, graph_url) = fake_graph().await;
    // One address for both runs: the consent's notification URI and OAuth redirect point here.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut env = envs(dir.path(), &bank.url);
    env.push(("OKIENKO_LISTEN", format!("127.0.0.1:{port}")));
    let mut gw = spawn_messenger_gateway(dir.path(), &bank.url, &graph_url, &env);
    let anna = "5550001112220005";
    let to_anna = |c: &Value| c["recipient"]["id"] == anna;

    // Anna links her bank from Messenger.
    support::messenger::say(&gw.url, anna, "m_h_link", "połącz bank").await;
    let call = graph
        .wait_for(0, "with the consent link", |c| {
            to_anna(c) && c["message"]["attachment"]["payload"]["template_type"] == "button"
        })
        .await;
    let url = call["message"]["attachment"]["payload"]["buttons"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = graph.count();
    let callback = approve_at_bank(&url, "anna", "demo", "approve").await;
    assert_eq!(http().get(&callback).send().await.unwrap().status(), 200);
    graph.wait_for(from, "after the link", |c| to_anna(c)).await;

    // Quiet hours (Europe/Warsaw, the chat's zone) from an hour ago until the start of a minute
    // 2–3 minutes ahead.
    let now = Utc::now();
    let tz = chrono_tz::Europe::Warsaw;
    let end_utc = (now + CDuration::seconds(180))
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let hm = |t: chrono::DateTime<chrono_tz::Tz>| format!("{:02}:{:02}", t.hour(), t.minute());
    let (start, end) = (
        hm((now - CDuration::hours(1)).with_timezone(&tz)),
        hm(end_utc.with_timezone(&tz)),
    );
    let from = graph.count();
    support::messenger::say(
        &gw.url,
        anna,
        "m_h_quiet",
        &format!("cisza nocna od {start} do {end}"),
    )
    .await;
    graph
        .wait_for(from, "confirming the quiet hours", |c| {
            to_anna(c)
                && c.to_string()
                    .contains(&format!("cisza nocna: {start}–{end}"))
        })
        .await;

    // A bank warning and a low-severity fraud episode (pushed by the bank, synced at once): both
    // held.
    let notice = json!({
        "id": "campaign-restart",
        "text_pl": "Uwaga: fałszywe SMS-y o dopłacie do paczki.",
        "text_en": "Beware: fake texts about a parcel surcharge.",
        "bank": "sandbox",
    });
    let r = http()
        .post(format!("{}/admin/warnings", gw.url))
        .bearer_auth(TOKEN)
        .json(&notice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["delivered"].clone(), v["held_for_quiet_hours"].clone()),
        (json!(0), json!(1)),
        "{v}"
    );
    let (s, v) = post(
        &format!("{}/sandbox/customers/anna/fraud-episode", bank.url),
        json!({ "count": 4, "amount": "1249.00" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    wait_log(&gw, "warning held until quiet hours end", 1).await;
    assert!(
        !graph.all().contains("SMS-y"),
        "the bank warning came during quiet hours"
    );
    assert!(Utc::now() < end_utc, "the test ran past the quiet hours");

    // The gateway restarts while the warnings wait.
    let before = graph.count();
    gw.kill();
    let gw = spawn_messenger_gateway(dir.path(), &bank.url, &graph_url, &env);
    assert!(Utc::now() < end_utc, "the test ran past the quiet hours");

    // When the quiet hours end: the bank warning once, and the fraud warning once. Nothing may
    // come before the end (checked below); `wait_for` gives up after its own minute, so wait for
    // the end first.
    let just_before = (end_utc - CDuration::seconds(3) - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(just_before).await;
    let early: Vec<Value> = graph.calls().into_iter().skip(before).collect();
    assert!(
        !early
            .iter()
            .any(|c| c.to_string().contains("fałszywe SMS-y")),
        "the held bank warning came before the quiet hours ended"
    );
    let until_end = (end_utc - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(until_end).await;
    let got = graph
        .wait_for(before, "with the held bank warning", |c| {
            to_anna(c) && c.to_string().contains("fałszywe SMS-y")
        })
        .await;
    assert_eq!(got["recipient"]["id"], anna);
    wait_log(&gw, "fraud warning sent", 1).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after: Vec<Value> = graph.calls().into_iter().skip(before).collect();
    let bank_warnings = after
        .iter()
        .filter(|c| c.to_string().contains("fałszywe SMS-y"))
        .count();
    assert_eq!(bank_warnings, 1, "{after:#?}");
    assert_eq!(count(&gw.log(), "fraud warning sent"), 1, "{}", gw.log());
    assert_eq!(
        count(&gw.log(), "held bank warning sent"),
        1,
        "{}",
        gw.log()
    );

    // Published again now: she already has it.
    let r = http()
        .post(format!("{}/admin/warnings", gw.url))
        .bearer_auth(TOKEN)
        .json(&notice)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["already_delivered"], 1, "{v}");
    assert_eq!(v["held_for_quiet_hours"], 0, "{v}");
    let log = gw.log();
    assert!(!log.contains("SMS-y"), "warning texts in the log");
    assert!(!log.contains(anna), "a PSID in the log");
}
