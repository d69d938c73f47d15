//! Fraud-warning bookkeeping (migration 0004): baselines, episodes, cases, notice deliveries.

use okienko_core::{AccountId, CustomerId, TransactionId};
use okienko_store::{FraudCaseRecord, FraudEpisodeRecord, StoreError};

use super::{Ctx, t};

fn episode(id: &str, customer: CustomerId, at: &str) -> FraudEpisodeRecord {
    FraudEpisodeRecord {
        id: id.into(),
        customer,
        opened_at: t(at),
        last_at: t(at),
        severity: "low".into(),
        status: "open".into(),
        warning_tx: Some(TransactionId::new()),
        account: Some(AccountId::new()),
        warn_due_at: None,
        warned_at: None,
        answered_at: None,
    }
}

/// Episodes round-trip, the newest is found, due warnings and answers are counted by time.
pub async fn fraud_episodes_round_trip_and_count(ctx: &Ctx) {
    let s = &ctx.store;
    let c = CustomerId::new();
    assert_eq!(s.fraud_baseline(c).await.unwrap(), None);
    s.set_fraud_baseline(c, t("2026-03-01T10:00:00Z"))
        .await
        .unwrap();
    s.set_fraud_baseline(c, t("2026-03-09T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        s.fraud_baseline(c).await.unwrap(),
        Some(t("2026-03-01T10:00:00Z")),
        "the first baseline is kept"
    );

    let mut a = episode("ep-a", c, "2026-03-02T10:00:00Z");
    a.warn_due_at = Some(t("2026-03-03T06:00:00Z"));
    s.upsert_fraud_episode(&a).await.unwrap();
    let mut b = episode("ep-b", c, "2026-03-05T10:00:00Z");
    b.status = "legit".into();
    b.warned_at = Some(t("2026-03-05T10:00:00Z"));
    b.answered_at = Some(t("2026-03-05T10:05:00Z"));
    s.upsert_fraud_episode(&b).await.unwrap();
    assert_eq!(s.fraud_episode("ep-a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.latest_fraud_episode(c).await.unwrap(), Some(b.clone()));
    assert_eq!(
        s.latest_fraud_episode(CustomerId::new()).await.unwrap(),
        None
    );

    assert!(
        s.fraud_episodes_due("open", t("2026-03-03T05:59:59Z"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.fraud_episodes_due("open", t("2026-03-03T06:00:00Z"))
            .await
            .unwrap(),
        vec![a.clone()]
    );
    a.warn_due_at = None;
    a.warned_at = Some(t("2026-03-03T06:00:00Z"));
    s.upsert_fraud_episode(&a).await.unwrap();
    assert!(
        s.fraud_episodes_due("open", t("2026-03-04T00:00:00Z"))
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        s.fraud_answers_since(c, "legit", t("2026-03-01T00:00:00Z"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.fraud_answers_since(c, "legit", t("2026-03-06T00:00:00Z"))
            .await
            .unwrap(),
        0
    );

    // Bad input is refused and changes nothing.
    let mut bad = episode("", c, "2026-03-02T10:00:00Z");
    assert!(matches!(
        s.upsert_fraud_episode(&bad).await,
        Err(StoreError::Invalid(_))
    ));
    bad.id = "x".repeat(300);
    assert!(matches!(
        s.upsert_fraud_episode(&bad).await,
        Err(StoreError::Invalid(_))
    ));
}

/// One case per episode; updates need an existing case; cases carry no amounts.
pub async fn fraud_cases_are_one_per_episode(ctx: &Ctx) {
    let s = &ctx.store;
    let c = CustomerId::new();
    let case = FraudCaseRecord {
        id: "case-1".into(),
        customer: c,
        episode_id: "ep-1".into(),
        status: "open".into(),
        opened_at: t("2026-03-02T10:00:00Z"),
        closed_at: None,
        cards_blocked: 1,
    };
    assert_eq!(s.insert_fraud_case(&case).await.unwrap(), case);
    let again = FraudCaseRecord {
        id: "case-2".into(),
        ..case.clone()
    };
    assert_eq!(
        s.insert_fraud_case(&again).await.unwrap(),
        case,
        "a second case for the episode returns the first"
    );
    assert_eq!(
        s.fraud_cases_for_customer(c).await.unwrap(),
        vec![case.clone()]
    );
    let closed = FraudCaseRecord {
        status: "closed".into(),
        closed_at: Some(t("2026-03-04T10:00:00Z")),
        ..case.clone()
    };
    s.update_fraud_case(&closed).await.unwrap();
    assert_eq!(
        s.fraud_case_for_episode("ep-1").await.unwrap(),
        Some(closed)
    );
    let ghost = FraudCaseRecord {
        id: "nope".into(),
        ..case
    };
    assert!(matches!(
        s.update_fraud_case(&ghost).await,
        Err(StoreError::NotFound("fraud_cases"))
    ));
}

/// A notice reaches a customer once, even when recorded concurrently; a release allows a retry.
pub async fn notice_deliveries_are_once_per_customer(ctx: &Ctx) {
    let s = &ctx.store;
    let (a, b) = (CustomerId::new(), CustomerId::new());
    let at = t("2026-03-02T10:00:00Z");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.record_notice_delivery("n-1", a, at).await.unwrap() })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        firsts += task.await.unwrap() as u32;
    }
    assert_eq!(firsts, 1);
    assert!(s.record_notice_delivery("n-1", b, at).await.unwrap());
    assert!(s.record_notice_delivery("n-2", a, at).await.unwrap());
    s.forget_notice_delivery("n-1", a).await.unwrap();
    assert!(s.record_notice_delivery("n-1", a, at).await.unwrap());
    assert!(matches!(
        s.record_notice_delivery("", a, at).await,
        Err(StoreError::Invalid(_))
    ));
}

/// Bank warnings held for quiet hours (migration 0018): a published warning's texts round-trip
/// and a later publish replaces them; a hold is once per customer and warning; due holds come
/// oldest first up to a limit; rescheduling moves one; releasing forgets it once.
pub async fn held_warnings_are_once_due_in_order_and_released(ctx: &Ctx) {
    use okienko_store::{BankWarningRecord, HeldWarningRecord};
    let s = &ctx.store;
    let w = BankWarningRecord {
        id: "campaign-1".into(),
        bank: "sandbox".into(),
        text_pl: "Uwaga: fałszywe SMS-y".into(),
        text_en: "Beware of fake texts".into(),
        published_at: t("2026-03-01T21:00:00Z"),
    };
    assert_eq!(s.bank_warning("campaign-1").await.unwrap(), None);
    s.save_bank_warning(&w).await.unwrap();
    assert_eq!(s.bank_warning("campaign-1").await.unwrap(), Some(w.clone()));
    let newer = BankWarningRecord {
        text_en: "Beware of fake texts and calls".into(),
        ..w.clone()
    };
    s.save_bank_warning(&newer).await.unwrap();
    assert_eq!(s.bank_warning("campaign-1").await.unwrap(), Some(newer));

    let (a, b) = (CustomerId::new(), CustomerId::new());
    let hold = |c: CustomerId, due: &str, channel: Option<&str>| HeldWarningRecord {
        customer: c,
        kind: "bank_warning".into(),
        ref_id: "campaign-1".into(),
        due_at: t(due),
        held_at: t("2026-03-01T21:00:00Z"),
        channel: channel.map(str::to_owned),
    };
    assert!(
        s.hold_warning(&hold(a, "2026-03-02T06:00:00Z", Some("messenger")))
            .await
            .unwrap()
    );
    // Held again: the first hold stays.
    assert!(
        !s.hold_warning(&hold(a, "2026-03-02T09:00:00Z", None))
            .await
            .unwrap()
    );
    assert!(
        s.hold_warning(&hold(b, "2026-03-02T05:00:00Z", None))
            .await
            .unwrap()
    );
    assert!(
        s.is_warning_held(a, "bank_warning", "campaign-1")
            .await
            .unwrap()
    );
    assert!(
        !s.is_warning_held(a, "bank_warning", "campaign-2")
            .await
            .unwrap()
    );
    assert!(
        s.held_warnings_due(t("2026-03-02T04:59:59Z"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = s
        .held_warnings_due(t("2026-03-02T06:00:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!((due[0].customer, due[1].customer), (b, a));
    assert_eq!(due[1], hold(a, "2026-03-02T06:00:00Z", Some("messenger")));
    assert_eq!(
        s.held_warnings_due(t("2026-03-02T06:00:00Z"), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    s.reschedule_held_warning(a, "bank_warning", "campaign-1", t("2026-03-02T07:00:00Z"))
        .await
        .unwrap();
    let due = s
        .held_warnings_due(t("2026-03-02T06:30:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].customer, b);
    assert_eq!(s.held_warnings_for_customer(a).await.unwrap().len(), 1);
    assert!(
        s.release_held_warning(b, "bank_warning", "campaign-1")
            .await
            .unwrap()
    );
    assert!(
        !s.release_held_warning(b, "bank_warning", "campaign-1")
            .await
            .unwrap()
    );
    assert!(s.held_warnings_for_customer(b).await.unwrap().is_empty());
    assert!(matches!(
        s.hold_warning(&HeldWarningRecord {
            ref_id: String::new(),
            ..hold(a, "2026-03-02T06:00:00Z", None)
        })
        .await,
        Err(StoreError::Invalid(_))
    ));
}
