//! Who a customer can pay, read and written through the gate for `service.payment` only: their
//! saved payees, the people their transactions show they already paid, the accounts they can
//! pay from, the sizes of their past payments (to notice an unusual amount) and their login at
//! the bank (for approval in the bank app).
//!
//! Payees live in the store sealed with the customer's data key and are erased with the rest of
//! the customer's data when they disconnect the bank. Every read and write is decided by the
//! Cedar policies and audited like any other read; nothing here is logged.

use chrono::NaiveDate;
use okienko_core::transaction::Direction;
use okienko_core::{Account, Iban, Money, TxFilter};

use crate::gate::{AccessError, Gated, PrivacyGate};
use crate::purpose::{AccessRequest, Purpose};

/// Someone the customer can pay. `Debug` hides the name and the IBAN.
#[derive(Clone, PartialEq, Eq)]
pub struct Payee {
    /// The saved payee's id; `None` for a counterparty known only from transactions.
    pub id: Option<String>,
    pub name: String,
    pub iban: Iban,
    /// Saved by the customer.
    pub saved: bool,
    /// How many payments the customer's transactions show to this IBAN.
    pub times_paid: u32,
    pub last_paid: Option<NaiveDate>,
}

impl std::fmt::Debug for Payee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payee")
            .field("saved", &self.saved)
            .field("times_paid", &self.times_paid)
            .finish_non_exhaustive()
    }
}

fn payment_only(req: &AccessRequest) -> Result<(), AccessError> {
    if req.purpose != Purpose::ServicePayment {
        return Err(AccessError::WrongPurpose);
    }
    Ok(())
}

impl PrivacyGate {
    /// Saved payees first (oldest first), then counterparties from the customer's transactions
    /// that are not saved (most often paid first). One entry per IBAN.
    pub async fn payees(&self, req: &AccessRequest) -> Result<Gated<Vec<Payee>>, AccessError> {
        payment_only(req)?;
        let seq = self.authorize(req, "read.payees").await?;
        let saved = self.store().payees(req.subject).await?;
        let seen = self.store().payment_counterparties(req.subject).await?;
        let mut out: Vec<Payee> = saved
            .into_iter()
            .map(|p| {
                let history = seen.iter().find(|c| c.iban == p.iban);
                Payee {
                    id: Some(p.id),
                    name: p.name,
                    times_paid: history.map_or(0, |c| c.times),
                    last_paid: history.map(|c| c.last_date),
                    iban: p.iban,
                    saved: true,
                }
            })
            .collect();
        for c in seen {
            if out.iter().any(|p| p.iban == c.iban) {
                continue;
            }
            out.push(Payee {
                id: None,
                name: c.name,
                iban: c.iban,
                saved: false,
                times_paid: c.times,
                last_paid: Some(c.last_date),
            });
        }
        Ok(Gated::new(out, seq, req.purpose))
    }

    /// Saves (or renames) a payee for the customer.
    pub async fn save_payee(
        &self,
        req: &AccessRequest,
        name: &str,
        iban: &Iban,
    ) -> Result<Gated<Payee>, AccessError> {
        payment_only(req)?;
        let seq = self.authorize(req, "write.payee").await?;
        let p = self
            .store()
            .save_payee(req.subject, name, iban, self.clock().now())
            .await?;
        Ok(Gated::new(
            Payee {
                id: Some(p.id),
                name: p.name,
                iban: p.iban,
                saved: true,
                times_paid: 0,
                last_paid: None,
            },
            seq,
            req.purpose,
        ))
    }

    /// The accounts the customer can pay from.
    pub async fn payment_accounts(
        &self,
        req: &AccessRequest,
    ) -> Result<Gated<Vec<Account>>, AccessError> {
        payment_only(req)?;
        let seq = self.authorize(req, "read.accounts").await?;
        let data = self
            .store()
            .accounts_for_customer(req.subject)
            .await?
            .into_iter()
            .map(|a| a.account)
            .filter(|a| a.iban.is_some())
            .collect();
        Ok(Gated::new(data, seq, req.purpose))
    }

    /// The amounts (absolute) of the customer's last debits since `since`, newest first, at
    /// most 500: what an unusual payment is measured against.
    pub async fn debit_amounts(
        &self,
        req: &AccessRequest,
        since: NaiveDate,
    ) -> Result<Gated<Vec<Money>>, AccessError> {
        payment_only(req)?;
        let seq = self.authorize(req, "read.debit_amounts").await?;
        let filter = TxFilter {
            date_from: Some(since),
            direction: Some(Direction::Debit),
            ..TxFilter::default()
        };
        let (rows, _) = self
            .store()
            .transactions_for_customer(req.subject, &filter, 0, 500)
            .await?;
        let data = rows.into_iter().map(|t| t.amount.abs()).collect();
        Ok(Gated::new(data, seq, req.purpose))
    }

    /// The customer's login at the bank, when they gave it.
    pub async fn bank_login(
        &self,
        req: &AccessRequest,
    ) -> Result<Gated<Option<String>>, AccessError> {
        payment_only(req)?;
        let seq = self.authorize(req, "read.bank_login").await?;
        let data = self.store().bank_login(req.subject).await?;
        Ok(Gated::new(data, seq, req.purpose))
    }

    /// Remembers the customer's login at the bank.
    pub async fn set_bank_login(
        &self,
        req: &AccessRequest,
        login: &str,
    ) -> Result<(), AccessError> {
        payment_only(req)?;
        self.authorize(req, "write.bank_login").await?;
        self.store()
            .set_bank_login(req.subject, login, self.clock().now())
            .await?;
        Ok(())
    }
}
