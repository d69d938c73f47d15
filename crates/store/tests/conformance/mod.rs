//! The store conformance suite: every test is an async fn over a fresh [`Ctx`], and
//! `conformance_tests!` instantiates all of them for one backend (see `sqlite.rs`, `postgres.rs`).
//! SQLite and PostgreSQL must pass the same tests.

#![allow(dead_code)]

pub mod alerts;
pub use alerts::*;
pub mod audit;
pub use audit::*;
pub mod fraud;
pub mod harness;
pub use fraud::*;
pub mod view_links;
pub use view_links::*;
pub mod corrections;
pub use corrections::*;
pub mod payees;
pub use payees::*;
pub mod messenger;
pub use messenger::*;
pub mod webchat_sessions;
pub use webchat_sessions::*;
pub mod conversations;
pub use conversations::*;
pub mod outbox;
pub use outbox::*;
pub mod payments;
pub mod support;
pub use payments::*;

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use okienko_core::transaction::Direction;
use okienko_core::{
    Account, AccountId, Balance, BalanceKind, BookingStatus, ConsentId, ConsentScope,
    ConsentStatus, Currency, CustomerId, Iban, Lang, Money, Transaction, TransactionId, TxFilter,
};
use okienko_store::{
    AccountRecord, ConsentRecord, CustomerRecord, KeyId, Keyring, MasterKey, NewTransaction, Store,
    StoreError, SyncState, TxBatch,
};
use rust_decimal::Decimal;

pub use harness::Ctx;
use harness::Raw;
pub use support::*;

/// Generates one `#[tokio::test]` per conformance test, each on a fresh database from `$make`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            customers_round_trip,
            consents_round_trip_and_lookups,
            consent_secrets_are_hidden_and_errors_carry_no_values,
            accounts_keep_their_id_on_upsert,
            balances_are_replaced_per_account,
            pending_to_booked_keeps_the_id,
            apply_transactions_is_atomic,
            stored_transactions_window,
            filter_matches_core_on_generated_set,
            paging_and_totals,
            transactions_by_ids_are_the_customers_own,
            merchants_are_distinct_and_sorted,
            delete_customer_financial_data_is_scoped_and_complete,
            access_budget_counts_and_stops,
            access_budget_race,
            sync_state_round_trip,
            audit_is_gapless_chained_and_append_only,
            audit_concurrent_appenders_stay_gapless,
            audit_batches_chain_like_single_appends,
            audit_tampering_of_each_kind_is_detected,
            audit_legacy_rows_are_kept_and_sealed,
            audit_checkpoint_repair_only_over_an_intact_chain,
            corrupt_rows_are_errors,
            bulk_insert_baseline,
            sealed_values_are_bound_to_their_row,
            wrong_master_key_is_a_clear_error,
            rotation_while_reading,
            erase_leaves_no_financial_row_and_no_key,
            view_link_opens_once_and_keeps_nothing,
            view_link_expires_and_is_purged,
            erase_deletes_pending_view_links,
            view_link_race_opens_exactly_once,
            view_link_replay_notice_is_claimed_once,
            support_staff_sessions_and_cases_round_trip,
            support_claim_race,
            support_conversation_lifecycle,
            support_transcripts_are_sealed_and_erased,
            payments_are_once_per_action_and_move_by_compare_and_set,
            payment_notices_are_claimed_once_and_swept,
            daily_limit_is_checked_and_recorded_atomically,
            payments_ended_before_migration_0023_are_not_told_again,
            payees_are_one_per_iban_counterparties_come_from_debits_and_erase_removes_them,
            fraud_episodes_round_trip_and_count,
            fraud_cases_are_one_per_episode,
            notice_deliveries_are_once_per_customer,
            held_warnings_are_once_due_in_order_and_released,
            category_corrections_are_per_customer_sealed_and_replaced,
            erase_deletes_category_corrections,
            alert_settings_are_sealed_replaced_and_erased,
            notices_are_once_per_event_and_digests_once_a_day,
            messenger_replays_are_once_and_purged,
            messenger_links_are_sealed_replaced_and_forgotten,
            webchat_sessions_resume_by_token_and_expire,
            webchat_replies_are_sealed_ordered_bounded_and_erased,
            messenger_codes_are_single_use_and_bound,
            conversations_are_sealed_versioned_and_compare_and_set,
            idle_conversations_are_purged,
            erase_deletes_conversations,
            outbox_puts_once_claims_reschedules_and_deletes,
            outbox_claimers_get_disjoint_rows,
            transactions_are_stored_with_their_announcement,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let ctx = $make(stringify!($name)).await;
                conformance::$name(&ctx).await;
                ctx.finish().await;
            }
        )*
    };
}

// ---------------------------------------------------------------- fixtures

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn pln(a: &str) -> Money {
    Money::parse(a, "PLN").unwrap()
}

pub fn customer_rec() -> CustomerRecord {
    CustomerRecord {
        id: CustomerId::new(),
        lang: Lang::Pl,
        tz: "Europe/Warsaw".into(),
        created_at: t("2026-01-05T10:00:00.123456789Z"),
    }
}

pub fn consent_rec(customer: CustomerId) -> ConsentRecord {
    ConsentRecord {
        id: ConsentId::new(),
        customer,
        bank: "sandbox".into(),
        bank_consent_id: None,
        status: ConsentStatus::Received,
        scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
        valid_until: d("2026-07-01"),
        frequency_per_day: 4,
        recurring: true,
        access_token: None,
        oauth_state: Some(format!("state-{}", ConsentId::new())),
        pkce_verifier: Some("verifier-secret".into()),
        created_at: t("2026-01-05T10:00:00Z"),
        updated_at: t("2026-01-05T10:00:00Z"),
    }
}

pub fn account_rec(customer: CustomerId, consent: ConsentId, resource: &str) -> AccountRecord {
    AccountRecord {
        account: Account {
            id: AccountId::new(),
            iban: Some("PL61109010140000071219812874".parse().unwrap()),
            currency: Currency::PLN,
            name: "Konto osobiste".into(),
        },
        customer,
        consent,
        bank_resource_id: resource.into(),
    }
}

/// A customer with one consent and one stored account.
pub async fn setup(store: &Store) -> (CustomerId, ConsentId, AccountId) {
    let c = customer_rec();
    store.upsert_customer(&c).await.unwrap();
    let consent = consent_rec(c.id);
    store.insert_consent(&consent).await.unwrap();
    let a = account_rec(c.id, consent.id, "acc-1");
    store.upsert_account(&a).await.unwrap();
    (c.id, consent.id, a.account.id)
}

pub fn new_tx(
    date: &str,
    amount: Money,
    merchant: Option<&str>,
    status: BookingStatus,
) -> NewTransaction {
    NewTransaction {
        id: TransactionId::new(),
        bank_transaction_id: Some(format!("bank-{}", TransactionId::new())),
        status,
        date: d(date),
        booking_date: (status == BookingStatus::Booked).then(|| d(date)),
        value_date: Some(d(date)),
        amount,
        merchant: merchant.map(str::to_owned),
        raw_description: format!("PLATNOSC KARTA {}", merchant.unwrap_or("PRZELEW")),
        category: Some("groceries".into()),
        counterparty_iban: None,
        end_to_end_id: Some("E2E-1".into()),
        fingerprint: format!("fp-{date}"),
    }
}

