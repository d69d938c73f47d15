//! Alert settings and the notice ledger (migration 0007).

use okienko_core::CustomerId;
use okienko_store::{NoticeRecord, StoreError};

use super::{Ctx, d, setup, t};

fn notice(customer: CustomerId, key: &str, due: Option<&str>, digest: bool) -> NoticeRecord {
    NoticeRecord {
        customer,
        event_key: key.into(),
        kind: "large_payment".into(),
        created_at: t("2026-03-01T10:00:00Z"),
        due_at: due.map(t),
        sent_at: None,
        digest,
        content: Some(format!("Płatność 612,40 zł w SKLEP-{key}")),
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Settings are sealed per customer, replaced whole, and erased with the customer's data.
pub async fn alert_settings_are_sealed_replaced_and_erased(ctx: &Ctx) {
    let s = &ctx.store;
    let (c, _, _) = setup(s).await;
    let (other, _, _) = setup(s).await;
    assert!(s.alert_settings(c).await.unwrap().is_none());
    let doc = r#"{"large_payment":"987654.32 PLN"}"#;
    s.put_alert_settings(c, doc, t("2026-03-01T10:00:00Z"))
        .await
        .unwrap();
    s.put_alert_settings(other, r#"{"x":1}"#, t("2026-03-01T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        s.alert_settings(c)
            .await
            .unwrap()
            .as_deref()
            .map(|x| x.as_str()),
        Some(doc)
    );
    let doc2 = r#"{"all_off":true}"#;
    s.put_alert_settings(c, doc2, t("2026-03-02T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        s.alert_settings(c)
            .await
            .unwrap()
            .as_deref()
            .map(|x| x.as_str()),
        Some(doc2)
    );
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM alert_settings WHERE customer_id = $1",
            &c.to_string()
        )
        .await,
        1
    );
    assert!(matches!(
        s.put_alert_settings(c, "", t("2026-03-02T10:00:00Z")).await,
        Err(StoreError::Invalid(_))
    ));
    // Sealed at rest: the plaintext of the first document is nowhere in the SQLite file.
    s.put_alert_settings(c, doc, t("2026-03-03T10:00:00Z"))
        .await
        .unwrap();
    if let Some(f) = &ctx.db_file {
        let _ = ctx.exec("PRAGMA wal_checkpoint(TRUNCATE)").await;
        for suffix in ["", "-wal"] {
            if let Ok(bytes) = std::fs::read(format!("{}{suffix}", f.display())) {
                assert!(!contains(&bytes, "987654.32"), "threshold in plaintext");
            }
        }
    }
    // A notice waiting to be sent is erased with the settings; its key stays.
    assert!(
        s.claim_notice(&notice(
            c,
            "large_payment:1",
            Some("2026-03-05T18:00:00Z"),
            true
        ))
        .await
        .unwrap()
    );
    s.delete_customer_financial_data(c).await.unwrap();
    assert!(s.alert_settings(c).await.unwrap().is_none());
    assert!(s.alert_settings(other).await.unwrap().is_some());
    let left = s.notices_for_customer(c).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].content, None);
    assert_eq!(left[0].due_at, None);
    assert!(
        !s.claim_notice(&notice(c, "large_payment:1", None, false))
            .await
            .unwrap(),
        "an erased customer's event is still not noticed twice"
    );
    assert!(
        s.due_notices(t("2026-12-31T00:00:00Z"))
            .await
            .unwrap()
            .iter()
            .all(|n| n.customer != c)
    );
}

