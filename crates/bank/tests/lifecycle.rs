//! The consent lifecycle beyond the customer's own actions: a reminder before the consent ends,
//! expiry, and a revocation made at the bank (which deletes the cached data like a revoke from
//! the chat does). Against the real sandbox bank over HTTP.

mod common;

use chrono::Duration;
use common::*;
use okienko_bank::{BankError, LinkEvent, Presence, REMIND_DAYS_BEFORE};
use okienko_core::{ConsentStatus, TxFilter};

/// The sync that completes a link announces what it stored: ids only, marked as the first sync.
fn first_sync_announced(events: &mut tokio::sync::broadcast::Receiver<LinkEvent>, h: &Harness) {
    match events.try_recv() {
        Ok(LinkEvent::NewTransactions {
            customer,
            added,
            first_sync: true,
            ..
        }) => {
            assert_eq!(customer, h.customer);
            assert!(!added.is_empty());
        }
        other => panic!("expected NewTransactions of the first sync, got {other:?}"),
    }
}

#[tokio::test]
async fn revoking_at_the_bank_deletes_cached_data_and_tells_the_customer() {
    let h = Harness::new().await;
    let mut events = h.link.subscribe();
    h.link_anna().await;
    first_sync_announced(&mut events, &h);
    let (_, total) = h
        .store
        .transactions_for_customer(h.customer, &TxFilter::default(), 0, 1)
        .await
        .unwrap();
    assert!(total > 100);

    // The customer withdraws the consent in the bank's app.
    let consent = h.bank_consent_id().await;
    let page = h
        .http
        .post(format!("{}/app/login", h.base))
        .form(&[("psu_id", "anna"), ("password", "demo")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let session = hidden_inputs(&page)
        .into_iter()
        .find(|(k, _)| k == "session")
        .map(|(_, v)| v)
        .unwrap();
    let r = h
        .http
        .post(format!("{}/app/decide", h.base))
        .form(&[
            ("session", session.as_str()),
            ("consent_id", consent.as_str()),
            ("decision", "revoke"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    // The next background sync learns it, revokes here too and deletes everything.
    let (ok, failed) = h.link.refresh_all_unattended().await.unwrap();
    assert_eq!((ok, failed), (0, 1));
    let c = h.store.consents_for_customer(h.customer).await.unwrap();
    assert!(c.iter().any(|c| c.status == ConsentStatus::RevokedByPsu));
    assert!(
        h.store
            .accounts_for_customer(h.customer)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, total) = h
        .store
        .transactions_for_customer(h.customer, &TxFilter::default(), 0, 1)
        .await
        .unwrap();
    assert_eq!(total, 0);
    match events.try_recv() {
        Ok(LinkEvent::RevokedAtBank { customer, .. }) => assert_eq!(customer, h.customer),
        other => panic!("expected RevokedAtBank, got {other:?}"),
    }
    // A customer asking afterwards is told they are not linked.
    let again = h
        .link
        .refresh(
            h.customer,
            Presence::CustomerPresent {
                ip: "127.0.0.1".into(),
            },
        )
        .await;
    assert!(matches!(again, Err(BankError::NotLinked)), "{again:?}");
}

#[tokio::test]
async fn a_reminder_comes_once_before_expiry_then_the_consent_expires() {
    let h = Harness::new().await;
    let mut events = h.link.subscribe();
    h.link_anna().await;
    first_sync_announced(&mut events, &h);
    let valid_until = h
        .store
        .consents_for_customer(h.customer)
        .await
        .unwrap()
        .iter()
        .find(|c| c.status == ConsentStatus::Valid)
        .unwrap()
        .valid_until;

    // Eight days before the end: nothing yet.
    let today = okienko_core::Clock::now(&*h.clock).date_naive();
    h.clock.advance(Duration::days(
        (valid_until - today).num_days() - REMIND_DAYS_BEFORE - 1,
    ));
    h.link.expire_due().await.unwrap();
    assert!(events.try_recv().is_err());

    // Seven days before: one reminder, and only one however often the worker runs.
    h.clock.advance(Duration::days(1));
    h.link.expire_due().await.unwrap();
    h.link.expire_due().await.unwrap();
    match events.try_recv() {
        Ok(LinkEvent::ExpiresSoon {
            customer,
            valid_until: v,
            ..
        }) => {
            assert_eq!(customer, h.customer);
            assert_eq!(v, valid_until);
        }
        other => panic!("expected ExpiresSoon, got {other:?}"),
    }
    assert!(events.try_recv().is_err());

    // The day after validUntil: expired, and the customer is told.
    h.clock.advance(Duration::days(REMIND_DAYS_BEFORE + 1));
    h.link.expire_due().await.unwrap();
    assert!(matches!(events.try_recv(), Ok(LinkEvent::Expired { .. })));
    let c = h.store.consents_for_customer(h.customer).await.unwrap();
    assert!(c.iter().any(|c| c.status == ConsentStatus::Expired));
}

/// With the outbox on, a sync's new transactions are not broadcast: each synced account's are
/// in the store's bus outbox, written with the transactions (ids only, the first sync marked),
/// and together they name every stored transaction once. A sync that changes nothing adds none.
#[tokio::test]
async fn with_the_outbox_each_account_s_new_transactions_wait_in_the_store() {
    let h = Harness::new().await;
    h.link.announce_via_outbox();
    let mut events = h.link.subscribe();
    h.link_anna().await;
    assert!(events.try_recv().is_err(), "nothing on the broadcast");

    let rows = h.store.outbox_events(1000).await.unwrap();
    assert!(!rows.is_empty());
    let mut announced = Vec::new();
    for row in &rows {
        assert_eq!(row.topic, "tx.new");
        assert_eq!(row.attempts, 0);
        match serde_json::from_str::<okienko_bus::Event>(&row.event).unwrap() {
            okienko_bus::Event::NewTransactions {
                customer,
                consent,
                added,
                booked,
                first_sync,
            } => {
                assert_eq!(customer, h.customer);
                assert!(first_sync);
                assert_eq!(
                    row.id,
                    okienko_bank::link::new_transactions_id(consent, &added, &booked)
                );
                announced.extend(added);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let (stored, total) = h
        .store
        .transactions_for_customer(h.customer, &TxFilter::default(), 0, 100_000)
        .await
        .unwrap();
    assert_eq!(announced.len() as u64, total);
    let mut want: Vec<String> = stored.iter().map(|t| t.id.to_string()).collect();
    let mut got: Vec<String> = announced.iter().map(|t| t.to_string()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);

    // Nothing new at the bank: nothing more to announce.
    h.link.refresh_all_unattended().await.unwrap();
    assert_eq!(h.store.outbox_len().await.unwrap(), rows.len() as u64);
}
