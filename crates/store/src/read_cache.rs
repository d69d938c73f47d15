//! A customer's decrypted accounts and balances, and their merchant names, kept in memory
//! between questions, on SQLite.
//!
//! The balance question is the chat's most frequent; reading it from the file each time costs
//! two statements, a data-key unwrap and one decryption per row (about a sixth of a balance
//! answer's CPU under `okienko bench chat`, issue 9). A kept copy is used only while the
//! customer's *read generation* is the one it was read at: migration 0025's triggers move it on
//! with every write to their accounts or balances, whoever writes (this process, another process
//! on the same file, an erase), so a copy can never outlive the rows it was read from. Checking
//! it is one primary-key read.
//!
//! What is kept is what a balance answer shows (account names, masked and full IBANs, amounts):
//! in this process's memory only, never written anywhere, dropped when the customer's data is
//! erased, and bounded ([`MAX_CUSTOMERS`]). The privacy gate still decides and audits every
//! access before this is consulted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use okienko_core::Balance;
use rusqlite::OptionalExtension as _;

use crate::error::StoreError;
use crate::records::AccountRecord;

/// Customers whose copies are kept; when full, all are dropped and the cache fills again.
pub(crate) const MAX_CUSTOMERS: usize = 10_000;

type Copy = Arc<(Vec<AccountRecord>, Vec<Balance>)>;
/// Merchant names with the generation they were read at.
type Names = (i64, Arc<Vec<String>>);

#[derive(Default)]
pub(crate) struct ReadCache {
    entries: Mutex<HashMap<String, (i64, Copy)>>,
    /// The customer's merchant names (from their transactions; migration 0026 moves the
    /// generation on with those too), asked for before every transactions question.
    merchants: Mutex<HashMap<String, Names>>,
}

/// The customer's read generation (0 when nothing of theirs was written since migration 0025).
pub(crate) fn generation(conn: &rusqlite::Connection, customer: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT gen FROM read_generations WHERE customer_id = ?1")?
        .query_row([customer], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ReadCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Copy)>> {
        lock(&self.entries)
    }

    /// The kept copy when it was read at `generation`.
    pub(crate) fn get(
        &self,
        customer: &str,
        generation: i64,
    ) -> Option<(Vec<AccountRecord>, Vec<Balance>)> {
        let entries = self.entries();
        let (at, copy) = entries.get(customer)?;
        (*at == generation).then(|| (copy.0.clone(), copy.1.clone()))
    }

    /// Keeps what was read at `generation` (read *before* the rows, so a write in between
    /// leaves the copy behind the stored generation, never ahead of it).
    pub(crate) fn put(
        &self,
        customer: &str,
        generation: i64,
        accounts: &[AccountRecord],
        balances: &[Balance],
    ) {
        let mut entries = self.entries();
        if entries.len() >= MAX_CUSTOMERS && !entries.contains_key(customer) {
            entries.clear();
        }
        entries.insert(
            customer.to_owned(),
            (generation, Arc::new((accounts.to_vec(), balances.to_vec()))),
        );
    }

    /// The kept merchant names when they were read at `generation`.
    pub(crate) fn merchants(&self, customer: &str, generation: i64) -> Option<Vec<String>> {
        let kept = lock(&self.merchants);
        let (at, names) = kept.get(customer)?;
        (*at == generation).then(|| names.as_ref().clone())
    }

    /// Keeps the merchant names read at `generation` (read before the rows, as in [`Self::put`]).
    pub(crate) fn put_merchants(&self, customer: &str, generation: i64, names: &[String]) {
        let mut kept = lock(&self.merchants);
        if kept.len() >= MAX_CUSTOMERS && !kept.contains_key(customer) {
            kept.clear();
        }
        kept.insert(customer.to_owned(), (generation, Arc::new(names.to_vec())));
    }

    /// Drops the customer's copies (their data is being erased).
    pub(crate) fn forget(&self, customer: &str) {
        self.entries().remove(customer);
        lock(&self.merchants).remove(customer);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_serves_only_its_generation_and_the_cache_stays_bounded() {
        let cache = ReadCache::default();
        cache.put("a", 3, &[], &[]);
        assert!(cache.get("a", 3).is_some());
        assert!(cache.get("a", 4).is_none(), "a newer generation misses");
        assert!(cache.get("b", 3).is_none());
        cache.put_merchants("a", 3, &["Lidl".to_owned()]);
        assert_eq!(cache.merchants("a", 3), Some(vec!["Lidl".to_owned()]));
        assert!(
            cache.merchants("a", 4).is_none(),
            "a newer generation misses"
        );
        cache.forget("a");
        assert!(cache.get("a", 3).is_none());
        assert!(
            cache.merchants("a", 3).is_none(),
            "erasing forgets the names too"
        );
        for i in 0..MAX_CUSTOMERS + 5 {
            cache.put(&i.to_string(), 1, &[], &[]);
        }
        assert!(cache.len() <= MAX_CUSTOMERS);
    }
}
