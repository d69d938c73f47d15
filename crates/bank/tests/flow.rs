//! End-to-end over real sockets: the sandbox bank, the NextGenPSD2 connector, the sync engine,
//! the link service, and a SQLite store. The bank's own truth (`/sandbox/customers/anna`) is the
//! oracle for accounts, balances and every transaction.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Months, NaiveDate};
use common::{Harness, PSU_IP, start_day};
use okienko_bank::{AccessCtx, BankConnector, BankError, LinkStatus, Presence};
use okienko_core::{AccountId, BalanceKind, BookingStatus, ConsentStatus, TransactionId, TxFilter};
use rust_decimal::Decimal;
use serde_json::Value;

fn present() -> Presence {
    Presence::CustomerPresent { ip: PSU_IP.into() }
}

/// The first sync reads two years back from the first day.
fn window_from() -> NaiveDate {
    start_day()
        .checked_sub_months(Months::new(24))
        .unwrap()
        .succ_opt()
        .unwrap()
}

type Key = (String, String, String); // (status, date, amount)

/// Per resource id: the multiset of (status, date, amount) the bank says exists in our window.
fn truth_rows(truth: &Value) -> BTreeMap<String, BTreeMap<Key, usize>> {
    let from = window_from().to_string();
    let mut out = BTreeMap::new();
    for a in truth["accounts"].as_array().unwrap() {
        let rid = a["resourceId"].as_str().unwrap().to_owned();
        let mut m: BTreeMap<Key, usize> = BTreeMap::new();
        for t in a["transactions"].as_array().unwrap() {
            let status = t["status"].as_str().unwrap().to_owned();
            let date = if status == "booked" {
                t["bookingDate"].as_str().unwrap().to_owned()
            } else {
                t["entryDate"].as_str().unwrap().to_owned()
            };
            if date < from {
                continue;
            }
            let amount = t["amount"].as_str().unwrap().to_owned();
            *m.entry((status, date, amount)).or_default() += 1;
        }
        out.insert(rid, m);
    }
    out
}

async fn store_rows(h: &Harness) -> BTreeMap<String, BTreeMap<Key, usize>> {
    let accounts = h.store.accounts_for_customer(h.customer).await.unwrap();
    let rid: HashMap<AccountId, String> = accounts
        .iter()
        .map(|a| (a.account.id, a.bank_resource_id.clone()))
        .collect();
    let (rows, total) = h
        .store
        .transactions_for_customer(h.customer, &TxFilter::default(), 0, 1_000_000)
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, total);
    let mut out: BTreeMap<String, BTreeMap<Key, usize>> = BTreeMap::new();
    for a in &accounts {
        out.insert(a.bank_resource_id.clone(), BTreeMap::new());
    }
    for t in rows {
        let key = (
            t.status.as_str().to_owned(),
            t.date.to_string(),
            t.amount.amount_string(),
        );
        *out.get_mut(&rid[&t.account_id])
            .unwrap()
            .entry(key)
            .or_default() += 1;
    }
    out
}

fn sum(m: &BTreeMap<Key, usize>) -> Decimal {
    m.iter()
        .map(|((_, _, a), n)| a.parse::<Decimal>().unwrap() * Decimal::from(*n))
        .sum()
}

