//! Cards and category corrections through the gate, over a real SQLite file: a card call runs
//! only when the gate allows it and is audited under `service.cards`; corrections are written
//! and read only by the customer themself, kept per customer, audited, and erased with the data.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Duration, Utc};
use okienko_core::{ConsentId, ConsentScope, ConsentStatus, CustomerId, Lang, SystemClock};
use okienko_privacy::{
    AccessError, AccessRequest, CardAccess, CardAccessError, ChannelContext, CorrectionError,
    PrivacyGate, Purpose,
};
use okienko_store::{ConsentRecord, CustomerRecord, Store};

async fn customer(store: &Store, status: ConsentStatus) -> CustomerId {
    let now = Utc::now();
    let customer = CustomerId::new();
    store
        .upsert_customer(&CustomerRecord {
            id: customer,
            lang: Lang::Pl,
            tz: "Europe/Warsaw".into(),
            created_at: now,
        })
        .await
        .unwrap();
    store
        .insert_consent(&ConsentRecord {
            id: ConsentId::new(),
            customer,
            bank: "sandbox".into(),
            bank_consent_id: Some("c-1".into()),
            status,
            scopes: vec![ConsentScope::Balances, ConsentScope::Transactions],
            valid_until: (now + Duration::days(90)).date_naive(),
            frequency_per_day: 4,
            recurring: true,
            access_token: None,
            oauth_state: None,
            pkce_verifier: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    customer
}

async fn gate() -> (tempfile::TempDir, Store, PrivacyGate) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.sqlite");
    let store = Store::connect(
        &format!("sqlite://{}?mode=rwc", path.display()),
        okienko_store::Keyring::generate(),
    )
    .await
    .unwrap();
    let gate = PrivacyGate::new(store.clone(), Arc::new(SystemClock));
    (dir, store, gate)
}

#[tokio::test]
async fn a_card_call_runs_only_when_the_gate_allows_it_and_is_audited() {
    let (_dir, store, gate) = gate().await;
    let anna = customer(&store, ConsentStatus::Valid).await;
    let req = AccessRequest::customer(anna, Purpose::ServiceCards, ChannelContext::WebChat);
    let got = gate
        .cards(&req, CardAccess::List, async { Ok::<_, ()>(vec!["card"]) })
        .await
        .unwrap();
    assert_eq!(got.data(), &vec!["card"]);
    assert_eq!(got.purpose(), Purpose::ServiceCards);
    let log = gate.access_log(anna).await.unwrap();
    assert!(
        log.data()
            .iter()
            .any(|e| e.purpose == "service.cards" && e.action == "read.cards")
    );

    // Denied: a platform-readable channel, someone else's cards, a forbidden purpose, a wrong
    // purpose. The bank call is never polled.
    let john = customer(&store, ConsentStatus::Valid).await;
    let polled = Arc::new(AtomicBool::new(false));
    let mut others = AccessRequest::customer(anna, Purpose::ServiceCards, ChannelContext::WebChat);
    others.subject = john;
    for bad in [
        AccessRequest::customer(
            anna,
            Purpose::ServiceCards,
            ChannelContext::PlatformReadable,
        ),
        AccessRequest::customer(anna, Purpose::ServiceCards, ChannelContext::WebChat)
            .in_shared_room(),
        others,
        AccessRequest::customer(anna, Purpose::Advertising, ChannelContext::WebChat),
        AccessRequest::customer(anna, Purpose::ServiceBalance, ChannelContext::WebChat),
    ] {
        let p = polled.clone();
        let r = gate
            .cards(&bad, CardAccess::Block, async move {
                p.store(true, Ordering::SeqCst);
                Ok::<_, ()>(())
            })
            .await;
        assert!(
            matches!(
                r,
                Err(CardAccessError::Access(
                    AccessError::Denied(_) | AccessError::WrongPurpose
                ))
            ),
            "{bad:?}"
        );
    }
    assert!(
        !polled.load(Ordering::SeqCst),
        "a denied card call reached the bank"
    );
    // A failing bank call is reported as such, after the audit row.
    let r = gate
        .cards(&req, CardAccess::ReportLost, async { Err::<(), _>("down") })
        .await;
    assert!(matches!(r, Err(CardAccessError::Bank("down"))));
    let log = gate.access_log(anna).await.unwrap();
    assert!(log.data().iter().any(|e| e.action == "card.report_lost"));
    assert!(gate.verify_audit().await.unwrap().intact);
}

#[tokio::test]
async fn corrections_are_the_customers_own_and_go_through_the_gate() {
    let (_dir, store, gate) = gate().await;
    let anna = customer(&store, ConsentStatus::Valid).await;
    let john = customer(&store, ConsentStatus::Valid).await;
    let mine = AccessRequest::customer(
        anna,
        Purpose::ServiceSpendingSummary,
        ChannelContext::WebChat,
    );
    gate.correct_category(&mine, "Żabka", "shopping")
        .await
        .unwrap();
    gate.correct_category(&mine, "ŻABKA ", "groceries")
        .await
        .unwrap();
    let got = gate.category_corrections(&mine).await.unwrap().into_data();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].merchant.as_str(), got[0].category.as_str()),
        ("zabka", "groceries")
    );
    let johns = AccessRequest::customer(
        john,
        Purpose::ServiceSpendingSummary,
        ChannelContext::WebChat,
    );
    assert!(
        gate.category_corrections(&johns)
            .await
            .unwrap()
            .data()
            .is_empty()
    );

    // Nobody else writes or reads them; bad input changes nothing.
    let mut as_other = mine.clone();
    as_other.subject = john;
    assert!(
        gate.correct_category(&as_other, "Orlen", "groceries")
            .await
            .is_err()
    );
    assert!(gate.category_corrections(&as_other).await.is_err());
    let ads = AccessRequest::customer(anna, Purpose::Advertising, ChannelContext::WebChat);
    assert!(gate.category_corrections(&ads).await.is_err());
    assert!(matches!(
        gate.correct_category(&mine, "  ", "groceries").await,
        Err(CorrectionError::Invalid)
    ));
    assert!(matches!(
        gate.correct_category(&mine, "x\u{0}y", "groceries").await,
        Err(CorrectionError::Invalid)
    ));
    assert!(
        gate.category_corrections(&johns)
            .await
            .unwrap()
            .data()
            .is_empty()
    );
    assert_eq!(
        gate.category_corrections(&mine).await.unwrap().data().len(),
        1
    );
    let log = gate.access_log(anna).await.unwrap();
    assert!(
        log.data()
            .iter()
            .any(|e| e.action == "write.category_correction")
    );

    // Erasure takes them with the rest of the customer's data.
    store.delete_customer_financial_data(anna).await.unwrap();
    assert!(
        gate.category_corrections(&mine)
            .await
            .unwrap()
            .data()
            .is_empty()
    );
}
