//! `TryFrom` conversions from NextGenPSD2 wire types to the connector's domain types, so the wire
//! format never leaks inward. Money goes through `Money::parse` (decimal strings, ISO 4217);
//! IBANs through `Iban` (checksum). Errors name the field, never its value.

use chrono::NaiveDate;
use okienko_core::{BalanceKind, BookingStatus, Currency, Iban, Money};

use super::wire;
use crate::connector::{BankAccount, BankBalance, BankTransaction};

/// A wire value we could not turn into a domain value. Carries the field name only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("invalid value in field {0}")]
    Invalid(&'static str),
    #[error("unsupported balance type")]
    UnsupportedBalanceType,
}

fn date(field: &'static str, s: Option<&str>) -> Result<Option<NaiveDate>, TransformError> {
    match s {
        None => Ok(None),
        Some(s) => {
            // Some banks send date-times where the spec says date; keep the date part.
            let d = s.get(..10).unwrap_or(s);
            d.parse::<NaiveDate>()
                .map(Some)
                .map_err(|_| TransformError::Invalid(field))
        }
    }
}

fn money(a: &wire::Amount, field: &'static str) -> Result<Money, TransformError> {
    Money::parse(&a.amount, &a.currency).map_err(|_| TransformError::Invalid(field))
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl TryFrom<wire::AccountDetails> for BankAccount {
    type Error = TransformError;
    fn try_from(a: wire::AccountDetails) -> Result<Self, Self::Error> {
        let resource_id = non_empty(a.resource_id.as_deref())
            .ok_or(TransformError::Missing("resourceId"))?
            .to_owned();
        let currency: Currency = a
            .currency
            .parse()
            .map_err(|_| TransformError::Invalid("currency"))?;
        // A bank IBAN that fails the checksum is kept out rather than failing the whole list.
        let iban = a.iban.as_deref().and_then(|s| s.parse::<Iban>().ok());
        let name = non_empty(a.display_name.as_deref())
            .or(non_empty(a.name.as_deref()))
            .or(non_empty(a.product.as_deref()))
            .unwrap_or("Account")
            .to_owned();
        Ok(BankAccount {
            resource_id,
            iban,
            currency,
            name,
        })
    }
}

impl TryFrom<wire::WireBalance> for BankBalance {
    type Error = TransformError;
    fn try_from(b: wire::WireBalance) -> Result<Self, Self::Error> {
        let kind = BalanceKind::from_wire(&b.balance_type)
            .ok_or(TransformError::UnsupportedBalanceType)?;
        Ok(BankBalance {
            kind,
            amount: money(&b.balance_amount, "balanceAmount")?,
            reference_date: date("referenceDate", b.reference_date.as_deref())?,
        })
    }
}

/// The balances we keep (`interimAvailable`, `closingBooked`); other types are skipped.
pub fn balances(list: Vec<wire::WireBalance>) -> Result<Vec<BankBalance>, TransformError> {
    let mut out = Vec::new();
    for b in list {
        match BankBalance::try_from(b) {
            Ok(b) => out.push(b),
            Err(TransformError::UnsupportedBalanceType) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

impl TryFrom<(wire::WireTransaction, BookingStatus)> for BankTransaction {
    type Error = TransformError;
    fn try_from((t, status): (wire::WireTransaction, BookingStatus)) -> Result<Self, Self::Error> {
        let amount = money(&t.transaction_amount, "transactionAmount")?;
        let booking_date = date("bookingDate", t.booking_date.as_deref())?;
        let value_date = date("valueDate", t.value_date.as_deref())?;
        let entry_date = match date("entryDate", t.entry_date.as_deref())? {
            Some(d) => Some(d),
            None => date("transactionDate", t.transaction_date.as_deref())?,
        };
        if booking_date.is_none() && value_date.is_none() && entry_date.is_none() {
            return Err(TransformError::Missing("bookingDate"));
        }
        // The counterparty is the creditor of a debit and the debtor of a credit.
        let (name, account) = if amount.is_negative() {
            (t.creditor_name.as_deref(), t.creditor_account.as_ref())
        } else {
            (t.debtor_name.as_deref(), t.debtor_account.as_ref())
        };
        let name = non_empty(name);
        let remittance = non_empty(t.remittance_information_unstructured.as_deref())
            .map(str::to_owned)
            .or_else(|| {
                t.remittance_information_unstructured_array
                    .as_ref()
                    .map(|v| v.join(" "))
                    .filter(|s| !s.trim().is_empty())
            })
            .or_else(|| non_empty(t.additional_information.as_deref()).map(str::to_owned));
        let raw_description = remittance
            .clone()
            .or_else(|| name.map(str::to_owned))
            .unwrap_or_default();
        let merchant = name
            .map(str::to_owned)
            .or_else(|| remittance.as_deref().and_then(clean_merchant));
        let counterparty_iban = account
            .and_then(|a| a.iban.as_deref())
            .and_then(|s| s.parse::<Iban>().ok());
        Ok(BankTransaction {
            bank_transaction_id: non_empty(t.transaction_id.as_deref()).map(str::to_owned),
            end_to_end_id: non_empty(t.end_to_end_id.as_deref())
                .filter(|s| *s != "NOTPROVIDED")
                .map(str::to_owned),
            status,
            booking_date,
            value_date,
            entry_date,
            amount,
            merchant,
            raw_description,
            counterparty_iban,
        })
    }
}

/// Words that describe the payment method rather than the merchant.
const NOISE: &[&str] = &[
    "PLATNOSC",
    "PŁATNOŚĆ",
    "KARTA",
    "KARTĄ",
    "KARTY",
    "BLIK",
    "TRANSAKCJA",
    "ZAKUP",
    "PRZY",
    "UZYCIU",
    "UŻYCIU",
    "PRZELEW",
    "WYCHODZACY",
    "PRZYCHODZACY",
    "OD",
    "DO",
    "CARD",
    "PAYMENT",
    "PURCHASE",
    "POS",
    "DEBIT",
    "VISA",
    "MASTERCARD",
    "TRANSFER",
    "FROM",
    "TO",
    "ZL",
    "ZŁ",
];

/// A best-effort merchant name from a raw description:
/// "PLATNOSC KARTA 123,45 PLN BIEDRONKA 1234 WARSZAWA" → "Biedronka".
/// Drops payment-method words, amounts and currency codes, then keeps the words up to the
/// first number after the name (store numbers usually separate the name from the city).
pub fn clean_merchant(raw: &str) -> Option<String> {
    let mut words: Vec<&str> = Vec::new();
    for token in raw.split_whitespace() {
        let upper = token.to_uppercase();
        let has_digit = token.chars().any(|c| c.is_ascii_digit());
        if has_digit {
            if words.is_empty() {
                continue;
            }
            break;
        }
        let bare = upper.trim_matches(|c: char| !c.is_alphanumeric());
        if bare.is_empty()
            || NOISE.contains(&bare)
            || (bare.len() == 3 && bare.parse::<Currency>().is_ok() && words.is_empty())
        {
            if words.is_empty() {
                continue;
            }
            break;
        }
        words.push(token);
        if words.len() == 3 {
            break;
        }
    }
    if words.is_empty() {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| title_case(w))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn title_case(w: &str) -> String {
    let lower = w.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(json: &str, status: BookingStatus) -> Result<BankTransaction, TransformError> {
        let w: wire::WireTransaction = serde_json::from_str(json).unwrap();
        BankTransaction::try_from((w, status))
    }

    #[test]
    fn debit_uses_creditor_name_and_keeps_raw() {
        let t = tx(
            r#"{"transactionId":"t1","endToEndId":"e1","bookingDate":"2026-10-25","valueDate":"2026-10-26",
                "transactionAmount":{"currency":"PLN","amount":"-123.45"},"creditorName":"Biedronka",
                "creditorAccount":{"iban":"PL61109010140000071219812874"},
                "remittanceInformationUnstructured":"PLATNOSC KARTA 123,45 PLN BIEDRONKA 1234 WARSZAWA"}"#,
            BookingStatus::Booked,
        )
        .unwrap();
        assert_eq!(t.merchant.as_deref(), Some("Biedronka"));
        assert_eq!(
            t.raw_description,
            "PLATNOSC KARTA 123,45 PLN BIEDRONKA 1234 WARSZAWA"
        );
        assert_eq!(t.amount.amount_string(), "-123.45");
        assert!(t.counterparty_iban.is_some());
        assert_eq!(t.customer_date(), "2026-10-25".parse().ok());
        assert_eq!(t.bank_transaction_id.as_deref(), Some("t1"));
    }

    #[test]
    fn credit_uses_debtor_name_and_array_remittance() {
        let t = tx(
            r#"{"valueDate":"2026-10-26","transactionAmount":{"currency":"PLN","amount":"5000.00"},
                "creditorName":"Anna","debtorName":"ACME Sp. z o.o.",
                "remittanceInformationUnstructuredArray":["Wynagrodzenie","10/2026"]}"#,
            BookingStatus::Pending,
        )
        .unwrap();
        assert_eq!(t.merchant.as_deref(), Some("ACME Sp. z o.o."));
        assert_eq!(t.raw_description, "Wynagrodzenie 10/2026");
        assert_eq!(t.customer_date(), "2026-10-26".parse().ok());
    }

    #[test]
    fn no_name_cleans_remittance() {
        let t = tx(
            r#"{"bookingDate":"2026-10-25","transactionAmount":{"currency":"PLN","amount":"-9.99"},
                "remittanceInformationUnstructured":"PLATNOSC KARTA 9,99 PLN ZABKA Z1234 KRAKOW"}"#,
            BookingStatus::Booked,
        )
        .unwrap();
        assert_eq!(t.merchant.as_deref(), Some("Zabka"));
        assert_eq!(
            clean_merchant("CARD PAYMENT MEDIA EXPERT 0042 LODZ").as_deref(),
            Some("Media Expert")
        );
        assert_eq!(clean_merchant("123 456"), None);
    }

    #[test]
    fn bad_values_are_errors_without_payload() {
        let e = tx(
            r#"{"bookingDate":"2026-10-25","transactionAmount":{"currency":"PLN","amount":"12,5"}}"#,
            BookingStatus::Booked,
        )
        .unwrap_err();
        assert_eq!(e, TransformError::Invalid("transactionAmount"));
        assert!(!e.to_string().contains("12,5"));
        let e = tx(
            r#"{"transactionAmount":{"currency":"PLN","amount":"1.00"}}"#,
            BookingStatus::Booked,
        )
        .unwrap_err();
        assert_eq!(e, TransformError::Missing("bookingDate"));
        let e = tx(
            r#"{"bookingDate":"2026-13-45","transactionAmount":{"currency":"PLN","amount":"1.00"}}"#,
            BookingStatus::Booked,
        )
        .unwrap_err();
        assert_eq!(e, TransformError::Invalid("bookingDate"));
    }

    #[test]
    fn balances_skip_unknown_types() {
        let list: Vec<wire::WireBalance> = serde_json::from_str(
            r#"[{"balanceAmount":{"currency":"PLN","amount":"10.00"},"balanceType":"expected"},
                {"balanceAmount":{"currency":"PLN","amount":"10.00"},"balanceType":"closingBooked","referenceDate":"2026-10-25"}]"#,
        )
        .unwrap();
        let b = balances(list).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].kind, BalanceKind::ClosingBooked);
    }

    #[test]
    fn accounts_need_resource_id_and_known_currency() {
        let a: wire::AccountDetails =
            serde_json::from_str(r#"{"resourceId":"r1","iban":"PL61109010140000071219812874","currency":"PLN","name":"Konto osobiste"}"#).unwrap();
        let a = BankAccount::try_from(a).unwrap();
        assert_eq!(a.name, "Konto osobiste");
        let bad: wire::AccountDetails =
            serde_json::from_str(r#"{"resourceId":"r1","currency":"XXX"}"#).unwrap();
        assert_eq!(
            BankAccount::try_from(bad).unwrap_err(),
            TransformError::Invalid("currency")
        );
    }
}
