//! The bus outbox (migration 0024) on both backends: one row per id, claims that never overlap
//! (also between two store handles racing, as two instances would), rescheduling after a failed
//! publish, release, deletion, and a sync batch written with its announcement atomically.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use okienko_core::BookingStatus;
use okienko_store::{OutboxPut, StoreError, TxBatch};

use super::{Ctx, new_tx, pln, setup};

fn put(id: &str) -> OutboxPut {
    OutboxPut {
        id: id.into(),
        topic: "tx.new".into(),
        event: format!(r#"{{"type":"consent_changed","customer":"{id}"}}"#),
    }
}

pub async fn outbox_puts_once_claims_reschedules_and_deletes(ctx: &Ctx) {
    let s = &ctx.store;
    let wake = s.outbox_wake();
    assert!(s.put_outbox(&put("ev-1")).await.unwrap());
    // A put wakes the relay of this process (a stored permit, so no wake-up is missed).
    tokio::time::timeout(std::time::Duration::from_secs(1), wake.notified())
        .await
        .expect("woken by the put");
    // The same id again: one row, the first put stands.
    let mut again = put("ev-1");
    again.event = r#"{"type":"other"}"#.into();
    assert!(!s.put_outbox(&again).await.unwrap());
    assert_eq!(s.outbox_len().await.unwrap(), 1);
    let rows = s.outbox_events(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event, put("ev-1").event);
    assert_eq!(rows[0].attempts, 0);
    assert!(!format!("{:?}", rows[0]).contains("consent_changed"));

    // Refused before anything is written.
    for bad in [put(""), put("has space"), put(&"x".repeat(129))] {
        assert!(matches!(
            s.put_outbox(&bad).await,
            Err(StoreError::Invalid("bus_outbox.id"))
        ));
    }
    let mut empty = put("ev-empty");
    empty.event.clear();
    assert!(s.put_outbox(&empty).await.is_err());
    assert_eq!(s.outbox_len().await.unwrap(), 1);

    // Claimed: not due for anyone else until the claim runs out.
    let now = Utc::now() + Duration::seconds(1);
    let lease = now + Duration::seconds(60);
    let got = s.claim_outbox("relay-a", now, lease, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, "ev-1");
    assert!(
        s.claim_outbox("relay-b", now, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // After the lease (its relay died) another relay takes it.
    let later = lease + Duration::seconds(1);
    let got = s
        .claim_outbox("relay-b", later, later + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    // Only the holder of the claim reschedules it.
    let retry = later + Duration::seconds(30);
    assert!(!s.reschedule_outbox("ev-1", "relay-a", retry).await.unwrap());
    assert!(s.reschedule_outbox("ev-1", "relay-b", retry).await.unwrap());
    // Not due before its next attempt, due at it, with the attempt counted.
    assert!(
        s.claim_outbox(
            "relay-a",
            retry - Duration::seconds(1),
            retry + Duration::seconds(60),
            10
        )
        .await
        .unwrap()
        .is_empty()
    );
    let got = s
        .claim_outbox("relay-a", retry, retry + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attempts, 1);
    assert_eq!(got[0].next_attempt_at, retry);
    // Released untried: due at the given instant, no attempt counted.
    assert!(s.release_outbox("ev-1", "relay-a", retry).await.unwrap());
    let got = s
        .claim_outbox("relay-c", retry, retry + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(got[0].attempts, 1);
    // Published: gone, whoever asks.
    assert!(s.outbox_done("ev-1").await.unwrap());
    assert!(!s.outbox_done("ev-1").await.unwrap());
    assert_eq!(s.outbox_len().await.unwrap(), 0);
    assert!(
        s.claim_outbox(
            "relay-a",
            later + Duration::days(1),
            later + Duration::days(2),
            10
        )
        .await
        .unwrap()
        .is_empty()
    );
    // A put after the row was published is a new row again (ids are unique per event).
    assert!(s.put_outbox(&put("ev-1")).await.unwrap());

    // Claims are oldest due first, and at most `limit`.
    for i in 2..6 {
        assert!(s.put_outbox(&put(&format!("ev-{i}"))).await.unwrap());
    }
    let now = Utc::now() + Duration::seconds(1);
    let got = s
        .claim_outbox("relay-a", now, now + Duration::seconds(60), 2)
        .await
        .unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ev-1", "ev-2"]);
}

pub async fn outbox_claimers_get_disjoint_rows(ctx: &Ctx) {
    let s = &ctx.store;
    let n = 60;
    for i in 0..n {
        s.put_outbox(&put(&format!("race-{i}"))).await.unwrap();
    }
    // A second handle on the same database, as a second instance would have.
    let other = ctx.reopen(super::harness::keyring()).await.unwrap();
    let now = Utc::now() + Duration::seconds(1);
    let until = now + Duration::seconds(60);
    let mut tasks = Vec::new();
    for (k, store) in [s.clone(), other.clone(), s.clone(), other.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let me = format!("relay-{k}");
            let mut mine = Vec::new();
            loop {
                let got = store.claim_outbox(&me, now, until, 7).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|r| r.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(total, n);
    assert_eq!(seen.len(), n);
    other.close().await;
}

pub async fn transactions_are_stored_with_their_announcement(ctx: &Ctx) {
    let s = &ctx.store;
    let (_, _, account) = setup(s).await;
    let batch = TxBatch {
        insert: vec![new_tx(
            "2026-01-05",
            pln("-10.00"),
            Some("Sklep"),
            BookingStatus::Booked,
        )],
        ..TxBatch::default()
    };
    let announce = [put("tx:announced-1"), put("tx:announced-2")];
    s.apply_transactions_announced(account, &batch, &announce)
        .await
        .unwrap();
    assert_eq!(s.outbox_len().await.unwrap(), 2);
    let ids: Vec<String> = s
        .outbox_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["tx:announced-1", "tx:announced-2"]);
    // A batch that fails stores neither its rows nor its announcement.
    let bad = TxBatch {
        insert: vec![new_tx(
            "2026-01-06",
            pln("-11.00"),
            None,
            BookingStatus::Booked,
        )],
        delete: vec![okienko_core::TransactionId::new()],
        ..TxBatch::default()
    };
    assert!(
        s.apply_transactions_announced(account, &bad, &[put("tx:failed")])
            .await
            .is_err()
    );
    // An invalid announcement refuses the batch before anything is written.
    let later = TxBatch {
        insert: vec![new_tx(
            "2026-01-07",
            pln("-12.00"),
            None,
            BookingStatus::Booked,
        )],
        ..TxBatch::default()
    };
    assert!(matches!(
        s.apply_transactions_announced(account, &later, &[put("tx:ok"), put("bad id")])
            .await,
        Err(StoreError::Invalid("bus_outbox.id"))
    ));
    assert_eq!(s.outbox_len().await.unwrap(), 2);
    let stored = s
        .stored_transactions(account, super::d("2026-01-01"))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
}
