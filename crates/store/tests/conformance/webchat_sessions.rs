//! Web chat sessions shared by gateway instances (`webchat_*`, migration 0022): tokens kept as
//! keyed hashes, atomic seqs, the sealed and bounded reply backlog, expiry and erasure.

use std::sync::Arc;

use chrono::Duration;
use okienko_core::{CustomerId, Lang};

use super::{Ctx, setup, t};

const TOKEN: &str = "Zm9va2llbmtvLXRlc3QtdG9rZW4tMDEyMzQ1Njc4OWFi";
const SECRET_REPLY: &str = r#"{"parts":[{"kind":"text","text":"Saldo: 98765,43 PLN"}]}"#;

/// A session is found by its token only (never stored as is), takes a language, and is gone
/// once expired; purging forgets it with its replies.
pub async fn webchat_sessions_resume_by_token_and_expire(ctx: &Ctx) {
    let s = &ctx.store;
    let c = CustomerId::new();
    let now = t("2026-03-01T10:00:00Z");
    s.create_webchat_session(TOKEN, c, Lang::Pl, now, now + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM webchat_sessions WHERE token_hash = $1",
            TOKEN
        )
        .await,
        0,
        "the token itself is never stored"
    );
    let later = now + Duration::minutes(50);
    let found = s
        .resume_webchat_session(TOKEN, None, later, later + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.customer, found.lang, found.last_seq),
        (c, Lang::Pl, 0)
    );
    assert!(
        s.resume_webchat_session("x".repeat(43).as_str(), None, later, later)
            .await
            .unwrap()
            .is_none()
    );
    // The expiry moved with the resume: still alive 80 minutes after creation.
    let at = now + Duration::minutes(80);
    let found = s
        .resume_webchat_session(TOKEN, Some(Lang::En), at, at + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.lang, Lang::En);
    s.append_webchat_reply(c, SECRET_REPLY, 10, at, at + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    let gone = at + Duration::hours(2);
    assert!(
        s.resume_webchat_session(TOKEN, None, gone, gone + Duration::hours(1))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.purge_webchat_sessions(gone).await.unwrap(), 1);
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM webchat_replies WHERE customer_id = $1",
            &c.to_string()
        )
        .await,
        0
    );
}

/// Seqs are unique and gapless under racing writers; the backlog keeps the newest `keep`, in
/// seq order, sealed; erasure deletes it while the session goes on.
pub async fn webchat_replies_are_sealed_ordered_bounded_and_erased(ctx: &Ctx) {
    let s = &ctx.store;
    let (c, _, _) = setup(s).await;
    let now = t("2026-03-01T10:00:00Z");
    let exp = now + Duration::hours(1);
    s.create_webchat_session(TOKEN, c, Lang::En, now, exp)
        .await
        .unwrap();
    assert_eq!(
        s.append_webchat_reply(CustomerId::new(), SECRET_REPLY, 3, now, exp)
            .await
            .unwrap(),
        None,
        "no session, nothing kept"
    );
    for i in 1..=5u64 {
        let reply = format!(r#"{{"n":{i}}}"#);
        assert_eq!(
            s.append_webchat_reply(c, &reply, 3, now, exp)
                .await
                .unwrap(),
            Some(i)
        );
    }
    let kept = s.webchat_replies_after(c, 0).await.unwrap();
    let seqs: Vec<u64> = kept.iter().map(|(n, _)| *n).collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    assert_eq!(kept[2].1, r#"{"n":5}"#);
    assert_eq!(s.webchat_replies_after(c, 4).await.unwrap().len(), 1);

    // Eight writers at once: eight distinct seqs, right after the last one.
    let store = Arc::new(s.clone());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let st = store.clone();
        tasks.push(tokio::spawn(async move {
            st.append_webchat_reply(c, SECRET_REPLY, 100, now, exp)
                .await
                .unwrap()
                .unwrap()
        }));
    }
    let mut got = Vec::new();
    for task in tasks {
        got.push(task.await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, (6..=13).collect::<Vec<u64>>());
    let after = s.webchat_replies_after(c, 5).await.unwrap();
    assert_eq!(
        after.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (6..=13).collect::<Vec<u64>>()
    );
    assert!(after.iter().all(|(_, r)| r == SECRET_REPLY));
    if let Some(file) = &ctx.db_file {
        let bytes = std::fs::read(file).unwrap();
        assert!(
            !bytes.windows(8).any(|w| w == b"98765,43"),
            "a reply is in the database file in the clear"
        );
    }
    let resumed = s
        .resume_webchat_session(TOKEN, None, now, exp)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.last_seq, 13);

    // Erasure: the backlog goes with the data key; the session (no financial data) stays.
    s.delete_customer_financial_data(c).await.unwrap();
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM webchat_replies WHERE customer_id = $1",
            &c.to_string()
        )
        .await,
        0
    );
    assert!(s.webchat_replies_after(c, 0).await.unwrap().is_empty());
    assert_eq!(
        s.append_webchat_reply(c, r#"{"n":14}"#, 3, now, exp)
            .await
            .unwrap(),
        Some(14)
    );
    assert_eq!(s.webchat_replies_after(c, 0).await.unwrap().len(), 1);
}
