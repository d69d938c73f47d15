//! The gate's consent cache: what each customer's consents grant (bank × scope × last valid day),
//! so a read does not query the consents table every time.
//!
//! It must never let a read through that the database would refuse:
//!
//! * **Grants, not verdicts.** An entry holds the customer's *valid* consents with their
//!   `valid_until`; expiry is checked against the gate's clock on every access, so an entry
//!   loaded before midnight never serves a consent that expired at midnight.
//! * **Invalidated synchronously.** The store tells the cache (through
//!   [`okienko_store::ConsentListener`]) about every consent inserted or updated through it —
//!   linking (grant), revoking in the chat or at the bank, the expiry job — before that write
//!   returns. So in this process the very next access after a revoke is decided on the new state.
//! * **Told by the other instances.** Another gateway process sharing the database announces its
//!   consent writes on the event bus (`ConsentChanged`, issue 9); the gateway forwards them here
//!   ([`crate::PrivacyGate::forget_consents`]), so a revoke there is seen here as soon as the bus
//!   delivers it; a listener that fell behind empties the whole cache.
//! * **Short-lived.** Whatever the bus does, an entry lives at most [`MAX_AGE`]: a revoke made by
//!   another instance takes effect here within that time even while the bus is down.
//! * **No stale refill.** A load that overlapped an invalidation is used for that one access (it
//!   read the database after the access began) but not kept.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use okienko_core::{ConsentScope, ConsentStatus, CustomerId};
use okienko_store::{ConsentListener, Store, StoreError};

/// How long an entry may be used without asking the database again (bounds how late another
/// process's revoke is seen here).
pub(crate) const MAX_AGE: Duration = Duration::seconds(1);
/// More customers than this empties the cache first (a bound on memory, not a tuning knob).
const MAX_ENTRIES: usize = 100_000;

/// One scope granted at one bank, valid through `valid_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grant {
    scope: ConsentScope,
    valid_until: NaiveDate,
}

struct Entry {
    loaded_at: DateTime<Utc>,
    grants: Box<[Grant]>,
}

pub(crate) struct ConsentCache {
    map: RwLock<HashMap<CustomerId, Entry>>,
    /// Bumped by every invalidation; a load that saw it change is not kept.
    epoch: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ConsentListener for ConsentCache {
    fn consent_changed(&self, customer: CustomerId) {
        // Bump first: a load that began before this and ends after it sees the epoch moved.
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut map = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.remove(&customer);
    }
}

/// Scopes granted by valid consents whose last day is `today` or later.
fn valid_on(grants: &[Grant], today: NaiveDate) -> Vec<ConsentScope> {
    let mut scopes = Vec::with_capacity(4);
    for g in grants.iter().filter(|g| g.valid_until >= today) {
        if !scopes.contains(&g.scope) {
            scopes.push(g.scope);
        }
    }
    scopes
}

impl ConsentCache {
    /// Forgets every entry (events about consents may have been missed).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut map = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.clear();
    }

    pub(crate) fn new() -> Self {
        ConsentCache {
            map: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The scopes the subject's consents grant at `now`.
    pub(crate) async fn valid_scopes(
        &self,
        store: &Store,
        customer: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConsentScope>, StoreError> {
        let today = now.date_naive();
        {
            let map = match self.map.read() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some(e) = map.get(&customer) {
                // A clock that went backwards also refreshes.
                let age = now - e.loaded_at;
                if age >= Duration::zero() && age < MAX_AGE {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(valid_on(&e.grants, today));
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::SeqCst);
        let grants: Box<[Grant]> = store
            .consent_grants_for_customer(customer)
            .await?
            .into_iter()
            .filter(|c| c.status == ConsentStatus::Valid)
            .flat_map(|c| {
                let valid_until = c.valid_until;
                c.scopes
                    .into_iter()
                    .map(move |scope| Grant { scope, valid_until })
            })
            .collect();
        let scopes = valid_on(&grants, today);
        let mut map = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if self.epoch.load(Ordering::SeqCst) == epoch {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                customer,
                Entry {
                    loaded_at: now,
                    grants,
                },
            );
        }
        Ok(scopes)
    }

    /// (hits, misses) so far.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_judged_on_the_day_of_the_access() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let grants = [
            Grant {
                scope: ConsentScope::Balances,
                valid_until: d("2026-03-01"),
            },
            Grant {
                scope: ConsentScope::Transactions,
                valid_until: d("2026-02-28"),
            },
            Grant {
                scope: ConsentScope::Balances,
                valid_until: d("2026-06-01"),
            },
        ];
        assert_eq!(
            valid_on(&grants, d("2026-02-28")),
            [ConsentScope::Balances, ConsentScope::Transactions]
        );
        assert_eq!(valid_on(&grants, d("2026-03-01")), [ConsentScope::Balances]);
        assert_eq!(valid_on(&grants, d("2026-06-02")), []);
    }
}
