//! Money: a `rust_decimal::Decimal` amount with an ISO 4217 currency. Never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code the gateway knows how to handle.
///
/// The list is closed on purpose: a code we do not know the minor units of cannot be shown or
/// compared safely, so it is rejected at the edge instead of travelling inward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// (code, minor units) for the currencies okienko accepts.
const KNOWN: &[(&str, u32)] = &[
    ("PLN", 2),
    ("EUR", 2),
    ("USD", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("CZK", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("DKK", 2),
    ("HUF", 2),
    ("UAH", 2),
    ("JPY", 0),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("not an ISO 4217 currency code this gateway supports")]
    Unknown,
}

impl Currency {
    pub const PLN: Currency = Currency(*b"PLN");
    pub const EUR: Currency = Currency(*b"EUR");
    pub const USD: Currency = Currency(*b"USD");
    pub const GBP: Currency = Currency(*b"GBP");

    pub fn code(&self) -> &str {
        // The bytes come only from KNOWN, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (ISO 4217 minor units).
    pub fn minor_units(&self) -> u32 {
        KNOWN
            .iter()
            .find(|(c, _)| c.as_bytes() == self.0)
            .map(|(_, m)| *m)
            .unwrap_or(2)
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let up = s.trim().to_ascii_uppercase();
        KNOWN
            .iter()
            .find(|(c, _)| *c == up)
            .map(|(c, _)| {
                let b = c.as_bytes();
                Currency([b[0], b[1], b[2]])
            })
            .ok_or(CurrencyError::Unknown)
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount is not a decimal number")]
    NotANumber,
    #[error("amount has more decimal places than the currency allows")]
    TooPrecise,
    #[error("amount is out of the range a bank account can hold")]
    OutOfRange,
    #[error("amounts in different currencies cannot be combined")]
    CurrencyMismatch,
    #[error(transparent)]
    Currency(#[from] CurrencyError),
}

/// The largest absolute amount accepted anywhere (a trillion units): anything beyond is input error.
const MAX_ABS: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0); // 1e12

/// An amount of money. Negative amounts are debits, as in NextGenPSD2.
///
/// `Debug` deliberately hides the amount, so a `Money` that ends up in a log or panic message
/// does not leak a customer's balance.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money(<redacted> {})", self.currency)
    }
}

impl Money {
    /// A checked constructor: rejects amounts with more decimals than the currency has, and
    /// absurd magnitudes.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        if amount.abs() > MAX_ABS {
            return Err(MoneyError::OutOfRange);
        }
        let normal = amount.normalize();
        if normal.scale() > currency.minor_units() {
            return Err(MoneyError::TooPrecise);
        }
        let mut amount = normal;
        amount.rescale(currency.minor_units());
        Ok(Money { amount, currency })
    }

    /// Parses the NextGenPSD2 wire form: a decimal string with a dot ("-256.67") and a code.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let amount = amount.trim();
        if amount.is_empty() || amount.len() > 32 {
            return Err(MoneyError::NotANumber);
        }
        let d = Decimal::from_str_exact(amount).map_err(|_| MoneyError::NotANumber)?;
        Money::new(d, currency.parse()?)
    }

    pub fn zero(currency: Currency) -> Self {
        let mut amount = Decimal::ZERO;
        amount.rescale(currency.minor_units());
        Money { amount, currency }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    pub fn abs(&self) -> Money {
        Money {
            amount: self.amount.abs(),
            currency: self.currency,
        }
    }

    pub fn negate(&self) -> Money {
        Money {
            amount: -self.amount,
            currency: self.currency,
        }
    }

    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch);
        }
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::OutOfRange)?;
        Money::new(sum, self.currency)
    }

    /// The wire form used by NextGenPSD2 and by the store: "-1234.50".
    pub fn amount_string(&self) -> String {
        self.amount.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_wire_amounts_and_rescales() {
        let m = Money::parse("-256.6", "PLN").unwrap();
        assert_eq!(m.amount_string(), "-256.60");
        assert_eq!(m.currency(), Currency::PLN);
        assert!(m.is_negative());
    }

    #[test]
    fn rejects_bad_amounts() {
        assert_eq!(Money::parse("1.234", "PLN"), Err(MoneyError::TooPrecise));
        assert_eq!(Money::parse("1e5", "PLN"), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse("", "PLN"), Err(MoneyError::NotANumber));
        assert_eq!(
            Money::parse("10000000000000", "PLN"),
            Err(MoneyError::OutOfRange)
        );
        assert!(matches!(
            Money::parse("1", "ABC"),
            Err(MoneyError::Currency(_))
        ));
        assert_eq!(Money::parse("5.5", "JPY"), Err(MoneyError::TooPrecise));
    }

    #[test]
    fn adding_different_currencies_fails() {
        let a = Money::new(dec!(1), Currency::PLN).unwrap();
        let b = Money::new(dec!(1), Currency::USD).unwrap();
        assert_eq!(a.checked_add(&b), Err(MoneyError::CurrencyMismatch));
        assert_eq!(a.checked_add(&a).unwrap().amount(), dec!(2.00));
    }

    #[test]
    fn debug_never_shows_the_amount() {
        let m = Money::parse("4321.99", "PLN").unwrap();
        assert!(!format!("{m:?}").contains("4321"));
    }

    #[test]
    fn currency_serde_round_trip() {
        let c: Currency = serde_json::from_str("\"usd\"").unwrap();
        assert_eq!(c, Currency::USD);
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"USD\"");
        assert!(serde_json::from_str::<Currency>("\"QQQ\"").is_err());
    }
}
