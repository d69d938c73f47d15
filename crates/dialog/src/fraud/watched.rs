//! What the fraud watcher keeps of one customer between syncs: the risk state, the accounts it
//! was built from and the transactions scored lately. New transactions arrive as bus events,
//! which come at least once and not always in the order their syncs stored them; these two
//! memories keep a late or repeated event from counting a transaction twice, which would make
//! an ordinary day look like a burst of payments.

use std::collections::{HashSet, VecDeque};

use okienko_core::{AccountId, TransactionId};
use okienko_risk::CustomerState;

/// Scored ids remembered per customer: far more than one sync adds, few enough to keep for
/// every customer in memory (16 bytes each).
const RECENT_SCORED: usize = 256;

pub(super) struct Watched {
    pub risk: CustomerState,
    /// The accounts whose stored history the state was built from.
    accounts: HashSet<AccountId>,
    /// Ids scored lately, oldest first, and the same ids as a set.
    recent: VecDeque<TransactionId>,
    recent_set: HashSet<TransactionId>,
}

impl Watched {
    /// A state built from the history of `accounts`.
    pub fn new(risk: CustomerState, accounts: impl IntoIterator<Item = AccountId>) -> Self {
        Watched {
            risk,
            accounts: accounts.into_iter().collect(),
            recent: VecDeque::new(),
            recent_set: HashSet::new(),
        }
    }

    /// A rebuilt state that keeps what this one scored lately, so an event scored before the
    /// rebuild and delivered again after it still counts once.
    pub fn rebuilt(
        self,
        risk: CustomerState,
        accounts: impl IntoIterator<Item = AccountId>,
    ) -> Self {
        Watched {
            risk,
            accounts: accounts.into_iter().collect(),
            recent: self.recent,
            recent_set: self.recent_set,
        }
    }

    /// True when the state was built from `account`'s history: a first sync of that account
    /// announced late has nothing the state lacks.
    pub fn covers(&self, account: AccountId) -> bool {
        self.accounts.contains(&account)
    }

    pub fn was_scored(&self, id: TransactionId) -> bool {
        self.recent_set.contains(&id)
    }

    pub fn mark_scored(&mut self, id: TransactionId) {
        if !self.recent_set.insert(id) {
            return;
        }
        self.recent.push_back(id);
        while self.recent.len() > RECENT_SCORED {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_latest_scored_ids_only() {
        let account = AccountId::new();
        let mut w = Watched::new(CustomerState::new(), [account]);
        assert!(w.covers(account));
        assert!(!w.covers(AccountId::new()));
        let ids: Vec<TransactionId> = (0..RECENT_SCORED + 10)
            .map(|_| TransactionId::new())
            .collect();
        for id in &ids {
            w.mark_scored(*id);
            w.mark_scored(*id);
        }
        assert_eq!(w.recent.len(), RECENT_SCORED);
        assert_eq!(w.recent_set.len(), RECENT_SCORED);
        assert!(ids[..10].iter().all(|id| !w.was_scored(*id)));
        assert!(ids[10..].iter().all(|id| w.was_scored(*id)));
        let other = AccountId::new();
        let w = w.rebuilt(CustomerState::new(), [account, other]);
        assert!(w.covers(other));
        assert!(w.was_scored(ids[RECENT_SCORED]));
    }
}
