//! The sandbox bank's double-entry ledger (after TigerBeetle's model): accounts keep four running
//! totals (debits and credits, pending and posted); money only moves by transfers from one account
//! to another in the same currency; a two-phase transfer first reserves (pending), then is posted
//! or voided. An account with a limit never goes below minus that limit on what it has posted
//! and reserved, so a payment can never overdraw it; internal accounts (the outside world,
//! outgoing clearing) have none.
//!
//! Invariant, checked by [`Ledger::check`] and a property test: every account's totals equal the
//! sums of the transfers that touch it, and per currency all debits equal all credits.
//! This module is pure data: no I/O, no clock; callers pass the bank day.

pub mod payments;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use okienko_core::Currency;
use rust_decimal::Decimal;

/// A ledger account's key: a customer account's `resourceId`, or an internal account name.
pub type AccountKey = String;

/// The counterpart of generated history and card spending: the world outside the ledger.
pub const WORLD: &str = "internal:world";
/// Outgoing SEPA/instant clearing: credits to IBANs this bank does not hold land here.
pub const CLEARING: &str = "internal:clearing";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAccount {
    pub currency: Currency,
    /// `None`: may go negative without bound (internal accounts). `Some(l)`: the balance minus
    /// pending debits never goes below `-l`.
    pub overdraft_limit: Option<Decimal>,
    pub debits_pending: Decimal,
    pub debits_posted: Decimal,
    pub credits_pending: Decimal,
    pub credits_posted: Decimal,
}

impl LedgerAccount {
    /// Posted credits minus posted debits.
    pub fn posted(&self) -> Decimal {
        self.credits_posted - self.debits_posted
    }

    /// What a new debit may use: posted balance less reserved debits (pending credits do not
    /// count until posted).
    pub fn available(&self) -> Decimal {
        self.posted() - self.debits_pending
    }
}

/// Identifies a transfer; dense and increasing, so replays are deterministic.
pub type TransferId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    Pending,
    Posted,
    Voided,
}

/// Why money moved: customer-visible payments, or the bank's mirror of generated history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    Payment,
    /// Keeps a customer account's ledger balance equal to its generated history; never shown.
    External,
    /// Money crossing the bank's edge that the account holder sees: an incoming transfer or a
    /// merchant's debit booked through the control API (`/sandbox/customers/{psu}/bookings`).
    Booking,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub debit: AccountKey,
    pub credit: AccountKey,
    pub amount: Decimal,
    pub currency: Currency,
    pub state: TransferState,
    pub kind: TransferKind,
    pub created: NaiveDate,
    pub posted: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("unknown ledger account")]
    UnknownAccount,
    #[error("account already exists")]
    AccountExists,
    #[error("the accounts hold different currencies")]
    CurrencyMismatch,
    #[error("amount must be positive")]
    NotPositive,
    #[error("debit and credit account are the same")]
    SameAccount,
    #[error("insufficient funds")]
    InsufficientFunds,
    #[error("unknown transfer")]
    UnknownTransfer,
    #[error("transfer is not pending")]
    NotPending,
}

#[derive(Debug, Default, Clone)]
pub struct Ledger {
    accounts: BTreeMap<AccountKey, LedgerAccount>,
    transfers: Vec<Transfer>,
}

impl Ledger {
    pub fn open(
        &mut self,
        key: &str,
        currency: Currency,
        overdraft_limit: Option<Decimal>,
    ) -> Result<(), LedgerError> {
        if self.accounts.contains_key(key) {
            return Err(LedgerError::AccountExists);
        }
        self.accounts.insert(
            key.to_owned(),
            LedgerAccount {
                currency,
                overdraft_limit,
                debits_pending: Decimal::ZERO,
                debits_posted: Decimal::ZERO,
                credits_pending: Decimal::ZERO,
                credits_posted: Decimal::ZERO,
            },
        );
        Ok(())
    }

    pub fn account(&self, key: &str) -> Option<&LedgerAccount> {
        self.accounts.get(key)
    }