fn insert_only(rows: Vec<NewTransaction>) -> TxBatch {
    TxBatch {
        insert: rows,
        ..Default::default()
    }
}

/// One booked PLN transaction at `merchant`, inserted into `acc`.
async fn insert_booked(s: &Store, acc: AccountId, date: &str, amount: &str, merchant: &str) {
    let row = new_tx(date, pln(amount), Some(merchant), BookingStatus::Booked);
    s.apply_transactions(acc, &insert_only(vec![row]))
        .await
        .unwrap();
}

/// Deterministic xorshift, so a failing generated case replays exactly.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------- customers & consents

pub async fn customers_round_trip(ctx: &Ctx) {
    let s = &ctx.store;
    let mut c = customer_rec();
    assert_eq!(s.customer(c.id).await.unwrap(), None);
    s.upsert_customer(&c).await.unwrap();
    assert_eq!(s.customer(c.id).await.unwrap(), Some(c.clone()));
    let first_created = c.created_at;
    c.lang = Lang::En;
    c.tz = "Europe/London".into();
    c.created_at = t("2030-01-01T00:00:00Z");
    s.upsert_customer(&c).await.unwrap();
    let back = s.customer(c.id).await.unwrap().unwrap();
    assert_eq!(back.lang, Lang::En);
    assert_eq!(back.tz, "Europe/London");
    assert_eq!(
        back.created_at, first_created,
        "created_at is kept on upsert"
    );
}

