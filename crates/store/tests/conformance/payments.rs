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

const FINAL: [&str; 3] = ["executed", "rejected", "cancelled"];

/// Issue 9 (migration 0023): the right to tell the customer how a payment ended is claimed once
/// across stores (two stores stand for two gateway processes), and the sweep lists exactly the
/// final payments nobody claimed that ended before its cut-off.
pub async fn payment_notices_are_claimed_once_and_swept(ctx: &Ctx) {
    let s = &ctx.store;
    let (customer, _, _) = super::setup(s).await;
    let ended = new_payment(customer, "notice-ended", 0);
    let open = new_payment(customer, "notice-open", 1);
    s.create_payment(&ended).await.unwrap();
    s.create_payment(&open).await.unwrap();
    let end_at = Utc.with_ymd_and_hms(2026, 10, 1, 12, 5, 0).unwrap();
    assert!(
        s.advance_payment(
            &ended.id,
            "requested",
            "executed",
            Some("b-1"),
            None,
            end_at
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.payment(&ended.id).await.unwrap().unwrap().notified_at,
        None
    );

    // Ended at 12:05: a sweep with the cut-off at 12:05 leaves it to its teller, a later one
    // lists it; the open payment is never listed.
    assert!(
        s.unnotified_payments(&FINAL, end_at)
            .await
            .unwrap()
            .is_empty()
    );
    let later = end_at + Duration::seconds(30);
    let swept = s.unnotified_payments(&FINAL, later).await.unwrap();
    assert_eq!(
        swept.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec![ended.id.as_str()]
    );
    assert_eq!(
        swept[0].amount, ended.amount,
        "the sweep reads the order back"
    );

    // Sixteen claimers on two stores: exactly one wins.
    let other = ctx.reopen(super::harness::keyring()).await.unwrap();
    let stores = [s.clone(), other.clone()];
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let st = stores[i % 2].clone();
            let id = ended.id.clone();
            tokio::spawn(async move { st.claim_payment_notice(&id, later).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one claimer tells the customer");
    assert_eq!(
        s.payment(&ended.id).await.unwrap().unwrap().notified_at,
        Some(later)
    );
    assert!(
        s.unnotified_payments(&FINAL, later)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!s.claim_payment_notice("nope", later).await.unwrap());

    // A rejection is swept like a receipt; claimed, it is gone from the sweep.
    assert!(
        s.advance_payment(
            &open.id,
            "requested",
            "rejected",
            None,
            Some("AM04"),
            end_at
        )
        .await
        .unwrap()
    );
    let swept = other.unnotified_payments(&FINAL, later).await.unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].reason.as_deref(), Some("AM04"));
    assert!(other.claim_payment_notice(&open.id, later).await.unwrap());
    assert!(!s.claim_payment_notice(&open.id, later).await.unwrap());
    assert!(
        s.unnotified_payments(&FINAL, later)
            .await
            .unwrap()
            .is_empty()
    );
    other.close().await;
}

/// Issue 9: the daily cap is checked and the payment recorded atomically per customer, so
/// two stores (two gateway processes) confirming transfers at once never together exceed it.
/// Rejected and cancelled payments, payments outside the window and other customers' payments
/// do not count; a retry of a recorded action is never refused.
pub async fn daily_limit_is_checked_and_recorded_atomically(ctx: &Ctx) {
    let s = &ctx.store;
    let (customer, _, _) = super::setup(s).await;
    let from = Utc.with_ymd_and_hms(2026, 9, 30, 22, 0, 0).unwrap();
    let until = from + Duration::days(1);
    let uncounted = ["rejected", "cancelled"];
    let limit = okienko_store::DayLimit {
        from,
        until,
        max: Money::parse("200", "PLN").unwrap(),
        uncounted_states: &uncounted,
    };
    let pay = |action: &str, amount: &str, n: i64| {
        let mut p = new_payment(customer, action, n);
        p.amount = Money::parse(amount, "PLN").unwrap();
        p
    };
    let stored = |r: okienko_store::LimitedPayment| match r {
        okienko_store::LimitedPayment::Stored(rec, created) => (rec, created),
        other => panic!("expected a stored payment, got {other:?}"),
    };

    // Yesterday's payment (before the window) does not count.
    let mut old = pay("yesterday", "150", 0);
    old.at = from - Duration::seconds(1);
    assert!(stored(s.create_payment_within(&old, &limit).await.unwrap()).1);
    // 150 today, then 60 more would be 210 > 200: refused, with what is spent.
    let first = pay("a-150", "150", 1);
    assert!(stored(s.create_payment_within(&first, &limit).await.unwrap()).1);
    match s
        .create_payment_within(&pay("a-60", "60", 2), &limit)
        .await
        .unwrap()
    {
        okienko_store::LimitedPayment::OverLimit { spent } => {
            assert_eq!(spent, Money::parse("150", "PLN").unwrap())
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        s.payment_by_action(customer, "a-60")
            .await
            .unwrap()
            .is_none(),
        "a refused payment is not recorded"
    );
    // A retry of the recorded action is not counted again.
    let (again, created) = stored(
        s.create_payment_within(&pay("a-150", "150", 3), &limit)
            .await
            .unwrap(),
    );
    assert!(!created);
    assert_eq!(again.id, first.id);
    // Once rejected, the 150 frees the day: exactly 200 fits.
    assert!(
        s.advance_payment(&first.id, "requested", "rejected", None, Some("AM04"), from)
            .await
            .unwrap()
    );
    assert!(
        stored(
            s.create_payment_within(&pay("a-200", "200", 4), &limit)
                .await
                .unwrap()
        )
        .1
    );
    assert!(matches!(
        s.create_payment_within(&pay("a-001", "0.01", 5), &limit)
            .await
            .unwrap(),
        okienko_store::LimitedPayment::OverLimit { .. }
    ));
    // A payment in another currency than the limit's is an error, not a silent pass.
    let mut eur = pay("a-eur", "1", 6);
    eur.amount = Money::parse("1", "EUR").unwrap();
    assert!(s.create_payment_within(&eur, &limit).await.is_err());

    // The race: a fresh customer, 12 confirmations of 30 PLN on two stores at once under a
    // 200 PLN cap: exactly 6 are recorded (180), 6 refused.
    let (racer, _, _) = super::setup(s).await;
    let other = ctx.reopen(super::harness::keyring()).await.unwrap();
    let stores = [s.clone(), other.clone()];
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let st = stores[i % 2].clone();
            let mut p = new_payment(racer, &format!("race-{i}"), i as i64);
            p.amount = Money::parse("30", "PLN").unwrap();
            tokio::spawn(async move {
                let limit = okienko_store::DayLimit {
                    from,
                    until,
                    max: Money::parse("200", "PLN").unwrap(),
                    uncounted_states: &uncounted,
                };
                st.create_payment_within(&p, &limit).await.unwrap()
            })
        })
        .collect();
    let mut recorded = 0;
    for t in tasks {
        if matches!(
            t.await.unwrap(),
            okienko_store::LimitedPayment::Stored(_, true)
        ) {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 6, "the cap holds across stores");
    let total: rust_decimal::Decimal = s
        .customer_payments(racer)
        .await
        .unwrap()
        .iter()
        .map(|p| p.amount.amount())
        .sum();
    assert_eq!(total, rust_decimal::Decimal::from(180));
    other.close().await;
}

/// Migration 0023 on rows that existed before it: payments that had ended were told by the code
/// of that time, so they are marked told and the sweep does not send them all again; open ones
/// stay untold. (The migration is undone by hand and run again by reopening the store.)
pub async fn payments_ended_before_migration_0023_are_not_told_again(ctx: &Ctx) {
    let s = &ctx.store;
    let (customer, _, _) = super::setup(s).await;
    let executed = new_payment(customer, "m-executed", 0);
    let cancelled = new_payment(customer, "m-cancelled", 1);
    let open = new_payment(customer, "m-open", 2);
    for p in [&executed, &cancelled, &open] {
        s.create_payment(p).await.unwrap();
    }
    let at = Utc.with_ymd_and_hms(2026, 10, 1, 13, 0, 0).unwrap();
    assert!(
        s.advance_payment(&executed.id, "requested", "executed", None, None, at)
            .await
            .unwrap()
    );
    assert!(
        s.advance_payment(&cancelled.id, "requested", "cancelled", None, None, at)
            .await
            .unwrap()
    );
    ctx.exec("DROP INDEX payments_unnotified").await.unwrap();
    ctx.exec("ALTER TABLE payments DROP COLUMN notified_at")
        .await
        .unwrap();
    assert_eq!(
        ctx.exec("DELETE FROM _sqlx_migrations WHERE version = 23")
            .await
            .unwrap(),
        1
    );

    let again = ctx.reopen(super::harness::keyring()).await.unwrap();
    let later = at + Duration::days(1);
    assert!(
        again
            .unnotified_payments(&FINAL, later)
            .await
            .unwrap()
            .is_empty()
    );
    for p in [&executed, &cancelled] {
        let r = again.payment(&p.id).await.unwrap().unwrap();
        assert_eq!(r.notified_at, Some(at), "{} counts as told", r.state);
    }
    assert_eq!(
        again.payment(&open.id).await.unwrap().unwrap().notified_at,
        None
    );
    // The open one, ended after the migration, is the sweep's again.
    assert!(
        again
            .advance_payment(&open.id, "requested", "executed", None, None, at)
            .await
            .unwrap()
    );
    assert_eq!(
        again
            .unnotified_payments(&FINAL, later)
            .await
            .unwrap()
            .len(),
        1
    );
    again.close().await;
}
