//! Bank warnings (issue 5) go to the customer's chosen alert channel, else to the chat they last
//! wrote from, else to every open chat; a warning held for quiet hours is kept in the store and
//! delivered once by a new watcher (a restart) when the quiet hours end. In process, with a fake
//! clock over a real SQLite store, the real privacy gate and the real fraud watcher; one
//! recording outbox per channel. (`bank_push.rs` restarts real processes.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use okienko_bank::{BankLink, LinkConfig, NextGenPsd2Connector};
use okienko_core::{Clock, ConsentId, ConsentScope, ConsentStatus, CustomerId, FixedClock, Lang};
use okienko_dialog::fraud::{
    CustomerLang, FraudConfig, FraudWatcher, Notice, NoticePublisher, QuietHours,
};
use okienko_dialog::{Outbox, Reply};
use okienko_privacy::{AlertSettings, FraudBook, NoticeLedger, PrivacyGate, Quiet};
use okienko_risk::{LiveScorer, RuleSet};
use okienko_store::{ConsentRecord, CustomerRecord, Keyring, Store};

#[derive(Default)]
struct Recorded(Mutex<Vec<(CustomerId, String)>>);

impl Outbox for Recorded {
    fn push(&self, customer: CustomerId, reply: Reply) {
        let text = serde_json::to_string(&reply).unwrap_or_default();
        self.0.lock().unwrap().push((customer, text));
    }
}

impl Recorded {
    fn for_customer(&self, c: CustomerId) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(x, _)| *x == c)
            .map(|(_, t)| t.clone())
            .collect()
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
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

struct World {
    store: Store,
    gate: PrivacyGate,
    clock: Arc<FixedClock>,
    all: Arc<Recorded>,
    web: Arc<Recorded>,
    messenger: Arc<Recorded>,
    matrix: Arc<Recorded>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("w.sqlite").display()
        );
        let store = Store::connect(&url, Keyring::generate()).await.unwrap();
        // 11:00 in Warsaw.
        let clock = Arc::new(FixedClock::new(at("2026-12-01T10:00:00Z")));
        let clock_dyn: Arc<dyn Clock> = clock.clone();
        let gate = PrivacyGate::new(store.clone(), clock_dyn);
        World {
            store,
            gate,
            clock,
            all: Arc::default(),
            web: Arc::default(),
            messenger: Arc::default(),
            matrix: Arc::default(),
            _dir: dir,
        }
    }

    /// A customer with a valid consent at the sandbox bank (opted in to its warnings).
    async fn customer(&self, settings: AlertSettings) -> CustomerId {
        let customer = CustomerId::new();
        let t = at("2026-11-01T10:00:00Z");
        self.store
            .upsert_customer(&CustomerRecord {
                id: customer,
                lang: Lang::Pl,
                tz: "Europe/Warsaw".into(),
                created_at: t,
            })
            .await
            .unwrap();
        self.store
            .insert_consent(&ConsentRecord {
                id: ConsentId::new(),
                customer,
                bank: "sandbox".into(),
                bank_consent_id: Some(format!("c-{customer}")),
                status: ConsentStatus::Valid,
                scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
                valid_until: "2027-05-01".parse().unwrap(),
                frequency_per_day: 4,
                recurring: true,
                access_token: None,
                oauth_state: None,
                pkce_verifier: None,
                created_at: t,
                updated_at: t,
            })
            .await
            .unwrap();
        self.gate
            .alert_book()
            .put(customer, &settings, self.clock.now())
            .await
            .unwrap();
        customer
    }

    /// The watcher as the gateway builds it; a second call is a restart.
    fn watcher(&self) -> Arc<FraudWatcher> {
        let clock: Arc<dyn Clock> = self.clock.clone();
        // Never called here: bank warnings do not talk to the bank.
        let connector =
            NextGenPsd2Connector::new("http://127.0.0.1:9", "okienko", Duration::from_secs(1))
                .unwrap();
        let bank = BankLink::new(
            self.store.clone(),
            Arc::new(connector),
            LinkConfig {
                bank: "sandbox".into(),
                redirect_uri: "http://127.0.0.1:9/consent/callback".into(),
                valid_days: 180,
                frequency_per_day: 4,
            },
            clock.clone(),
        );
        let one = |o: &Arc<Recorded>| -> Arc<dyn Outbox> { o.clone() };
        FraudWatcher::new(
            self.gate.clone(),
            FraudBook::new(self.store.clone()),
            NoticeLedger::new(self.store.clone()),
            bank,
            LiveScorer::rules_only(RuleSet::default_rules().unwrap()),
            one(&self.all),
            vec![
                ("web_chat".to_owned(), one(&self.web)),
                ("messenger".to_owned(), one(&self.messenger)),
                ("matrix".to_owned(), one(&self.matrix)),
            ],
            Arc::new(Polish),
            clock,
            FraudConfig {
                timezone: chrono_tz::Europe::Warsaw,
                // The gateway's default: no quiet hours; customers set their own.
                quiet_hours: QuietHours::parse("00:00-00:00"),
                ..FraudConfig::default()
            },
        )
    }
}

