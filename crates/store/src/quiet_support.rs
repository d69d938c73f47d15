//! Customers known to have no live support conversation, on SQLite.
//!
//! Before every answer of the bot the chat asks whether a person holds the conversation
//! ([`crate::Store::live_support_conversation_of`]). Almost always nobody does, and the answer
//! was a read of the file each time (about 6 % of a balance answer's CPU under
//! `okienko bench chat`, issue 9, most of it re-reading pages after the writes of the answer
//! before). A customer found without one is remembered here until the next conversation is
//! created: only [`crate::Store::insert_support_conversation`] can make a customer's
//! conversation live (claiming, transferring and closing only move a live one along or end it),
//! and every insert through any clone of the store moves the epoch on, which forgets everyone.
//!
//! In this process only: the SQLite deployment is one gateway process on its file (several
//! gateways run on PostgreSQL, which asks the database every time).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Customers remembered; when full, all are forgotten and the set fills again.
const MAX_CUSTOMERS: usize = 100_000;

#[derive(Default)]
pub(crate) struct QuietSupport {
    /// Moved on by every conversation created.
    epoch: AtomicU64,
    /// The epoch the set was filled in, and the customers found quiet in it.
    quiet: Mutex<(u64, HashSet<String>)>,
}

impl QuietSupport {
    fn quiet(&self) -> std::sync::MutexGuard<'_, (u64, HashSet<String>)> {
        self.quiet
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The epoch to pass to [`QuietSupport::remember`]: read *before* the database is asked, so
    /// a conversation created in between leaves the finding behind, never ahead.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// True when the customer was found without a live conversation since the last one was
    /// created (by anyone).
    pub(crate) fn is_quiet(&self, customer: &str) -> bool {
        let quiet = self.quiet();
        quiet.0 == self.epoch() && quiet.1.contains(customer)
    }

    /// Remembers that the database had no live conversation for the customer at `epoch`.
    pub(crate) fn remember(&self, customer: &str, epoch: u64) {
        let mut quiet = self.quiet();
        if epoch != self.epoch() {
            return;
        }
        if quiet.0 != epoch || quiet.1.len() >= MAX_CUSTOMERS {
            quiet.0 = epoch;
            quiet.1.clear();
        }
        quiet.1.insert(customer.to_owned());
    }

    /// A conversation was created (or is about to be, if the insert fails): forget everyone.
    pub(crate) fn conversation_created(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_conversation_forgets_every_quiet_customer() {
        let q = QuietSupport::default();
        assert!(!q.is_quiet("a"));
        q.remember("a", q.epoch());
        assert!(q.is_quiet("a"));
        assert!(!q.is_quiet("b"));
        q.conversation_created();
        assert!(!q.is_quiet("a"), "an insert forgets the finding");
    }

    #[test]
    fn a_finding_older_than_a_created_conversation_is_not_kept() {
        let q = QuietSupport::default();
        let before = q.epoch();
        // The database was asked, then a conversation was created before the answer came back.
        q.conversation_created();
        q.remember("a", before);
        assert!(!q.is_quiet("a"));
    }

    #[test]
    fn the_set_stays_bounded() {
        let q = QuietSupport::default();
        for i in 0..MAX_CUSTOMERS + 3 {
            q.remember(&i.to_string(), q.epoch());
        }
        assert!(q.quiet().1.len() <= MAX_CUSTOMERS);
    }
}
