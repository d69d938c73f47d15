//! The exfiltration suite: every way one party might read another's data through the gate, on a
//! real SQLite file and a real PostgreSQL schema. Each attempt must be denied, audited against
//! the data subject, and leak nothing of the victim (checked on the returned data and on every
//! error string). The decision matrix (`matrix.rs`) covers every combination at the policy level;
//! here the attacks run end to end with two real customers' data in one store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, Utc};
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, BookingStatus, Clock, ConsentId, ConsentScope,
    ConsentStatus, Currency, CustomerId, FixedClock, Lang, Money, TransactionId, TxFilter,
};
use okienko_privacy::{
    AccessError, AccessRequest, ChannelContext, ChannelInfo, DenyReason, PrivacyGate, Purpose,
    Room, ViewError, parse_decision,
};
use okienko_store::{
    AccountRecord, ConsentRecord, CustomerRecord, Keyring, NewTransaction, Store, TxBatch,
};

/// Marks every value of the victim's, so any leak is found by one search.
const VICTIM_MERCHANT: &str = "Qqvictimshopzz";
const VICTIM_IBAN: &str = "PL61109010140000071219812874";
const VICTIM_BALANCE: &str = "98765.43";

struct World {
    /// Declared first, so it runs before the store's pool closes (a pool that is still open
    /// holds no locks, so the drop does not wait on it).
    _db: Db,
    store: Store,
    gate: PrivacyGate,
    clock: Arc<FixedClock>,
    attacker: CustomerId,
    victim: CustomerId,
    victim_consent: ConsentId,
}

/// What a test's database leaves behind, removed when the test ends, passed or failed: the
/// SQLite file's directory, or the PostgreSQL schema (dropped on a thread of its own, since
/// `Drop` may run inside the test's runtime or while a failed assertion unwinds).
enum Db {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl Drop for Db {
    fn drop(&mut self) {
        let Db::Postgres { url, schema } = self else {
            return;
        };
        let (url, schema) = (url.clone(), schema.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test schema");
            rt.block_on(async move {
                let opts =
                    okienko_store::pg_connect_options(&url).expect("the test PostgreSQL URL");
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(std::time::Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .expect("PostgreSQL to drop the test schema");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&pool)
                .await
                .expect("the test schema dropped");
                pool.close().await;
            })
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("the PostgreSQL test schema was not dropped");
        }
    }
}

/// The schemas the PostgreSQL runs made that still exist (for the clean-up test).
async fn leftover_schemas(url: &str, prefix: &str) -> Vec<String> {
    let pool = sqlx::PgPool::connect_with(okienko_store::pg_connect_options(url).unwrap())
        .await
        .unwrap();
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name LIKE $1",
    )
    .bind(format!("{prefix}%"))
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    names.into_iter().map(|(n,)| n).collect()
}

fn pg_url() -> String {
    std::env::var("OKIENKO_TEST_PG_URL").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into())
}

async fn open_store(backend: &str, test: &str) -> (Store, Db) {
    static N: AtomicU32 = AtomicU32::new(0);
    match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("exfil.sqlite").display()
            );
            (
                Store::connect(&url, Keyring::generate()).await.unwrap(),
                Db::Sqlite(dir),
            )
        }
        _ => {
            let url = pg_url();
            let schema = format!(
                "exfil_{}_{}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed),
                test
            );
            let store = Store::connect_isolated(&url, &schema, Keyring::generate())
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required ({e})"));
            (store, Db::Postgres { url, schema })
        }
    }
}

