//! Conformance tests of human support's tables: staff and sessions, cases, the atomic claim under
//! a race, transfers and closing, and sealed transcripts that erasure removes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use okienko_core::CustomerId;
use okienko_store::{
    StaffRecord, StoreError, SupportCaseRecord, SupportConversationRecord, SupportMessageRecord,
};

use super::harness::{Ctx, Raw};
use super::t;

fn conversation(bank: &str, customer: CustomerId, at: &str) -> SupportConversationRecord {
    SupportConversationRecord {
        id: uuid::Uuid::new_v4().to_string(),
        bank: bank.into(),
        customer,
        team: "general".into(),
        owner: None,
        status: "queued".into(),
        reason: "customer_asked".into(),
        lang: "pl".into(),
        case_id: None,
        requested_at: t(at),
        claimed_at: None,
        first_response_at: None,
        closed_at: None,
        resolution: None,
        escalated: false,
        csat: None,
    }
}

fn message(conv: &SupportConversationRecord, sender: &str, text: &str) -> SupportMessageRecord {
    SupportMessageRecord {
        id: uuid::Uuid::new_v4().to_string(),
        conversation_id: conv.id.clone(),
        customer: conv.customer,
        seq: 0,
        sender: sender.into(),
        kind: "message".into(),
        at: t("2026-03-01T10:00:00Z"),
        text: text.into(),
    }
}

pub async fn support_staff_sessions_and_cases_round_trip(ctx: &Ctx) {
    let s = &ctx.store;
    let staff = StaffRecord {
        id: "staff-1".into(),
        bank: "sandbox".into(),
        username: "ola".into(),
        display_name: "Ola K.".into(),
        role: "agent".into(),
        team: "general".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: t("2026-03-01T09:00:00Z"),
    };
    s.insert_staff(&staff).await.unwrap();
    assert_eq!(
        s.staff_by_username("ola").await.unwrap(),
        Some(staff.clone())
    );
    assert_eq!(s.staff_by_id("staff-1").await.unwrap(), Some(staff.clone()));
    assert_eq!(s.staff_of_bank("sandbox").await.unwrap().len(), 1);
    assert!(s.staff_of_bank("other").await.unwrap().is_empty());
    // A taken username is a unique violation, and the first account is unchanged.
    let dup = StaffRecord {
        id: "staff-2".into(),
        ..staff.clone()
    };
    match s.insert_staff(&dup).await {
        Err(StoreError::Query(f)) => assert!(f.is_unique_violation(), "{f}"),
        other => panic!("expected a unique violation, got {other:?}"),
    }

    let now = t("2026-03-01T10:00:00Z");
    s.insert_staff_session("hash-1", "staff-1", now, now + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        s.staff_session("hash-1", now).await.unwrap().as_deref(),
        Some("staff-1")
    );
    assert_eq!(
        s.staff_session("hash-1", now + Duration::hours(2))
            .await
            .unwrap(),
        None,
        "an expired session signs nobody in"
    );
    assert!(s.delete_staff_session("hash-1").await.unwrap());
    assert_eq!(s.staff_session("hash-1", now).await.unwrap(), None);

    let customer = CustomerId::new();
    let case = SupportCaseRecord {
        id: uuid::Uuid::new_v4().to_string(),
        agent: "staff-1".into(),
        customer,
        opened_at: now,
        closed_at: None,
    };
    s.insert_support_case(&case).await.unwrap();
    assert_eq!(
        s.open_support_cases_of("staff-1").await.unwrap(),
        vec![case.id.clone()]
    );
    assert_eq!(
        s.open_support_case_subject(&case.id).await.unwrap(),
        Some(customer)
    );
    assert!(s.close_support_case(&case.id, now).await.unwrap());
    assert!(!s.close_support_case(&case.id, now).await.unwrap());
    assert!(s.open_support_cases_of("staff-1").await.unwrap().is_empty());
    assert_eq!(s.open_support_case_subject(&case.id).await.unwrap(), None);
}

