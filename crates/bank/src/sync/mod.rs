//! The sync engine: pulls one consent's accounts, balances and transactions from the bank and
//! writes them to the store, keeping gateway ids stable (pending → booked keeps the
//! `TransactionId`; re-reads never duplicate). The matching rules live in [`reconcile`].
//!
//! It owns the unattended-access budget: without the customer present, every bank read first
//! takes one unit of the consent's `frequencyPerDay` for that endpoint and account in the store,
//! and an exhausted budget skips the read instead of calling the bank.
//!
//! It never logs amounts, names, IBANs or descriptions: only ids and counts.

pub mod reconcile;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration, Months, NaiveDate};
use okienko_core::{Account, AccountId, Balance, BookingStatus, Clock, ConsentId, TransactionId};
use okienko_store::{AccountRecord, ConsentRecord, OutboxPut, Store, StoreError, SyncState};

use crate::connector::{
    AccessCtx, BankAccount, BankConnector, BankTransaction, Presence, TxQuery, TxStatusQuery,
};
use crate::error::{BankError, ConnectorError};

/// How far back the window reaches before the last booked date (late bookings, corrections).
const LOOKBACK_DAYS: i64 = 7;
/// A bank that pages more than this is looping.
const MAX_PAGES: usize = 1000;

/// What one sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub accounts: u32,
    pub inserted: u32,
    pub updated: u32,
    pub deleted: u32,
    /// Accounts not read because the daily unattended budget was used up.
    pub skipped_accounts: u32,
}

impl SyncReport {
    pub fn merge(&mut self, o: &SyncReport) {
        self.accounts += o.accounts;
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.skipped_accounts += o.skipped_accounts;
    }
}

/// Which transactions one sync added or booked: ids only, never content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxChanges {
    pub added: Vec<TransactionId>,
    pub booked: Vec<TransactionId>,
}

