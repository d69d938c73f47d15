//! The synthetic bank's books: customer profiles, their accounts and every transaction, made by a
//! deterministic generator and kept in memory.
//!
//! Determinism: customer `i`'s profile comes from a ChaCha8Rng seeded by `(seed, i)`; the
//! transactions of one calendar day come from a ChaCha8Rng seeded by `(seed, i, day)`. So a
//! customer is generated lazily on first use (10 000 customers start instantly), history can be
//! extended when the bank's clock moves forward, and the same `(seed, today)` always gives the same
//! books. History starts 730 days before the configured `today`.
//!
//! Booking rule: every transaction has an entry date and books 1–3 days later. As of bank day `D`,
//! an entry with `book_date <= D` is booked (its booked id and booked amount), one with
//! `entry_date <= D < book_date` is pending (its pending id and amount); later entries are not
//! visible. Balances agree with that view:
//! `closingBooked = opening + Σ booked amounts`, `interimAvailable = closingBooked + Σ pending amounts`.

mod generate;
pub mod merchants;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use okienko_core::{Currency, Iban, Money};
use rust_decimal::Decimal;

pub use generate::{Profile, account_locator, profile};

/// What kind of account it is; decides name, product and `cashAccountType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Personal,
    Savings,
    Checking,
}

impl AccountKind {
    pub fn cash_account_type(self) -> &'static str {
        match self {
            AccountKind::Savings => "SVGS",
            _ => "CACC",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccountProfile {
    pub resource_id: String,
    pub iban: Iban,
    pub currency: Currency,
    pub name: String,
    pub product: String,
    pub kind: AccountKind,
    /// Balance before the first generated day.
    pub opening: Decimal,
}

/// One generated entry with both of its lives: pending, then booked.
#[derive(Debug, Clone)]
pub struct GenTx {
    pub account: usize,
    pub entry_date: NaiveDate,
    pub book_date: NaiveDate,
    pub pending_id: String,
    pub booked_id: String,
    pub pending_amount: Decimal,
    pub booked_amount: Decimal,
    /// `creditorName` for debits, `debtorName` for credits.
    pub counterparty: String,
    pub counterparty_iban: Option<String>,
    /// Raw bank description with `{AMT}` where the amount goes.
    pub raw_template: String,
    /// Short code for `proprietaryBankTransactionCode` ("CARD", "BLIK", "TRANSFER", ...).
    pub code: &'static str,
}

/// A transaction as it looks on one bank day.
#[derive(Debug, Clone)]
pub struct TxView {
    pub booked: bool,
    pub id: String,
    pub entry_date: NaiveDate,
    pub booking_date: Option<NaiveDate>,
    pub amount: Money,
    pub counterparty: String,
    pub counterparty_iban: Option<String>,
    pub description: String,
    pub code: &'static str,
    pub is_credit: bool,
    /// For booked entries: the id and amount it had while pending (truth API only).
    pub pending_id: String,
    pub pending_amount: Money,
}

impl GenTx {
    pub fn view(&self, today: NaiveDate, currency: Currency) -> Option<TxView> {
        if self.entry_date > today {
            return None;
        }
        let booked = self.book_date <= today;
        let amount = if booked {
            self.booked_amount
        } else {
            self.pending_amount
        };
        let money = money(amount, currency);
        Some(TxView {
            booked,
            id: if booked {
                self.booked_id.clone()
            } else {
                self.pending_id.clone()
            },
            entry_date: self.entry_date,
            booking_date: booked.then_some(self.book_date),
            amount: money,
            counterparty: self.counterparty.clone(),
            counterparty_iban: self.counterparty_iban.clone(),
            description: self
                .raw_template
                .replace("{AMT}", &wire_amount(amount, currency)),
            code: self.code,
            is_credit: amount.is_sign_positive() && !amount.is_zero(),
            pending_id: self.pending_id.clone(),
            pending_amount: money_of(self.pending_amount, currency),
        })
    }
}

fn money_of(d: Decimal, c: Currency) -> Money {
    money(d, c)
}

/// Builds a Money from generated minor-unit decimals; generation stays far inside Money's range.
pub fn money(d: Decimal, c: Currency) -> Money {
    Money::new(d, c).unwrap_or_else(|_| Money::zero(c))
}

/// The amount as banks print it in descriptions: "123,45" in Poland, "123.45" elsewhere.
fn wire_amount(d: Decimal, c: Currency) -> String {
    let s = money(d.abs(), c).amount_string();
    if c == Currency::PLN {
        s.replace('.', ",")
    } else {
        s
    }
}

/// Balances of one account on one bank day (see the module doc for the rule).
#[derive(Debug, Clone, Copy)]
pub struct Balances {
    pub closing_booked: Money,
    pub interim_available: Money,
    pub opening: Money,
}

/// A generated customer: profile plus the transactions generated so far.
#[derive(Debug)]
pub struct Customer {
    pub profile: Profile,
    txs: Mutex<(NaiveDate, Vec<GenTx>)>,
}

impl Customer {
    /// All transactions of one account visible on `today`, newest entry first.
    pub fn views(&self, seed: u64, account: usize, today: NaiveDate) -> Vec<TxView> {
        let currency = match self.profile.accounts.get(account) {
            Some(a) => a.currency,
            None => return Vec::new(),
        };
        let mut guard = match self.txs.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let (until, list) = &mut *guard;
        if today > *until {
            let mut day = until.succ_opt().unwrap_or(today);
            while day <= today {
                list.extend(generate::day(seed, &self.profile, day));
                day = match day.succ_opt() {
                    Some(d) => d,
                    None => break,
                };
            }
            *until = today;
        }
        let mut out: Vec<TxView> = list
            .iter()
            .filter(|t| t.account == account)
            .filter_map(|t| t.view(today, currency))
            .collect();
        out.reverse();
        out
    }

    /// Adds a transaction (control API): history is generated up to its entry day first, so the
    /// generator never runs over it later.
    pub fn inject(&self, seed: u64, tx: GenTx) {
        let _ = self.views(seed, tx.account, tx.entry_date);
        let mut guard = match self.txs.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.1.push(tx);
    }

    pub fn balances(&self, seed: u64, account: usize, today: NaiveDate) -> Option<Balances> {
        let acc = self.profile.accounts.get(account)?;
        let views = self.views(seed, account, today);
        let mut booked = acc.opening;
        let mut pending = Decimal::ZERO;
        for v in &views {
            if v.booked {
                booked += v.amount.amount();
            } else {
                pending += v.amount.amount();
            }
        }
        Some(Balances {
            opening: money(acc.opening, acc.currency),
            closing_booked: money(booked, acc.currency),
            interim_available: money(booked + pending, acc.currency),
        })
    }
}

/// Lazily generated customers, keyed by index (1-based: 1 = anna, 2 = john).
#[derive(Debug)]
pub struct Books {
    pub seed: u64,
    pub customers: usize,
    pub start: NaiveDate,
    cache: Mutex<HashMap<usize, Arc<Customer>>>,
}

impl Books {
    pub fn new(seed: u64, customers: usize, today: NaiveDate) -> Books {
        let start = today - chrono::Days::new(730);
        Books {
            seed,
            customers: customers.max(2),
            start,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Customer index of a PSU id, if such a customer exists.
    pub fn index_of(&self, psu_id: &str) -> Option<usize> {
        let i = match psu_id {
            "anna" => 1,
            "john" => 2,
            other => other.strip_prefix("cust")?.parse::<usize>().ok()?,
        };
        (i >= 1 && i <= self.customers && psu_id == generate::psu_id(i)).then_some(i)
    }

    pub fn customer(&self, index: usize) -> Option<Arc<Customer>> {
        if index == 0 || index > self.customers {
            return None;
        }
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let c = cache.entry(index).or_insert_with(|| {
            Arc::new(Customer {
                profile: profile(self.seed, index, self.start),
                txs: Mutex::new((self.start, Vec::new())),
            })
        });
        Some(c.clone())
    }

    pub fn customer_by_psu(&self, psu_id: &str) -> Option<Arc<Customer>> {
        self.customer(self.index_of(psu_id)?)
    }

    /// Finds an account by its `resourceId`: (customer, account index).
    pub fn account(&self, resource_id: &str) -> Option<(Arc<Customer>, usize)> {
        let (i, a) = account_locator(self.seed, resource_id)?;
        let c = self.customer(i)?;
        let acc = c.profile.accounts.get(a)?;
        (acc.resource_id == resource_id).then_some((c, a))
    }
}
