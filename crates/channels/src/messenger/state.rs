//! What the Messenger channel must remember across restarts, behind a trait so the channel never
//! touches the store (the binary plugs the store in; see `crates/okienko/src/messenger.rs`).
//!
//! The channel hands over only keyed hashes of event keys and SHA-256 hashes of its random
//! secrets; the PSID itself is handed over only for the link, which the implementation must keep
//! sealed (the store seals it with the customer's data key).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use okienko_core::CustomerId;

/// Where a Messenger customer is reached.
#[derive(Clone, PartialEq, Eq)]
pub struct PsidLink {
    pub psid: String,
    pub page_id: String,
    /// Their last own action (Meta's 24-hour window).
    pub last_inbound: DateTime<Utc>,
    /// When Meta's account linking completed with a code this gateway issued.
    pub account_linked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for PsidLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PsidLink")
            .field("last_inbound", &self.last_inbound)
            .field("account_linked_at", &self.account_linked_at)
            .finish_non_exhaustive()
    }
}

/// The two kinds of single-use account-linking secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// In the account-link URL sent to one PSID.
    State,
    /// The authorization code handed to Meta, expected back in that PSID's webhook.
    Code,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::State => "state",
            SecretKind::Code => "code",
        }
    }
}

/// What taking a secret found; only `Taken` changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretTake {
    Taken(CustomerId),
    Foreign,
    Used,
    Expired,
    Unknown,
}

/// The state store failed; the caller changes nothing and reports the channel unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Messenger state store failed")]
pub struct StateError;

#[async_trait]
pub trait MessengerState: Send + Sync + 'static {
    /// Remembers a handled event; true when it was not known before.
    async fn remember_event(&self, key_hash: &str, at: DateTime<Utc>) -> Result<bool, StateError>;
    /// Forgets events handled before `before`, and secrets expired by then.
    async fn purge(&self, before: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StateError>;
    async fn save_link(&self, customer: CustomerId, link: &PsidLink) -> Result<(), StateError>;
    async fn link(&self, customer: CustomerId) -> Result<Option<PsidLink>, StateError>;
    /// Every customer with a link (at start, to know whom pushes can reach).
    async fn linked_customers(&self) -> Result<Vec<CustomerId>, StateError>;
    /// True when there was a link.
    async fn drop_link(&self, customer: CustomerId) -> Result<bool, StateError>;
    async fn issue_secret(
        &self,
        hash: &str,
        kind: SecretKind,
        customer: CustomerId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StateError>;
    /// Takes a secret once; `customer` given, a secret of anyone else is `Foreign` and untouched.
    async fn take_secret(
        &self,
        hash: &str,
        kind: SecretKind,
        customer: Option<CustomerId>,
        now: DateTime<Utc>,
    ) -> Result<SecretTake, StateError>;
}

/// State in memory only (a restart forgets it): for tools and tests without a store.
#[derive(Default)]
pub struct MemoryState {
    events: Mutex<HashMap<String, DateTime<Utc>>>,
    links: Mutex<HashMap<CustomerId, PsidLink>>,
    secrets: Mutex<HashMap<String, Secret>>,
}

/// Kind, owner, expiry, used.
type Secret = (SecretKind, CustomerId, DateTime<Utc>, bool);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[async_trait]
impl MessengerState for MemoryState {
    async fn remember_event(&self, key_hash: &str, at: DateTime<Utc>) -> Result<bool, StateError> {
        let mut events = lock(&self.events);
        if events.contains_key(key_hash) {
            return Ok(false);
        }
        events.insert(key_hash.to_owned(), at);
        Ok(true)
    }

    async fn purge(&self, before: DateTime<Utc>, now: DateTime<Utc>) -> Result<u64, StateError> {
        let mut n = 0u64;
        lock(&self.events).retain(|_, at| {
            let keep = *at >= before;
            n += u64::from(!keep);
            keep
        });
        lock(&self.secrets).retain(|_, (_, _, exp, _)| {
            let keep = *exp >= now;
            n += u64::from(!keep);
            keep
        });
        Ok(n)
    }

    async fn save_link(&self, customer: CustomerId, link: &PsidLink) -> Result<(), StateError> {
        lock(&self.links).insert(customer, link.clone());
        Ok(())
    }

    async fn link(&self, customer: CustomerId) -> Result<Option<PsidLink>, StateError> {
        Ok(lock(&self.links).get(&customer).cloned())
    }

    async fn linked_customers(&self) -> Result<Vec<CustomerId>, StateError> {
        let set: HashSet<CustomerId> = lock(&self.links).keys().copied().collect();
        Ok(set.into_iter().collect())
    }

    async fn drop_link(&self, customer: CustomerId) -> Result<bool, StateError> {
        Ok(lock(&self.links).remove(&customer).is_some())
    }

    async fn issue_secret(
        &self,
        hash: &str,
        kind: SecretKind,
        customer: CustomerId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let mut secrets = lock(&self.secrets);
        if secrets.contains_key(hash) {
            return Err(StateError);
        }
        secrets.insert(hash.to_owned(), (kind, customer, expires_at, false));
        Ok(())
    }

    async fn take_secret(
        &self,
        hash: &str,
        kind: SecretKind,
        customer: Option<CustomerId>,
        now: DateTime<Utc>,
    ) -> Result<SecretTake, StateError> {
        let mut secrets = lock(&self.secrets);
        let Some((k, owner, expires, used)) = secrets.get_mut(hash) else {
            return Ok(SecretTake::Unknown);
        };
        Ok(if *k != kind {
            SecretTake::Unknown
        } else if customer.is_some_and(|c| c != *owner) {
            SecretTake::Foreign
        } else if *used {
            SecretTake::Used
        } else if *expires <= now {
            SecretTake::Expired
        } else {
            *used = true;
            SecretTake::Taken(*owner)
        })
    }
}