async fn customer_with_data(
    store: &Store,
    merchant: &str,
    iban: &str,
    balance: &str,
) -> (CustomerId, ConsentId) {
    let now = Utc::now();
    let customer = CustomerId::new();
    store
        .upsert_customer(&CustomerRecord {
            id: customer,
            lang: Lang::Pl,
            tz: "Europe/Warsaw".into(),
            created_at: now,
        })
        .await
        .unwrap();
    let consent = ConsentId::new();
    store
        .insert_consent(&ConsentRecord {
            id: consent,
            customer,
            bank: "sandbox".into(),
            bank_consent_id: Some(format!("c-{consent}")),
            status: ConsentStatus::Valid,
            scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
            valid_until: (now + Duration::days(90)).date_naive(),
            frequency_per_day: 4,
            recurring: true,
            access_token: None,
            oauth_state: None,
            pkce_verifier: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    let account = AccountId::new();
    store
        .upsert_account(&AccountRecord {
            account: Account {
                id: account,
                iban: Some(iban.parse().unwrap()),
                currency: Currency::PLN,
                name: "Konto osobiste".into(),
            },
            customer,
            consent,
            bank_resource_id: format!("acc-{account}"),
        })
        .await
        .unwrap();
    store
        .replace_balances(
            account,
            &[Balance {
                account_id: account,
                kind: BalanceKind::InterimAvailable,
                amount: Money::parse(balance, "PLN").unwrap(),
                reference_date: None,
                fetched_at: now,
            }],
        )
        .await
        .unwrap();
    let insert = (0..3)
        .map(|i| NewTransaction {
            id: TransactionId::new(),
            bank_transaction_id: Some(format!("{merchant}-{i}")),
            status: BookingStatus::Booked,
            date: now.date_naive(),
            booking_date: Some(now.date_naive()),
            value_date: None,
            amount: Money::parse("-49.99", "PLN").unwrap(),
            merchant: Some(merchant.into()),
            raw_description: format!("PLATNOSC KARTA {merchant}"),
            category: None,
            counterparty_iban: None,
            end_to_end_id: None,
            fingerprint: format!("f-{merchant}-{i}"),
        })
        .collect();
    store
        .apply_transactions(
            account,
            &TxBatch {
                insert,
                update: vec![],
                delete: vec![],
            },
        )
        .await
        .unwrap();
    (customer, consent)
}

async fn world(backend: &str, test: &str) -> World {
    let (store, db) = open_store(backend, test).await;
    let (attacker, _) =
        customer_with_data(&store, "Biedronka", "PL27114020040000300201355387", "10.00").await;
    let (victim, victim_consent) =
        customer_with_data(&store, VICTIM_MERCHANT, VICTIM_IBAN, VICTIM_BALANCE).await;
    let clock = Arc::new(FixedClock::new(Utc::now()));
    World {
        gate: PrivacyGate::new(store.clone(), clock.clone()),
        _db: db,
        store,
        clock,
        attacker,
        victim,
        victim_consent,
    }
}

/// Nothing of the victim's in `text` (a debug dump of whatever came back, or an error).
fn assert_clean(text: &str) {
    for needle in [VICTIM_MERCHANT, VICTIM_IBAN, "98765", "98 765"] {
        assert!(!text.contains(needle), "victim data leaked: {text}");
    }
}

/// The last audit row about `subject` says `decision` for `actor`.
async fn last_audit(w: &World, subject: CustomerId) -> (String, String, String, String) {
    let rows = w
        .store
        .audit_for_subject(&subject.to_string(), 1)
        .await
        .unwrap();
    let row = rows.first().expect("an audit row");
    let (verdict, _) = parse_decision(&row.decision);
    (
        row.actor.clone(),
        verdict,
        row.channel.clone(),
        row.action.clone(),
    )
}

fn denied<T>(r: Result<T, AccessError>, reason: DenyReason) {
    match r {
        Err(AccessError::Denied(got)) => {
            assert_eq!(got, reason);
            assert_clean(&format!("{got:?} {}", AccessError::Denied(got)));
        }
        Err(e) => panic!("expected a denial, got error {e}"),
        Ok(_) => panic!("expected a denial, got data"),
    }
}

/// Customer A names customer B as the subject: every read is refused and audited on B's record.
async fn customer_asks_for_another_customers_data(backend: &str) {
    let w = world(backend, "other").await;
    let req = AccessRequest {
        subject: w.victim,
        ..AccessRequest::customer(w.attacker, Purpose::ServiceBalance, ChannelContext::WebChat)
    };
    denied(w.gate.balances(&req).await, DenyReason::NotTheSubject);
    denied(w.gate.accounts(&req).await, DenyReason::NotTheSubject);
    denied(w.gate.merchants(&req).await, DenyReason::NotTheSubject);
    let tx_req = AccessRequest {
        purpose: Purpose::ServiceTransactions,
        ..req.clone()
    };
    denied(
        w.gate
            .transactions(&tx_req, &TxFilter::default(), 0, 500)
            .await,
        DenyReason::NotTheSubject,
    );
    let (actor, verdict, _, _) = last_audit(&w, w.victim).await;
    assert_eq!(actor, format!("customer:{}", w.attacker));
    assert_eq!(verdict, "not_the_subject");
    // The victim's "kto widział moje dane?" shows the attempts.
    let log = w.gate.access_log(w.victim).await.unwrap().into_data();
    assert!(
        log.iter()
            .filter(|e| e.decision == "not_the_subject")
            .count()
            >= 4
    );
}

/// Guessing: the attacker filters their own reads by the victim's merchant, ids and amounts.
/// Reads are always scoped to the requester's own data, so nothing of the victim's comes back.
async fn guessed_transaction_ids_and_merchants_find_nothing(backend: &str) {
    let w = world(backend, "guess").await;
    let req = AccessRequest::customer(
        w.attacker,
        Purpose::ServiceTransactions,
        ChannelContext::WebChat,
    );
    for merchant in [
        VICTIM_MERCHANT.to_owned(),
        format!("{VICTIM_MERCHANT}-0"),
        "%".into(),
        "' OR 1=1 --".into(),
        "_".into(),
    ] {
        let filter = TxFilter {
            merchant: Some(merchant.clone()),
            ..TxFilter::default()
        };
        let page = w
            .gate
            .transactions(&req, &filter, 0, 500)
            .await
            .unwrap()
            .into_data();
        assert_clean(&format!("{:?}", page.transactions));
        for t in &page.transactions {
            assert_ne!(t.merchant.as_deref(), Some(VICTIM_MERCHANT));
        }
    }
    // Paging far past the end gives nothing, not someone else's rows.
    let page = w
        .gate
        .transactions(&req, &TxFilter::default(), 1_000_000, 500)
        .await
        .unwrap()
        .into_data();
    assert!(page.transactions.is_empty());
    let merchants = w.gate.merchants(&req).await.unwrap().into_data();
    assert!(!merchants.iter().any(|m| m == VICTIM_MERCHANT));
}

/// The customer's own data in a group room or on a platform that reads it: refused, audited.
async fn group_room_and_readable_platform_are_refused(backend: &str) {
    let w = world(backend, "room").await;
    let shared = AccessRequest::customer_via(
        w.victim,
        Purpose::ServiceBalance,
        ChannelInfo::new("matrix", ChannelContext::EndToEndEncrypted, Room::Shared),
    );
    denied(
        w.gate.balances(&shared).await,
        DenyReason::ChannelNotPrivate,
    );
    let (_, verdict, channel, _) = last_audit(&w, w.victim).await;
    assert_eq!(
        (verdict.as_str(), channel.as_str()),
        ("channel_not_private", "e2ee")
    );
    let readable = AccessRequest::customer_via(
        w.victim,
        Purpose::ServiceTransactions,
        ChannelInfo::new(
            "messenger",
            ChannelContext::PlatformReadable,
            Room::HolderAlone,
        ),
    );
    denied(
        w.gate
            .transactions(&readable, &TxFilter::default(), 0, 10)
            .await,
        DenyReason::ChannelNotPrivate,
    );
    let (_, verdict, channel, _) = last_audit(&w, w.victim).await;
    assert_eq!(
        (verdict.as_str(), channel.as_str()),
        ("channel_not_private", "platform_readable")
    );
}

/// A revoked consent (data erased) and an expired one: no data, audited as no consent.
async fn revoked_and_expired_consents_give_nothing(backend: &str) {
    let w = world(backend, "consent").await;
    let req = AccessRequest::customer(w.victim, Purpose::ServiceBalance, ChannelContext::WebChat);
    assert!(w.gate.balances(&req).await.is_ok());
    // Expired: the clock passes validUntil.
    w.clock.advance(Duration::days(91));
    denied(w.gate.balances(&req).await, DenyReason::NoConsent);
    w.clock.set(Utc::now());
    // Revoked: status changes and the cached data is erased.
    let mut c = w.store.consent(w.victim_consent).await.unwrap().unwrap();
    c.status = ConsentStatus::TerminatedByTpp;
    w.store.update_consent(&c).await.unwrap();
    w.store
        .delete_customer_financial_data(w.victim)
        .await
        .unwrap();
    denied(w.gate.balances(&req).await, DenyReason::NoConsent);
    let tx_req = AccessRequest {
        purpose: Purpose::ServiceTransactions,
        ..req.clone()
    };
    denied(
        w.gate
            .transactions(&tx_req, &TxFilter::default(), 0, 10)
            .await,
        DenyReason::NoConsent,
    );
    let (_, verdict, _, _) = last_audit(&w, w.victim).await;
    assert_eq!(verdict, "no_consent");
}

/// An agent with no case, with a case about someone else, or with a closed case, sees nothing.
async fn agent_outside_a_case_sees_nothing(backend: &str) {
    let w = world(backend, "agent").await;
    let other_case = w.gate.open_case("agent-7", w.attacker).await.unwrap();
    // Naming a case about another customer.
    let req = AccessRequest::agent("agent-7", w.victim, other_case, ChannelContext::WebChat);
    denied(w.gate.balances(&req).await, DenyReason::NotTheSubject);
    // Naming another agent's case about the victim.
    let theirs = w.gate.open_case("agent-8", w.victim).await.unwrap();
    let req = AccessRequest::agent("agent-7", w.victim, theirs, ChannelContext::WebChat);
    denied(w.gate.balances(&req).await, DenyReason::NotTheSubject);
    // The right agent, the right case — then closed.
    let req = AccessRequest::agent("agent-8", w.victim, theirs, ChannelContext::WebChat);
    assert!(w.gate.balances(&req).await.is_ok());
    // …but not for any other purpose than support.
    let ads = AccessRequest {
        purpose: Purpose::Marketing,
        ..req.clone()
    };
    denied(w.gate.balances(&ads).await, DenyReason::ForbiddenPurpose);
    assert!(w.gate.close_case(theirs).await.unwrap());
    denied(w.gate.balances(&req).await, DenyReason::NotTheSubject);
    let (actor, verdict, _, _) = last_audit(&w, w.victim).await;
    assert_eq!(
        (actor.as_str(), verdict.as_str()),
        ("agent:agent-8", "not_the_subject")
    );
}

/// A view link opens once; a replay, an expired link, a guessed token and a link whose consent
/// ended all show nothing, and the ones with a known customer are audited as denied.
async fn replayed_expired_and_guessed_view_links_show_nothing(backend: &str) {
    let w = world(backend, "view").await;
    let ttl = std::time::Duration::from_secs(300);
    let content = format!("{{\"saldo\":\"{VICTIM_BALANCE}\"}}");
    let token = w
        .gate
        .create_view_link(
            w.victim,
            Purpose::ServiceBalance,
            Lang::En,
            content.clone(),
            ttl,
        )
        .await
        .unwrap();
    assert!(!format!("{token:?}").contains(token.expose()));
    let shown = w.gate.open_view_link(token.expose()).await.unwrap();
    assert_eq!(shown.data().content, content);
    assert_eq!(shown.data().lang, Lang::En);
    let (actor, verdict, channel, action) = last_audit(&w, w.victim).await;
    assert_eq!(actor, format!("customer:{}", w.victim));
    assert_eq!(
        (verdict.as_str(), channel.as_str(), action.as_str()),
        ("allow", "bank_page", "view.masked_reply")
    );
    let opened_at = w.clock.now();
    // Replay: nothing shown, and the first replay names the link's owner and when it was opened,
    // so the owner can be told (once: later replays add no second notice).
    w.clock.advance(Duration::seconds(30));
    match w.gate.open_view_link(token.expose()).await {
        Err(ViewError::Used { lang, notice }) => {
            assert_eq!(lang, Lang::En);
            let notice = notice.expect("the first replay is noticed");
            assert_eq!(notice.customer, w.victim);
            assert_eq!(notice.opened_at, opened_at);
        }
        other => panic!("{:?}", other.map(|g| g.into_data())),
    }
    match w.gate.open_view_link(token.expose()).await {
        Err(ViewError::Used { notice: None, .. }) => {}
        other => panic!("{:?}", other.map(|g| g.into_data())),
    }
    let (_, verdict, _, _) = last_audit(&w, w.victim).await;
    assert_eq!(verdict, "link_used");
    // Expired.
    let late = w
        .gate
        .create_view_link(
            w.victim,
            Purpose::ServiceBalance,
            Lang::Pl,
            content.clone(),
            ttl,
        )
        .await
        .unwrap();
    w.clock.advance(Duration::seconds(301));
    assert!(matches!(
        w.gate.open_view_link(late.expose()).await,
        Err(ViewError::Expired { .. })
    ));
    let (_, verdict, _, _) = last_audit(&w, w.victim).await;
    assert_eq!(verdict, "link_expired");
    // Guessed tokens: well-formed or not, nothing.
    for guess in [
        "A".repeat(43),
        token.expose().chars().rev().collect::<String>(),
        String::new(),
        "../../etc/passwd".into(),
        "\u{202e}x".into(),
    ] {
        assert!(matches!(
            w.gate.open_view_link(&guess).await,
            Err(ViewError::Unknown)
        ));
    }
    // The consent ends between making and opening: the gate denies the view.
    let pending = w
        .gate
        .create_view_link(
            w.victim,
            Purpose::ServiceBalance,
            Lang::Pl,
            content.clone(),
            ttl,
        )
        .await
        .unwrap();
    let mut c = w.store.consent(w.victim_consent).await.unwrap().unwrap();
    c.status = ConsentStatus::Expired;
    w.store.update_consent(&c).await.unwrap();
    assert!(matches!(
        w.gate.open_view_link(pending.expose()).await,
        Err(ViewError::Denied { .. })
    ));
    let (_, verdict, _, _) = last_audit(&w, w.victim).await;
    assert_eq!(verdict, "no_consent");
    // Revoking erases pending links: the token is unknown now.
    let revoked = w
        .gate
        .create_view_link(w.victim, Purpose::ServiceBalance, Lang::Pl, content, ttl)
        .await
        .unwrap();
    w.store
        .delete_customer_financial_data(w.victim)
        .await
        .unwrap();
    assert!(matches!(
        w.gate.open_view_link(revoked.expose()).await,
        Err(ViewError::Unknown)
    ));
    assert!(w.gate.verify_audit().await.unwrap().intact);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name("sqlite").await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name("postgres").await;
                }
            )*
        }
    };
}

on_both_backends!(
    customer_asks_for_another_customers_data,
    guessed_transaction_ids_and_merchants_find_nothing,
    group_room_and_readable_platform_are_refused,
    revoked_and_expired_consents_give_nothing,
    agent_outside_a_case_sees_nothing,
    replayed_expired_and_guessed_view_links_show_nothing,
);

/// A test's PostgreSQL schema is dropped when its world goes, and also when the test fails
/// half-way (the world is dropped while a panic unwinds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schemas_are_dropped_after_each_test_even_a_failed_one() {
    let url = pg_url();
    let prefix = format!("exfil_{}_", std::process::id());
    let w = world("postgres", "cleanup_ok").await;
    let mine = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|n| n.ends_with("_cleanup_ok") || n.ends_with("_cleanup_panic"))
            .collect()
    };
    assert_eq!(mine(leftover_schemas(&url, &prefix).await).len(), 1);
    drop(w);
    assert!(mine(leftover_schemas(&url, &prefix).await).is_empty());
    let failed = tokio::spawn(async {
        let _w = world("postgres", "cleanup_panic").await;
        panic!("a failing test");
    })
    .await;
    assert!(failed.is_err());
    assert!(mine(leftover_schemas(&url, &prefix).await).is_empty());
}