    pub fn accounts(&self) -> impl Iterator<Item = (&AccountKey, &LedgerAccount)> {
        self.accounts.iter()
    }

    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        usize::try_from(id).ok().and_then(|i| self.transfers.get(i))
    }

    pub fn transfers(&self) -> &[Transfer] {
        &self.transfers
    }

    fn validate(
        &self,
        debit: &str,
        credit: &str,
        amount: Decimal,
        enforce_limit: bool,
    ) -> Result<Currency, LedgerError> {
        if amount <= Decimal::ZERO {
            return Err(LedgerError::NotPositive);
        }
        if debit == credit {
            return Err(LedgerError::SameAccount);
        }
        let d = self
            .accounts
            .get(debit)
            .ok_or(LedgerError::UnknownAccount)?;
        let c = self
            .accounts
            .get(credit)
            .ok_or(LedgerError::UnknownAccount)?;
        if d.currency != c.currency {
            return Err(LedgerError::CurrencyMismatch);
        }
        if enforce_limit
            && let Some(limit) = d.overdraft_limit
            && d.available() - amount < -limit
        {
            return Err(LedgerError::InsufficientFunds);
        }
        Ok(d.currency)
    }

    fn push(
        &mut self,
        debit: &str,
        credit: &str,
        amount: Decimal,
        state: TransferState,
        kind: TransferKind,
        day: NaiveDate,
    ) -> TransferId {
        let id = self.transfers.len() as TransferId;
        let pending = state == TransferState::Pending;
        let mut currency = None;
        if let Some(a) = self.accounts.get_mut(debit) {
            currency = Some(a.currency);
            if pending {
                a.debits_pending += amount;
            } else {
                a.debits_posted += amount;
            }
        }
        if let Some(a) = self.accounts.get_mut(credit) {
            if pending {
                a.credits_pending += amount;
            } else {
                a.credits_posted += amount;
            }
        }
        self.transfers.push(Transfer {
            id,
            debit: debit.to_owned(),
            credit: credit.to_owned(),
            amount,
            currency: currency.unwrap_or(Currency::PLN),
            state,
            kind,
            created: day,
            posted: (state == TransferState::Posted).then_some(day),
        });
        id
    }

    /// Phase one: reserves `amount` on the debit side (counts against its limit) and announces
    /// it on the credit side.
    pub fn reserve(
        &mut self,
        debit: &str,
        credit: &str,
        amount: Decimal,
        day: NaiveDate,
    ) -> Result<TransferId, LedgerError> {
        self.validate(debit, credit, amount, true)?;
        Ok(self.push(
            debit,
            credit,
            amount,
            TransferState::Pending,
            TransferKind::Payment,
            day,
        ))
    }

    /// A single-phase posted transfer that respects the debit side's limit.
    #[cfg(test)]
    pub fn post_now(
        &mut self,
        debit: &str,
        credit: &str,
        amount: Decimal,
        day: NaiveDate,
    ) -> Result<TransferId, LedgerError> {
        self.validate(debit, credit, amount, true)?;
        Ok(self.push(
            debit,
            credit,
            amount,
            TransferState::Posted,
            TransferKind::Payment,
            day,
        ))
    }

    /// Books what happened outside the ledger (generated history, card spending): posted at
    /// once and not refused for funds, because the bank cannot refuse what already happened.
    pub fn book_external(
        &mut self,
        debit: &str,
        credit: &str,
        amount: Decimal,
        day: NaiveDate,
    ) -> Result<TransferId, LedgerError> {
        self.validate(debit, credit, amount, false)?;
        Ok(self.push(
            debit,
            credit,
            amount,
            TransferState::Posted,
            TransferKind::External,
            day,
        ))
    }

    /// Books a visible transfer with the outside world (see [`TransferKind::Booking`]): posted
    /// at once on `day`; a debit the account cannot cover is refused.
    pub fn book_visible(
        &mut self,
        debit: &str,
        credit: &str,
        amount: Decimal,
        day: NaiveDate,
    ) -> Result<TransferId, LedgerError> {
        self.validate(debit, credit, amount, true)?;
        Ok(self.push(
            debit,
            credit,
            amount,
            TransferState::Posted,
            TransferKind::Booking,
            day,
        ))
    }

    fn settle(
        &mut self,
        id: TransferId,
        to: TransferState,
        day: NaiveDate,
    ) -> Result<(), LedgerError> {
        let t = usize::try_from(id)
            .ok()
            .and_then(|i| self.transfers.get_mut(i))
            .ok_or(LedgerError::UnknownTransfer)?;
        if t.state != TransferState::Pending {
            return Err(LedgerError::NotPending);
        }
        t.state = to;
        if to == TransferState::Posted {
            t.posted = Some(day);
        }
        let (debit, credit, amount) = (t.debit.clone(), t.credit.clone(), t.amount);
        if let Some(a) = self.accounts.get_mut(&debit) {
            a.debits_pending -= amount;
            if to == TransferState::Posted {
                a.debits_posted += amount;
            }
        }
        if let Some(a) = self.accounts.get_mut(&credit) {
            a.credits_pending -= amount;
            if to == TransferState::Posted {
                a.credits_posted += amount;
            }
        }
        Ok(())
    }

    /// Phase two: the reservation becomes a posted transfer. The funds were held at
    /// reservation, so posting never breaks a limit.
    pub fn post(&mut self, id: TransferId, day: NaiveDate) -> Result<(), LedgerError> {
        self.settle(id, TransferState::Posted, day)
    }

    /// Phase two, the other way: the reservation is released and nothing moves.
    pub fn void(&mut self, id: TransferId, day: NaiveDate) -> Result<(), LedgerError> {
        self.settle(id, TransferState::Voided, day)
    }

    /// Recomputes every account from the transfers and compares; `Err` names the first breach.
    pub fn check(&self) -> Result<(), String> {
        let mut sums: BTreeMap<&str, [Decimal; 4]> = BTreeMap::new();
        for t in &self.transfers {
            let (di, ci) = match t.state {
                TransferState::Pending => (0, 2),
                TransferState::Posted => (1, 3),
                TransferState::Voided => continue,
            };
            sums.entry(t.debit.as_str()).or_default()[di] += t.amount;
            sums.entry(t.credit.as_str()).or_default()[ci] += t.amount;
        }
        // Per currency, from the accounts' own totals: what left one account arrived in another.
        let mut per_currency: BTreeMap<Currency, [Decimal; 2]> = BTreeMap::new();
        for (key, a) in &self.accounts {
            let s = sums.remove(key.as_str()).unwrap_or_default();
            let have = [
                a.debits_pending,
                a.debits_posted,
                a.credits_pending,
                a.credits_posted,
            ];
            if have != s {
                return Err(format!("account {key}: totals differ from its entries"));
            }
            let e = per_currency.entry(a.currency).or_default();
            e[0] += a.posted();
            e[1] += a.credits_pending - a.debits_pending;
        }
        if let Some((key, _)) = sums.into_iter().next() {
            return Err(format!("transfers touch unknown account {key}"));
        }
        for (cur, [posted, pending]) in per_currency {
            if !posted.is_zero() || !pending.is_zero() {
                return Err(format!("{cur}: debits and credits differ"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