/// 50 agents race for 20 queued conversations, each trying every one: each conversation is
/// claimed exactly once, by the agent the database names as its owner.
pub async fn support_claim_race(ctx: &Ctx) {
    let s = &ctx.store;
    let mut ids = Vec::new();
    for i in 0..20 {
        let c = conversation(
            "sandbox",
            CustomerId::new(),
            &format!("2026-03-01T10:00:{i:02}Z"),
        );
        s.insert_support_conversation(&c).await.unwrap();
        ids.push(c.id);
    }
    let ids = Arc::new(ids);
    let mut tasks = Vec::new();
    for agent in 0..50usize {
        let store = s.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for k in 0..ids.len() {
                let id = &ids[(k + agent) % ids.len()];
                if store
                    .claim_support_conversation(
                        id,
                        "sandbox",
                        &format!("agent-{agent}"),
                        Utc::now(),
                    )
                    .await
                    .unwrap()
                {
                    won.push(id.clone());
                }
            }
            (agent, won)
        }));
    }
    let mut winners: HashMap<String, Vec<usize>> = HashMap::new();
    for task in tasks {
        let (agent, won) = task.await.unwrap();
        for id in won {
            winners.entry(id).or_default().push(agent);
        }
    }
    assert_eq!(winners.len(), 20, "every conversation was claimed");
    for id in ids.iter() {
        let w = &winners[id];
        assert_eq!(w.len(), 1, "conversation {id} claimed by {w:?}");
        let rec = s.support_conversation(id).await.unwrap().unwrap();
        assert_eq!(rec.owner, Some(format!("agent-{}", w[0])));
        assert_eq!(rec.status, "active");
        assert!(rec.claimed_at.is_some());
    }
    assert!(
        s.support_conversations_with_status("sandbox", "queued")
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn support_conversation_lifecycle(ctx: &Ctx) {
    let s = &ctx.store;
    let customer = CustomerId::new();
    let a = conversation("sandbox", customer, "2026-03-01T10:00:00Z");
    let b = conversation("sandbox", CustomerId::new(), "2026-03-01T10:05:00Z");
    let other_bank = conversation("otherbank", CustomerId::new(), "2026-03-01T09:00:00Z");
    // Asked twice before the conversation exists (on SQLite the second answer comes from
    // memory): none; the insert must be seen at once all the same.
    for _ in 0..2 {
        assert_eq!(
            s.live_support_conversation_of(customer).await.unwrap(),
            None
        );
    }
    for c in [&a, &b, &other_bank] {
        s.insert_support_conversation(c).await.unwrap();
    }
    let queue = s
        .support_conversations_with_status("sandbox", "queued")
        .await
        .unwrap();
    assert_eq!(
        queue.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        vec![a.id.clone(), b.id.clone()],
        "oldest first, only this bank's"
    );
    assert_eq!(
        s.live_support_conversation_of(customer).await.unwrap(),
        Some(a.clone())
    );
    // Another bank's staff cannot claim it.
    assert!(
        !s.claim_support_conversation(&a.id, "otherbank", "x", t("2026-03-01T10:01:00Z"))
            .await
            .unwrap()
    );
    // SLA: only what waited past the deadline is flagged, once.
    let flagged = s
        .escalate_support_conversations("sandbox", t("2026-03-01T10:03:00Z"))
        .await
        .unwrap();
    assert_eq!(flagged, vec![a.id.clone()]);
    assert!(
        s.escalate_support_conversations("sandbox", t("2026-03-01T10:03:00Z"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.support_conversation(&a.id)
            .await
            .unwrap()
            .unwrap()
            .escalated
    );

    assert!(
        s.claim_support_conversation(&a.id, "sandbox", "ola", t("2026-03-01T10:04:00Z"))
            .await
            .unwrap()
    );
    s.set_support_conversation_case(&a.id, Some("case-1"))
        .await
        .unwrap();
    s.mark_support_first_response(&a.id, t("2026-03-01T10:04:30Z"))
        .await
        .unwrap();
    s.mark_support_first_response(&a.id, t("2026-03-01T10:09:00Z"))
        .await
        .unwrap();
    let got = s.support_conversation(&a.id).await.unwrap().unwrap();
    assert_eq!(got.case_id.as_deref(), Some("case-1"));
    assert_eq!(got.first_response_at, Some(t("2026-03-01T10:04:30Z")));
    // Only the holder transfers; a transfer to a person keeps it active, to a team re-queues it.
    assert!(
        !s.transfer_support_conversation(&a.id, "someone", Some("jan"), "general")
            .await
            .unwrap()
    );
    assert!(
        s.transfer_support_conversation(&a.id, "ola", Some("jan"), "cards")
            .await
            .unwrap()
    );
    let got = s.support_conversation(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.owner.as_deref(), got.status.as_str(), got.team.as_str()),
        (Some("jan"), "active", "cards")
    );
    assert_eq!(got.case_id, None, "the old case does not travel");
    assert!(
        s.transfer_support_conversation(&a.id, "jan", None, "general")
            .await
            .unwrap()
    );
    let got = s.support_conversation(&a.id).await.unwrap().unwrap();
    assert_eq!((got.owner, got.status.as_str()), (None, "queued"));
    assert!(
        s.claim_support_conversation(&a.id, "sandbox", "jan", t("2026-03-01T10:10:00Z"))
            .await
            .unwrap()
    );
    // CSAT only after closing, only 1..=5, only once.
    assert!(!s.record_support_csat(&a.id, customer, 5).await.unwrap());
    assert!(
        !s.close_support_conversation(&a.id, Some("ola"), "solved", t("2026-03-01T10:20:00Z"))
            .await
            .unwrap(),
        "only the holder closes"
    );
    assert!(
        s.close_support_conversation(&a.id, Some("jan"), "solved", t("2026-03-01T10:20:00Z"))
            .await
            .unwrap()
    );
    assert_eq!(
        s.live_support_conversation_of(customer).await.unwrap(),
        None
    );
    // The customer asks for a person again: the new conversation is live at once.
    let again = conversation("sandbox", customer, "2026-03-01T11:00:00Z");
    s.insert_support_conversation(&again).await.unwrap();
    assert_eq!(
        s.live_support_conversation_of(customer).await.unwrap(),
        Some(again.clone())
    );
    assert!(matches!(
        s.record_support_csat(&a.id, customer, 6).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        !s.record_support_csat(&a.id, CustomerId::new(), 4)
            .await
            .unwrap()
    );
    assert!(s.record_support_csat(&a.id, customer, 4).await.unwrap());
    assert!(!s.record_support_csat(&a.id, customer, 1).await.unwrap());
    let got = s.support_conversation(&a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.status.as_str(), got.resolution.as_deref(), got.csat),
        ("closed", Some("solved"), Some(4))
    );
    let closed = s
        .support_conversations_closed_since("sandbox", t("2026-03-01T00:00:00Z"), 10)
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
}

async fn raw_sealed(ctx: &Ctx) -> Vec<Vec<u8>> {
    let sql = "SELECT sealed FROM support_messages";
    match &ctx.raw {
        Raw::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        Raw::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
    }
    .unwrap()
}

/// Transcript text is sealed at rest, read back in order, and gone (rows and key) after erasure.
pub async fn support_transcripts_are_sealed_and_erased(ctx: &Ctx) {
    let s = &ctx.store;
    let customer = CustomerId::new();
    let other = CustomerId::new();
    let conv = conversation("sandbox", customer, "2026-03-01T10:00:00Z");
    let conv2 = conversation("sandbox", other, "2026-03-01T10:00:00Z");
    s.insert_support_conversation(&conv).await.unwrap();
    s.insert_support_conversation(&conv2).await.unwrap();
    let secret = "moje saldo to 4321,99 zł, IBAN PL61109010140000071219812874";
    assert_eq!(
        s.append_support_message(&message(&conv, "customer", secret))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.append_support_message(&message(&conv, "agent:ola", "Już sprawdzam."))
            .await
            .unwrap(),
        2
    );
    s.append_support_message(&message(&conv2, "customer", "hello"))
        .await
        .unwrap();
    let lines = s.support_messages(&conv.id).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.seq, l.sender.as_str(), l.text.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "customer", secret), (2, "agent:ola", "Już sprawdzam.")]
    );
    for bytes in raw_sealed(ctx).await {
        assert!(
            !bytes.windows(6).any(|w| w == b"4321,9")
                && !bytes.windows(8).any(|w| w == b"PL611090"),
            "transcript text stored in plaintext"
        );
    }
    // Debug never shows the text.
    assert!(!format!("{:?}", lines[0]).contains("4321"));

    s.delete_customer_financial_data(customer).await.unwrap();
    assert_eq!(
        ctx.count(
            "SELECT COUNT(*) FROM support_messages WHERE customer_id = $1",
            &customer.to_string()
        )
        .await,
        0
    );
    assert!(s.support_messages(&conv.id).await.unwrap().is_empty());
    // The other customer's transcript is untouched.
    assert_eq!(s.support_messages(&conv2.id).await.unwrap().len(), 1);
}