/// Accounts, balances and every transaction agree with the bank, with no duplicates.
async fn assert_matches_truth(h: &Harness) {
    let truth = h.truth("anna").await;
    let accounts = h.store.accounts_for_customer(h.customer).await.unwrap();
    let t_accounts = truth["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), t_accounts.len(), "same number of accounts");
    let balances = h.store.balances_for_customer(h.customer).await.unwrap();
    for ta in t_accounts {
        let rid = ta["resourceId"].as_str().unwrap();
        let a = accounts
            .iter()
            .find(|a| a.bank_resource_id == rid)
            .expect("account stored");
        assert_eq!(
            a.account.iban.as_ref().unwrap().expose(),
            ta["iban"].as_str().unwrap()
        );
        assert_eq!(a.account.currency.code(), ta["currency"].as_str().unwrap());
        assert_eq!(a.account.name, ta["name"].as_str().unwrap());
        for (kind, wire) in [
            (BalanceKind::ClosingBooked, "closingBooked"),
            (BalanceKind::InterimAvailable, "interimAvailable"),
        ] {
            let b = balances
                .iter()
                .find(|b| b.account_id == a.account.id && b.kind == kind)
                .expect("balance stored");
            assert_eq!(
                b.amount.amount_string(),
                ta["balances"][wire].as_str().unwrap(),
                "{wire} agrees"
            );
        }
    }
    let want = truth_rows(&truth);
    let got = store_rows(h).await;
    for (rid, w) in &want {
        let g = &got[rid];
        let wn: usize = w.values().sum();
        let gn: usize = g.values().sum();
        assert!(wn > 0, "the bank has transactions for the account");
        assert_eq!(gn, wn, "transaction count agrees");
        assert_eq!(sum(g), sum(w), "transaction sum agrees");
        assert_eq!(g, w, "every (status, date, amount) agrees, no duplicates");
    }
}

/// bank pending transactionId → our TransactionId, over all accounts.
async fn pending_ids(h: &Harness) -> HashMap<String, TransactionId> {
    let mut out = HashMap::new();
    for a in h.store.accounts_for_customer(h.customer).await.unwrap() {
        for t in h
            .store
            .stored_transactions(a.account.id, window_from())
            .await
            .unwrap()
        {
            if t.status == BookingStatus::Pending
                && let Some(b) = t.bank_transaction_id
            {
                out.insert(b, t.id);
            }
        }
    }
    out
}

async fn bank_id_to_ours(h: &Harness) -> HashMap<String, (TransactionId, BookingStatus)> {
    let mut out = HashMap::new();
    for a in h.store.accounts_for_customer(h.customer).await.unwrap() {
        for t in h
            .store
            .stored_transactions(a.account.id, window_from())
            .await
            .unwrap()
        {
            if let Some(b) = t.bank_transaction_id {
                out.insert(b, (t.id, t.status));
            }
        }
    }
    out
}

#[tokio::test]
async fn link_sync_refresh_budget_revoke() {
    let mut h = Harness::new().await;
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::NotLinked
    );
    let done = h.link_anna().await;
    assert_eq!(done.customer, h.customer);
    assert_eq!(done.accounts, 2, "anna has two accounts");
    assert!(matches!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::Linked { .. }
    ));
    assert_matches_truth(&h).await;

    // A second refresh with nothing new changes nothing.
    let r = h.link.refresh(h.customer, present()).await.unwrap();
    assert_eq!((r.inserted, r.updated, r.deleted), (0, 0, 0));

    // Days pass at the bank: pending items book (some with new ids, some with new amounts).
    let before = pending_ids(&h).await;
    assert!(!before.is_empty(), "there are pending items to book");
    h.advance_days(4).await;
    let r = h.link.refresh(h.customer, present()).await.unwrap();
    assert!(r.updated > 0, "pending rows were booked in place");
    assert_matches_truth(&h).await;
    let truth = h.truth("anna").await;
    let ours = bank_id_to_ours(&h).await;
    let mut checked = 0;
    for a in truth["accounts"].as_array().unwrap() {
        for t in a["transactions"].as_array().unwrap() {
            let Some(pid) = t["pendingTransactionId"].as_str() else {
                continue;
            };
            let Some(old) = before.get(pid) else { continue };
            if t["status"] != "booked" {
                continue;
            }
            let (id, status) = ours[t["transactionId"].as_str().unwrap()];
            assert_eq!(id, *old, "pending→booked keeps the gateway's TransactionId");
            assert_eq!(status, BookingStatus::Booked);
            checked += 1;
        }
    }
    assert!(checked > 0, "at least one pending item booked");

    // Unattended: four refreshes a day, the fifth is refused without calling the bank.
    for i in 0..4 {
        h.link
            .refresh(h.customer, Presence::Unattended)
            .await
            .unwrap_or_else(|e| panic!("unattended refresh {i} failed: {e}"));
    }
    let calls = h.connector.calls();
    let e = h
        .link
        .refresh(h.customer, Presence::Unattended)
        .await
        .unwrap_err();
    assert!(matches!(e, BankError::AccessExceeded), "got {e}");
    assert_eq!(
        h.connector.calls(),
        calls,
        "no bank call for the refused refresh"
    );
    // The customer being present is not limited.
    h.link.refresh(h.customer, present()).await.unwrap();

    // Revoke: the bank terminates the consent, and our financial rows are gone.
    let consent = h
        .store
        .consents_for_customer(h.customer)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.status == ConsentStatus::Valid)
        .unwrap();
    let ctx = AccessCtx {
        bank_consent_id: consent.bank_consent_id.clone().unwrap(),
        access_token: consent.access_token.clone(),
        presence: Presence::Unattended,
    };
    let rep = h.link.revoke(h.customer).await.unwrap();
    assert_eq!(rep.consents, 1);
    assert!(rep.rows_deleted > 0);
    assert_eq!(
        h.raw.consent_status(&ctx).await.unwrap(),
        ConsentStatus::TerminatedByTpp
    );
    assert!(
        h.store
            .accounts_for_customer(h.customer)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.store
            .balances_for_customer(h.customer)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, total) = h
        .store
        .transactions_for_customer(h.customer, &TxFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 0);
    assert!(
        h.store
            .merchants_for_customer(h.customer)
            .await
            .unwrap()
            .is_empty()
    );
    let c = h.store.consent(consent.id).await.unwrap().unwrap();
    assert_eq!(c.status, ConsentStatus::TerminatedByTpp);
    assert!(c.access_token.is_none());
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::NotLinked
    );
    assert!(matches!(
        h.link.refresh(h.customer, present()).await,
        Err(BankError::NotLinked)
    ));
}

