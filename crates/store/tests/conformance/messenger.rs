//! Messenger channel state (`messenger_*`, migration 0017): replay ids, PSID links, account
//! linking codes.

use std::sync::Arc;

use chrono::Duration;
use okienko_core::CustomerId;
use okienko_store::{LinkCodeTake, MessengerLinkRecord};

use super::{Ctx, setup, t};

const PSID: &str = "qqpsid7731900044zz";

/// An event key is accepted once, also by racing writers; purging forgets only old ones.
pub async fn messenger_replays_are_once_and_purged(ctx: &Ctx) {
    let s = &ctx.store;
    let at = t("2026-03-01T10:00:00Z");
    assert!(s.remember_messenger_event("h-1", at).await.unwrap());
    assert!(!s.remember_messenger_event("h-1", at).await.unwrap());
    assert!(
        s.remember_messenger_event("h-2", at + Duration::hours(2))
            .await
            .unwrap()
    );
    assert!(s.remember_messenger_event("", at).await.is_err());
    // Eight writers, one key: exactly one sees it fresh.
    let store = Arc::new(s.clone());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let st = store.clone();
        tasks.push(tokio::spawn(async move {
            st.remember_messenger_event("h-race", at).await.unwrap()
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        if task.await.unwrap() {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
    let purged = s
        .purge_messenger_events(at + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(purged, 2, "h-1 and h-race are older than the horizon");
    assert!(!s.remember_messenger_event("h-2", at).await.unwrap());
    assert!(s.remember_messenger_event("h-1", at).await.unwrap());
}

/// The link round-trips, keeps the PSID only sealed, is replaced on upsert, deleted on request,
/// and forgotten when the customer's data key is destroyed.
pub async fn messenger_links_are_sealed_replaced_and_forgotten(ctx: &Ctx) {
    let s = &ctx.store;
    let (c, _, _) = setup(s).await;
    assert_eq!(s.messenger_link(c).await.unwrap(), None);
    let mut rec = MessengerLinkRecord {
        psid: PSID.into(),
        page_id: "1234567890".into(),
        last_inbound: t("2026-03-01T10:00:00Z"),
        account_linked_at: None,
    };
    s.upsert_messenger_link(c, &rec).await.unwrap();
    assert_eq!(s.messenger_link(c).await.unwrap(), Some(rec.clone()));
    assert_eq!(s.messenger_linked_customers().await.unwrap(), vec![c]);
    rec.last_inbound = t("2026-03-01T11:00:00Z");
    rec.account_linked_at = Some(t("2026-03-01T11:00:01Z"));
    s.upsert_messenger_link(c, &rec).await.unwrap();
    assert_eq!(s.messenger_link(c).await.unwrap(), Some(rec.clone()));
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM messenger_links WHERE customer_id = $1",
            &c.to_string()
        )
        .await,
        1
    );
    if let Some(f) = &ctx.db_file {
        let raw = std::fs::read(f).unwrap_or_default();
        let wal = std::fs::read(f.with_extension("sqlite-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(PSID.len()).any(|w| w == PSID.as_bytes()));
        }
    }
    let bad = MessengerLinkRecord {
        psid: String::new(),
        ..rec.clone()
    };
    assert!(s.upsert_messenger_link(c, &bad).await.is_err());
    assert_eq!(s.messenger_link(c).await.unwrap(), Some(rec.clone()));

    assert!(s.delete_messenger_link(c).await.unwrap());
    assert!(!s.delete_messenger_link(c).await.unwrap());
    assert_eq!(s.messenger_link(c).await.unwrap(), None);
    assert!(s.messenger_linked_customers().await.unwrap().is_empty());

    // Erasure destroys the data key: the sealed PSID can no longer be read.
    s.upsert_messenger_link(c, &rec).await.unwrap();
    s.delete_customer_financial_data(c).await.unwrap();
    assert_eq!(s.messenger_link(c).await.unwrap(), None);
    // Writing again after erasure works with a new key.
    s.upsert_messenger_link(c, &rec).await.unwrap();
    assert_eq!(s.messenger_link(c).await.unwrap(), Some(rec));
}

/// A code is taken once, by its own customer and kind, within its lifetime; refusals change
/// nothing.
pub async fn messenger_codes_are_single_use_and_bound(ctx: &Ctx) {
    let s = &ctx.store;
    let (a, b) = (CustomerId::new(), CustomerId::new());
    let now = t("2026-03-01T10:00:00Z");
    let exp = now + Duration::minutes(10);
    s.insert_messenger_code("c-1", "code", a, exp)
        .await
        .unwrap();
    s.insert_messenger_code("s-1", "state", a, exp)
        .await
        .unwrap();
    s.insert_messenger_code("c-old", "code", a, now)
        .await
        .unwrap();
    assert!(
        s.insert_messenger_code("c-1", "code", b, exp)
            .await
            .is_err()
    );
    // Another customer's attempt, a wrong kind, an unknown hash: nothing happens.
    assert_eq!(
        s.take_messenger_code("c-1", "code", Some(b), now)
            .await
            .unwrap(),
        LinkCodeTake::Foreign
    );
    assert_eq!(
        s.take_messenger_code("c-1", "state", Some(a), now)
            .await
            .unwrap(),
        LinkCodeTake::Unknown
    );
    assert_eq!(
        s.take_messenger_code("nope", "code", Some(a), now)
            .await
            .unwrap(),
        LinkCodeTake::Unknown
    );
    assert_eq!(
        s.take_messenger_code("c-old", "code", Some(a), now)
            .await
            .unwrap(),
        LinkCodeTake::Expired
    );
    // The owner takes it once.
    assert_eq!(
        s.take_messenger_code("c-1", "code", Some(a), now)
            .await
            .unwrap(),
        LinkCodeTake::Taken(a)
    );
    assert_eq!(
        s.take_messenger_code("c-1", "code", Some(a), now)
            .await
            .unwrap(),
        LinkCodeTake::Used
    );
    // A state is taken without knowing its customer, and names it.
    assert_eq!(
        s.take_messenger_code("s-1", "state", None, now)
            .await
            .unwrap(),
        LinkCodeTake::Taken(a)
    );
    // Racing takers: one wins.
    s.insert_messenger_code("c-race", "code", a, exp)
        .await
        .unwrap();
    let store = Arc::new(s.clone());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let st = store.clone();
        tasks.push(tokio::spawn(async move {
            st.take_messenger_code("c-race", "code", Some(a), now)
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap() == LinkCodeTake::Taken(a) {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        s.purge_messenger_codes(exp + Duration::seconds(1))
            .await
            .unwrap(),
        4,
        "c-1, s-1, c-old and c-race"
    );
}
