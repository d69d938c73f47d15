//! Conversation state (`conversations`, migration 0020): sealed, versioned, compare-and-set,
//! purged when idle, erased with the customer.

use std::sync::Arc;

use chrono::Duration;
use okienko_core::CustomerId;
use okienko_store::{ConversationRead, ConversationWrite, StoreError};

use super::{Ctx, setup, t};

const MARKER: &str = "qqconvmarker5521zz";

fn state(n: u32) -> Vec<u8> {
    format!("{{\"v\":1,\"text\":\"{MARKER} {n}\"}}").into_bytes()
}

/// Versions start at 1 and move by compare-and-set; a stale writer changes nothing; a copy at
/// the current version reads nothing more; the blob is sealed and bound to its version.
pub async fn conversations_are_sealed_versioned_and_compare_and_set(ctx: &Ctx) {
    let s = &ctx.store;
    let (c, _, _) = setup(s).await;
    let other = CustomerId::new();
    let at = t("2026-03-01T10:00:00Z");
    assert_eq!(
        s.conversation(c, None).await.unwrap(),
        ConversationRead::Missing
    );
    assert_eq!(
        s.save_conversation(c, None, &state(1), at).await.unwrap(),
        ConversationWrite::Saved(1)
    );
    // A second "first write" lost the race: nothing is written.
    assert_eq!(
        s.save_conversation(c, None, &state(99), at).await.unwrap(),
        ConversationWrite::Conflict
    );
    match s.conversation(c, None).await.unwrap() {
        ConversationRead::Changed(r) => {
            assert_eq!((r.version, r.state.as_slice()), (1, state(1).as_slice()));
            assert_eq!(r.updated_at, at);
        }
        other => panic!("expected the row, got {other:?}"),
    }
    assert_eq!(
        s.conversation(c, Some(1)).await.unwrap(),
        ConversationRead::Current
    );
    let later = at + Duration::minutes(1);
    assert_eq!(
        s.save_conversation(c, Some(1), &state(2), later)
            .await
            .unwrap(),
        ConversationWrite::Saved(2)
    );
    // The copy at version 1 is stale now: the read says so and brings version 2.
    match s.conversation(c, Some(1)).await.unwrap() {
        ConversationRead::Changed(r) => assert_eq!((r.version, r.state), (2, state(2))),
        other => panic!("expected version 2, got {other:?}"),
    }
    // A writer that read version 1 loses and changes nothing.
    assert_eq!(
        s.save_conversation(c, Some(1), &state(3), later)
            .await
            .unwrap(),
        ConversationWrite::Conflict
    );
    // A version was expected but the customer has no row: gone, nothing written.
    assert_eq!(
        s.save_conversation(other, Some(4), &state(4), later)
            .await
            .unwrap(),
        ConversationWrite::Gone
    );
    assert_eq!(
        s.conversation(other, None).await.unwrap(),
        ConversationRead::Missing
    );
    // Bad input is refused and changes nothing.
    for bad in [
        Vec::new(),
        vec![b'x'; okienko_store::MAX_CONVERSATION_BYTES + 1],
    ] {
        assert!(matches!(
            s.save_conversation(c, Some(2), &bad, later).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        s.save_conversation(c, Some(0), &state(5), later).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        s.conversation(c, Some(2)).await.unwrap(),
        ConversationRead::Current
    );

    // Eight instances that all read version 2 race: exactly one wins.
    let store = Arc::new(s.clone());
    let mut tasks = Vec::new();
    for i in 0..8u32 {
        let st = store.clone();
        tasks.push(tokio::spawn(async move {
            st.save_conversation(c, Some(2), &state(10 + i), later)
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            ConversationWrite::Saved(3) => won += 1,
            ConversationWrite::Conflict => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one concurrent writer wins");

    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM conversations WHERE customer_id = $1",
            &c.to_string()
        )
        .await,
        1
    );
    // Sealed: the plaintext is nowhere in the database files (SQLite; PostgreSQL stores the
    // same sealed bytes).
    if let Some(file) = &ctx.db_file {
        let mut wal = file.clone().into_os_string();
        wal.push("-wal");
        let mut read = 0;
        for path in [file.clone(), wal.into()] {
            if let Ok(bytes) = std::fs::read(&path) {
                read += 1;
                let found = bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());
                assert!(!found, "conversation plaintext in {}", path.display());
            }
        }
        assert!(read >= 1);
    }
    // The blob is bound to its version: moved to another version it does not open, and the
    // reader is told so (it starts afresh) instead of failing.
    ctx.exec("UPDATE conversations SET version = version + 10")
        .await
        .unwrap();
    assert_eq!(
        s.conversation(c, None).await.unwrap(),
        ConversationRead::Unreadable { version: 13 }
    );
    // ... and can be overwritten at that version.
    assert_eq!(
        s.save_conversation(c, Some(13), &state(20), later)
            .await
            .unwrap(),
        ConversationWrite::Saved(14)
    );
    match s.conversation(c, Some(13)).await.unwrap() {
        ConversationRead::Changed(r) => assert_eq!(r.state, state(20)),
        other => panic!("expected the rewritten row, got {other:?}"),
    }
}

/// Idle conversations are purged by their last write; busy ones stay.
pub async fn idle_conversations_are_purged(ctx: &Ctx) {
    let s = &ctx.store;
    let (idle, _, _) = setup(s).await;
    let (busy, _, _) = setup(s).await;
    let at = t("2026-03-01T10:00:00Z");
    s.save_conversation(idle, None, &state(1), at)
        .await
        .unwrap();
    s.save_conversation(busy, None, &state(2), at + Duration::minutes(40))
        .await
        .unwrap();
    assert_eq!(
        s.purge_idle_conversations(at + Duration::minutes(30))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.conversation(idle, None).await.unwrap(),
        ConversationRead::Missing
    );
    assert!(matches!(
        s.conversation(busy, None).await.unwrap(),
        ConversationRead::Changed(_)
    ));
    assert!(s.delete_conversation(busy).await.unwrap());
    assert!(!s.delete_conversation(busy).await.unwrap());
}

/// Erasing the customer deletes their conversation (and its key); a writer that still holds a
/// version finds it gone; the neighbour's stays; on SQLite nothing of it is left in the files.
pub async fn erase_deletes_conversations(ctx: &Ctx) {
    let s = &ctx.store;
    let (victim, _, _) = setup(s).await;
    let (keeper, _, _) = setup(s).await;
    let at = t("2026-03-01T10:00:00Z");
    assert_eq!(
        s.save_conversation(victim, None, &state(1), at)
            .await
            .unwrap(),
        ConversationWrite::Saved(1)
    );
    s.save_conversation(keeper, None, &state(2), at)
        .await
        .unwrap();
    s.delete_customer_financial_data(victim).await.unwrap();
    assert_eq!(
        s.conversation(victim, None).await.unwrap(),
        ConversationRead::Missing
    );
    assert_eq!(
        s.save_conversation(victim, Some(1), &state(3), at)
            .await
            .unwrap(),
        ConversationWrite::Gone
    );
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM conversations WHERE customer_id = $1",
            &victim.to_string()
        )
        .await,
        0
    );
    assert!(matches!(
        s.conversation(keeper, None).await.unwrap(),
        ConversationRead::Changed(_)
    ));
    if let Some(file) = &ctx.db_file {
        s.delete_customer_financial_data(keeper).await.unwrap();
        let mut wal = file.clone().into_os_string();
        wal.push("-wal");
        for path in [file.clone(), wal.into()] {
            if let Ok(bytes) = std::fs::read(&path) {
                let found = bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());
                assert!(!found, "conversation text in {}", path.display());
            }
        }
    }
}