pub async fn consents_round_trip_and_lookups(ctx: &Ctx) {
    let s = &ctx.store;
    let cust = customer_rec();
    s.upsert_customer(&cust).await.unwrap();
    let mut a = consent_rec(cust.id);
    let mut b = consent_rec(cust.id);
    b.created_at = t("2026-02-01T00:00:00Z");
    b.scopes = vec![];
    b.recurring = false;
    b.oauth_state = None;
    let other = consent_rec(CustomerId::new());
    s.insert_consent(&b).await.unwrap();
    s.insert_consent(&a).await.unwrap();
    s.insert_consent(&other).await.unwrap();

    assert_eq!(s.consent(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.consent(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(s.consent(ConsentId::new()).await.unwrap(), None);
    let state = a.oauth_state.clone().unwrap();
    assert_eq!(
        s.consent_by_oauth_state(&state).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(s.consent_by_oauth_state("nope").await.unwrap(), None);
    let mine = s.consents_for_customer(cust.id).await.unwrap();
    assert_eq!(
        mine,
        vec![a.clone(), b.clone()],
        "oldest first, other customers excluded"
    );

    // authorisation completes: state and verifier consumed, token stored, status valid
    a.status = ConsentStatus::Valid;
    a.bank_consent_id = Some("bank-consent-1".into());
    a.access_token = Some("tok".into());
    a.oauth_state = None;
    a.pkce_verifier = None;
    a.scopes.push(ConsentScope::Payments);
    a.frequency_per_day = 2;
    a.updated_at = t("2026-01-05T10:05:00Z");
    s.update_consent(&a).await.unwrap();
    assert_eq!(s.consent(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.consent_by_oauth_state(&state).await.unwrap(), None);

    let valid = s.consents_with_status(ConsentStatus::Valid).await.unwrap();
    assert_eq!(valid, vec![a.clone()]);
    // A bank notification names the consent by the bank's id.
    assert_eq!(
        s.consents_by_bank_consent_id("bank-consent-1")
            .await
            .unwrap(),
        vec![a.clone()]
    );
    assert!(
        s.consents_by_bank_consent_id("nope")
            .await
            .unwrap()
            .is_empty()
    );
    let received = s
        .consents_with_status(ConsentStatus::Received)
        .await
        .unwrap();
    let ids: HashSet<_> = received.iter().map(|c| c.id).collect();
    assert_eq!(ids, HashSet::from([b.id, other.id]));

    let ghost = consent_rec(cust.id);
    assert!(matches!(
        s.update_consent(&ghost).await,
        Err(StoreError::NotFound("consents"))
    ));
    assert!(
        matches!(s.insert_consent(&a).await, Err(StoreError::Query(f)) if f.is_unique_violation())
    );
}

pub async fn consent_secrets_are_hidden_and_errors_carry_no_values(ctx: &Ctx) {
    let s = &ctx.store;
    let mut c = consent_rec(CustomerId::new());
    c.access_token = Some("ACCESS-TOKEN-SECRET".into());
    c.oauth_state = Some("OAUTH-STATE-SECRET".into());
    let dbg = format!("{c:?}");
    for secret in [
        "ACCESS-TOKEN-SECRET",
        "OAUTH-STATE-SECRET",
        "verifier-secret",
    ] {
        assert!(!dbg.contains(secret), "Debug leaks {secret}");
    }
    s.insert_consent(&c).await.unwrap();
    let mut dup = consent_rec(c.customer);
    dup.oauth_state = c.oauth_state.clone();
    let err = s.insert_consent(&dup).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Query(f) if f.is_unique_violation()),
        "{err}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("OAUTH-STATE-SECRET"),
        "error leaks a row value: {text}"
    );
    assert!(
        !text.contains(&dup.id.to_string()),
        "error leaks a row value: {text}"
    );
}

// ---------------------------------------------------------------- accounts & balances

pub async fn accounts_keep_their_id_on_upsert(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, consent, acc) = setup(s).await;
    let first = s.accounts_for_customer(cust).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].account.id, acc);
    assert_eq!(
        first[0].account.iban.as_ref().map(Iban::expose),
        Some("PL61109010140000071219812874")
    );

    // The bank reports the same resource again; the sync builds a record with a fresh id.
    let mut again = account_rec(cust, consent, "acc-1");
    again.account.name = "Konto Plus".into();
    again.account.iban = None;
    assert_eq!(s.upsert_account_id(&again).await.unwrap(), acc);
    s.upsert_account(&again).await.unwrap();
    let now = s.accounts_for_customer(cust).await.unwrap();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].account.id, acc, "AccountId stays stable");
    assert_eq!(now[0].account.name, "Konto Plus");
    assert_eq!(now[0].account.iban, None);

    let mut eur = account_rec(cust, consent, "acc-2");
    eur.account.currency = Currency::EUR;
    eur.account.iban = Some("DE89370400440532013000".parse().unwrap());
    s.upsert_account(&eur).await.unwrap();
    let other_consent = consent_rec(cust);
    s.insert_consent(&other_consent).await.unwrap();
    let same_resource_other_consent = account_rec(cust, other_consent.id, "acc-1");
    s.upsert_account(&same_resource_other_consent)
        .await
        .unwrap();

    let all = s.accounts_for_customer(cust).await.unwrap();
    let ids: Vec<_> = all.iter().map(|a| a.account.id).collect();
    assert_eq!(
        ids,
        vec![acc, eur.account.id, same_resource_other_consent.account.id]
    );
    assert_eq!(all[1], eur);
    let by_consent = s.accounts_for_consent(consent).await.unwrap();
    assert_eq!(
        by_consent.iter().map(|a| a.account.id).collect::<Vec<_>>(),
        vec![acc, eur.account.id]
    );
    assert!(
        s.accounts_for_customer(CustomerId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn balances_are_replaced_per_account(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, consent, acc) = setup(s).await;
    let acc2 = account_rec(cust, consent, "acc-2");
    s.upsert_account(&acc2).await.unwrap();
    let bal = |a: AccountId, kind, amount: &str| Balance {
        account_id: a,
        kind,
        amount: pln(amount),
        reference_date: Some(d("2026-03-01")),
        fetched_at: t("2026-03-01T12:00:00.5Z"),
    };
    let b1 = vec![
        bal(acc, BalanceKind::InterimAvailable, "1234.56"),
        bal(acc, BalanceKind::ClosingBooked, "-0.01"),
    ];
    s.replace_balances(acc, &b1).await.unwrap();
    let b2 = vec![bal(
        acc2.account.id,
        BalanceKind::ClosingBooked,
        "99999999.99",
    )];
    s.replace_balances(acc2.account.id, &b2).await.unwrap();
    let all = s.balances_for_customer(cust).await.unwrap();
    assert_eq!(all, [b1.clone(), b2.clone()].concat());

    let mut newer = bal(acc, BalanceKind::InterimAvailable, "10.00");
    newer.reference_date = None;
    s.replace_balances(acc, std::slice::from_ref(&newer))
        .await
        .unwrap();
    let all = s.balances_for_customer(cust).await.unwrap();
    assert_eq!(all, vec![newer, b2[0].clone()]);
    // Both at once (on SQLite one direct read): the same as each alone.
    let (accounts, balances) = s.accounts_and_balances_for_customer(cust).await.unwrap();
    assert_eq!(accounts, s.accounts_for_customer(cust).await.unwrap());
    assert_eq!(accounts.len(), 2);
    assert_eq!(balances, all);
    let (none, nothing) = s
        .accounts_and_balances_for_customer(CustomerId::new())
        .await
        .unwrap();
    assert!(none.is_empty() && nothing.is_empty());

    assert!(matches!(
        s.replace_balances(acc, &b2).await,
        Err(StoreError::Invalid("balance.account_id"))
    ));
    let ghost = AccountId::new();
    assert!(matches!(
        s.replace_balances(ghost, &[bal(ghost, BalanceKind::ClosingBooked, "1.00")])
            .await,
        Err(StoreError::NotFound("accounts"))
    ));
    assert!(
        s.balances_for_customer(CustomerId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------- transactions

pub async fn pending_to_booked_keeps_the_id(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, _, acc) = setup(s).await;
    let pending = new_tx(
        "2026-03-10",
        pln("-42.50"),
        Some("Żabka"),
        BookingStatus::Pending,
    );
    let gone = new_tx(
        "2026-03-10",
        pln("-5.00"),
        Some("Kiosk"),
        BookingStatus::Pending,
    );
    s.apply_transactions(acc, &insert_only(vec![pending.clone(), gone.clone()]))
        .await
        .unwrap();

    let mut booked = pending.clone();
    booked.status = BookingStatus::Booked;
    booked.bank_transaction_id = Some("booked-bank-id".into());
    booked.date = d("2026-03-11");
    booked.booking_date = Some(d("2026-03-11"));
    booked.merchant = Some("Żabka Polska".into());
    let fresh = new_tx("2026-03-12", pln("1000.00"), None, BookingStatus::Booked);
    let batch = TxBatch {
        insert: vec![fresh.clone()],
        update: vec![booked.clone()],
        delete: vec![gone.id],
    };
    s.apply_transactions(acc, &batch).await.unwrap();

    let stored = s.stored_transactions(acc, d("2026-01-01")).await.unwrap();
    assert_eq!(stored, vec![booked.clone(), fresh.clone()]);
    let (page, total) = s
        .transactions_for_customer(cust, &TxFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        page[1].id, pending.id,
        "the booked row keeps the pending row's id"
    );
    assert_eq!(page[1].status, BookingStatus::Booked);
    assert_eq!(page[1].account_id, acc);
    assert_eq!(page[1].amount, pln("-42.50"));
    assert_eq!(page[1].merchant.as_deref(), Some("Żabka Polska"));
    assert_eq!(page[0].id, fresh.id);
    assert!(page[0].updated_at > Utc::now() - Duration::minutes(5));
}

pub async fn apply_transactions_is_atomic(ctx: &Ctx) {
    let s = &ctx.store;
    let (_, _, acc) = setup(s).await;
    let kept = new_tx(
        "2026-03-01",
        pln("-1.00"),
        Some("A"),
        BookingStatus::Pending,
    );
    s.apply_transactions(acc, &insert_only(vec![kept.clone()]))
        .await
        .unwrap();

    // An update naming an unknown row fails the batch; its delete and insert do not happen.
    let batch = TxBatch {
        insert: vec![new_tx(
            "2026-03-02",
            pln("-2.00"),
            Some("B"),
            BookingStatus::Booked,
        )],
        update: vec![new_tx(
            "2026-03-02",
            pln("-3.00"),
            Some("C"),
            BookingStatus::Booked,
        )],
        delete: vec![kept.id],
    };
    assert!(matches!(
        s.apply_transactions(acc, &batch).await,
        Err(StoreError::NotFound("transactions"))
    ));
    assert_eq!(
        s.stored_transactions(acc, d("2000-01-01")).await.unwrap(),
        vec![kept.clone()]
    );

    // Another account cannot touch this account's rows.
    let other = account_rec(CustomerId::new(), ConsentId::new(), "x");
    s.upsert_account(&other).await.unwrap();
    let steal = TxBatch {
        delete: vec![kept.id],
        ..Default::default()
    };
    assert!(matches!(
        s.apply_transactions(other.account.id, &steal).await,
        Err(StoreError::NotFound("transactions"))
    ));
    // Unknown account.
    assert!(matches!(
        s.apply_transactions(
            AccountId::new(),
            &insert_only(vec![new_tx(
                "2026-03-03",
                pln("1.00"),
                None,
                BookingStatus::Booked
            )])
        )
        .await,
        Err(StoreError::NotFound("accounts"))
    ));
    // Duplicate id inside one insert: nothing of the batch lands.
    let dup = new_tx("2026-03-04", pln("4.00"), None, BookingStatus::Booked);
    assert!(
        s.apply_transactions(acc, &insert_only(vec![dup.clone(), dup]))
            .await
            .is_err()
    );
    assert_eq!(
        s.stored_transactions(acc, d("2000-01-01")).await.unwrap(),
        vec![kept]
    );
}

pub async fn stored_transactions_window(ctx: &Ctx) {
    let s = &ctx.store;
    let (_, _, acc) = setup(s).await;
    let old_booked = new_tx("2026-01-10", pln("-1.00"), None, BookingStatus::Booked);
    let old_pending = new_tx("2026-01-11", pln("-2.00"), None, BookingStatus::Pending);
    let edge = new_tx("2026-02-01", pln("-3.00"), None, BookingStatus::Booked);
    let late = new_tx("2026-02-20", pln("-4.00"), None, BookingStatus::Pending);
    s.apply_transactions(
        acc,
        &insert_only(vec![
            late.clone(),
            edge.clone(),
            old_pending.clone(),
            old_booked,
        ]),
    )
    .await
    .unwrap();
    let got = s.stored_transactions(acc, d("2026-02-01")).await.unwrap();
    assert_eq!(
        got,
        vec![old_pending, edge, late],
        "on/after since, plus every pending, by date"
    );
    assert!(
        s.stored_transactions(AccountId::new(), d("2000-01-01"))
            .await
            .unwrap()
            .is_empty()
    );
}

const MERCHANTS: &[Option<&str>] = &[
    Some("Biedronka"),
    Some("Żabka"),
    Some("ŻABKA EXPRESS"),
    Some("zabka"),
    Some("Lidl"),
    Some("Orlen Łódź"),
    Some("50%_Sale"),
    Some("Café Łęcka"),
    None,
];

/// A customer with two accounts and ~400 generated transactions (plus a neighbour customer whose
/// rows must never show up). Returns the customer and the expected rows in insertion order.
async fn generated(s: &Store, seed: u64) -> (CustomerId, Vec<Transaction>) {
    let (cust, consent, acc1) = setup(s).await;
    let acc2 = account_rec(cust, consent, "acc-2");
    s.upsert_account(&acc2).await.unwrap();
    let (_, _, neighbour) = setup(s).await;
    let mut rng = Rng(seed);
    let base = d("2026-01-01");
    let mut expected = Vec::new();
    for round in 0..8 {
        for (acc, n) in [(acc1, 30), (acc2.account.id, 20), (neighbour, 5)] {
            let mut rows = Vec::new();
            for _ in 0..n {
                let date = base + Duration::days(rng.below(90) as i64);
                let cur = *rng.pick(&["PLN", "PLN", "PLN", "EUR", "JPY"]);
                let amount = match rng.below(6) {
                    0 => "-50".to_owned(),
                    1 => "50".to_owned(),
                    2 => "0".to_owned(),
                    _ => {
                        let v = rng.below(1_000_000) as i64 - 500_000;
                        if cur == "JPY" {
                            (v / 100).to_string()
                        } else {
                            format!("{}", Decimal::new(v, 2))
                        }
                    }
                };
                let merchant = *rng.pick(MERCHANTS);
                let status = if rng.below(4) == 0 {
                    BookingStatus::Pending
                } else {
                    BookingStatus::Booked
                };
                let mut tx = new_tx(
                    &date.to_string(),
                    Money::parse(&amount, cur).unwrap(),
                    merchant,
                    status,
                );
                if merchant.is_none() {
                    tx.raw_description = format!("PRZELEW OD ANNA ŁĘCKA nr {round}");
                }
                rows.push(tx);
            }
            s.apply_transactions(acc, &insert_only(rows.clone()))
                .await
                .unwrap();
            if acc != neighbour {
                expected.extend(rows.into_iter().map(|r| Transaction {
                    id: r.id,
                    account_id: acc,
                    status: r.status,
                    date: r.date,
                    booking_date: r.booking_date,
                    value_date: r.value_date,
                    amount: r.amount,
                    merchant: r.merchant,
                    raw_description: r.raw_description,
                    category: r.category,
                    updated_at: Utc::now(),
                }));
            }
        }
    }
    (cust, expected)
}

fn expected_ids(all: &[Transaction], f: &TxFilter) -> Vec<TransactionId> {
    let mut hits: Vec<(usize, &Transaction)> = all
        .iter()
        .enumerate()
        .filter(|(_, t)| f.matches(t))
        .collect();
    hits.sort_by(|(ia, a), (ib, b)| b.date.cmp(&a.date).then(ib.cmp(ia)));
    hits.into_iter().map(|(_, t)| t.id).collect()
}

fn filters(rng: &mut Rng) -> Vec<TxFilter> {
    let dec = |s: &str| Decimal::from_str(s).unwrap();
    let mut out = vec![
        TxFilter::default(),
        TxFilter {
            merchant: Some("zabka".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("Żabka".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("ŻABKA".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("biedronka".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("lodz".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("łęcka".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("LECKA".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("cafe".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("café".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("50%".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("%".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("_".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("0_s".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some(String::new()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("karta".into()),
            ..Default::default()
        },
        TxFilter {
            merchant: Some("no such shop".into()),
            ..Default::default()
        },
        TxFilter {
            amount_min: Some(dec("50")),
            ..Default::default()
        },
        TxFilter {
            amount_min: Some(dec("50.001")),
            ..Default::default()
        },
        TxFilter {
            amount_max: Some(dec("50")),
            ..Default::default()
        },
        TxFilter {
            amount_max: Some(dec("49.999")),
            ..Default::default()
        },
        TxFilter {
            amount_min: Some(dec("-10")),
            amount_max: Some(dec("0")),
            ..Default::default()
        },
        TxFilter {
            amount_min: Some(dec("100.5")),
            amount_max: Some(dec("2000")),
            ..Default::default()
        },
        TxFilter {
            amount_min: Some(Decimal::MAX),
            ..Default::default()
        },
        TxFilter {
            amount_max: Some(Decimal::MIN),
            ..Default::default()
        },
        TxFilter {
            currency: Some(Currency::EUR),
            ..Default::default()
        },
        TxFilter {
            currency: Some("JPY".parse().unwrap()),
            amount_min: Some(dec("50")),
            ..Default::default()
        },
        TxFilter {
            currency: Some(Currency::USD),
            ..Default::default()
        },
        TxFilter {
            direction: Some(Direction::Debit),
            ..Default::default()
        },
        TxFilter {
            direction: Some(Direction::Credit),
            ..Default::default()
        },
        TxFilter {
            date_from: Some(d("2026-02-01")),
            date_to: Some(d("2026-02-28")),
            ..Default::default()
        },
        TxFilter {
            date_from: Some(d("2026-03-31")),
            ..Default::default()
        },
        TxFilter {
            date_to: Some(d("2026-01-01")),
            ..Default::default()
        },
        TxFilter {
            date_from: Some(d("2026-02-10")),
            date_to: Some(d("2026-02-01")),
            ..Default::default()
        },
        TxFilter {
            date_from: Some(d("2026-01-15")),
            date_to: Some(d("2026-03-15")),
            merchant: Some("zabka".into()),
            amount_min: Some(dec("50")),
            direction: Some(Direction::Debit),
            currency: Some(Currency::PLN),
            ..Default::default()
        },
    ];
    let merchants = [
        "zabka",
        "Żab",
        "biedronka",
        "LIDL",
        "orlen",
        "łódź",
        "przelew",
        "a",
        "sale",
    ];
    for _ in 0..60 {
        let day = |rng: &mut Rng| Some(d("2026-01-01") + Duration::days(rng.below(95) as i64 - 2));
        let amt =
            |rng: &mut Rng| Some(Decimal::new(rng.below(600_000) as i64, rng.below(4) as u32));
        out.push(TxFilter {
            date_from: if rng.below(2) == 0 { day(rng) } else { None },
            date_to: if rng.below(2) == 0 { day(rng) } else { None },
            merchant: if rng.below(3) == 0 {
                Some(rng.pick(&merchants).to_string())
            } else {
                None
            },
            amount_min: if rng.below(3) == 0 { amt(rng) } else { None },
            amount_max: if rng.below(3) == 0 { amt(rng) } else { None },
            currency: match rng.below(5) {
                0 => Some(Currency::PLN),
                1 => Some(Currency::EUR),
                _ => None,
            },
            direction: match rng.below(4) {
                0 => Some(Direction::Debit),
                1 => Some(Direction::Credit),
                _ => None,
            },
        });
    }
    out
}

pub async fn filter_matches_core_on_generated_set(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, all) = generated(s, 0x5eed_0001).await;
    let mut rng = Rng(0x5eed_0002);
    let mut selective = 0;
    for f in filters(&mut rng) {
        let want = expected_ids(&all, &f);
        if !want.is_empty() && want.len() < all.len() {
            selective += 1;
        }
        let (page, total) = s
            .transactions_for_customer(cust, &f, 0, 10_000)
            .await
            .unwrap();
        let got: Vec<_> = page.iter().map(|t| t.id).collect();
        assert_eq!(got, want, "filter {f:?}");
        assert_eq!(total, want.len() as u64, "total for {f:?}");
    }
    assert!(
        selective >= 40,
        "the generated filters must discriminate ({selective})"
    );
    let zabka = TxFilter {
        merchant: Some("zabka".into()),
        ..Default::default()
    };
    let n = expected_ids(&all, &zabka).len();
    assert!(
        n > 20
            && all
                .iter()
                .filter(|t| t.merchant.as_deref() == Some("Żabka"))
                .count()
                > 5,
        "{n}"
    );
    // The rows come back whole.
    let (page, _) = s
        .transactions_for_customer(cust, &TxFilter::default(), 0, 10_000)
        .await
        .unwrap();
    for got in &page {
        let mut want = all.iter().find(|t| t.id == got.id).unwrap().clone();
        want.updated_at = got.updated_at;
        assert_eq!(got, &want);
    }
}

pub async fn paging_and_totals(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, all) = generated(s, 0x5eed_0003).await;
    let f = TxFilter {
        direction: Some(Direction::Debit),
        ..Default::default()
    };
    let want = expected_ids(&all, &f);
    assert!(want.len() > 50);
    let mut got = Vec::new();
    let mut offset = 0u64;
    loop {
        let (page, total) = s
            .transactions_for_customer(cust, &f, offset, 7)
            .await
            .unwrap();
        assert_eq!(total, want.len() as u64);
        assert!(page.len() <= 7);
        if page.is_empty() {
            break;
        }
        offset += page.len() as u64;
        got.extend(page.into_iter().map(|t| t.id));
    }
    assert_eq!(got, want);
    let (page, total) = s
        .transactions_for_customer(cust, &f, u64::MAX, 5)
        .await
        .unwrap();
    assert!(page.is_empty());
    assert_eq!(total, want.len() as u64);
    let (page, total) = s.transactions_for_customer(cust, &f, 0, 0).await.unwrap();
    assert!(page.is_empty());
    assert_eq!(total, want.len() as u64);
    let (page, total) = s
        .transactions_for_customer(CustomerId::new(), &f, 0, 5)
        .await
        .unwrap();
    assert!(page.is_empty());
    assert_eq!(total, 0);
}

pub async fn transactions_by_ids_are_the_customers_own(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, all) = generated(s, 0x5eed_0004).await;
    let wanted: Vec<&Transaction> = all.iter().step_by(7).collect();
    assert!(wanted.len() > 20);
    let mut ids: Vec<TransactionId> = wanted.iter().map(|t| t.id).collect();
    // An id that was never stored is left out, not an error.
    ids.push(TransactionId::new());
    let got = s.transactions_by_ids(cust, &ids).await.unwrap();
    assert_eq!(got.len(), wanted.len());
    for t in &wanted {
        let g = got.iter().find(|g| g.id == t.id).expect("asked for");
        // The same row, decrypted (only the store's write time is its own).
        let mut same = (*t).clone();
        same.updated_at = g.updated_at;
        assert_eq!(g, &same);
    }
    assert!(
        got.windows(2).all(|w| w[0].date <= w[1].date),
        "oldest first"
    );
    // The same ids asked for as another customer: none of them is theirs.
    assert!(
        s.transactions_by_ids(CustomerId::new(), &ids)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.transactions_by_ids(cust, &[]).await.unwrap().is_empty());
    let too_many: Vec<TransactionId> = (0..5_001).map(|_| TransactionId::new()).collect();
    assert!(matches!(
        s.transactions_by_ids(cust, &too_many).await,
        Err(StoreError::Invalid(_))
    ));
}

pub async fn merchants_are_distinct_and_sorted(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, _, acc) = setup(s).await;
    let (_, _, other) = setup(s).await;
    let rows = [
        "Żabka",
        "Lidl",
        "Zara",
        "Żabka",
        "Biedronka",
        "Auchan",
        "lidl",
    ]
    .iter()
    .map(|m| new_tx("2026-03-01", pln("-1.00"), Some(m), BookingStatus::Booked))
    .chain([new_tx(
        "2026-03-01",
        pln("-1.00"),
        None,
        BookingStatus::Booked,
    )])
    .collect();
    s.apply_transactions(acc, &insert_only(rows)).await.unwrap();
    insert_booked(s, other, "2026-03-01", "-1.00", "Secret Shop").await;
    // Twice: on SQLite the second answer is the copy kept since the first.
    for _ in 0..2 {
        assert_eq!(
            s.merchants_for_customer(cust).await.unwrap(),
            vec!["Auchan", "Biedronka", "Lidl", "lidl", "Żabka", "Zara"]
        );
    }
    // A new transaction is seen at once.
    insert_booked(s, acc, "2026-03-02", "-3.00", "Rossmann").await;
    assert_eq!(
        s.merchants_for_customer(cust).await.unwrap(),
        vec![
            "Auchan",
            "Biedronka",
            "Lidl",
            "lidl",
            "Rossmann",
            "Żabka",
            "Zara"
        ]
    );
    // So is a write made past this handle (another process on the same file, an operator).
    let sql = "DELETE FROM transactions WHERE account_id = $1";
    match &ctx.raw {
        Raw::Sqlite(p) => {
            sqlx::query(sql)
                .bind(acc.to_string())
                .execute(p)
                .await
                .unwrap();
        }
        Raw::Postgres(p) => {
            sqlx::query(sql)
                .bind(acc.to_string())
                .execute(p)
                .await
                .unwrap();
        }
    }
    assert!(s.merchants_for_customer(cust).await.unwrap().is_empty());
}

pub async fn delete_customer_financial_data_is_scoped_and_complete(ctx: &Ctx) {
    let s = &ctx.store;
    const MARKER: &str = "qqerasemarkerzz";
    let (victim, consent, acc) = setup(s).await;
    let acc2 = account_rec(victim, consent, "acc-2");
    s.upsert_account(&acc2).await.unwrap();
    let (keeper, keeper_consent, keeper_acc) = setup(s).await;
    let mut c = s.consent(consent).await.unwrap().unwrap();
    c.access_token = Some("victim-token".into());
    s.update_consent(&c).await.unwrap();
    let mut kc = s.consent(keeper_consent).await.unwrap().unwrap();
    kc.access_token = Some("keeper-token".into());
    s.update_consent(&kc).await.unwrap();

    let rows = |n: usize| -> Vec<NewTransaction> {
        (0..n)
            .map(|i| {
                new_tx(
                    &format!("2026-03-{:02}", i % 28 + 1),
                    pln("-12.34"),
                    Some(MARKER),
                    BookingStatus::Booked,
                )
            })
            .collect()
    };
    s.apply_transactions(acc, &insert_only(rows(30)))
        .await
        .unwrap();
    s.apply_transactions(acc2.account.id, &insert_only(rows(5)))
        .await
        .unwrap();
    s.apply_transactions(keeper_acc, &insert_only(rows(3)))
        .await
        .unwrap();
    let bal = |a| Balance {
        account_id: a,
        kind: BalanceKind::InterimAvailable,
        amount: pln("777.00"),
        reference_date: None,
        fetched_at: Utc::now(),
    };
    s.replace_balances(acc, &[bal(acc)]).await.unwrap();
    s.replace_balances(keeper_acc, &[bal(keeper_acc)])
        .await
        .unwrap();
    for a in [acc, keeper_acc] {
        s.set_sync_state(&SyncState {
            account: a,
            last_sync_at: Utc::now(),
            last_booked_date: None,
        })
        .await
        .unwrap();
    }
    let audit = okienko_store::AuditEntry {
        at: Utc::now(),
        actor: "privacy".into(),
        subject: victim.to_string(),
        purpose: "service.balance".into(),
        action: "read".into(),
        decision: "allow".into(),
        channel: "web".into(),
    };
    s.append_audit(&audit).await.unwrap();

    // 35 transactions + 1 balance + 1 sync state + 2 accounts
    assert_eq!(s.delete_customer_financial_data(victim).await.unwrap(), 39);

    assert!(s.accounts_for_customer(victim).await.unwrap().is_empty());
    assert!(s.balances_for_customer(victim).await.unwrap().is_empty());
    assert_eq!(
        s.transactions_for_customer(victim, &TxFilter::default(), 0, 10)
            .await
            .unwrap()
            .1,
        0
    );
    assert!(s.merchants_for_customer(victim).await.unwrap().is_empty());
    assert_eq!(s.sync_state(acc).await.unwrap(), None);
    let c = s.consent(consent).await.unwrap().unwrap();
    assert_eq!((c.access_token, c.pkce_verifier), (None, None));
    assert_eq!(
        c.status,
        ConsentStatus::Received,
        "the consent record itself stays"
    );
    assert!(s.customer(victim).await.unwrap().is_some());
    for a in [acc.to_string(), acc2.account.id.to_string()] {
        for sql in [
            "SELECT COUNT(*) FROM transactions WHERE account_id = $1",
            "SELECT COUNT(*) FROM balances WHERE account_id = $1",
            "SELECT COUNT(*) FROM sync_state WHERE account_id = $1",
            "SELECT COUNT(*) FROM accounts WHERE id = $1",
        ] {
            assert_eq!(ctx.count(sql, &a).await, 0, "{sql}");
        }
    }
    // The neighbour is untouched; the audit log too.
    assert_eq!(s.accounts_for_customer(keeper).await.unwrap().len(), 1);
    assert_eq!(s.balances_for_customer(keeper).await.unwrap().len(), 1);
    assert_eq!(
        s.transactions_for_customer(keeper, &TxFilter::default(), 0, 10)
            .await
            .unwrap()
            .1,
        3
    );
    assert!(s.sync_state(keeper_acc).await.unwrap().is_some());
    assert_eq!(
        s.consent(keeper_consent)
            .await
            .unwrap()
            .unwrap()
            .access_token
            .as_deref(),
        Some("keeper-token")
    );
    assert_eq!(s.last_audit().await.unwrap().map(|r| r.seq), Some(1));
    assert_eq!(s.delete_customer_financial_data(victim).await.unwrap(), 0);

    // On SQLite the bytes are gone from the files too (secure_delete + WAL truncation).
    if let Some(file) = &ctx.db_file {
        s.delete_customer_financial_data(keeper).await.unwrap();
        let mut wal = file.clone().into_os_string();
        wal.push("-wal");
        let mut checked = 0;
        for path in [file.clone(), wal.into()] {
            if let Ok(bytes) = std::fs::read(&path) {
                checked += 1;
                let found = bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());
                assert!(!found, "erased text still in {}", path.display());
            }
        }
        assert!(checked >= 1, "the database file was read");
    }
}

// ---------------------------------------------------------------- budget & sync state

pub async fn access_budget_counts_and_stops(ctx: &Ctx) {
    let s = &ctx.store;
    let consent = ConsentId::new();
    let day = d("2026-03-01");
    for want in 1..=4 {
        assert_eq!(
            s.take_access_budget(consent, "acc-1", day, 4)
                .await
                .unwrap(),
            want
        );
    }
    for _ in 0..3 {
        assert!(matches!(
            s.take_access_budget(consent, "acc-1", day, 4).await,
            Err(StoreError::BudgetExhausted)
        ));
    }
    assert_eq!(
        s.access_budget_used(consent, "acc-1", day).await.unwrap(),
        4
    );
    // per account, per day, per consent
    assert_eq!(
        s.take_access_budget(consent, "acc-2", day, 4)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.take_access_budget(consent, "acc-1", day.succ_opt().unwrap(), 4)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.take_access_budget(ConsentId::new(), "acc-1", day, 4)
            .await
            .unwrap(),
        1
    );
    // a raised limit lets more through, a zero limit none
    assert_eq!(
        s.take_access_budget(consent, "acc-1", day, 5)
            .await
            .unwrap(),
        5
    );
    assert!(matches!(
        s.take_access_budget(ConsentId::new(), "acc-1", day, 0)
            .await,
        Err(StoreError::BudgetExhausted)
    ));
    assert_eq!(
        s.access_budget_used(ConsentId::new(), "x", day)
            .await
            .unwrap(),
        0
    );
}

pub async fn access_budget_race(ctx: &Ctx) {
    let s = Arc::new(ctx.store.clone());
    let consent = ConsentId::new();
    let day = d("2026-03-02");
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                s.take_access_budget(consent, "acc-1", day, 4).await
            })
        })
        .collect();
    let mut ok = Vec::new();
    let mut exhausted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(n) => ok.push(n),
            Err(StoreError::BudgetExhausted) => exhausted += 1,
            Err(e) => panic!("unexpected error under contention: {e}"),
        }
    }
    ok.sort();
    assert_eq!(
        ok,
        vec![1, 2, 3, 4],
        "exactly four takes succeed, each with its own count"
    );
    assert_eq!(exhausted, 16);
    assert_eq!(
        s.access_budget_used(consent, "acc-1", day).await.unwrap(),
        4
    );
}

pub async fn sync_state_round_trip(ctx: &Ctx) {
    let s = &ctx.store;
    let (_, _, acc) = setup(s).await;
    assert_eq!(s.sync_state(acc).await.unwrap(), None);
    let mut st = SyncState {
        account: acc,
        last_sync_at: t("2026-03-01T06:00:00.000000001Z"),
        last_booked_date: None,
    };
    s.set_sync_state(&st).await.unwrap();
    assert_eq!(s.sync_state(acc).await.unwrap(), Some(st.clone()));
    st.last_sync_at = Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap();
    st.last_booked_date = Some(d("2026-03-01"));
    s.set_sync_state(&st).await.unwrap();
    assert_eq!(s.sync_state(acc).await.unwrap(), Some(st));
    let ghost = SyncState {
        account: AccountId::new(),
        last_sync_at: Utc::now(),
        last_booked_date: None,
    };
    assert!(matches!(
        s.set_sync_state(&ghost).await,
        Err(StoreError::NotFound("accounts"))
    ));
}

// ---------------------------------------------------------------- audit: see audit.rs

// ---------------------------------------------------------------- corrupt rows & bench

pub async fn corrupt_rows_are_errors(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, consent, acc) = setup(s).await;
    insert_booked(s, acc, "2026-03-01", "-1.00", "X").await;
    s.replace_balances(
        acc,
        &[Balance {
            account_id: acc,
            kind: BalanceKind::ClosingBooked,
            amount: pln("5.00"),
            reference_date: None,
            fetched_at: Utc::now(),
        }],
    )
    .await
    .unwrap();

    ctx.exec("UPDATE accounts SET currency = 'QQQ'")
        .await
        .unwrap();
    assert!(matches!(
        s.accounts_for_consent(consent).await,
        Err(StoreError::Corrupt("accounts.currency"))
    ));
    ctx.exec("UPDATE accounts SET currency = 'PLN'")
        .await
        .unwrap();
    // A sealed value from another table does not authenticate here: Corrupt, naming the column.
    ctx.exec("UPDATE accounts SET sealed = (SELECT sealed FROM balances LIMIT 1)")
        .await
        .unwrap();
    let err = s.accounts_for_customer(cust).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt("accounts.sealed")),
        "{err}"
    );
    assert!(
        !format!("{err} {err:?}").contains("7121981"),
        "error names the value"
    );

    ctx.exec("UPDATE transactions SET currency = 'XYZ'")
        .await
        .unwrap();
    assert!(matches!(
        s.transactions_for_customer(cust, &TxFilter::default(), 0, 10)
            .await,
        Err(StoreError::Corrupt("transactions.currency"))
    ));
    ctx.exec(
        "UPDATE transactions SET currency = 'PLN', \
         sealed = (SELECT sealed FROM balances LIMIT 1)",
    )
    .await
    .unwrap();
    assert!(matches!(
        s.stored_transactions(acc, d("2000-01-01")).await,
        Err(StoreError::Corrupt("transactions.sealed"))
    ));
    ctx.exec("UPDATE transactions SET date = '2026-02-30'")
        .await
        .unwrap();
    assert!(matches!(
        s.stored_transactions(acc, d("2000-01-01")).await,
        Err(StoreError::Corrupt("transactions.date"))
    ));
    ctx.exec("UPDATE balances SET kind = 'expected'")
        .await
        .unwrap();
    assert!(matches!(
        s.balances_for_customer(cust).await,
        Err(StoreError::Corrupt("balances.kind"))
    ));
    ctx.exec("UPDATE consents SET status = 'weird'")
        .await
        .unwrap();
    assert!(matches!(
        s.consent(consent).await,
        Err(StoreError::Corrupt("consents.status"))
    ));
    ctx.exec("UPDATE consents SET status = 'valid', scopes = 'balances,everything'")
        .await
        .unwrap();
    assert!(matches!(
        s.consent(consent).await,
        Err(StoreError::Corrupt("consents.scopes"))
    ));
    ctx.exec("UPDATE customers SET lang = 'xx'").await.unwrap();
    assert!(matches!(
        s.customer(cust).await,
        Err(StoreError::Corrupt("customers.lang"))
    ));
    ctx.exec("UPDATE sync_state SET last_sync_at = 'x'")
        .await
        .unwrap();
}

pub async fn bulk_insert_baseline(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, _, acc) = setup(s).await;
    let rows: Vec<_> = (0..1234)
        .map(|i| {
            new_tx(
                &format!("2026-02-{:02}", i % 28 + 1),
                pln("-3.21"),
                Some("Bench"),
                BookingStatus::Booked,
            )
        })
        .collect();
    s.bulk_insert_transactions_baseline(acc, &rows)
        .await
        .unwrap();
    assert_eq!(
        s.stored_transactions(acc, d("2000-01-01"))
            .await
            .unwrap()
            .len(),
        1234
    );
    let f = TxFilter {
        merchant: Some("bench".into()),
        ..Default::default()
    };
    assert_eq!(
        s.transactions_for_customer(cust, &f, 0, 1).await.unwrap().1,
        1234
    );
}

// ---------------------------------------------------------------- encryption at rest

/// Ciphertexts moved between rows or columns fail authentication: `Corrupt(column)`, never the
/// other row's data.
pub async fn sealed_values_are_bound_to_their_row(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, consent, acc) = setup(s).await;
    let a = new_tx(
        "2026-03-01",
        pln("-1.00"),
        Some("Alfa"),
        BookingStatus::Booked,
    );
    let b = new_tx(
        "2026-03-02",
        pln("-2.00"),
        Some("Beta"),
        BookingStatus::Booked,
    );
    s.apply_transactions(acc, &insert_only(vec![a.clone(), b.clone()]))
        .await
        .unwrap();
    let copy_tx = "UPDATE transactions SET sealed = \
                   (SELECT t2.sealed FROM transactions t2 WHERE t2.id = $2) WHERE id = $1";
    assert_eq!(
        ctx.exec2(copy_tx, &a.id.to_string(), &b.id.to_string())
            .await,
        1
    );
    let err = s
        .transactions_for_customer(cust, &TxFilter::default(), 0, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt("transactions.sealed")),
        "{err}"
    );
    assert!(matches!(
        s.stored_transactions(acc, d("2000-01-01")).await,
        Err(StoreError::Corrupt("transactions.sealed"))
    ));

    // Another customer's account ciphertext (another data key) does not open either.
    let (other_cust, _, other_acc) = setup(s).await;
    let copy_acc = "UPDATE accounts SET sealed = \
                    (SELECT a2.sealed FROM accounts a2 WHERE a2.id = $2) WHERE id = $1";
    ctx.exec2(copy_acc, &acc.to_string(), &other_acc.to_string())
        .await;
    assert!(matches!(
        s.accounts_for_customer(cust).await,
        Err(StoreError::Corrupt("accounts.sealed"))
    ));
    assert_eq!(s.accounts_for_customer(other_cust).await.unwrap().len(), 1);

    // Two consents of one customer (same data key): the row id alone tells them apart.
    let mut c1 = s.consent(consent).await.unwrap().unwrap();
    c1.access_token = Some("token-one".into());
    s.update_consent(&c1).await.unwrap();
    let mut c2 = consent_rec(cust);
    c2.access_token = Some("token-two".into());
    s.insert_consent(&c2).await.unwrap();
    let copy_consent = "UPDATE consents SET sealed = \
                        (SELECT c2.sealed FROM consents c2 WHERE c2.id = $2) WHERE id = $1";
    ctx.exec2(copy_consent, &consent.to_string(), &c2.id.to_string())
        .await;
    assert!(matches!(
        s.consent(consent).await,
        Err(StoreError::Corrupt("consents.sealed"))
    ));
    assert_eq!(
        s.consent(c2.id)
            .await
            .unwrap()
            .unwrap()
            .access_token
            .as_deref(),
        Some("token-two")
    );

    // Balances are bound to their position too.
    let bal = |amount: &str| Balance {
        account_id: other_acc,
        kind: BalanceKind::ClosingBooked,
        amount: pln(amount),
        reference_date: None,
        fetched_at: t("2026-03-01T00:00:00Z"),
    };
    s.replace_balances(other_acc, &[bal("1.00"), bal("2.00")])
        .await
        .unwrap();
    ctx.exec2(
        "UPDATE balances SET sealed = (SELECT b2.sealed FROM balances b2 \
         WHERE b2.account_id = $1 AND b2.pos = 1) WHERE account_id = $1 AND pos = CAST($2 AS BIGINT)",
        &other_acc.to_string(),
        "0",
    )
    .await;
    assert!(matches!(
        s.balances_for_customer(other_cust).await,
        Err(StoreError::Corrupt("balances.sealed"))
    ));
}