#[tokio::test]
async fn declined_and_replayed_links() {
    let h = Harness::new().await;
    let (_, p) = h.authorize("anna", "reject").await;
    assert_eq!(p.get("error").map(String::as_str), Some("access_denied"));
    let who = h.link.fail_link(&p["state"], &p["error"]).await.unwrap();
    assert_eq!(who, h.customer);
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::NotLinked
    );
    assert!(matches!(
        h.link.complete_link(&p["state"], "whatever").await,
        Err(BankError::LinkUnknown)
    ));

    // A started link is pending until the customer comes back; its state works once.
    let (_, p) = h.authorize("anna", "approve").await;
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::Pending
    );
    h.link.complete_link(&p["state"], &p["code"]).await.unwrap();
    assert!(matches!(
        h.link.complete_link(&p["state"], &p["code"]).await,
        Err(BankError::LinkUnknown)
    ));
    assert!(matches!(
        h.link.complete_link("not-a-state", "x").await,
        Err(BankError::LinkUnknown)
    ));
}

/// Collects every log line of the current thread.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn faults_malformed_unavailable_expired() {
    let logs = LogBuf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::new().await;
    h.link_anna().await;
    let truth = h.truth("anna").await;

    // Malformed JSON from the bank: BadBankData, and the body never reaches the log.
    h.control(
        "/sandbox/faults",
        serde_json::json!({"mode": "malformed_json"}),
    )
    .await;
    let e = h.link.refresh(h.customer, present()).await.unwrap_err();
    assert!(matches!(e, BankError::BadBankData), "got {e}");
    h.control("/sandbox/faults", serde_json::json!({"mode": "none"}))
        .await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("not the expected JSON"),
        "the fault was logged"
    );
    for a in truth["accounts"].as_array().unwrap() {
        for secret in [&a["iban"], &a["name"], &a["resourceId"]] {
            let s = secret.as_str().unwrap();
            assert!(!text.contains(s), "log leaks bank payload");
        }
    }
    assert!(
        !text.contains(
            &truth["accounts"][0]["balances"]["interimAvailable"]
                .as_str()
                .unwrap()
                .to_string()
        )
    );

    // The bank answers 503: retried, then BankUnavailable, in bounded time.
    h.control(
        "/sandbox/faults",
        serde_json::json!({"mode": "unavailable"}),
    )
    .await;
    let calls = h.connector.calls();
    let t0 = Instant::now();
    let e = h.link.refresh(h.customer, present()).await.unwrap_err();
    assert!(matches!(e, BankError::BankUnavailable), "got {e}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(
        h.connector.calls(),
        calls + 1,
        "one logical call (retries inside)"
    );
    h.control("/sandbox/faults", serde_json::json!({"mode": "none"}))
        .await;
    h.link.refresh(h.customer, present()).await.unwrap();

    // The bank expires the consent: ConsentExpired, and the link shows Expired.
    let id = h.bank_consent_id().await;
    h.control(
        &format!("/sandbox/consents/{id}/expire"),
        serde_json::json!({}),
    )
    .await;
    let e = h.link.refresh(h.customer, present()).await.unwrap_err();
    assert!(matches!(e, BankError::ConsentExpired), "got {e}");
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::Expired
    );
    assert!(matches!(
        h.link.refresh(h.customer, Presence::Unattended).await,
        Err(BankError::ConsentExpired)
    ));
    // Revoking an expired link still deletes the cached data.
    let rep = h.link.revoke(h.customer).await.unwrap();
    assert_eq!(rep.consents, 0);
    assert!(rep.rows_deleted > 0);
}

