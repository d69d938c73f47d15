//! Payments (migration 0006) on both backends: one row per chat action, compare-and-set state
//! moves, open-payment recovery listing, sealed order details.

use chrono::{Duration, TimeZone, Utc};
use okienko_core::Money;
use okienko_store::NewPayment;

use super::Ctx;

fn new_payment(customer: okienko_core::CustomerId, action: &str, n: i64) -> NewPayment {
    NewPayment {
        id: uuid::Uuid::new_v4().to_string(),
        customer,
        action_key: action.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        product: "instant-sepa-credit-transfers".into(),
        state: "requested".into(),
        amount: Money::parse("50.25", "PLN").unwrap(),
        debtor: "PL61109010140000071219812874".parse().unwrap(),
        creditor: "DE89370400440532013000".parse().unwrap(),
        creditor_name: "Anna Nowak".into(),
        remittance: Some("obiad".into()),
        context: r#"{"psu":"anna"}"#.into(),
        at: Utc.with_ymd_and_hms(2026, 10, 1, 12, 0, 0).unwrap() + Duration::seconds(n),
    }
}

pub async fn payments_are_once_per_action_and_move_by_compare_and_set(ctx: &Ctx) {
    let s = &ctx.store;
    let (customer, _, _) = super::setup(s).await;
    let first = new_payment(customer, "chat-action-1", 0);
    let (rec, created) = s.create_payment(&first).await.unwrap();
    assert!(created);
    assert_eq!(rec.amount, first.amount);
    assert_eq!(rec.creditor, first.creditor);
    assert_eq!(rec.remittance.as_deref(), Some("obiad"));
    assert_eq!(rec.context, first.context);
    assert!(!format!("{rec:?}").contains("50.25"));
    assert!(!format!("{rec:?}").contains("DE89"));

    // A double click: another id and request id, same action key → the first payment.
    let (again, created) = s
        .create_payment(&new_payment(customer, "chat-action-1", 1))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(again.request_id, first.request_id);
    assert_eq!(s.customer_payments(customer).await.unwrap().len(), 1);

    // Compare-and-set: only the holder of the current state moves it.
    let at = Utc::now();
    assert!(
        !s.advance_payment(&first.id, "initiated", "executed", None, None, at)
            .await
            .unwrap()
    );
    assert!(
        s.advance_payment(
            &first.id,
            "requested",
            "initiated",
            Some("bank-1"),
            None,
            at
        )
        .await
        .unwrap()
    );
    assert!(
        !s.advance_payment(
            &first.id,
            "requested",
            "initiated",
            Some("bank-2"),
            None,
            at
        )
        .await
        .unwrap()
    );
    let r = s.payment(&first.id).await.unwrap().unwrap();
    assert_eq!(r.state, "initiated");
    assert_eq!(r.bank_payment_id.as_deref(), Some("bank-1"));
    assert!(
        s.advance_payment(&first.id, "initiated", "rejected", None, Some("AM04"), at)
            .await
            .unwrap()
    );
    let r = s.payment(&first.id).await.unwrap().unwrap();
    assert_eq!(
        (
            r.state.as_str(),
            r.reason.as_deref(),
            r.bank_payment_id.as_deref()
        ),
        ("rejected", Some("AM04"), Some("bank-1"))
    );

    // Recovery lists what is not final, oldest first.
    let second = new_payment(customer, "chat-action-2", 2);
    s.create_payment(&second).await.unwrap();
    let open = s
        .open_payments(&["executed", "rejected", "cancelled"])
        .await
        .unwrap();
    assert_eq!(
        open.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec![second.id.as_str()]
    );

    // Bad input is refused and changes nothing.
    let mut bad = new_payment(customer, "", 3);
    assert!(s.create_payment(&bad).await.is_err());
    bad.action_key = "x".repeat(500);
    assert!(s.create_payment(&bad).await.is_err());
    assert_eq!(s.customer_payments(customer).await.unwrap().len(), 2);
    assert!(s.payment("nope").await.unwrap().is_none());

    // The order details are sealed: no IBAN or payee in plaintext columns.
    let plain = ctx
        .count(
            "SELECT COUNT(*) FROM payments WHERE action_key = $1 AND reason IS NULL",
            "chat-action-2",
        )
        .await;
    assert_eq!(plain, 1);
}