/// One notice per (customer, event); due, sent, rescheduled, released; digests once a day.
pub async fn notices_are_once_per_event_and_digests_once_a_day(ctx: &Ctx) {
    let s = &ctx.store;
    let (c, _, _) = setup(s).await;
    let (other, _, _) = setup(s).await;
    assert_eq!(s.notice_baseline(c).await.unwrap(), None);
    s.set_notice_baseline(c, t("2026-03-01T10:00:00Z"))
        .await
        .unwrap();
    s.set_notice_baseline(c, t("2026-03-02T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        s.notice_baseline(c).await.unwrap(),
        Some(t("2026-03-01T10:00:00Z"))
    );

    let a = notice(c, "large_payment:a", Some("2026-03-01T10:00:00Z"), false);
    assert!(s.claim_notice(&a).await.unwrap());
    assert!(!s.claim_notice(&a).await.unwrap(), "claimed once");
    assert!(s.notice_claimed(c, "large_payment:a").await.unwrap());
    assert!(!s.notice_claimed(other, "large_payment:a").await.unwrap());
    // The same event key for another customer is another notice.
    assert!(
        s.claim_notice(&notice(other, "large_payment:a", None, false))
            .await
            .unwrap()
    );
    let b = notice(c, "salary:b", Some("2026-03-01T18:00:00Z"), true);
    assert!(s.claim_notice(&b).await.unwrap());
    assert!(matches!(
        s.claim_notice(&notice(c, "", None, false)).await,
        Err(StoreError::Invalid(_))
    ));

    let due = s.due_notices(t("2026-03-01T12:00:00Z")).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event_key, "large_payment:a");
    assert_eq!(due[0].content, a.content);
    assert!(!due[0].digest);
    let due = s.due_notices(t("2026-03-01T18:00:00Z")).await.unwrap();
    assert_eq!(due.len(), 2);

    // Sent once even if two senders race.
    let keys = vec!["large_payment:a".to_owned()];
    assert_eq!(
        s.mark_notices_sent(c, &keys, t("2026-03-01T12:00:01Z"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.mark_notices_sent(c, &keys, t("2026-03-01T12:00:02Z"))
            .await
            .unwrap(),
        0
    );
    let all = s.notices_for_customer(c).await.unwrap();
    let sent = all
        .iter()
        .find(|n| n.event_key == "large_payment:a")
        .unwrap();
    assert_eq!(sent.sent_at, Some(t("2026-03-01T12:00:01Z")));
    assert_eq!(sent.content, None, "a sent notice keeps no text");

    // Rescheduled to the next digest, then dropped.
    let keys = vec!["salary:b".to_owned()];
    s.reschedule_notices(c, &keys, Some(t("2026-03-02T18:00:00Z")))
        .await
        .unwrap();
    assert!(
        s.due_notices(t("2026-03-01T23:00:00Z"))
            .await
            .unwrap()
            .iter()
            .all(|n| n.customer != c)
    );
    assert_eq!(
        s.due_notices(t("2026-03-02T18:00:00Z"))
            .await
            .unwrap()
            .len(),
        1
    );
    s.reschedule_notices(c, &keys, None).await.unwrap();
    assert!(
        s.due_notices(t("2026-12-31T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );

    // A condition that ended is released and may be noticed again.
    assert!(s.release_notice(c, "large_payment:a").await.unwrap());
    assert!(!s.release_notice(c, "large_payment:a").await.unwrap());
    assert!(s.claim_notice(&a).await.unwrap());

    // One digest a day per customer.
    assert!(
        s.claim_digest(c, d("2026-03-01"), t("2026-03-01T18:00:00Z"))
            .await
            .unwrap()
    );
    assert!(
        !s.claim_digest(c, d("2026-03-01"), t("2026-03-01T19:00:00Z"))
            .await
            .unwrap()
    );
    assert!(
        s.claim_digest(other, d("2026-03-01"), t("2026-03-01T18:00:00Z"))
            .await
            .unwrap()
    );
    assert!(
        s.claim_digest(c, d("2026-03-02"), t("2026-03-02T18:00:00Z"))
            .await
            .unwrap()
    );
    s.release_digest(c, d("2026-03-02")).await.unwrap();
    assert!(
        s.claim_digest(c, d("2026-03-02"), t("2026-03-02T18:30:00Z"))
            .await
            .unwrap()
    );
}