#[tokio::test]
async fn stopped_bank_is_unavailable_after_bounded_retries() {
    let mut h = Harness::new().await;
    h.link_anna().await;
    h.stop_bank().await;
    let t0 = Instant::now();
    let e = h.link.refresh(h.customer, present()).await.unwrap_err();
    assert!(matches!(e, BankError::BankUnavailable), "got {e}");
    assert!(t0.elapsed() < Duration::from_secs(10), "bounded");
    // Revoking while the bank is down changes nothing; the customer can try again.
    assert!(matches!(
        h.link.revoke(h.customer).await,
        Err(BankError::BankUnavailable)
    ));
    assert!(matches!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::Linked { .. }
    ));
}

#[tokio::test]
async fn expire_due_marks_past_consents() {
    let h = Harness::new().await;
    // An abandoned link attempt stops being pending and is ended by expire_due.
    h.link.start_link(h.customer, PSU_IP).await.unwrap();
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::Pending
    );
    h.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::NotLinked
    );
    assert_eq!(h.link.expire_due().await.unwrap(), 1);

    h.link_anna().await;
    assert_eq!(h.link.expire_due().await.unwrap(), 0);
    h.clock.advance(chrono::Duration::days(91));
    assert_eq!(h.link.expire_due().await.unwrap(), 1);
    assert_eq!(
        h.link.status(h.customer).await.unwrap(),
        LinkStatus::Expired
    );
}

#[tokio::test]
async fn worker_refreshes_unattended_and_stops() {
    let h = Harness::new().await;
    h.link_anna().await;
    let calls = h.connector.calls();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let handle = okienko_bank::SyncWorker::spawn(h.link.clone(), Duration::from_secs(3600), rx);
    // The first round runs at once.
    let t0 = Instant::now();
    while h.connector.calls() == calls {
        assert!(t0.elapsed() < Duration::from_secs(10), "worker ran a round");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("worker stops on shutdown")
        .unwrap();
}

/// Day after day at the bank: every refresh agrees with the bank, and every pending item that
/// books keeps the gateway id it had while pending.
#[tokio::test]
async fn two_weeks_of_daily_refreshes_stay_in_agreement() {
    let mut h = Harness::new().await;
    h.link_anna().await;
    let mut booked_in_place = 0;
    for _ in 0..14 {
        let before = pending_ids(&h).await;
        h.advance_days(1).await;
        h.link.refresh(h.customer, present()).await.unwrap();
        assert_matches_truth(&h).await;
        let truth = h.truth("anna").await;
        let ours = bank_id_to_ours(&h).await;
        for a in truth["accounts"].as_array().unwrap() {
            for t in a["transactions"].as_array().unwrap() {
                let (Some(pid), "booked") = (
                    t["pendingTransactionId"].as_str(),
                    t["status"].as_str().unwrap(),
                ) else {
                    continue;
                };
                if let Some(old) = before.get(pid) {
                    assert_eq!(ours[t["transactionId"].as_str().unwrap()].0, *old);
                    booked_in_place += 1;
                }
            }
        }
    }
    assert!(
        booked_in_place >= 10,
        "many pending items booked over two weeks"
    );
}
