//! Pure reconciliation of one account: what the bank reported now against what the store holds,
//! producing the store's [`TxBatch`]. No I/O, so every rule is unit-tested here.
//!
//! Rules (NextGenPSD2 has no pending→booked link, and banks may or may not keep the id):
//! 1. A booked item whose bank `transactionId` or fingerprint is already stored is the same row
//!    (updated only if its content changed). A booked item whose id matches a stored *pending*
//!    row books that row.
//! 2. A pending item whose id or fingerprint is stored as pending is the same row.
//! 3. Any other booked item books a still-unclaimed stored pending row with the same endToEndId,
//!    or else the closest one with the same counterparty, a booking date within 14 days of the
//!    pending date and an amount within 20 % (same sign and currency). The row keeps its
//!    `TransactionId`; status, dates, amount and bank ids are replaced.
//! 4. Everything else is new. Stored pending rows nobody claimed vanished at the bank: delete.
//!
//! Stored booked rows missing from the report are kept (banks trim history; booked is final).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use okienko_core::transaction::fold;
use okienko_core::{AccountId, BookingStatus, Money, TransactionId};
use okienko_store::{NewTransaction, StoredTransaction, TxBatch};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::connector::BankTransaction;

/// How far a booking may be from its pending entry, in days.
const MATCH_DAYS: i64 = 14;

/// Counts of what a batch does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub inserted: u32,
    pub updated: u32,
    pub deleted: u32,
}

/// The reconciled batch plus the newest booked date it saw.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub batch: TxBatch,
    pub counts: BatchCounts,
    pub last_booked_date: Option<NaiveDate>,
}

/// An incoming item with its derived keys.
struct Incoming {
    tx: BankTransaction,
    date: NaiveDate,
    fingerprint: String,
}

