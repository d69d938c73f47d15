//! Alert settings and proactive notices (issue 10).
//!
//! End to end over real processes (`okienko sandbox-bank` and `okienko serve`, a customer linked
//! at the sandbox bank, payments pushed through the bank's control API): the settings change what
//! is sent (a 400 zł payment under a 500 zł threshold says nothing, 600 zł says so), each event is
//! noticed once (re-syncs, a restart of the gateway), "all off" sends nothing, and the settings are
//! shown back. In process, with a fake clock over a real SQLite store and the real privacy gate:
//! the daily digest (at the digest hour, at most once a local day), quiet hours, exactly once per
//! event across a restart of the watcher, and "all off" dropping what was waiting.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveTime, Utc};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, BookingStatus, Clock, ConsentId, ConsentScope,
    ConsentStatus, Currency, CustomerId, FixedClock, Lang, Money, TransactionId,
};
use okienko_dialog::fraud::CustomerLang;
use okienko_dialog::notices::{NoticeConfig, NoticeOutboxes, NoticeWatcher};
use okienko_dialog::{Outbox, Reply};
use okienko_privacy::{AlertSettings, NoticeBook, PrivacyGate, Quiet, Threshold};
use okienko_store::{
    AccountRecord, ConsentRecord, CustomerRecord, Keyring, NewTransaction, Store, TxBatch,
};
use serde_json::{Value, json};
use support::*;

const WAIT: Duration = Duration::from_secs(60);

fn gateway(dir: &std::path::Path, bank: &str) -> Proc {
    let envs = vec![
        ("OKIENKO_LISTEN", "127.0.0.1:0".to_owned()),
        ("OKIENKO_DATA_DIR", dir.join("data").display().to_string()),
        ("OKIENKO_BANK__BASE_URL", bank.to_owned()),
        ("OKIENKO_BANK__RETRY_AFTER_SECS", "1".to_owned()),
        ("OKIENKO_BANK__TIMEOUT_SECS", "3".to_owned()),
        ("OKIENKO_GUARD__QUIET_HOURS", "00:00-00:00".to_owned()),
        ("OKIENKO_NOTICES__TICK_SECS", "1".to_owned()),
    ];
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
        let inner = left + Duration::from_secs(30);
        match tokio::time::timeout(left, chat.expect("any", "", inner)).await {
            Ok(r) => out.push(r),
            Err(_) => return out,
        }
    }
}