/// Opening the database with the wrong master key fails at connect with a clear error that
/// names the key id, never the key.
pub async fn wrong_master_key_is_a_clear_error(ctx: &Ctx) {
    let s = &ctx.store;
    let (cust, _, acc) = setup(s).await;
    insert_booked(s, acc, "2026-03-01", "-5.00", "X").await;
    let wrong = MasterKey::from_bytes([8; 32]);
    let wrong_b64 = wrong.to_base64();
    let err = ctx
        .reopen(Keyring::single(KeyId::new("test-1").unwrap(), wrong))
        .await
        .err()
        .expect("wrong key refused");
    assert!(
        matches!(&err, StoreError::WrongMasterKey(id) if id == "test-1"),
        "{err}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("test-1") && !text.contains(wrong_b64.as_str()),
        "{text}"
    );

    let err = ctx
        .reopen(Keyring::single(
            KeyId::new("other").unwrap(),
            MasterKey::generate(),
        ))
        .await
        .err()
        .expect("a keyring without the data keys' master key is refused");
    assert!(
        matches!(&err, StoreError::UnknownMasterKey(id) if id == "test-1"),
        "{err}"
    );

    // The right key in a bigger ring reads fine.
    let mut ring = harness::keyring();
    ring.old
        .push((KeyId::new("spare").unwrap(), MasterKey::generate()));
    let again = ctx.reopen(ring).await.unwrap();
    assert_eq!(
        again
            .transactions_for_customer(cust, &TxFilter::default(), 0, 10)
            .await
            .unwrap()
            .1,
        1
    );
    again.close().await;
}