fn notice(id: &str) -> Notice {
    Notice {
        id: id.into(),
        text_pl: "Uwaga: fałszywe SMS-y o dopłacie do paczki.".into(),
        text_en: "Beware: fake texts about a parcel surcharge.".into(),
        bank: "sandbox".into(),
    }
}

fn quiet(from: &str, to: &str) -> Option<Quiet> {
    Some(Quiet {
        start: NaiveTime::parse_from_str(from, "%H:%M").unwrap(),
        end: NaiveTime::parse_from_str(to, "%H:%M").unwrap(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_warnings_go_to_the_chosen_channel_else_the_last_used_else_every_chat() {
    let w = World::new().await;
    let chose_messenger = w
        .customer(AlertSettings {
            channel: Some("messenger".into()),
            ..AlertSettings::default()
        })
        .await;
    let wrote_on_matrix = w.customer(AlertSettings::default()).await;
    let chose_but_wrote_elsewhere = w
        .customer(AlertSettings {
            channel: Some("web_chat".into()),
            ..AlertSettings::default()
        })
        .await;
    let never_wrote = w.customer(AlertSettings::default()).await;
    let chose_a_channel_not_running = w
        .customer(AlertSettings {
            channel: Some("telegram".into()),
            ..AlertSettings::default()
        })
        .await;
    let watcher = w.watcher();
    watcher.saw(wrote_on_matrix, "messenger");
    watcher.saw(wrote_on_matrix, "matrix");
    watcher.saw(chose_but_wrote_elsewhere, "matrix");
    watcher.saw(chose_a_channel_not_running, "messenger");

    let r = watcher.publish(notice("campaign-channels")).await.unwrap();
    assert_eq!(r.delivered, 5, "{r:?}");

    let only = |c: CustomerId, on: &Arc<Recorded>, name: &str| {
        for (n, o) in [
            ("all", &w.all),
            ("web_chat", &w.web),
            ("messenger", &w.messenger),
            ("matrix", &w.matrix),
        ] {
            let got = o.for_customer(c);
            if Arc::ptr_eq(o, on) {
                assert_eq!(got.len(), 1, "{name}: one warning on {n}: {got:?}");
                assert!(got[0].contains("fałszywe SMS-y"), "{got:?}");
            } else {
                assert!(got.is_empty(), "{name}: nothing on {n}: {got:?}");
            }
        }
    };
    // The choice in the alert settings wins over where the customer last wrote.
    only(chose_messenger, &w.messenger, "chose messenger");
    only(
        chose_but_wrote_elsewhere,
        &w.web,
        "chose the web chat, wrote on Matrix",
    );
    // No choice: the chat they last wrote from.
    only(wrote_on_matrix, &w.matrix, "last wrote on Matrix");
    // A chosen channel that does not run here: the last one used.
    only(
        chose_a_channel_not_running,
        &w.messenger,
        "chose Telegram, wrote on Messenger",
    );
    // Neither: every open chat.
    only(never_wrote, &w.all, "never wrote");

    // Once each.
    let before = w.all.count() + w.web.count() + w.messenger.count() + w.matrix.count();
    let r = watcher.publish(notice("campaign-channels")).await.unwrap();
    assert_eq!((r.delivered, r.already_had_it), (0, 5), "{r:?}");
    let after = w.all.count() + w.web.count() + w.messenger.count() + w.matrix.count();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_bank_warning_survives_a_restart_and_goes_once_to_its_channel() {
    let w = World::new().await;
    // Quiet hours 10:00–12:00 in Warsaw; it is 11:00 there.
    let sleeping = w
        .customer(AlertSettings {
            quiet: quiet("10:00", "12:00"),
            channel: Some("messenger".into()),
            ..AlertSettings::default()
        })
        .await;
    // No choice; wrote from Matrix before the restart: the held warning remembers it.
    let sleeping_matrix = w
        .customer(AlertSettings {
            quiet: quiet("10:00", "12:00"),
            ..AlertSettings::default()
        })
        .await;
    let awake = w.customer(AlertSettings::default()).await;
    let first = w.watcher();
    first.saw(sleeping_matrix, "matrix");
    let r = first.publish(notice("campaign-held")).await.unwrap();
    assert_eq!((r.delivered, r.held), (1, 2), "{r:?}");
    // Publishing again while held adds nothing.
    let r = first.publish(notice("campaign-held")).await.unwrap();
    assert_eq!((r.delivered, r.held, r.already_had_it), (0, 2, 1), "{r:?}");
    assert!(w.messenger.for_customer(sleeping).is_empty());
    assert_eq!(w.all.for_customer(awake).len(), 1);
    drop(first);

    // A restart before the quiet hours end: nothing yet.
    let second = w.watcher();
    w.clock.set(at("2026-12-01T10:59:00Z"));
    second.deliver_due().await;
    assert!(w.messenger.for_customer(sleeping).is_empty());
    assert!(w.matrix.for_customer(sleeping_matrix).is_empty());

    // 12:00 in Warsaw: each held warning once, on its channel, rebuilt from the stored texts.
    w.clock.set(at("2026-12-01T11:00:30Z"));
    second.deliver_due().await;
    second.deliver_due().await;
    let got = w.messenger.for_customer(sleeping);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("fałszywe SMS-y"), "{got:?}");
    assert_eq!(w.matrix.for_customer(sleeping_matrix).len(), 1);
    assert!(w.all.for_customer(sleeping).is_empty());
    assert!(w.all.for_customer(sleeping_matrix).is_empty());

    // Another restart delivers nothing again; a publish now finds everyone served.
    let third = w.watcher();
    third.deliver_due().await;
    assert_eq!(w.messenger.for_customer(sleeping).len(), 1);
    let r = third.publish(notice("campaign-held")).await.unwrap();
    assert_eq!((r.delivered, r.held, r.already_had_it), (0, 0, 3), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_warning_is_dropped_when_all_notices_go_off_meanwhile() {
    let w = World::new().await;
    let c = w
        .customer(AlertSettings {
            quiet: quiet("10:00", "12:00"),
            ..AlertSettings::default()
        })
        .await;
    let watcher = w.watcher();
    let r = watcher.publish(notice("campaign-off")).await.unwrap();
    assert_eq!(r.held, 1, "{r:?}");
    w.gate
        .alert_book()
        .put(
            c,
            &AlertSettings {
                all_off: true,
                quiet: quiet("10:00", "12:00"),
                ..AlertSettings::default()
            },
            w.clock.now(),
        )
        .await
        .unwrap();
    w.clock.set(at("2026-12-01T11:00:30Z"));
    let restarted = w.watcher();
    restarted.deliver_due().await;
    assert!(w.all.for_customer(c).is_empty());
    // Dropped, not waiting: turning notices back on and publishing again delivers it once.
    w.gate
        .alert_book()
        .put(c, &AlertSettings::default(), w.clock.now())
        .await
        .unwrap();
    let r = restarted.publish(notice("campaign-off")).await.unwrap();
    assert_eq!((r.delivered, r.held), (1, 0), "{r:?}");
}

/// Stores `rows` (date, amount in PLN, merchant, card description) on `account`; their ids.
async fn store_purchases(
    w: &World,
    account: okienko_core::AccountId,
    rows: &[(String, &str, &str, &str)],
) -> Vec<okienko_core::TransactionId> {
    use okienko_core::{BookingStatus, Currency, Money, TransactionId};
    use okienko_store::{NewTransaction, TxBatch};
    let insert: Vec<NewTransaction> = rows
        .iter()
        .map(|(date, amount, merchant, card)| {
            let date: chrono::NaiveDate = date.parse().unwrap();
            NewTransaction {
                id: TransactionId::new(),
                bank_transaction_id: Some(format!("bank-{}", TransactionId::new())),
                status: BookingStatus::Booked,
                date,
                booking_date: Some(date),
                value_date: Some(date),
                amount: Money::new(format!("-{amount}").parse().unwrap(), Currency::PLN).unwrap(),
                merchant: Some((*merchant).to_owned()),
                raw_description: format!("{card} {amount} PLN {}", merchant.to_uppercase()),
                category: None,
                counterparty_iban: None,
                end_to_end_id: None,
                fingerprint: format!("fp-{}", TransactionId::new()),
            }
        })
        .collect();
    let ids = insert.iter().map(|t| t.id).collect();
    w.store
        .apply_transactions(
            account,
            &TxBatch {
                insert,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    ids
}

/// A link's first sync announces each account in its own event, and the bus delivers at least
/// once. The second account's first-sync event, processed after new transactions were stored,
/// must not fold them into the baseline (their own event would count them again, and an
/// ordinary day would look like a burst), and an event delivered twice counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_first_sync_and_repeated_events_count_each_transaction_once() {
    use okienko_privacy::EpisodeStatus;
    use okienko_store::AccountRecord;
    let w = World::new().await;
    let customer = w.customer(AlertSettings::default()).await;
    let consent = w.store.consents_for_customer(customer).await.unwrap()[0].id;
    let mut accounts = Vec::new();
    for resource in ["acc-1", "acc-2"] {
        let a = AccountRecord {
            account: okienko_core::Account {
                id: okienko_core::AccountId::new(),
                iban: None,
                currency: okienko_core::Currency::PLN,
                name: "Konto".into(),
            },
            customer,
            consent,
            bank_resource_id: resource.into(),
        };
        w.store.upsert_account(&a).await.unwrap();
        accounts.push(a.account.id);
    }
    // Sixty days of one card purchase in a shop, and two today (1 December, Warsaw).
    let day = |n: u64| {
        (chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() - chrono::Days::new(n)).to_string()
    };
    let mut history: Vec<(String, &str, &str, &str)> = (1..=60)
        .map(|n| (day(n), "45.00", "Biedronka", "PLATNOSC KARTA"))
        .collect();
    history.push((day(0), "12.50", "Żabka", "PLATNOSC KARTA"));
    history.push((day(0), "38.20", "Lidl", "PLATNOSC KARTA"));
    let first = store_purchases(&w, accounts[0], &history).await;
    let savings = [(day(30), "10.00", "Biedronka", "PLATNOSC KARTA")];
    let second = store_purchases(&w, accounts[1], &savings).await;

    let watcher = w.watcher();
    assert_eq!(watcher.on_new(customer, &first, true).await.unwrap(), 0);
    // Four online purchases at new shops within minutes: unusual for this customer, low
    // severity; it is not a burst of eight.
    let episode = store_purchases(
        &w,
        accounts[0],
        &[
            (
                day(0),
                "1249.00",
                "LUXWATCH OUTLET",
                "PLATNOSC KARTA INTERNET",
            ),
            (day(0), "1622.11", "GADGET HUB", "PLATNOSC KARTA INTERNET"),
            (day(0), "1321.22", "PHONE PALACE", "PLATNOSC KARTA INTERNET"),
            (day(0), "1468.33", "TRAVEL DEALS", "PLATNOSC KARTA INTERNET"),
        ],
    )
    .await;
    // The second account's first-sync event arrives late: nothing new in it.
    assert_eq!(watcher.on_new(customer, &second, true).await.unwrap(), 0);
    assert!(
        FraudBook::new(w.store.clone())
            .latest_episode(customer)
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(watcher.on_new(customer, &episode, false).await.unwrap(), 4);
    let book = FraudBook::new(w.store.clone());
    let opened = book.latest_episode(customer).await.unwrap().unwrap();
    assert_eq!(opened.severity, okienko_privacy::AlertSeverity::Low);
    assert_eq!(opened.status, EpisodeStatus::Open);

    // Delivered again (an acknowledgement lost): nothing scored twice, the episode unchanged.
    assert_eq!(watcher.on_new(customer, &episode, false).await.unwrap(), 0);
    let again = book.latest_episode(customer).await.unwrap().unwrap();
    assert_eq!(
        (again.id, again.severity, again.last_at),
        (opened.id, opened.severity, opened.last_at)
    );

    // A restarted watcher rebuilds from the store: the event delivered once more still counts
    // its transactions once (they are in the history now, not news).
    let restarted = w.watcher();
    assert_eq!(
        restarted.on_new(customer, &episode, false).await.unwrap(),
        4
    );
    let after = book.latest_episode(customer).await.unwrap().unwrap();
    assert_eq!(
        (after.id, after.severity),
        (opened.id, okienko_privacy::AlertSeverity::Low)
    );
}
