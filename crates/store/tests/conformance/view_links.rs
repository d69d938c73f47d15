//! Masked replies behind single-use view links (`view_links`, migration 0003).

use std::sync::Arc;

use chrono::Duration;
use okienko_store::{NewViewLink, Store, ViewLinkTake};

use super::{Ctx, setup, t};

const SECRET: &str = "qqviewsecretzz 1 234,56 zł";

fn link(customer: okienko_core::CustomerId, hash: &str) -> NewViewLink {
    NewViewLink {
        token_hash: hash.into(),
        customer,
        purpose: "service.balance".into(),
        lang: "pl".into(),
        created_at: t("2026-03-01T10:00:00Z"),
        expires_at: t("2026-03-01T10:05:00Z"),
        content: SECRET.into(),
    }
}

/// Opened once within its lifetime, then `Used`; the content is gone from the row.
pub async fn view_link_opens_once_and_keeps_nothing(ctx: &Ctx) {
    let s = &ctx.store;
    let (c, _, _) = setup(s).await;
    s.insert_view_link(&link(c, "h-once")).await.unwrap();
    // The content is sealed, not in plaintext.
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM view_links WHERE token_hash = $1 AND sealed IS NOT NULL",
            "h-once"
        )
        .await,
        1
    );
    if let Some(f) = &ctx.db_file {
        let raw = std::fs::read(f).unwrap_or_default();
        let wal = std::fs::read(f.with_extension("sqlite-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(14).any(|w| w == b"qqviewsecretzz"));
        }
    }
    let now = t("2026-03-01T10:01:00Z");
    match s.take_view_link("h-once", now).await.unwrap() {
        ViewLinkTake::Opened { facts, content } => {
            assert_eq!(facts.customer, c);
            assert_eq!(facts.purpose, "service.balance");
            assert_eq!(facts.lang, "pl");
            assert_eq!(facts.viewed_at, Some(now));
            assert!(!facts.replay_notice_due);
            assert_eq!(content.as_str(), SECRET);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.take_view_link("h-once", now).await.unwrap(),
        ViewLinkTake::Used(f) if f.customer == c
    ));
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM view_links WHERE token_hash = $1 AND sealed IS NULL",
            "h-once"
        )
        .await,
        1
    );
    assert!(matches!(
        s.take_view_link("h-never", now).await.unwrap(),
        ViewLinkTake::Unknown
    ));
    // Bad input changes nothing.
    let mut bad = link(c, "");
    assert!(s.insert_view_link(&bad).await.is_err());
    bad = link(c, "h-bad");
    bad.expires_at = bad.created_at;
    assert!(s.insert_view_link(&bad).await.is_err());
    assert!(matches!(
        s.take_view_link("h-bad", now).await.unwrap(),
        ViewLinkTake::Unknown
    ));
}

/// At or after its expiry a link is `Expired` and its content is cleared; purging clears every
/// expired link's content and later forgets the row.
pub async fn view_link_expires_and_is_purged(ctx: &Ctx) {
    let s = &ctx.store;
    let (c, _, _) = setup(s).await;
    s.insert_view_link(&link(c, "h-late")).await.unwrap();
    s.insert_view_link(&link(c, "h-purged")).await.unwrap();
    let after = t("2026-03-01T10:05:00Z");
    assert!(matches!(
        s.take_view_link("h-late", after).await.unwrap(),
        ViewLinkTake::Expired(f) if f.customer == c
    ));
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM view_links WHERE customer_id = $1 AND sealed IS NOT NULL",
            &c.to_string()
        )
        .await,
        1
    );
    assert_eq!(s.purge_view_links(after).await.unwrap(), 1);
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM view_links WHERE customer_id = $1 AND sealed IS NOT NULL",
            &c.to_string()
        )
        .await,
        0
    );
    // Still recognised as expired (not unknown) for a day, then forgotten.
    assert!(matches!(
        s.take_view_link("h-purged", after).await.unwrap(),
        ViewLinkTake::Expired(_)
    ));
    s.purge_view_links(after + Duration::days(2)).await.unwrap();
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM view_links WHERE customer_id = $1",
            &c.to_string()
        )
        .await,
        0
    );
}