/// Re-wrapping every data key under a new master key while readers and writers keep going.
pub async fn rotation_while_reading(ctx: &Ctx) {
    let s = &ctx.store;
    // More customers with data keys than one rotation batch holds.
    const CUSTOMERS: usize = 230;
    let (cust, consent, acc) = setup(s).await;
    let rows: Vec<_> = (0..50)
        .map(|i| {
            new_tx(
                &format!("2026-03-{:02}", i % 28 + 1),
                pln("-7.00"),
                Some("Rotacja"),
                BookingStatus::Booked,
            )
        })
        .collect();
    s.apply_transactions(acc, &insert_only(rows)).await.unwrap();
    let mut consents = vec![consent];
    for i in 0..CUSTOMERS - 1 {
        let mut c = consent_rec(CustomerId::new());
        c.access_token = Some(format!("token-{i}"));
        s.insert_consent(&c).await.unwrap();
        consents.push(c.id);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..2 {
        let (s, stop, consents) = (s.clone(), stop.clone(), consents.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 3 {
                let (page, total) = s
                    .transactions_for_customer(cust, &TxFilter::default(), 0, 5)
                    .await
                    .expect("read during rotation");
                assert_eq!((page.len(), total), (5, 50));
                let id = consents[(reads as usize * 7 + r) % consents.len()];
                s.consent(id).await.expect("consent during rotation");
                reads += 1;
            }
            reads
        }));
    }
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                let mut c = consent_rec(CustomerId::new());
                c.access_token = Some("written-during-rotation".into());
                s.insert_consent(&c).await.expect("write during rotation");
            }
        })
    };
    let new_id = KeyId::new("test-2").unwrap();
    let new_key = MasterKey::from_bytes([9; 32]);
    let rewrapped = s
        .rotate_master_key((new_id.clone(), new_key.clone()))
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.await.unwrap() >= 3);
    }
    writer.await.unwrap();
    // Every key that existed before the rotation started was re-wrapped (keys the writer
    // created meanwhile may already have been made under the new key).
    assert!(
        (CUSTOMERS as u64..=CUSTOMERS as u64 + 20).contains(&rewrapped),
        "{rewrapped}"
    );
    assert_eq!(
        s.rotate_master_key((new_id.clone(), new_key.clone()))
            .await
            .unwrap(),
        0
    );

    // The new key alone now opens and reads everything; the old one alone no longer does.
    let only_new = ctx.reopen(Keyring::single(new_id, new_key)).await.unwrap();
    assert_eq!(
        only_new
            .transactions_for_customer(cust, &TxFilter::default(), 0, 1)
            .await
            .unwrap()
            .1,
        50
    );
    let last = consents[consents.len() - 1];
    assert!(
        only_new
            .consent(last)
            .await
            .unwrap()
            .unwrap()
            .access_token
            .is_some()
    );
    only_new.close().await;
    let err = ctx
        .reopen(harness::keyring())
        .await
        .err()
        .expect("old key alone refused");
    assert!(
        matches!(&err, StoreError::UnknownMasterKey(id) if id == "test-2"),
        "{err}"
    );
}