/// A card payment at a Warsaw shop, today, at the sandbox bank (not a fraud pattern).
async fn pay(bank: &str, amount: &str, merchant: &str) {
    let resp = http()
        .post(format!("{bank}/sandbox/customers/anna/transactions"))
        .json(
            &json!({ "amount": amount, "merchant": merchant, "city": "WARSZAWA",
                       "country": "PL", "card_present": true }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        201,
        "{}",
        resp.text().await.unwrap()
    );
}

fn is_notice(r: &Value) -> bool {
    let t = r.to_string();
    t.contains("Powiadomienie:") || t.contains("Alert:")
}

fn count(log: &str, what: &str) -> usize {
    log.matches(what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_change_what_is_sent_once_per_event_and_all_off_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let mut gw = gateway(dir.path(), &bank.url);
    let mut chat = Chat::connect(&gw.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;

    // Nothing is on until the customer asks.
    chat.say("jakie mam alerty?").await;
    chat.expect("any", "Nie masz włączonych powiadomień", WAIT)
        .await;
    chat.say("powiadamiaj mnie o płatnościach powyżej 500 zł")
        .await;
    let saved = chat.expect("any", "Zapisane", WAIT).await.to_string();
    assert!(
        saved.contains("płatności powyżej 500,00 zł: włączone"),
        "{saved}"
    );

    // 400 zł: under the threshold, no notice. 600 zł: one notice.
    pay(&bank.url, "400.00", "MEDIA EXPERT").await;
    chat.say("ile mam na koncie?").await;
    chat.expect("balance_card", "", WAIT).await;
    let quiet = drain(&mut chat, Duration::from_secs(4)).await;
    assert!(!quiet.iter().any(is_notice), "{quiet:#?}");

    pay(&bank.url, "600.00", "MEDIA EXPERT").await;
    chat.say("ile mam na koncie?").await;
    let notice = chat.expect("any", "Powiadomienie:", WAIT).await.to_string();
    assert!(notice.contains("600,00"), "{notice}");
    assert!(notice.contains("MEDIA EXPERT"), "{notice}");
    assert!(!notice.contains("400,00"), "{notice}");

    // A re-sync brings the same transactions again: nothing more.
    chat.say("pokaż saldo").await;
    chat.expect("balance_card", "", WAIT).await;
    let more = drain(&mut chat, Duration::from_secs(4)).await;
    assert!(!more.iter().any(is_notice), "{more:#?}");

    // Shown back on request, in English too.
    chat.say("show my alerts").await;
    let shown = chat.expect("any", "payments over", WAIT).await.to_string();
    assert!(shown.contains("on"), "{shown}");

    // A restart of the gateway syncs again at start: the notice is not repeated.
    let first_log = gw.log();
    assert_eq!(count(&first_log, "notice sent"), 1, "{first_log}");
    gw.kill();
    let gw2 = gateway(dir.path(), &bank.url);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gw2.log().contains("unattended") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&gw2.log(), "notice sent"), 0, "{}", gw2.log());

    // All off: a new large payment says nothing.
    let mut chat = Chat::connect(&gw2.url, "pl").await;
    link(&mut chat, "połącz bank", "anna").await;
    chat.say("powiadamiaj mnie o płatnościach powyżej 500 zł")
        .await;
    chat.expect("any", "Zapisane", WAIT).await;
    chat.say("wyłącz wszystkie powiadomienia").await;
    chat.expect("any", "Wszystkie powiadomienia są wyłączone", WAIT)
        .await;
    pay(&bank.url, "900.00", "RTV EURO AGD").await;
    chat.say("ile mam na koncie?").await;
    chat.expect("balance_card", "", WAIT).await;
    let off = drain(&mut chat, Duration::from_secs(5)).await;
    assert!(!off.iter().any(is_notice), "{off:#?}");

    let log = format!("{first_log}{}", gw2.log());
    assert!(
        !log.contains("600,00") && !log.contains("600.00"),
        "amounts in logs"
    );
    assert!(!log.contains("MEDIA EXPERT"), "merchants in logs");
}

// ---------------------------------------------------------------- in process, fake clock

#[derive(Default)]
struct Collected(Mutex<Vec<(CustomerId, String)>>);

impl Outbox for Collected {
    fn push(&self, customer: CustomerId, reply: Reply) {
        let text = serde_json::to_string(&reply).unwrap_or_default();
        self.0.lock().unwrap().push((customer, text));
    }
}

impl Collected {
    fn texts(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }
}

struct Polish;

#[async_trait::async_trait]
impl CustomerLang for Polish {
    async fn lang(&self, _: CustomerId) -> Lang {
        Lang::Pl
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn pln(a: &str) -> Money {
    Money::parse(a, "PLN").unwrap()
}

fn new_tx(date: &str, amount: &str, merchant: &str, description: &str) -> NewTransaction {
    NewTransaction {
        id: TransactionId::new(),
        bank_transaction_id: Some(format!("b-{}", TransactionId::new())),
        status: BookingStatus::Booked,
        date: date.parse().unwrap(),
        booking_date: Some(date.parse().unwrap()),
        value_date: None,
        amount: pln(amount),
        merchant: Some(merchant.into()),
        raw_description: description.into(),
        category: None,
        counterparty_iban: None,
        end_to_end_id: None,
        fingerprint: format!("fp-{}", TransactionId::new()),
    }
}

struct World {
    store: Store,
    gate: PrivacyGate,
    clock: Arc<FixedClock>,
    customer: CustomerId,
    account: AccountId,
    out: Arc<Collected>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("n.sqlite").display()
        );
        let store = Store::connect(&url, Keyring::generate()).await.unwrap();
        let clock = Arc::new(FixedClock::new(at("2026-12-01T10:00:00Z")));
        let customer = CustomerId::new();
        store
            .upsert_customer(&CustomerRecord {
                id: customer,
                lang: Lang::Pl,
                tz: "Europe/Warsaw".into(),
                created_at: at("2026-11-01T10:00:00Z"),
            })
            .await
            .unwrap();
        let consent = ConsentRecord {
            id: ConsentId::new(),
            customer,
            bank: "sandbox".into(),
            bank_consent_id: Some("c-1".into()),
            status: ConsentStatus::Valid,
            scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
            valid_until: "2027-05-01".parse().unwrap(),
            frequency_per_day: 4,
            recurring: true,
            access_token: None,
            oauth_state: None,
            pkce_verifier: None,
            created_at: at("2026-11-01T10:00:00Z"),
            updated_at: at("2026-11-01T10:00:00Z"),
        };
        store.insert_consent(&consent).await.unwrap();
        let account = AccountId::new();
        store
            .upsert_account(&AccountRecord {
                account: Account {
                    id: account,
                    iban: None,
                    currency: Currency::PLN,
                    name: "Konto osobiste".into(),
                },
                customer,
                consent: consent.id,
                bank_resource_id: "acc-1".into(),
            })
            .await
            .unwrap();
        let clock_dyn: Arc<dyn Clock> = clock.clone();
        let gate = PrivacyGate::new(store.clone(), clock_dyn);
        World {
            store,
            gate,
            clock,
            customer,
            account,
            out: Arc::new(Collected::default()),
            _dir: dir,
        }
    }

    /// A watcher as the gateway builds one; a second call is a restart.
    fn watcher(&self, digest_hour: u32) -> Arc<NoticeWatcher> {
        let clock: Arc<dyn Clock> = self.clock.clone();
        let out: Arc<dyn Outbox> = self.out.clone();
        NoticeWatcher::new(
            self.gate.clone(),
            NoticeBook::new(self.store.clone()),
            NoticeOutboxes {
                all: out,
                by_channel: Vec::new(),
            },
            Arc::new(Polish),
            clock,
            NoticeConfig {
                timezone: chrono_tz::Europe::Warsaw,
                digest_hour,
                digest_minute: 0,
                tick: Duration::from_secs(30),
            },
        )
    }

    async fn add(&self, rows: Vec<NewTransaction>) -> Vec<TransactionId> {
        let ids = rows.iter().map(|r| r.id).collect();
        self.store
            .apply_transactions(
                self.account,
                &TxBatch {
                    insert: rows,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        ids
    }

    async fn balance(&self, amount: &str) {
        self.store
            .replace_balances(
                self.account,
                &[Balance {
                    account_id: self.account,
                    kind: BalanceKind::InterimAvailable,
                    amount: pln(amount),
                    reference_date: None,
                    fetched_at: self.clock.now(),
                }],
            )
            .await
            .unwrap();
    }

    async fn settings(&self, s: &AlertSettings) {
        self.gate
            .alert_book()
            .put(self.customer, s, self.clock.now())
            .await
            .unwrap();
    }
}

fn th(a: &str) -> Option<Threshold> {
    Some(Threshold::new(a.parse().unwrap(), Some(Currency::PLN)).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_once_a_day_quiet_hours_and_exactly_once_across_restarts_with_a_fake_clock() {
    let w = World::new().await;
    let c = w.customer;
    let watcher = w.watcher(18);
    // History and the first sync: the baseline, no notices.
    let history = w
        .add(vec![
            new_tx(
                "2026-10-28",
                "6500.00",
                "ACME SP Z O O",
                "PRZELEW PRZYCHODZACY ACME",
            ),
            new_tx(
                "2026-11-05",
                "-43.00",
                "NETFLIX.COM",
                "PLATNOSC KARTA NETFLIX.COM",
            ),
        ])
        .await;
    w.balance("5000.00").await;
    assert_eq!(watcher.on_new(c, &history, true).await.unwrap(), 0);
    w.settings(&AlertSettings {
        large_payment: th("500"),
        low_balance: th("100"),
        salary: true,
        duplicate: true,
        subscription: true,
        ..AlertSettings::default()
    })
    .await;

    // 11:00 in Warsaw: a large payment (urgent, at once), a duplicate and a renewal (digest).
    let day1 = w
        .add(vec![
            new_tx(
                "2026-12-01",
                "-612.40",
                "MEDIA EXPERT",
                "PLATNOSC KARTA MEDIA EXPERT",
            ),
            new_tx("2026-12-01", "-89.99", "ALLEGRO", "PLATNOSC KARTA ALLEGRO"),
            new_tx("2026-12-01", "-89.99", "ALLEGRO", "PLATNOSC KARTA ALLEGRO"),
            new_tx(
                "2026-12-05",
                "-43.00",
                "NETFLIX.COM",
                "PLATNOSC KARTA NETFLIX.COM",
            ),
            new_tx(
                "2026-12-01",
                "-300.00",
                "BIEDRONKA",
                "PLATNOSC KARTA BIEDRONKA",
            ),
        ])
        .await;
    assert_eq!(watcher.on_new(c, &day1, false).await.unwrap(), 3);
    watcher.deliver_due().await;
    let sent = w.out.texts();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(
        sent[0].contains("Powiadomienie:") && sent[0].contains("612,40"),
        "{sent:#?}"
    );
    assert!(!sent[0].contains("300,00"));

    // Not yet the digest hour: nothing more.
    w.clock.set(at("2026-12-01T16:59:00Z"));
    watcher.deliver_due().await;
    assert_eq!(w.out.texts().len(), 1);
    // 18:00 in Warsaw: one digest with both.
    w.clock.set(at("2026-12-01T17:00:05Z"));
    watcher.deliver_due().await;
    let sent = w.out.texts();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[1].contains("Podsumowanie dnia"), "{}", sent[1]);
    assert!(
        sent[1].contains("podwójne obciążenie") && sent[1].contains("89,99"),
        "{}",
        sent[1]
    );
    assert!(sent[1].contains("NETFLIX.COM"), "{}", sent[1]);

    // The salary at 18:30 waits for tomorrow's digest: one digest a day.
    w.clock.set(at("2026-12-01T17:30:00Z"));
    let salary = w
        .add(vec![new_tx(
            "2026-12-01",
            "6500.00",
            "ACME SP Z O O",
            "PRZELEW PRZYCHODZACY ACME",
        )])
        .await;
    // The same event delivered twice (a re-sync) and to a restarted watcher: claimed once.
    assert_eq!(
        watcher.on_new(c, &salary, false).await.unwrap(),
        0,
        "a salary needs two months before"
    );
    let salary = w
        .add(vec![new_tx(
            "2026-12-01",
            "7000.00",
            "FIRMA",
            "PRZELEW WYNAGRODZENIE 11/2026",
        )])
        .await;
    assert_eq!(watcher.on_new(c, &salary, false).await.unwrap(), 1);
    assert_eq!(watcher.on_new(c, &salary, false).await.unwrap(), 0);
    let restarted = w.watcher(18);
    assert_eq!(restarted.on_new(c, &salary, false).await.unwrap(), 0);
    assert_eq!(restarted.on_new(c, &day1, false).await.unwrap(), 0);
    restarted.deliver_due().await;
    assert_eq!(w.out.texts().len(), 2);

    // A watcher restarted with a later digest hour the same day: today's digest went out, so
    // the salary still waits for tomorrow.
    let later = w.watcher(21);
    let more = w
        .add(vec![
            new_tx("2026-12-01", "-15.00", "ZABKA", "PLATNOSC KARTA ZABKA"),
            new_tx("2026-12-01", "-15.00", "ZABKA", "PLATNOSC KARTA ZABKA"),
        ])
        .await;
    assert_eq!(later.on_new(c, &more, false).await.unwrap(), 1);
    w.clock.set(at("2026-12-01T20:00:01Z"));
    later.deliver_due().await;
    assert_eq!(w.out.texts().len(), 2, "at most one digest a day");

    // Quiet hours 22–07: at 23:30 a large payment waits for 07:00.
    let mut s = w.gate.alert_book().get(c).await.unwrap();
    s.quiet = Some(Quiet {
        start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
    });
    w.settings(&s).await;
    w.clock.set(at("2026-12-01T22:30:00Z"));
    let night = w
        .add(vec![new_tx(
            "2026-12-01",
            "-750.00",
            "RTV EURO AGD",
            "PLATNOSC KARTA RTV EURO AGD",
        )])
        .await;
    assert_eq!(later.on_new(c, &night, false).await.unwrap(), 1);
    later.deliver_due().await;
    assert_eq!(w.out.texts().len(), 2, "quiet hours hold urgent notices");
    w.clock.set(at("2026-12-02T06:00:01Z"));
    later.deliver_due().await;
    let sent = w.out.texts();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert!(sent[2].contains("750,00"));

    // The next day's digest (21:00 for this watcher) has the salary and the Żabka twins.
    w.clock.set(at("2026-12-02T20:00:01Z"));
    later.deliver_due().await;
    let sent = w.out.texts();
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert!(
        sent[3].contains("Wpłynęła pensja") && sent[3].contains("FIRMA"),
        "{}",
        sent[3]
    );
    assert!(sent[3].contains("ZABKA"), "{}", sent[3]);

    // Low balance: once when it falls below, again only after it recovered.
    w.balance("80.00").await;
    let small = w
        .add(vec![new_tx(
            "2026-12-02",
            "-20.00",
            "ZABKA",
            "PLATNOSC KARTA ZABKA 2",
        )])
        .await;
    assert_eq!(later.on_new(c, &small, false).await.unwrap(), 1);
    later.deliver_due().await;
    assert!(
        w.out.texts()[4].contains("spadło poniżej"),
        "{:#?}",
        w.out.texts()
    );
    let small2 = w
        .add(vec![new_tx(
            "2026-12-02",
            "-1.00",
            "ZABKA",
            "PLATNOSC KARTA ZABKA 3",
        )])
        .await;
    assert_eq!(
        later.on_new(c, &small2, false).await.unwrap(),
        0,
        "still below: no repeat"
    );
    w.balance("900.00").await;
    let up = w
        .add(vec![new_tx(
            "2026-12-02",
            "1000.00",
            "MAMA",
            "PRZELEW OD MAMY",
        )])
        .await;
    assert_eq!(later.on_new(c, &up, false).await.unwrap(), 0);
    w.balance("50.00").await;
    let down = w
        .add(vec![new_tx(
            "2026-12-02",
            "-850.00",
            "IKEA",
            "PLATNOSC KARTA IKEA",
        )])
        .await;
    assert_eq!(
        later.on_new(c, &down, false).await.unwrap(),
        2,
        "low balance again, and a large payment"
    );

    // All off: what waits is dropped and nothing new is found.
    w.settings(&AlertSettings {
        all_off: true,
        ..w.gate.alert_book().get(c).await.unwrap()
    })
    .await;
    let before = w.out.texts().len();
    later.deliver_due().await;
    let twins = w
        .add(vec![
            new_tx("2026-12-02", "-999.00", "X-KOM", "PLATNOSC KARTA X-KOM"),
            new_tx("2026-12-02", "-999.00", "X-KOM", "PLATNOSC KARTA X-KOM"),
        ])
        .await;
    assert_eq!(later.on_new(c, &twins, false).await.unwrap(), 0);
    w.clock.set(at("2026-12-03T20:00:01Z"));
    later.deliver_due().await;
    assert_eq!(w.out.texts().len(), before, "all off sends nothing");

    // Every read was made under the notice's own purpose, and none for what was never on.
    let rows = w
        .store
        .audit_for_subject(&c.to_string(), 1000)
        .await
        .unwrap();
    let purposes: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.actor == "system:notice_watcher")
        .map(|r| r.purpose.as_str())
        .collect();
    assert!(
        purposes.contains("service.notice.large_payment"),
        "{purposes:?}"
    );
    assert!(
        purposes.contains("service.notice.low_balance"),
        "{purposes:?}"
    );
    assert!(
        purposes.contains("service.notice.duplicate"),
        "{purposes:?}"
    );
    assert!(
        !purposes.contains("service.notice.recurring_up"),
        "never turned on: {purposes:?}"
    );
}

// ---------------------------------------------------------------- headless Chromium

/// Waits until the page's visible text holds `needle`; returns that text.
async fn wait_text(c: &fantoccini::Client, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = c
            .execute("return document.body.innerText;", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the page:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn type_and_send(c: &fantoccini::Client, text: &str) {
    let input = browser::wait_for(c, "#chat-input", WAIT).await.unwrap();
    input.send_keys(&format!("{text}\n")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_an_alert_and_seeing_the_notice_in_the_web_chat_in_chromium() {
    use fantoccini::Locator;
    let dir = tempfile::tempdir().unwrap();
    let bank = spawn_bank(dir.path(), 0);
    let gw = gateway(dir.path(), &bank.url);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let driver = browser::ChromeDriver::start().await.unwrap();
    let c = driver.new_client().await.unwrap();

    c.goto(&format!("{}/?lang=pl", gw.url)).await.unwrap();
    browser::wait_for(&c, "body[data-ready=\"1\"]", WAIT)
        .await
        .unwrap();
    type_and_send(&c, "połącz bank").await;
    let a = browser::wait_for(&c, "a.bank-link", WAIT).await.unwrap();
    let href = a.attr("href").await.unwrap().unwrap();
    c.goto(&href).await.unwrap();
    browser::wait_for(&c, "form", WAIT).await.unwrap();
    for (field, value) in [("psu_id", "anna"), ("password", "demo")] {
        c.find(Locator::Css(&format!("input[name={field}]")))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    c.find(Locator::Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser::wait_for(&c, "#callback-title", WAIT)
        .await
        .unwrap();
    c.find(Locator::Css("a[href=\"/\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser::wait_for(&c, "body[data-ready=\"1\"]", WAIT)
        .await
        .unwrap();

    type_and_send(&c, "powiadamiaj mnie o platnosciach powyzej 500 zl").await;
    let page = wait_text(&c, "Zapisane").await;
    assert!(
        page.contains("płatności powyżej 500,00 zł: włączone"),
        "{page}"
    );
    pay(&bank.url, "640.00", "MEDIA EXPERT").await;
    type_and_send(&c, "ile mam na koncie?").await;
    browser::wait_for(&c, ".balance-card", WAIT).await.unwrap();
    let page = wait_text(&c, "Powiadomienie:").await;
    assert!(page.contains("640,00"), "{page}");
    assert!(page.contains("MEDIA EXPERT"), "{page}");
    browser::screenshot(&c, "notices-pl-alert-and-notice.png")
        .await
        .unwrap();
    type_and_send(&c, "cisza nocna od 23 do 6").await;
    wait_text(&c, "cisza nocna: 23:00–06:00").await;
    type_and_send(&c, "jakie mam alerty?").await;
    wait_text(&c, "Twoje powiadomienia:").await;
    c.close().await.unwrap();
    drop(gw);
}
