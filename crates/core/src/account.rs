//! Accounts and balances, and the IBAN type that guards account numbers.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::AccountId;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("IBAN has the wrong length or characters")]
    Format,
    #[error("IBAN checksum does not match")]
    Checksum,
}

/// An IBAN that passed the ISO 13616 mod-97 check, stored without spaces in upper case.
///
/// `Debug` and `Display` show only the masked form; the full number is available through
/// [`Iban::expose`], which is greppable on purpose.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// "PL61 …  7890" style masking: country, check digits and the last four characters.
    pub fn masked(&self) -> String {
        let s = &self.0;
        let tail = &s[s.len().saturating_sub(4)..];
        format!("{} •••• {}", &s[..4.min(s.len())], tail)
    }

    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

impl FromStr for Iban {
    type Err = IbanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if !(15..=34).contains(&compact.len())
            || !compact.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(IbanError::Format);
        }
        let b = compact.as_bytes();
        if !b[0].is_ascii_alphabetic()
            || !b[1].is_ascii_alphabetic()
            || !b[2].is_ascii_digit()
            || !b[3].is_ascii_digit()
        {
            return Err(IbanError::Format);
        }
        let rearranged = compact[4..].chars().chain(compact[..4].chars());
        let mut rem: u32 = 0;
        for c in rearranged {
            let v = c.to_digit(36).ok_or(IbanError::Format)?;
            rem = if v >= 10 {
                (rem * 100 + v) % 97
            } else {
                (rem * 10 + v) % 97
            };
        }
        if rem != 1 {
            return Err(IbanError::Checksum);
        }
        Ok(Iban(compact))
    }
}

impl TryFrom<String> for Iban {
    type Error = IbanError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Iban> for String {
    fn from(i: Iban) -> String {
        i.0
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({})", self.masked())
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A customer's bank account as the gateway keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub iban: Option<Iban>,
    pub currency: Currency,
    /// The name the bank gives the account ("Konto osobiste", "Checking").
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BalanceKind {
    /// What the customer can spend now (NextGenPSD2 `interimAvailable`).
    InterimAvailable,
    /// The booked balance at the end of the last business day (`closingBooked`).
    ClosingBooked,
}

impl BalanceKind {
    pub fn wire_name(&self) -> &'static str {
        match self {
            BalanceKind::InterimAvailable => "interimAvailable",
            BalanceKind::ClosingBooked => "closingBooked",
        }
    }

    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "interimAvailable" => Some(BalanceKind::InterimAvailable),
            "closingBooked" => Some(BalanceKind::ClosingBooked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub account_id: AccountId,
    pub kind: BalanceKind,
    pub amount: Money,
    pub reference_date: Option<NaiveDate>,
    /// When the gateway last read it from the bank.
    pub fetched_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ibans_pass_and_are_masked() {
        let i: Iban = "PL61 1090 1014 0000 0712 1981 2874".parse().unwrap();
        assert_eq!(i.expose(), "PL61109010140000071219812874");
        assert_eq!(i.masked(), "PL61 •••• 2874");
        assert!(!format!("{i:?}").contains("10901014"));
        let de: Iban = "DE89370400440532013000".parse().unwrap();
        assert_eq!(de.country(), "DE");
    }

    #[test]
    fn bad_ibans_fail() {
        assert_eq!(
            "PL61 1090 1014 0000 0712 1981 2875".parse::<Iban>(),
            Err(IbanError::Checksum)
        );
        assert_eq!("PL61".parse::<Iban>(), Err(IbanError::Format));
        assert_eq!(
            "ŻŻ61109010140000071219812874".parse::<Iban>(),
            Err(IbanError::Format)
        );
        assert_eq!(
            "1161109010140000071219812874".parse::<Iban>(),
            Err(IbanError::Format)
        );
    }
}