pub struct SyncEngine {
    store: Store,
    connector: Arc<dyn BankConnector>,
    clock: Arc<dyn Clock>,
    /// One sync per consent at a time in this process (two concurrent syncs would both insert
    /// the same new rows).
    locks: Mutex<HashMap<ConsentId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Why one account's sync stopped: a used-up budget skips just that account; anything else
/// aborts the consent's sync.
enum AccountFail {
    Budget,
    Abort(BankError),
}

impl From<BankError> for AccountFail {
    fn from(e: BankError) -> Self {
        AccountFail::Abort(e)
    }
}

impl From<StoreError> for AccountFail {
    fn from(e: StoreError) -> Self {
        AccountFail::Abort(e.into())
    }
}

impl From<ConnectorError> for AccountFail {
    fn from(e: ConnectorError) -> Self {
        match e {
            // The bank counts differently from us (another gateway instance, a restart).
            ConnectorError::AccessExceeded => AccountFail::Budget,
            other => AccountFail::Abort(other.into()),
        }
    }
}

/// Transaction ids in one `NewTransactions` announcement at most, so a first sync of a long
/// history stays far below the bus's payload limit (about 40 bytes an id).
const ANNOUNCE_CHUNK: usize = 2000;

/// The outbox rows announcing one account's new and booked transactions (ids only), in chunks
/// of at most [`ANNOUNCE_CHUNK`] ids.
fn new_transactions_puts(
    consent: &ConsentRecord,
    added: &[TransactionId],
    booked: &[TransactionId],
    first_sync: bool,
) -> Result<Vec<OutboxPut>, BankError> {
    let none: &[TransactionId] = &[];
    let parts: Vec<(&[TransactionId], &[TransactionId])> =
        if added.len() + booked.len() <= ANNOUNCE_CHUNK {
            vec![(added, booked)]
        } else {
            added
                .chunks(ANNOUNCE_CHUNK)
                .map(|a| (a, none))
                .chain(booked.chunks(ANNOUNCE_CHUNK).map(|b| (none, b)))
                .collect()
        };
    parts
        .into_iter()
        .map(|(added, booked)| {
            let event = okienko_bus::Event::NewTransactions {
                customer: consent.customer,
                consent: consent.id,
                added: added.to_vec(),
                booked: booked.to_vec(),
                first_sync,
            };
            let json = serde_json::to_string(&event)
                .map_err(|_| BankError::Store(StoreError::Invalid("bus_outbox.event")))?;
            Ok(OutboxPut {
                id: crate::link::new_transactions_id(consent.id, added, booked),
                topic: event.topic().subject().to_owned(),
                event: json,
            })
        })
        .collect()
}

impl SyncEngine {
    pub fn new(store: Store, connector: Arc<dyn BankConnector>, clock: Arc<dyn Clock>) -> Self {
        SyncEngine {
            store,
            connector,
            clock,
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn lock_for(&self, c: ConsentId) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = match self.locks.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.entry(c).or_default().clone()
    }

    fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    /// Takes one unit of unattended budget, or says the bank must not be called.
    async fn budget(
        &self,
        consent: &ConsentRecord,
        presence: &Presence,
        key: &str,
    ) -> Result<bool, BankError> {
        if !matches!(presence, Presence::Unattended) {
            return Ok(true);
        }
        match self
            .store
            .take_access_budget(consent.id, key, self.today(), consent.frequency_per_day)
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::BudgetExhausted) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Syncs every account of `consent`. `Presence::Unattended` spends the daily budget.
    pub async fn sync_consent(
        &self,
        consent: &ConsentRecord,
        presence: Presence,
    ) -> Result<SyncReport, BankError> {
        self.sync_consent_changes(consent, presence)
            .await
            .map(|(r, _)| r)
    }

    /// As [`SyncEngine::sync_consent`], also naming the transactions the sync added and booked
    /// (ids only), for the link service's `NewTransactions` event.
    pub async fn sync_consent_changes(
        &self,
        consent: &ConsentRecord,
        presence: Presence,
    ) -> Result<(SyncReport, TxChanges), BankError> {
        self.sync_consent_inner(consent, presence, None).await
    }

    /// As [`SyncEngine::sync_consent_changes`], and announces each account's new and booked
    /// transactions as an [`okienko_bus::Event::NewTransactions`] in the store's bus outbox, in
    /// the same store transaction as the transactions themselves
    /// ([`Store::apply_transactions_announced`]): whatever is stored is announced, even when a
    /// later account fails or the process dies before the relay publishes. One event per account
    /// with changes; `first_sync` marks the sync that completed a link.
    pub async fn sync_consent_announced(
        &self,
        consent: &ConsentRecord,
        presence: Presence,
        first_sync: bool,
    ) -> Result<(SyncReport, TxChanges), BankError> {
        self.sync_consent_inner(consent, presence, Some(first_sync))
            .await
    }

    /// `announce`: `Some(first_sync)` puts each account's changes into the outbox.
    async fn sync_consent_inner(
        &self,
        consent: &ConsentRecord,
        presence: Presence,
        announce: Option<bool>,
    ) -> Result<(SyncReport, TxChanges), BankError> {
        let mut changes = TxChanges::default();
        let lock = self.lock_for(consent.id);
        let _guard = lock.lock().await;
        let bank_consent_id = consent
            .bank_consent_id
            .clone()
            .ok_or(BankError::NotLinked)?;
        let ctx = AccessCtx {
            bank_consent_id,
            access_token: consent.access_token.clone(),
            presence: presence.clone(),
        };
        if !self.budget(consent, &presence, "accounts").await? {
            tracing::info!(consent = %consent.id, "unattended budget for the account list used up");
            return Err(BankError::AccessExceeded);
        }
        let bank_accounts = self.connector.accounts(&ctx).await?;
        let known: HashMap<String, AccountId> = self
            .store
            .accounts_for_consent(consent.id)
            .await?
            .into_iter()
            .map(|a| (a.bank_resource_id, a.account.id))
            .collect();
        let mut report = SyncReport::default();
        for ba in bank_accounts {
            let id = known.get(&ba.resource_id).copied().unwrap_or_default();
            self.store
                .upsert_account(&AccountRecord {
                    account: Account {
                        id,
                        iban: ba.iban.clone(),
                        currency: ba.currency,
                        name: ba.name.clone(),
                    },
                    customer: consent.customer,
                    consent: consent.id,
                    bank_resource_id: ba.resource_id.clone(),
                })
                .await?;
            match self
                .sync_account(consent, &ctx, &ba, id, announce, &mut changes)
                .await
            {
                Ok(counts) => {
                    report.accounts += 1;
                    report.inserted += counts.inserted;
                    report.updated += counts.updated;
                    report.deleted += counts.deleted;
                }
                Err(AccountFail::Budget) => report.skipped_accounts += 1,
                Err(AccountFail::Abort(e)) => return Err(e),
            }
        }
        tracing::info!(
            consent = %consent.id,
            accounts = report.accounts,
            inserted = report.inserted,
            updated = report.updated,
            deleted = report.deleted,
            skipped = report.skipped_accounts,
            "bank sync done"
        );
        if report.accounts == 0 && report.skipped_accounts > 0 {
            return Err(BankError::AccessExceeded);
        }
        Ok((report, changes))
    }

    async fn sync_account(
        &self,
        consent: &ConsentRecord,
        ctx: &AccessCtx,
        ba: &BankAccount,
        id: AccountId,
        announce: Option<bool>,
        changes: &mut TxChanges,
    ) -> Result<reconcile::BatchCounts, AccountFail> {
        let rid = ba.resource_id.as_str();
        let budget = |key: String| async move { self.budget(consent, &ctx.presence, &key).await };

        // Balances.
        if !budget(format!("balances:{rid}")).await? {
            return Err(AccountFail::Budget);
        }
        let balances = self.connector.balances(ctx, rid).await?;
        let now = self.clock.now();
        let balances: Vec<Balance> = balances
            .into_iter()
            .map(|b| Balance {
                account_id: id,
                kind: b.kind,
                amount: b.amount,
                reference_date: b.reference_date,
                fetched_at: now,
            })
            .collect();
        self.store.replace_balances(id, &balances).await?;

        // Transactions: the window, the stored rows in it, then every page.
        let today = self.today();
        let first_from = today
            .checked_sub_months(Months::new(24))
            .and_then(|d| d.succ_opt())
            .unwrap_or(today);
        let state = self.store.sync_state(id).await?;
        let prev_booked = state.as_ref().and_then(|s| s.last_booked_date);
        let (date_from, stored) = match prev_booked {
            Some(lbd) => {
                let since = lbd - Duration::days(LOOKBACK_DAYS);
                let stored = self.store.stored_transactions(id, since).await?;
                let oldest_pending = stored
                    .iter()
                    .filter(|t| t.status == BookingStatus::Pending)
                    .map(|t| t.date)
                    .min();
                let from = oldest_pending
                    .map_or(since, |p| p.min(since))
                    .max(first_from);
                if from < since {
                    let stored = self.store.stored_transactions(id, from).await?;
                    (from, stored)
                } else {
                    (from, stored)
                }
            }
            None => {
                let stored = self.store.stored_transactions(id, first_from).await?;
                (first_from, stored)
            }
        };
        let query = TxQuery {
            date_from,
            date_to: None,
            status: TxStatusQuery::Both,
        };
        let mut booked: Vec<BankTransaction> = Vec::new();
        let mut pending: Vec<BankTransaction> = Vec::new();
        let mut cursor = None;
        for page_no in 0.. {
            if page_no >= MAX_PAGES {
                tracing::warn!(consent = %consent.id, account = %id, "bank paging does not end");
                return Err(AccountFail::Abort(BankError::BadBankData));
            }
            if !budget(format!("transactions:{rid}")).await? {
                return Err(AccountFail::Budget);
            }
            let page = self
                .connector
                .transactions(ctx, rid, &query, cursor.as_ref())
                .await?;
            booked.extend(page.booked);
            pending.extend(page.pending);
            match page.next {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                Some(_) => {
                    tracing::warn!(consent = %consent.id, account = %id, "bank paging repeats a page");
                    return Err(AccountFail::Abort(BankError::BadBankData));
                }
                None => break,
            }
        }
        // Items outside the window we asked for (a bank ignoring dateFrom) would look new.
        booked.retain(|t| t.customer_date().is_none_or(|d| d >= date_from));

        let r = reconcile::reconcile(id, &stored, booked, pending, today);
        let added: Vec<TransactionId> = r.batch.insert.iter().map(|t| t.id).collect();
        let newly_booked: Vec<TransactionId> = r
            .batch
            .update
            .iter()
            .filter(|t| t.status == BookingStatus::Booked)
            .map(|t| t.id)
            .collect();
        match announce {
            Some(first_sync) if !added.is_empty() || !newly_booked.is_empty() => {
                let puts = new_transactions_puts(consent, &added, &newly_booked, first_sync)?;
                self.store
                    .apply_transactions_announced(id, &r.batch, &puts)
                    .await?;
            }
            _ => self.store.apply_transactions(id, &r.batch).await?,
        }
        changes.added.extend(added);
        changes.booked.extend(newly_booked);
        let last_booked_date = match (prev_booked, r.last_booked_date) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.store
            .set_sync_state(&SyncState {
                account: id,
                last_sync_at: now,
                last_booked_date,
            })
            .await?;
        Ok(r.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use okienko_core::{ConsentScope, ConsentStatus, CustomerId};

    fn consent() -> ConsentRecord {
        let now = chrono::Utc::now();
        ConsentRecord {
            id: ConsentId::new(),
            customer: CustomerId::new(),
            bank: "sandbox".into(),
            bank_consent_id: None,
            status: ConsentStatus::Valid,
            scopes: vec![ConsentScope::Transactions],
            valid_until: now.date_naive(),
            frequency_per_day: 4,
            recurring: true,
            access_token: None,
            oauth_state: None,
            pkce_verifier: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn ids(n: usize) -> Vec<TransactionId> {
        (0..n).map(|_| TransactionId::new()).collect()
    }

    fn named(puts: &[OutboxPut]) -> (Vec<TransactionId>, Vec<TransactionId>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for p in puts {
            match serde_json::from_str(&p.event).unwrap() {
                okienko_bus::Event::NewTransactions { added, booked, .. } => {
                    assert!(added.len() + booked.len() <= ANNOUNCE_CHUNK);
                    a.extend(added);
                    b.extend(booked);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        (a, b)
    }

    #[test]
    fn a_small_change_is_one_announcement_a_long_history_several() {
        let c = consent();
        let (added, booked) = (ids(3), ids(2));
        let puts = new_transactions_puts(&c, &added, &booked, false).unwrap();
        assert_eq!(puts.len(), 1);
        assert_eq!(named(&puts), (added.clone(), booked.clone()));
        assert_eq!(
            puts[0].id,
            crate::link::new_transactions_id(c.id, &added, &booked)
        );

        let (added, booked) = (ids(2 * ANNOUNCE_CHUNK + 1), ids(1));
        let puts = new_transactions_puts(&c, &added, &booked, true).unwrap();
        assert_eq!(puts.len(), 4);
        assert_eq!(named(&puts), (added, booked));
        let distinct: std::collections::HashSet<&str> =
            puts.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(distinct.len(), 4);
        assert!(puts.iter().all(|p| p.event.len() < 200_000));
    }
}
