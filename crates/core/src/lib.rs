//! The domain types every other okienko crate speaks: money, currencies, identifiers, accounts,
//! balances, transactions and their filters, consent scopes, languages, and clocks.
//!
//! This crate owns the rules that hold everywhere (money is a decimal with an ISO 4217 currency,
//! an IBAN passes its checksum, time is UTC inside). It must never do I/O.

pub mod account;
pub mod clock;
pub mod consent;
pub mod format;
pub mod ids;
pub mod lang;
pub mod money;
pub mod transaction;

pub use account::{Account, Balance, BalanceKind, Iban, IbanError};
pub use clock::{Clock, FixedClock, SystemClock};
pub use consent::{ConsentScope, ConsentStatus};
pub use ids::{AccountId, ConsentId, CustomerId, TransactionId};
pub use lang::Lang;
pub use money::{Currency, CurrencyError, Money, MoneyError};
pub use transaction::{BookingStatus, DateRange, Transaction, TxFilter};