/// After erasure nothing financial of the customer is left in any table, and their data key
/// row is gone; consent records stay with their secrets cleared.
pub async fn erase_leaves_no_financial_row_and_no_key(ctx: &Ctx) {
    let s = &ctx.store;
    let (victim, consent, acc) = setup(s).await;
    let mut c = s.consent(consent).await.unwrap().unwrap();
    c.access_token = Some("victim-token".into());
    s.update_consent(&c).await.unwrap();
    insert_booked(s, acc, "2026-03-01", "-9.99", "Sklep").await;
    s.replace_balances(
        acc,
        &[Balance {
            account_id: acc,
            kind: BalanceKind::ClosingBooked,
            amount: pln("10.00"),
            reference_date: None,
            fetched_at: Utc::now(),
        }],
    )
    .await
    .unwrap();
    s.delete_customer_financial_data(victim).await.unwrap();
    let v = victim.to_string();
    for sql in [
        "SELECT COUNT(*) FROM accounts WHERE customer_id = $1",
        "SELECT COUNT(*) FROM balances WHERE account_id IN (SELECT id FROM accounts WHERE customer_id = $1)",
        "SELECT COUNT(*) FROM transactions WHERE account_id IN (SELECT id FROM accounts WHERE customer_id = $1)",
        "SELECT COUNT(*) FROM consents WHERE customer_id = $1 AND (sealed IS NOT NULL \
         OR access_token IS NOT NULL OR pkce_verifier IS NOT NULL)",
    ] {
        assert_eq!(ctx.count(sql, &v).await, 0, "{sql}");
    }
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM transactions WHERE account_id = $1",
            &acc.to_string()
        )
        .await,
        0
    );
    if ctx.db_file.is_none() {
        // PostgreSQL keeps the key table in the same schema; SQLite's is checked in sqlite.rs.
        assert_eq!(
            ctx.count(
                "SELECT COUNT(*) FROM customer_keys WHERE customer_id = $1",
                &v
            )
            .await,
            0
        );
    }
    // A new consent after erasure gets a new data key and works.
    let mut fresh = consent_rec(victim);
    fresh.access_token = Some("new-token".into());
    s.insert_consent(&fresh).await.unwrap();
    assert_eq!(
        s.consent(fresh.id)
            .await
            .unwrap()
            .unwrap()
            .access_token
            .as_deref(),
        Some("new-token")
    );
}
