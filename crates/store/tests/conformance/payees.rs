//! Payees and payment profiles (migration 0009) on both backends: saved payees one per IBAN,
//! the bank login, counterparties read from transactions, all gone after erasure.

use chrono::{TimeZone, Utc};
use okienko_core::{BookingStatus, Iban};
use okienko_store::{StoreError, TxBatch};

use super::Ctx;

const JOHN: &str = "PL61109010140000071219812874";
const SHOP: &str = "DE89370400440532013000";

pub async fn payees_are_one_per_iban_counterparties_come_from_debits_and_erase_removes_them(
    ctx: &Ctx,
) {
    let s = &ctx.store;
    let (customer, _, acc) = super::setup(s).await;
    let (other, _, _) = super::setup(s).await;
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let john: Iban = JOHN.parse().unwrap();
    assert!(s.payees(customer).await.unwrap().is_empty());
    let first = s
        .save_payee(customer, "John Smith", &john, at)
        .await
        .unwrap();
    assert!(!format!("{first:?}").contains("John"));
    // The same IBAN again renames instead of adding.
    let again = s
        .save_payee(customer, " Johnny ", &john, at + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    let listed = s.payees(customer).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Johnny");
    assert_eq!(listed[0].iban, john);
    assert_eq!(listed[0].created_at, at);
    assert!(s.payees(other).await.unwrap().is_empty(), "per customer");
    // Bad names change nothing.
    for bad in ["", "   ", "a\u{7}b", &"x".repeat(71)] {
        assert!(matches!(
            s.save_payee(customer, bad, &SHOP.parse().unwrap(), at)
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert_eq!(s.payees(customer).await.unwrap().len(), 1);

    // The bank login.
    assert_eq!(s.bank_login(customer).await.unwrap(), None);
    s.set_bank_login(customer, "anna", at).await.unwrap();
    s.set_bank_login(customer, " anna2 ", at).await.unwrap();
    assert_eq!(
        s.bank_login(customer).await.unwrap().as_deref(),
        Some("anna2")
    );
    assert!(s.set_bank_login(customer, "", at).await.is_err());

    // Counterparties: debits with an IBAN, most frequent first; credits and IBAN-less rows not.
    let mut rows = Vec::new();
    for (day, amount, name, iban) in [
        ("2026-10-01", "-20.00", "Jan Kowalski", Some(JOHN)),
        ("2026-10-05", "-30.00", "John Smith", Some(JOHN)),
        ("2026-10-06", "-99.00", "Sklep", Some(SHOP)),
        (
            "2026-10-07",
            "500.00",
            "Pracodawca",
            Some("GB29NWBK60161331926819"),
        ),
        ("2026-10-08", "-12.00", "Biedronka", None),
    ] {
        let mut t = super::new_tx(day, super::pln(amount), Some(name), BookingStatus::Booked);
        t.counterparty_iban = iban.map(str::to_owned);
        rows.push(t);
    }
    s.apply_transactions(
        acc,
        &TxBatch {
            insert: rows,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let cps = s.payment_counterparties(customer).await.unwrap();
    assert_eq!(cps.len(), 2, "{cps:?}");
    assert_eq!(cps[0].iban.expose(), JOHN);
    assert_eq!(cps[0].times, 2);
    assert_eq!(cps[0].name, "John Smith", "the latest name");
    assert_eq!(cps[1].iban.expose(), SHOP);
    assert!(s.payment_counterparties(other).await.unwrap().is_empty());

    // Deleting one payee; erasing the customer removes the rest and the login.
    let shop = s
        .save_payee(customer, "Sklep", &SHOP.parse().unwrap(), at)
        .await
        .unwrap();
    assert!(s.delete_payee(customer, &shop.id).await.unwrap());
    assert!(
        !s.delete_payee(other, &first.id).await.unwrap(),
        "not theirs"
    );
    s.save_payee(other, "Ktoś", &john, at).await.unwrap();
    s.delete_customer_financial_data(customer).await.unwrap();
    assert!(s.payees(customer).await.unwrap().is_empty());
    assert_eq!(s.bank_login(customer).await.unwrap(), None);
    assert_eq!(
        s.payees(other).await.unwrap().len(),
        1,
        "others keep theirs"
    );
}
