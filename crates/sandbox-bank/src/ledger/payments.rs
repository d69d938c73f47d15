//! Payments as the sandbox bank keeps them: the initiation resource, its ISO 20022 status
//! (RCVD → ACTC → ACSC, or RJCT / CANC), its SCA authorisations, and the ledger transfer behind
//! it. Funds are reserved at initiation (pending), posted on execution and voided on rejection or
//! cancellation, so a payment moves money at most once whatever the TPP retries.
//!
//! Execution: `instant-sepa-credit-transfers` books as soon as SCA finishes;
//! `sepa-credit-transfers` books on the bank's next business day (the next bank day here), seen
//! by [`Pis::settle_due`] on the next access.

use std::collections::HashMap;

use chrono::NaiveDate;
use okienko_core::{Currency, Iban, Money};
use rust_decimal::Decimal;

use super::{CLEARING, Ledger, LedgerError, TransferId, TransferKind, TransferState, WORLD};
use crate::consent::ScaStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    Sct,
    InstantSct,
}

impl Product {
    pub fn from_path(s: &str) -> Option<Product> {
        match s {
            "sepa-credit-transfers" => Some(Product::Sct),
            "instant-sepa-credit-transfers" => Some(Product::InstantSct),
            _ => None,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Product::Sct => "sepa-credit-transfers",
            Product::InstantSct => "instant-sepa-credit-transfers",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    Rcvd,
    Actc,
    Acsc,
    Rjct,
    Canc,
}

impl TxStatus {
    pub fn wire(self) -> &'static str {
        match self {
            TxStatus::Rcvd => "RCVD",
            TxStatus::Actc => "ACTC",
            TxStatus::Acsc => "ACSC",
            TxStatus::Rjct => "RJCT",
            TxStatus::Canc => "CANC",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaApproach {
    Redirect,
    Decoupled,
}

/// ISO 20022 reason codes this bank gives with RJCT.
pub mod reason {
    /// Insufficient funds.
    pub const AM04: &str = "AM04";
    /// The PSU rejected or failed SCA.
    pub const SCA_FAILED: &str = "FF01";
}

/// One side of a payment (or a booking) as the account holder sees it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The AIS `transactionId`: `pis-<payment id>` or a booking's id.
    pub tx_id: String,
    pub transfer: TransferId,
    pub booked: bool,
    pub entry_date: NaiveDate,
    pub booking_date: Option<NaiveDate>,
    /// Signed: negative for the debtor.
    pub amount: Money,
    pub counterparty: String,
    pub counterparty_iban: Option<String>,
    pub remittance: String,
    /// `proprietaryBankTransactionCode`.
    pub code: &'static str,
}

/// A transfer with the outside world booked through the control API: an incoming credit
/// (a salary, a refund) or a merchant's debit, on the ledger against `internal:world`.
#[derive(Debug, Clone)]
pub struct Booking {
    pub id: String,
    /// The customer account's ledger key.
    pub account: String,
    pub transfer: TransferId,
    pub counterparty: String,
    pub counterparty_iban: Option<String>,
    pub remittance: String,
    pub code: &'static str,
}

/// What to book; see [`Pis::book`].
#[derive(Debug, Clone)]
pub struct NewBooking {
    /// Money in (`true`) or out.
    pub credit: bool,
    pub amount: Decimal,
    pub day: NaiveDate,
    pub counterparty: String,
    pub counterparty_iban: Option<String>,
    pub remittance: String,
    pub code: &'static str,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    pub product: Product,
    pub request_id: String,
    /// SHA-256 of product and raw body: a reused X-Request-ID must carry the same request.
    pub fingerprint: String,
    pub debtor_key: String,
    pub debtor_psu: String,
    pub debtor_name: String,
    pub debtor_iban: Iban,
    pub creditor_key: String,
    pub creditor_iban: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: String,
    pub status: TxStatus,
    pub reason: Option<&'static str>,
    pub approach: ScaApproach,
    pub psu_hint: Option<String>,
    pub authorisations: Vec<(String, ScaStatus)>,
    /// Answers to explicit authorisation starts by their X-Request-ID: a repeat (a retry, or
    /// two gateway instances stepping the payment at once) gets the same authorisation.
    pub authorisation_starts: Vec<(String, serde_json::Value)>,
    pub transfer: Option<TransferId>,
    pub accepted: Option<NaiveDate>,
    pub redirect_ok: Option<String>,
    pub redirect_nok: Option<String>,
}

impl Payment {
    fn set_sca(&mut self, to: ScaStatus) {
        for (_, s) in self.authorisations.iter_mut() {
            if matches!(s, ScaStatus::Received | ScaStatus::Started) {
                *s = to;
            }
        }
    }

    /// Is an authorisation waiting for the PSU (redirect page or bank app)?
    pub fn awaiting_sca(&self) -> bool {
        self.status == TxStatus::Rcvd
            && self
                .authorisations
                .iter()
                .any(|(_, s)| matches!(s, ScaStatus::Received | ScaStatus::Started))
    }
}

/// Everything PIS keeps: the ledger, payments by id, and X-Request-ID → payment id.
#[derive(Debug, Default)]
pub struct Pis {
    pub ledger: Ledger,
    pub payments: HashMap<String, Payment>,
    pub by_request: HashMap<String, String>,
    /// What of each customer account's generated history has been mirrored into the ledger.
    seeded: HashMap<String, Decimal>,
    /// IBAN → account `resourceId`, built once on the first payment.
    pub iban_index: Option<HashMap<String, String>>,
    /// Control-API bookings, in the order they were made.
    pub bookings: Vec<Booking>,
}

fn world(c: Currency) -> String {
    format!("{WORLD}:{c}")
}

fn clearing(c: Currency) -> String {
    format!("{CLEARING}:{c}")
}

impl Pis {
    fn ensure(&mut self, key: &str, currency: Currency, limit: Option<Decimal>) {
        if self.ledger.account(key).is_none() {
            let _ = self.ledger.open(key, currency, limit);
        }
    }

    /// Opens a customer account in the ledger (no overdraft) with its internal counterparts.
    pub fn ensure_customer_account(&mut self, key: &str, currency: Currency) {
        self.ensure(&world(currency), currency, None);
        self.ensure(&clearing(currency), currency, None);
        self.ensure(key, currency, Some(Decimal::ZERO));
    }

    pub fn clearing_key(currency: Currency) -> String {
        clearing(currency)
    }

    /// Mirrors the account's generated available balance into the ledger, so the funds check
    /// sees what the customer really has.
    pub fn sync_generated(
        &mut self,
        key: &str,
        currency: Currency,
        generated: Decimal,
        day: NaiveDate,
    ) {
        self.ensure_customer_account(key, currency);
        let seeded = self.seeded.get(key).copied().unwrap_or_default();
        let delta = generated - seeded;
        let w = world(currency);
        let res = if delta > Decimal::ZERO {
            self.ledger.book_external(&w, key, delta, day)
        } else if delta < Decimal::ZERO {
            self.ledger.book_external(key, &w, -delta, day)
        } else {
            return;
        };
        if res.is_ok() {
            self.seeded.insert(key.to_owned(), generated);
        }
    }

    /// Books a credit from, or a debit to, the outside world on a customer account, posted on
    /// `b.day`. `generated` is the account's generated available balance today (mirrored first,
    /// so a debit is checked against what the customer really has). Returns the booking's id.
    pub fn book(
        &mut self,
        key: &str,
        currency: Currency,
        generated: Decimal,
        today: NaiveDate,
        b: NewBooking,
    ) -> Result<String, LedgerError> {
        self.sync_generated(key, currency, generated, today);
        let w = world(currency);
        let (debit, credit) = if b.credit {
            (w.as_str(), key)
        } else {
            (key, w.as_str())
        };
        let transfer = self.ledger.book_visible(debit, credit, b.amount, b.day)?;
        let id = format!("bk{:014x}", self.bookings.len() + 1);
        self.bookings.push(Booking {
            id: id.clone(),
            account: key.to_owned(),
            transfer,
            counterparty: b.counterparty,
            counterparty_iban: b.counterparty_iban,
            remittance: b.remittance,
            code: b.code,
        });
        Ok(id)
    }

    /// Reserves the funds of a freshly received payment; RJCT (AM04) when they are not there.
    pub fn reserve(&mut self, p: &mut Payment, day: NaiveDate) {
        match self
            .ledger
            .reserve(&p.debtor_key, &p.creditor_key, p.amount.amount(), day)
        {
            Ok(t) => p.transfer = Some(t),
            Err(LedgerError::InsufficientFunds) => {
                p.status = TxStatus::Rjct;
                p.reason = Some(reason::AM04);
            }
            Err(_) => {
                p.status = TxStatus::Rjct;
                p.reason = Some(reason::AM04);
            }
        }
    }

    /// SCA finished at the bank: accept, and book at once for instant payments.
    pub fn authorised(&mut self, id: &str, day: NaiveDate) -> bool {
        let Some(p) = self.payments.get_mut(id) else {
            return false;
        };
        if p.status != TxStatus::Rcvd {
            return false;
        }
        p.set_sca(ScaStatus::Finalised);
        p.status = TxStatus::Actc;
        p.accepted = Some(day);
        if p.product == Product::InstantSct
            && let Some(t) = p.transfer
            && self.ledger.post(t, day).is_ok()
        {
            p.status = TxStatus::Acsc;
        }
        tracing::info!(payment = %id, "payment authorised");
        true
    }

    /// SCA failed or the PSU said no: reject and release the funds.
    pub fn sca_failed(&mut self, id: &str, day: NaiveDate) -> bool {
        let Some(p) = self.payments.get_mut(id) else {
            return false;
        };
        if p.status != TxStatus::Rcvd {
            return false;
        }
        p.set_sca(ScaStatus::Failed);
        p.status = TxStatus::Rjct;
        p.reason = Some(reason::SCA_FAILED);
        if let Some(t) = p.transfer {
            let _ = self.ledger.void(t, day);
        }
        tracing::info!(payment = %id, "payment rejected at SCA");
        true
    }

    /// Cancels a payment that has not been executed; `false` when it is too late.
    pub fn cancel(&mut self, id: &str, day: NaiveDate) -> Result<(), &'static str> {
        let p = self.payments.get_mut(id).ok_or("unknown")?;
        match p.status {
            TxStatus::Rcvd | TxStatus::Actc => {
                p.set_sca(ScaStatus::Failed);
                p.status = TxStatus::Canc;
                if let Some(t) = p.transfer {
                    let _ = self.ledger.void(t, day);
                }
                tracing::info!(payment = %id, "payment cancelled");
                Ok(())
            }
            _ => Err("final"),
        }
    }

    /// Books accepted SEPA payments whose execution day has come.
    pub fn settle_due(&mut self, today: NaiveDate) {
        for p in self.payments.values_mut() {
            if p.status == TxStatus::Actc
                && p.accepted.is_some_and(|a| a < today)
                && let Some(t) = p.transfer
                && self.ledger.post(t, today).is_ok()
            {
                p.status = TxStatus::Acsc;
            }
        }
    }

    /// The payment entries an account holder sees on `today`, newest first.
    pub fn entries(&self, key: &str, today: NaiveDate) -> Vec<Entry> {
        let mut out = Vec::new();
        for p in self.payments.values() {
            let Some(tid) = p.transfer else { continue };
            let Some(t) = self.ledger.transfer(tid) else {
                continue;
            };
            if t.kind != TransferKind::Payment || t.created > today {
                continue;
            }
            let booked = match t.state {
                TransferState::Voided => continue,
                TransferState::Posted => t.posted.is_some_and(|d| d <= today),
                TransferState::Pending => false,
            };
            let (sign, counterparty, iban) = if t.debit == key {
                (-1, &p.creditor_name, &p.creditor_iban)
            } else if t.credit == key {
                (1, &p.debtor_name, &p.debtor_iban)
            } else {
                continue;
            };
            let amount = if sign < 0 {
                p.amount.negate()
            } else {
                p.amount
            };
            out.push(Entry {
                tx_id: format!("pis-{}", p.id),
                transfer: tid,
                booked,
                entry_date: t.created,
                booking_date: if booked { t.posted } else { None },
                amount,
                counterparty: counterparty.clone(),
                counterparty_iban: Some(iban.expose().to_owned()),
                remittance: p.remittance.clone(),
                code: "TRANSFER",
            });
        }
        for b in self.bookings.iter().filter(|b| b.account == key) {
            let Some(t) = self.ledger.transfer(b.transfer) else {
                continue;
            };
            if t.kind != TransferKind::Booking || t.created > today {
                continue;
            }
            let Ok(m) = Money::new(t.amount, t.currency) else {
                continue;
            };
            out.push(Entry {
                tx_id: b.id.clone(),
                transfer: b.transfer,
                booked: true,
                entry_date: t.created,
                booking_date: t.posted,
                amount: if t.credit == key { m } else { m.negate() },
                counterparty: b.counterparty.clone(),
                counterparty_iban: b.counterparty_iban.clone(),
                remittance: b.remittance.clone(),
                code: b.code,
            });
        }
        out.sort_by(|a, b| {
            b.entry_date
                .cmp(&a.entry_date)
                .then(b.transfer.cmp(&a.transfer))
        });
        out
    }

    /// (posted, pending) net effect of payments on an account, as of `today`.
    pub fn effect(&self, key: &str, today: NaiveDate) -> (Decimal, Decimal) {
        let mut booked = Decimal::ZERO;
        let mut pending = Decimal::ZERO;
        for e in self.entries(key, today) {
            if e.booked {
                booked += e.amount.amount();
            } else {
                pending += e.amount.amount();
            }
        }
        (booked, pending)
    }
}