fn counterparty_key(merchant: Option<&str>) -> Option<String> {
    merchant
        .map(fold)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// A content hash for items without a stable bank id: account, status, amount, date,
/// counterparty, raw description, and the occurrence index among identical items of one report.
fn base_key(account: AccountId, t: &BankTransaction, date: NaiveDate) -> String {
    format!(
        "v1\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        account,
        t.status.as_str(),
        t.amount.amount_string(),
        t.amount.currency(),
        date,
        t.counterparty_iban
            .as_ref()
            .map(|i| i.expose().to_owned())
            .or_else(|| counterparty_key(t.merchant.as_deref()))
            .unwrap_or_default(),
        t.raw_description,
    )
}

fn hash(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn prepare(account: AccountId, items: Vec<BankTransaction>, today: NaiveDate) -> Vec<Incoming> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    items
        .into_iter()
        .map(|tx| {
            let date = tx.customer_date().unwrap_or(today);
            let key = base_key(account, &tx, date);
            let n = seen.entry(key.clone()).or_insert(0);
            let fingerprint = hash(&format!("{key}\u{1f}{n}"));
            *n += 1;
            Incoming {
                tx,
                date,
                fingerprint,
            }
        })
        .collect()
}

fn to_row(id: TransactionId, inc: &Incoming, category: Option<String>) -> NewTransaction {
    let t = &inc.tx;
    NewTransaction {
        id,
        bank_transaction_id: t.bank_transaction_id.clone(),
        status: t.status,
        date: inc.date,
        booking_date: t.booking_date,
        value_date: t.value_date,
        amount: t.amount,
        merchant: t.merchant.clone(),
        raw_description: t.raw_description.clone(),
        category,
        counterparty_iban: t.counterparty_iban.as_ref().map(|i| i.expose().to_owned()),
        end_to_end_id: t.end_to_end_id.clone(),
        fingerprint: inc.fingerprint.clone(),
    }
}

/// True when storing `new` over `old` would change something a customer could see or we match on.
fn differs(old: &StoredTransaction, new: &NewTransaction) -> bool {
    old.status != new.status
        || old.date != new.date
        || old.booking_date != new.booking_date
        || old.value_date != new.value_date
        || old.amount != new.amount
        || old.merchant != new.merchant
        || old.raw_description != new.raw_description
        || old.counterparty_iban != new.counterparty_iban
        || old.end_to_end_id != new.end_to_end_id
        || old.bank_transaction_id != new.bank_transaction_id
        || old.fingerprint != new.fingerprint
}

/// Relative amount distance |a−b|/|b|, or None when signs or currencies differ.
fn amount_distance(booked: &Money, pending: &Money) -> Option<Decimal> {
    if booked.currency() != pending.currency() || booked.is_negative() != pending.is_negative() {
        return None;
    }
    let p = pending.amount().abs();
    let diff = (booked.amount() - pending.amount()).abs();
    if p.is_zero() {
        return diff.is_zero().then_some(Decimal::ZERO);
    }
    Some(diff / p)
}

/// Reconciles one account's report (`booked`, `pending`) with the `stored` rows.
pub fn reconcile(
    account: AccountId,
    stored: &[StoredTransaction],
    booked: Vec<BankTransaction>,
    pending: Vec<BankTransaction>,
    today: NaiveDate,
) -> Reconciled {
    let booked = prepare(account, booked, today);
    let pending = prepare(account, pending, today);
    let mut out = Reconciled::default();
    let mut claimed: HashSet<usize> = HashSet::new();

    let mut by_bank_id: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_fp: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in stored.iter().enumerate() {
        if let Some(id) = &s.bank_transaction_id {
            by_bank_id.entry(id.as_str()).or_default().push(i);
        }
        by_fp.entry(s.fingerprint.as_str()).or_default().push(i);
    }
    let find = |map: &HashMap<&str, Vec<usize>>,
                key: &str,
                claimed: &HashSet<usize>,
                want: Option<BookingStatus>|
     -> Option<usize> {
        map.get(key)?
            .iter()
            .copied()
            .find(|i| !claimed.contains(i) && want.is_none_or(|w| stored[*i].status == w))
    };

    let update = |out: &mut Reconciled, idx: usize, inc: &Incoming| {
        let old = &stored[idx];
        let row = to_row(old.id, inc, old.category.clone());
        if differs(old, &row) {
            out.batch.update.push(row);
            out.counts.updated += 1;
        }
    };

    // 1. Booked items already known (by bank id against any row, else fingerprint against booked).
    let mut booked_rest = Vec::new();
    for inc in &booked {
        let hit = inc
            .tx
            .bank_transaction_id
            .as_deref()
            .and_then(|id| find(&by_bank_id, id, &claimed, None))
            .or_else(|| {
                find(
                    &by_fp,
                    &inc.fingerprint,
                    &claimed,
                    Some(BookingStatus::Booked),
                )
            });
        match hit {
            Some(idx) => {
                claimed.insert(idx);
                update(&mut out, idx, inc);
            }
            None => booked_rest.push(inc),
        }
    }
    // 2. Pending items already known as pending.
    let mut pending_rest = Vec::new();
    for inc in &pending {
        let hit = inc
            .tx
            .bank_transaction_id
            .as_deref()
            .and_then(|id| find(&by_bank_id, id, &claimed, Some(BookingStatus::Pending)))
            .or_else(|| {
                find(
                    &by_fp,
                    &inc.fingerprint,
                    &claimed,
                    Some(BookingStatus::Pending),
                )
            });
        match hit {
            Some(idx) => {
                claimed.insert(idx);
                update(&mut out, idx, inc);
            }
            None => pending_rest.push(inc),
        }
    }
    // 3. New booked items: book an unclaimed stored pending row, or insert.
    for inc in booked_rest {
        let open = |i: &usize| !claimed.contains(i) && stored[*i].status == BookingStatus::Pending;
        let by_e2e = inc.tx.end_to_end_id.as_deref().and_then(|e| {
            (0..stored.len()).find(|i| open(i) && stored[*i].end_to_end_id.as_deref() == Some(e))
        });
        let hit = by_e2e.or_else(|| {
            let cp = counterparty_key(inc.tx.merchant.as_deref());
            let iban = inc.tx.counterparty_iban.as_ref().map(|i| i.expose());
            (0..stored.len())
                .filter(|i| open(i))
                .filter_map(|i| {
                    let s = &stored[i];
                    let same_party = (cp.is_some()
                        && counterparty_key(s.merchant.as_deref()) == cp)
                        || (iban.is_some() && s.counterparty_iban.as_deref() == iban);
                    if !same_party {
                        return None;
                    }
                    let days = (inc.date - s.date).num_days().abs();
                    if days > MATCH_DAYS {
                        return None;
                    }
                    let dist = amount_distance(&inc.tx.amount, &s.amount)?;
                    (dist <= Decimal::new(2, 1)).then_some((dist, days, i))
                })
                .min()
                .map(|(_, _, i)| i)
        });
        match hit {
            Some(idx) => {
                claimed.insert(idx);
                update(&mut out, idx, inc);
            }
            None => {
                out.batch
                    .insert
                    .push(to_row(TransactionId::new(), inc, None));
                out.counts.inserted += 1;
            }
        }
    }
    // 4. New pending items.
    for inc in pending_rest {
        out.batch
            .insert
            .push(to_row(TransactionId::new(), inc, None));
        out.counts.inserted += 1;
    }
    // Pending rows the bank no longer reports and nothing booked: gone (cancelled/expired holds).
    for (i, s) in stored.iter().enumerate() {
        if s.status == BookingStatus::Pending && !claimed.contains(&i) {
            out.batch.delete.push(s.id);
            out.counts.deleted += 1;
        }
    }
    out.last_booked_date = booked.iter().map(|b| b.date).max();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn bt(
        id: Option<&str>,
        status: BookingStatus,
        date: &str,
        amount: &str,
        merchant: &str,
    ) -> BankTransaction {
        let (booking_date, value_date) = match status {
            BookingStatus::Booked => (Some(d(date)), Some(d(date))),
            BookingStatus::Pending => (None, Some(d(date))),
        };
        BankTransaction {
            bank_transaction_id: id.map(str::to_owned),
            end_to_end_id: None,
            status,
            booking_date,
            value_date,
            entry_date: None,
            amount: Money::parse(amount, "PLN").unwrap(),
            merchant: Some(merchant.to_owned()),
            raw_description: format!("PLATNOSC KARTA {merchant}"),
            counterparty_iban: None,
        }
    }

    /// Applies a batch to an in-memory table, as the store would.
    fn apply(table: &mut Vec<StoredTransaction>, r: &Reconciled) {
        table.retain(|t| !r.batch.delete.contains(&t.id));
        for u in &r.batch.update {
            let row = table.iter_mut().find(|t| t.id == u.id).unwrap();
            *row = u.clone();
        }
        table.extend(r.batch.insert.iter().cloned());
    }

    const P: BookingStatus = BookingStatus::Pending;
    const B: BookingStatus = BookingStatus::Booked;

    #[test]
    fn first_sync_inserts_everything_and_resync_is_a_no_op() {
        let acc = AccountId::new();
        let today = d("2026-10-10");
        let booked = vec![
            bt(Some("1"), B, "2026-10-01", "-10.00", "Biedronka"),
            bt(None, B, "2026-10-02", "-5.00", "Żabka"),
            bt(None, B, "2026-10-02", "-5.00", "Żabka"),
        ];
        let pending = vec![bt(Some("p1"), P, "2026-10-09", "-20.00", "Orlen")];
        let mut table = Vec::new();
        let r = reconcile(acc, &table, booked.clone(), pending.clone(), today);
        assert_eq!(r.counts.inserted, 4);
        assert_eq!(r.last_booked_date, Some(d("2026-10-02")));
        apply(&mut table, &r);
        let r = reconcile(acc, &table, booked, pending, today);
        assert_eq!(
            r.counts,
            BatchCounts::default(),
            "identical report changes nothing"
        );
    }

    #[test]
    fn pending_books_with_new_id_and_changed_amount_keeps_row_id() {
        let acc = AccountId::new();
        let mut table = Vec::new();
        let r = reconcile(
            acc,
            &table,
            vec![],
            vec![
                bt(Some("p1"), P, "2026-10-09", "-50.00", "Uber"),
                bt(Some("p2"), P, "2026-10-09", "-30.00", "Lidl"),
            ],
            d("2026-10-09"),
        );
        apply(&mut table, &r);
        let uber_id = table
            .iter()
            .find(|t| t.merchant.as_deref() == Some("Uber"))
            .unwrap()
            .id;
        // Uber books two days later with a tip and a new id; Lidl is still pending.
        let r = reconcile(
            acc,
            &table,
            vec![bt(Some("b9"), B, "2026-10-11", "-55.00", "Uber")],
            vec![bt(Some("p2"), P, "2026-10-09", "-30.00", "Lidl")],
            d("2026-10-11"),
        );
        assert_eq!(
            r.counts,
            BatchCounts {
                inserted: 0,
                updated: 1,
                deleted: 0
            }
        );
        apply(&mut table, &r);
        let uber = table.iter().find(|t| t.id == uber_id).unwrap();
        assert_eq!(uber.status, B);
        assert_eq!(uber.amount.amount_string(), "-55.00");
        assert_eq!(uber.bank_transaction_id.as_deref(), Some("b9"));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn pending_booked_with_same_id() {
        let acc = AccountId::new();
        let mut table = Vec::new();
        let r = reconcile(
            acc,
            &table,
            vec![],
            vec![bt(Some("x"), P, "2026-10-09", "-9.00", "A")],
            d("2026-10-09"),
        );
        apply(&mut table, &r);
        let id = table[0].id;
        let r = reconcile(
            acc,
            &table,
            vec![bt(Some("x"), B, "2026-10-10", "-9.00", "A")],
            vec![],
            d("2026-10-10"),
        );
        assert_eq!(r.counts.updated, 1);
        apply(&mut table, &r);
        assert_eq!(table.len(), 1);
        assert_eq!(table[0].id, id);
        assert_eq!(table[0].status, B);
    }

    #[test]
    fn vanished_pending_is_deleted_and_far_amounts_do_not_match() {
        let acc = AccountId::new();
        let mut table = Vec::new();
        let r = reconcile(
            acc,
            &table,
            vec![],
            vec![
                bt(None, P, "2026-10-01", "-100.00", "Hotel"),
                bt(None, P, "2026-10-01", "-10.00", "Kawa"),
            ],
            d("2026-10-01"),
        );
        apply(&mut table, &r);
        // The hotel hold is released; a much larger hotel charge books; the coffee vanishes.
        let r = reconcile(
            acc,
            &table,
            vec![bt(None, B, "2026-10-03", "-300.00", "Hotel")],
            vec![],
            d("2026-10-03"),
        );
        assert_eq!(
            r.counts,
            BatchCounts {
                inserted: 1,
                updated: 0,
                deleted: 2
            }
        );
        apply(&mut table, &r);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn two_identical_pendings_book_one_by_one() {
        let acc = AccountId::new();
        let mut table = Vec::new();
        let two = vec![
            bt(None, P, "2026-10-01", "-12.00", "Kawa"),
            bt(None, P, "2026-10-01", "-12.00", "Kawa"),
        ];
        let r = reconcile(acc, &table, vec![], two, d("2026-10-01"));
        apply(&mut table, &r);
        let ids: HashSet<_> = table.iter().map(|t| t.id).collect();
        let r = reconcile(
            acc,
            &table,
            vec![bt(Some("b1"), B, "2026-10-02", "-12.00", "Kawa")],
            vec![bt(None, P, "2026-10-01", "-12.00", "Kawa")],
            d("2026-10-02"),
        );
        assert_eq!(
            r.counts,
            BatchCounts {
                inserted: 0,
                updated: 1,
                deleted: 0
            }
        );
        apply(&mut table, &r);
        let r = reconcile(
            acc,
            &table,
            vec![
                bt(Some("b1"), B, "2026-10-02", "-12.00", "Kawa"),
                bt(Some("b2"), B, "2026-10-03", "-12.00", "Kawa"),
            ],
            vec![],
            d("2026-10-03"),
        );
        assert_eq!(
            r.counts,
            BatchCounts {
                inserted: 0,
                updated: 1,
                deleted: 0
            }
        );
        apply(&mut table, &r);
        assert_eq!(table.iter().map(|t| t.id).collect::<HashSet<_>>(), ids);
        assert!(table.iter().all(|t| t.status == B));
    }

    #[test]
    fn closest_pending_wins() {
        let acc = AccountId::new();
        let mut table = Vec::new();
        let r = reconcile(
            acc,
            &table,
            vec![],
            vec![
                bt(None, P, "2026-10-01", "-100.00", "Orlen"),
                bt(None, P, "2026-10-01", "-90.00", "Orlen"),
            ],
            d("2026-10-01"),
        );
        apply(&mut table, &r);
        let ninety = table
            .iter()
            .find(|t| t.amount.amount_string() == "-90.00")
            .unwrap()
            .id;
        let r = reconcile(
            acc,
            &table,
            vec![bt(None, B, "2026-10-02", "-91.00", "ORLEN")],
            vec![bt(None, P, "2026-10-01", "-100.00", "Orlen")],
            d("2026-10-02"),
        );
        assert_eq!(r.batch.update.len(), 1);
        assert_eq!(r.batch.update[0].id, ninety);
    }
}