/// Erasing the customer's data (consent revoked) deletes their pending links and only theirs.
pub async fn erase_deletes_pending_view_links(ctx: &Ctx) {
    let s = &ctx.store;
    let (victim, _, _) = setup(s).await;
    let (keeper, _, _) = setup(s).await;
    s.insert_view_link(&link(victim, "h-victim")).await.unwrap();
    s.insert_view_link(&link(keeper, "h-keeper")).await.unwrap();
    s.delete_customer_financial_data(victim).await.unwrap();
    let now = t("2026-03-01T10:01:00Z");
    assert!(matches!(
        s.take_view_link("h-victim", now).await.unwrap(),
        ViewLinkTake::Unknown
    ));
    assert!(matches!(
        s.take_view_link("h-keeper", now).await.unwrap(),
        ViewLinkTake::Opened { .. }
    ));
    assert_eq!(s.delete_view_links(keeper).await.unwrap(), 1);
}

/// A link opened again is `Used` with the time it was first opened; the first such replay (and
/// only the first, even when replays race) claims the notice to the customer. Expired and
/// unknown links claim nothing.
pub async fn view_link_replay_notice_is_claimed_once(ctx: &Ctx) {
    let s = Arc::new(ctx.store.clone());
    let (c, _, _) = setup(&s).await;
    s.insert_view_link(&link(c, "h-replayed")).await.unwrap();
    s.insert_view_link(&link(c, "h-expired")).await.unwrap();
    let opened = t("2026-03-01T10:01:00Z");
    assert!(matches!(
        s.take_view_link("h-replayed", opened).await.unwrap(),
        ViewLinkTake::Opened { .. }
    ));
    let later = t("2026-03-01T10:03:00Z");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s: Arc<Store> = s.clone();
        tasks.push(tokio::spawn(async move {
            match s.take_view_link("h-replayed", later).await.unwrap() {
                ViewLinkTake::Used(f) => f,
                other => panic!("{other:?}"),
            }
        }));
    }
    let mut due = 0;
    for task in tasks {
        let f = task.await.unwrap();
        assert_eq!(f.customer, c);
        assert_eq!(f.viewed_at, Some(opened));
        due += usize::from(f.replay_notice_due);
    }
    assert_eq!(due, 1);
    match s.take_view_link("h-replayed", later).await.unwrap() {
        ViewLinkTake::Used(f) => assert!(!f.replay_notice_due),
        other => panic!("{other:?}"),
    }
    // Never opened, only expired: nothing to notice, nothing claimed.
    for _ in 0..2 {
        match s
            .take_view_link("h-expired", t("2026-03-01T10:06:00Z"))
            .await
            .unwrap()
        {
            ViewLinkTake::Expired(f) => {
                assert!(!f.replay_notice_due);
                assert_eq!(f.viewed_at, None);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM view_links WHERE customer_id = $1 AND replay_noticed_at IS NOT NULL",
            &c.to_string()
        )
        .await,
        1
    );
}

/// Many concurrent takes of one link: exactly one sees the content.
pub async fn view_link_race_opens_exactly_once(ctx: &Ctx) {
    let s = Arc::new(ctx.store.clone());
    let (c, _, _) = setup(&s).await;
    s.insert_view_link(&link(c, "h-race")).await.unwrap();
    let now = t("2026-03-01T10:01:00Z");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s: Arc<Store> = s.clone();
        tasks.push(tokio::spawn(async move {
            matches!(
                s.take_view_link("h-race", now).await.unwrap(),
                ViewLinkTake::Opened { .. }
            )
        }));
    }
    let mut opened = 0;
    for t in tasks {
        if t.await.unwrap() {
            opened += 1;
        }
    }
    assert_eq!(opened, 1);
}
