//! The link service: what the conversation calls to link a bank (consent + OAuth2 redirect SCA
//! with PKCE), refresh data, see the link's status, and revoke it (which deletes the cached
//! financial data). It owns the consent lifecycle in the store; the sync itself is
//! [`SyncEngine`]'s.
//!
//! Secrets (OAuth state, PKCE verifier, access token) live only in the store's consent record and
//! are never logged. The OAuth `state` is single use: it is cleared before the code is exchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDate};
use okienko_core::{
    AccountId, Clock, ConsentId, ConsentScope, ConsentStatus, CustomerId, TransactionId,
};
use okienko_store::{ConsentRecord, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::connector::{
    AccessCtx, BankCard, BankConnector, CardStatus, ConsentRequest, Presence, ScaApproach,
};
use crate::error::{BankError, ConnectorError};
use crate::sync::{SyncEngine, SyncReport};

/// The longest consent the EU RTS allows without new SCA.
pub const MAX_VALID_DAYS: u32 = 180;

/// How long a started link waits for the customer to come back from the bank.
pub const PENDING_LINK_MINUTES: i64 = 30;

#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The bank profile name stored on each consent.
    pub bank: String,
    /// The gateway's OAuth callback URL.
    pub redirect_uri: String,
    /// Requested consent lifetime (clamped to 1..=180).
    pub valid_days: u32,
    /// Requested unattended reads per day (NextGenPSD2 `frequencyPerDay`, normally 4).
    pub frequency_per_day: u32,
}

/// A started link: send the customer to `url`.
#[derive(Debug, Clone)]
pub struct LinkStart {
    pub consent: ConsentId,
    pub url: String,
    pub valid_until: NaiveDate,
}

/// A finished link.
#[derive(Debug, Clone)]
pub struct LinkDone {
    pub customer: CustomerId,
    pub consent: ConsentId,
    /// Accounts synced by the first sync (0 when it failed; the link stands anyway).
    pub accounts: u32,
    pub first_sync: Option<SyncReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokeReport {
    pub consents: u32,
    pub rows_deleted: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    NotLinked,
    /// The customer was sent to the bank and has not come back yet.
    Pending,
    Linked {
        valid_until: NaiveDate,
    },
    Expired,
}

/// How many days before `validUntil` the customer is reminded to re-authenticate.
pub const REMIND_DAYS_BEFORE: i64 = 7;

/// Things that happen to a customer's link without the customer asking, for the conversation
/// to tell them about. They carry ids only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The consent ends within [`REMIND_DAYS_BEFORE`] days.
    ExpiresSoon {
        customer: CustomerId,
        consent: ConsentId,
        valid_until: NaiveDate,
    },
    /// The consent expired (its date passed, or the bank stopped honouring it).
    Expired {
        customer: CustomerId,
        consent: ConsentId,
    },
    /// The customer withdrew the consent at the bank; their cached data has been deleted.
    RevokedAtBank {
        customer: CustomerId,
        consent: ConsentId,
    },
    /// A sync stored new transactions (`added`) or booked pending ones (`booked`). Ids only:
    /// whoever needs the content reads it through the privacy gate. `first_sync` is true for the
    /// sync that completed a link (the whole history arrives at once).
    NewTransactions {
        customer: CustomerId,
        consent: ConsentId,
        added: Vec<TransactionId>,
        booked: Vec<TransactionId>,
        first_sync: bool,
    },
}

#[derive(Clone)]
pub struct BankLink {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    connector: Arc<dyn BankConnector>,
    config: LinkConfig,
    clock: Arc<dyn Clock>,
    engine: SyncEngine,
    /// The customer's IP from `start_link`, so the first sync after the redirect runs as
    /// customer-present. In memory only: after a restart the first sync runs unattended.
    start_ips: Mutex<HashMap<ConsentId, String>>,
    events: tokio::sync::broadcast::Sender<LinkEvent>,
    /// Set by [`BankLink::announce_via_outbox`]: new transactions go into the store's bus
    /// outbox with the transactions themselves, so whichever instance leads hears syncs done on
    /// any instance, even when the bus was down or this process died before publishing.
    outbox: OnceLock<()>,
    /// Consents already reminded of their expiry (in memory: a restart may remind once more).
    reminded: Mutex<std::collections::HashSet<ConsentId>>,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The idempotency id of one announcement of new transactions (one account's part of a sync):
/// the consent and a digest of what it stored. Transaction ids are new on every sync that adds
/// them, so two announcements never share an id, while a retried publish of the same one does.
pub fn new_transactions_id(
    consent: ConsentId,
    added: &[TransactionId],
    booked: &[TransactionId],
) -> String {
    let mut h = Sha256::new();
    for (tag, ids) in [(b'a', added), (b'b', booked)] {
        let mut ids: Vec<String> = ids.iter().map(|t| t.to_string()).collect();
        ids.sort();
        for id in ids {
            h.update([tag]);
            h.update(id.as_bytes());
        }
    }
    let digest = h.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("tx:{consent}:{hex}")
}

/// RFC 7636 S256: BASE64URL(SHA256(ASCII(verifier))).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// OAuth error codes we repeat in logs; anything else is logged as "other".
fn oauth_error_label(e: &str) -> &'static str {
    match e {
        "access_denied" => "access_denied",
        "invalid_request" => "invalid_request",
        "unauthorized_client" => "unauthorized_client",
        "unsupported_response_type" => "unsupported_response_type",
        "invalid_scope" => "invalid_scope",
        "server_error" => "server_error",
        "temporarily_unavailable" => "temporarily_unavailable",
        _ => "other",
    }
}

impl BankLink {
    pub fn new(
        store: Store,
        connector: Arc<dyn BankConnector>,
        config: LinkConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let engine = SyncEngine::new(store.clone(), connector.clone(), clock.clone());
        BankLink {
            inner: Arc::new(Inner {
                store,
                connector,
                config,
                clock,
                engine,
                start_ips: Mutex::new(HashMap::new()),
                events: tokio::sync::broadcast::channel(1024).0,
                outbox: OnceLock::new(),
                reminded: Mutex::new(std::collections::HashSet::new()),
            }),
        }
    }

    /// Link events (expiry soon, expired, revoked at the bank) as they happen.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LinkEvent> {
        self.inner.events.subscribe()
    }

    fn emit(&self, e: LinkEvent) {
        // No subscriber is fine: nobody is listening (e.g. in a benchmark).
        let _ = self.inner.events.send(e);
    }

    /// From now on, new transactions ([`LinkEvent::NewTransactions`]) are not sent on this
    /// link's own broadcast: each account's are put into the store's bus outbox as
    /// [`okienko_bus::Event::NewTransactions`], in the same store transaction as the transactions
    /// ([`SyncEngine::sync_consent_announced`]), and the gateway's outbox relay publishes them on
    /// the event bus, where the watchers consume them (a durable consumer), whichever instance
    /// synced. Set once, at start-up. The other link events stay local (they come from the
    /// leader's own jobs).
    pub fn announce_via_outbox(&self) {
        let _ = self.inner.outbox.set(());
    }

    fn today(&self) -> NaiveDate {
        self.inner.clock.now().date_naive()
    }

    fn ips(&self) -> std::sync::MutexGuard<'_, HashMap<ConsentId, String>> {
        match self.inner.start_ips.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Creates a consent at the bank (bank-offered accounts, balances and transactions, redirect
    /// SCA) and returns the bank URL to send the customer to. The customer record must exist.
    pub async fn start_link(
        &self,
        customer: CustomerId,
        psu_ip: &str,
    ) -> Result<LinkStart, BankError> {
        let cfg = &self.inner.config;
        let days = cfg.valid_days.clamp(1, MAX_VALID_DAYS);
        let valid_until = self.today() + Duration::days(i64::from(days));
        let scopes = vec![ConsentScope::Balances, ConsentScope::Transactions];
        let req = ConsentRequest {
            scopes: scopes.clone(),
            valid_until,
            frequency_per_day: cfg.frequency_per_day.clamp(1, 4),
            recurring: true,
            psu_ip: Some(psu_ip.to_owned()),
            psu_id: None,
            approach: ScaApproach::Redirect,
        };
        let created = self.inner.connector.create_consent(&req).await?;
        let state = random_token();
        let verifier = random_token();
        let url = self
            .inner
            .connector
            .authorize_url(
                &created,
                &cfg.redirect_uri,
                &state,
                &pkce_challenge(&verifier),
            )
            .await?;
        let now = self.inner.clock.now();
        let record = ConsentRecord {
            id: ConsentId::new(),
            customer,
            bank: cfg.bank.clone(),
            bank_consent_id: Some(created.bank_consent_id),
            status: ConsentStatus::Received,
            scopes,
            valid_until,
            frequency_per_day: req.frequency_per_day,
            recurring: true,
            access_token: None,
            oauth_state: Some(state),
            pkce_verifier: Some(verifier),
            created_at: now,
            updated_at: now,
        };
        self.inner.store.insert_consent(&record).await?;
        self.ips().insert(record.id, psu_ip.to_owned());
        tracing::info!(consent = %record.id, customer = %customer, "bank link started");
        Ok(LinkStart {
            consent: record.id,
            url,
            valid_until,
        })
    }

    /// Finishes a link from the bank's redirect (`code` + `state`), then runs the first sync with
    /// the customer present.
    pub async fn complete_link(&self, state: &str, code: &str) -> Result<LinkDone, BankError> {
        self.complete_link_from(state, code, None).await
    }

    /// As [`complete_link`](Self::complete_link), with the IP of the browser that came back.
    pub async fn complete_link_from(
        &self,
        state: &str,
        code: &str,
        psu_ip: Option<&str>,
    ) -> Result<LinkDone, BankError> {
        if state.is_empty() || code.is_empty() {
            return Err(BankError::LinkUnknown);
        }
        let store = &self.inner.store;
        let mut c = store
            .consent_by_oauth_state(state)
            .await?
            .ok_or(BankError::LinkUnknown)?;
        let verifier = c.pkce_verifier.take();
        c.oauth_state = None;
        c.updated_at = self.inner.clock.now();
        // Single use: the state is gone before the code is tried.
        store.update_consent(&c).await?;
        let Some(verifier) = verifier else {
            return Err(BankError::LinkUnknown);
        };
        if c.status != ConsentStatus::Received {
            return Err(BankError::LinkUnknown);
        }
        let token = match self
            .inner
            .connector
            .exchange_code(code, &verifier, &self.inner.config.redirect_uri)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                c.status = ConsentStatus::Rejected;
                c.updated_at = self.inner.clock.now();
                store.update_consent(&c).await?;
                tracing::warn!(consent = %c.id, error = %e, "bank link failed at the code exchange");
                return Err(match e {
                    ConnectorError::AuthorizationRejected => BankError::LinkUnknown,
                    other => other.into(),
                });
            }
        };
        c.access_token = Some(token.token);
        c.status = ConsentStatus::Valid;
        c.updated_at = self.inner.clock.now();
        store.update_consent(&c).await?;
        tracing::info!(consent = %c.id, customer = %c.customer, "bank link authorised");

        let remembered = self.ips().remove(&c.id);
        let presence = match psu_ip.map(str::to_owned).or(remembered) {
            Some(ip) => Presence::CustomerPresent { ip },
            None => Presence::Unattended,
        };
        let first_sync = match self.sync_one_inner(&c, presence, true).await {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(consent = %c.id, error = %e, "first sync after linking failed");
                None
            }
        };
        Ok(LinkDone {
            customer: c.customer,
            consent: c.id,
            accounts: first_sync.map_or(0, |r| r.accounts),
            first_sync,
        })
    }

    /// The bank redirected back with an error (the customer declined): the consent is rejected.
    pub async fn fail_link(&self, state: &str, error: &str) -> Result<CustomerId, BankError> {
        if state.is_empty() {
            return Err(BankError::LinkUnknown);
        }
        let store = &self.inner.store;
        let mut c = store
            .consent_by_oauth_state(state)
            .await?
            .ok_or(BankError::LinkUnknown)?;
        c.oauth_state = None;
        c.pkce_verifier = None;
        if !c.status.is_final() {
            c.status = ConsentStatus::Rejected;
        }
        c.updated_at = self.inner.clock.now();
        store.update_consent(&c).await?;
        self.ips().remove(&c.id);
        tracing::info!(consent = %c.id, reason = oauth_error_label(error), "bank link declined");
        Ok(c.customer)
    }

    async fn mark(&self, c: &ConsentRecord, status: ConsentStatus) -> Result<(), BankError> {
        let mut c = c.clone();
        c.status = status;
        if status.is_final() {
            c.access_token = None;
            c.oauth_state = None;
            c.pkce_verifier = None;
        }
        c.updated_at = self.inner.clock.now();
        self.inner.store.update_consent(&c).await?;
        Ok(())
    }

    /// Syncs one valid consent; a consent the bank no longer honours is marked expired.
    async fn sync_one(
        &self,
        c: &ConsentRecord,
        presence: Presence,
    ) -> Result<SyncReport, BankError> {
        self.sync_one_inner(c, presence, false).await
    }

    async fn sync_one_inner(
        &self,
        c: &ConsentRecord,
        presence: Presence,
        first_sync: bool,
    ) -> Result<SyncReport, BankError> {
        if c.valid_until < self.today() {
            self.mark(c, ConsentStatus::Expired).await?;
            if matches!(presence, Presence::Unattended) {
                self.emit(LinkEvent::Expired {
                    customer: c.customer,
                    consent: c.id,
                });
            }
            return Err(BankError::ConsentExpired);
        }
        // A customer in the chat hears about it in the answer; only background syncs notify.
        let unattended = matches!(presence, Presence::Unattended);
        let outbox = self.inner.outbox.get().is_some();
        let synced = if outbox {
            self.inner
                .engine
                .sync_consent_announced(c, presence, first_sync)
                .await
        } else {
            self.inner.engine.sync_consent_changes(c, presence).await
        };
        match synced {
            Ok((report, changes)) => {
                // With the outbox, the store already holds the announcements.
                if !outbox && (!changes.added.is_empty() || !changes.booked.is_empty()) {
                    self.emit(LinkEvent::NewTransactions {
                        customer: c.customer,
                        consent: c.id,
                        added: changes.added,
                        booked: changes.booked,
                        first_sync,
                    });
                }
                Ok(report)
            }
            Err(BankError::ConsentExpired) => {
                if self.bank_says_revoked(c).await {
                    tracing::info!(consent = %c.id, "the customer revoked the consent at the bank");
                    self.mark(c, ConsentStatus::RevokedByPsu).await?;
                    self.inner
                        .store
                        .delete_customer_financial_data(c.customer)
                        .await?;
                    if unattended {
                        self.emit(LinkEvent::RevokedAtBank {
                            customer: c.customer,
                            consent: c.id,
                        });
                    }
                    return Err(BankError::RevokedAtBank);
                }
                tracing::info!(consent = %c.id, "bank no longer honours the consent; marked expired");
                self.mark(c, ConsentStatus::Expired).await?;
                if unattended {
                    self.emit(LinkEvent::Expired {
                        customer: c.customer,
                        consent: c.id,
                    });
                }
                Err(BankError::ConsentExpired)
            }
            Err(e) => Err(e),
        }
    }

    /// Asks the bank for the consent's status after an access was refused: `revokedByPsu` means
    /// the customer withdrew it at the bank, which is a revocation, not an expiry.
    async fn bank_says_revoked(&self, c: &ConsentRecord) -> bool {
        let Some(bank_id) = &c.bank_consent_id else {
            return false;
        };
        let ctx = AccessCtx {
            bank_consent_id: bank_id.clone(),
            access_token: c.access_token.clone(),
            presence: Presence::Unattended,
        };
        matches!(
            self.inner.connector.consent_status(&ctx).await,
            Ok(ConsentStatus::RevokedByPsu)
        )
    }

    /// Syncs every valid consent of the customer.
    pub async fn refresh(
        &self,
        customer: CustomerId,
        presence: Presence,
    ) -> Result<SyncReport, BankError> {
        let consents = self.inner.store.consents_for_customer(customer).await?;
        let valid: Vec<&ConsentRecord> = consents
            .iter()
            .filter(|c| c.status == ConsentStatus::Valid)
            .collect();
        if valid.is_empty() {
            return Err(
                if consents.iter().any(|c| c.status == ConsentStatus::Expired) {
                    BankError::ConsentExpired
                } else {
                    BankError::NotLinked
                },
            );
        }
        let mut report = SyncReport::default();
        let mut first_err = None;
        for c in valid {
            match self.sync_one(c, presence.clone()).await {
                Ok(r) => report.merge(&r),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Ends every live consent at the bank and here, and deletes the customer's cached
    /// financial data. If the bank cannot be reached nothing changes (try again later); any other
    /// bank error still revokes locally.
    pub async fn revoke(&self, customer: CustomerId) -> Result<RevokeReport, BankError> {
        let store = &self.inner.store;
        let consents = store.consents_for_customer(customer).await?;
        let live: Vec<&ConsentRecord> = consents.iter().filter(|c| !c.status.is_final()).collect();
        for c in &live {
            let Some(bank_id) = &c.bank_consent_id else {
                continue;
            };
            let ctx = AccessCtx {
                bank_consent_id: bank_id.clone(),
                access_token: c.access_token.clone(),
                presence: Presence::Unattended,
            };
            match self.inner.connector.delete_consent(&ctx).await {
                Ok(()) => {}
                Err(e) if e.retryable() => return Err(BankError::BankUnavailable),
                Err(e) => {
                    tracing::info!(consent = %c.id, error = %e, "bank refused the consent delete; revoking locally");
                }
            }
        }
        for c in &live {
            self.mark(c, ConsentStatus::TerminatedByTpp).await?;
            self.ips().remove(&c.id);
        }
        let rows_deleted = store.delete_customer_financial_data(customer).await?;
        if live.is_empty() && rows_deleted == 0 {
            return Err(BankError::NotLinked);
        }
        tracing::info!(customer = %customer, consents = live.len(), rows = rows_deleted, "bank link revoked");
        Ok(RevokeReport {
            consents: u32::try_from(live.len()).unwrap_or(u32::MAX),
            rows_deleted,
        })
    }

    pub async fn status(&self, customer: CustomerId) -> Result<LinkStatus, BankError> {
        let today = self.today();
        let consents = self.inner.store.consents_for_customer(customer).await?;
        let linked = consents
            .iter()
            .filter(|c| c.status == ConsentStatus::Valid && c.valid_until >= today)
            .map(|c| c.valid_until)
            .max();
        if let Some(valid_until) = linked {
            return Ok(LinkStatus::Linked { valid_until });
        }
        if consents.iter().any(|c| self.is_pending(c)) {
            return Ok(LinkStatus::Pending);
        }
        if consents.iter().any(|c| {
            c.status == ConsentStatus::Expired
                || (c.status == ConsentStatus::Valid && c.valid_until < today)
        }) {
            return Ok(LinkStatus::Expired);
        }
        Ok(LinkStatus::NotLinked)
    }

    /// A started link whose customer may still come back from the bank.
    fn is_pending(&self, c: &ConsentRecord) -> bool {
        c.status == ConsentStatus::Received
            && c.oauth_state.is_some()
            && self.inner.clock.now() - c.created_at < Duration::minutes(PENDING_LINK_MINUTES)
    }

    /// Marks valid consents past their `valid_until` as expired, and abandoned link attempts
    /// (older than [`PENDING_LINK_MINUTES`]) as rejected; returns how many consents it ended.
    pub async fn expire_due(&self) -> Result<u32, BankError> {
        let today = self.today();
        let mut n = 0u32;
        for c in self
            .inner
            .store
            .consents_with_status(ConsentStatus::Received)
            .await?
        {
            if !self.is_pending(&c) {
                self.mark(&c, ConsentStatus::Rejected).await?;
                self.ips().remove(&c.id);
                n += 1;
            }
        }
        for c in self
            .inner
            .store
            .consents_with_status(ConsentStatus::Valid)
            .await?
        {
            if c.valid_until < today {
                self.mark(&c, ConsentStatus::Expired).await?;
                self.emit(LinkEvent::Expired {
                    customer: c.customer,
                    consent: c.id,
                });
                n += 1;
            } else if c.valid_until - today <= Duration::days(REMIND_DAYS_BEFORE) {
                let first = match self.inner.reminded.lock() {
                    Ok(mut r) => r.insert(c.id),
                    Err(p) => p.into_inner().insert(c.id),
                };
                if first {
                    self.emit(LinkEvent::ExpiresSoon {
                        customer: c.customer,
                        consent: c.id,
                        valid_until: c.valid_until,
                    });
                }
            }
        }
        if n > 0 {
            tracing::info!(consents = n, "expired consents past validUntil");
        }
        Ok(n)
    }

    /// The consent a bank notification names (the bank's consent id and one of its accounts'
    /// `resourceId`): `NotLinked` unless it is a valid consent here and the account is one of
    /// its accounts.
    pub async fn notified_consent(
        &self,
        bank_consent_id: &str,
        account_resource_id: &str,
    ) -> Result<ConsentId, BankError> {
        let today = self.today();
        let store = &self.inner.store;
        for c in store.consents_by_bank_consent_id(bank_consent_id).await? {
            if c.status != ConsentStatus::Valid || c.valid_until < today {
                continue;
            }
            if store
                .accounts_for_consent(c.id)
                .await?
                .iter()
                .any(|a| a.bank_resource_id == account_resource_id)
            {
                return Ok(c.id);
            }
        }
        Err(BankError::NotLinked)
    }

    /// Syncs one consent unattended now (the bank said its accounts changed): new transactions
    /// go out as [`LinkEvent::NewTransactions`] like any background sync's.
    pub async fn sync_consent(&self, consent: ConsentId) -> Result<SyncReport, BankError> {
        let c = self
            .inner
            .store
            .consent(consent)
            .await?
            .filter(|c| c.status == ConsentStatus::Valid)
            .ok_or(BankError::NotLinked)?;
        self.sync_one(&c, Presence::Unattended).await
    }

    /// Unattended refresh of every valid consent (the background worker's job). Returns how many
    /// consents synced and how many failed; failures are logged without data.
    pub async fn refresh_all_unattended(&self) -> Result<(u32, u32), BankError> {
        let mut ok = 0u32;
        let mut failed = 0u32;
        for c in self
            .inner
            .store
            .consents_with_status(ConsentStatus::Valid)
            .await?
        {
            match self.sync_one(&c, Presence::Unattended).await {
                Ok(_) => ok += 1,
                Err(e) => {
                    failed += 1;
                    tracing::info!(consent = %c.id, error = %e, "unattended refresh failed");
                }
            }
        }
        Ok((ok, failed))
    }
}

/// A card on one of the customer's linked accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedCard {
    pub account: AccountId,
    /// The account's name as the bank gave it ("Konto osobiste"), for showing the card.
    pub account_name: String,
    pub card: BankCard,
}

/// A per-card idempotency key from an operation key: retrying the same operation repeats the
/// same `X-Request-ID` for every card.
fn card_key(key: uuid::Uuid, card_id: &str) -> uuid::Uuid {
    let h = Sha256::digest(format!("{key}\u{1f}{card_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

impl BankLink {
    /// The access context of a valid consent, for calls that are not account reads.
    async fn ctx_for(&self, consent: ConsentId) -> Result<AccessCtx, BankError> {
        let c = self
            .inner
            .store
            .consent(consent)
            .await?
            .filter(|c| c.status == ConsentStatus::Valid && c.valid_until >= self.today())
            .ok_or(BankError::NotLinked)?;
        Ok(AccessCtx {
            bank_consent_id: c.bank_consent_id.ok_or(BankError::NotLinked)?,
            access_token: c.access_token,
            presence: Presence::Unattended,
        })
    }

    /// The cards on the customer's linked accounts (or on `only` of them), as the bank sees them.
    pub async fn cards(
        &self,
        customer: CustomerId,
        only: Option<&[AccountId]>,
    ) -> Result<Vec<LinkedCard>, BankError> {
        let mut out = Vec::new();
        for a in self.inner.store.accounts_for_customer(customer).await? {
            if only.is_some_and(|o| !o.contains(&a.account.id)) {
                continue;
            }
            let Ok(ctx) = self.ctx_for(a.consent).await else {
                continue;
            };
            let cards = self
                .inner
                .connector
                .cards(&ctx, &a.bank_resource_id)
                .await?;
            out.extend(cards.into_iter().map(|card| LinkedCard {
                account: a.account.id,
                account_name: a.account.name.clone(),
                card,
            }));
        }
        Ok(out)
    }

    /// Blocks every active card on `accounts` (all linked accounts when empty). `key` makes the
    /// call idempotent: calling again with the same key after a failure or a restart never
    /// blocks twice at the bank. Returns the cards now blocked.
    pub async fn block_cards(
        &self,
        customer: CustomerId,
        accounts: &[AccountId],
        key: uuid::Uuid,
    ) -> Result<Vec<LinkedCard>, BankError> {
        let only = (!accounts.is_empty()).then_some(accounts);
        let records = self.inner.store.accounts_for_customer(customer).await?;
        let mut blocked = Vec::new();
        for lc in self.cards(customer, only).await? {
            let Some(a) = records.iter().find(|r| r.account.id == lc.account) else {
                continue;
            };
            match lc.card.status {
                CardStatus::Blocked => {
                    blocked.push(lc);
                    continue;
                }
                // Reported cards are stopped for good; an ordered one cannot pay yet.
                CardStatus::Lost | CardStatus::Stolen | CardStatus::Ordered => continue,
                CardStatus::Active => {}
            }
            let ctx = self.ctx_for(a.consent).await?;
            let card = self
                .inner
                .connector
                .set_card_blocked(
                    &ctx,
                    &a.bank_resource_id,
                    &lc.card.card_id,
                    true,
                    card_key(key, &lc.card.card_id),
                )
                .await?;
            tracing::info!(customer = %customer, account = %lc.account, "card blocked at the bank");
            blocked.push(LinkedCard {
                account: lc.account,
                account_name: lc.account_name,
                card,
            });
        }
        Ok(blocked)
    }

    /// The customer's account that holds `card_id`, with the access context to act on it.
    async fn card_home(
        &self,
        customer: CustomerId,
        account: AccountId,
    ) -> Result<(String, String, AccessCtx), BankError> {
        let a = self
            .inner
            .store
            .accounts_for_customer(customer)
            .await?
            .into_iter()
            .find(|r| r.account.id == account)
            .ok_or(BankError::NotLinked)?;
        let ctx = self.ctx_for(a.consent).await?;
        Ok((a.bank_resource_id, a.account.name, ctx))
    }

    /// Freezes (`blocked = true`) or unfreezes one card of the customer's. `key` is the
    /// operation's idempotency key: the same key repeated (a double press, a retry after a
    /// restart) never acts twice at the bank.
    pub async fn set_card_blocked(
        &self,
        customer: CustomerId,
        account: AccountId,
        card_id: &str,
        blocked: bool,
        key: uuid::Uuid,
    ) -> Result<LinkedCard, BankError> {
        let (resource, account_name, ctx) = self.card_home(customer, account).await?;
        let card = self
            .inner
            .connector
            .set_card_blocked(&ctx, &resource, card_id, blocked, card_key(key, card_id))
            .await?;
        tracing::info!(customer = %customer, account = %account, blocked, "card status set at the bank");
        Ok(LinkedCard {
            account,
            account_name,
            card,
        })
    }

    /// Reports one card lost or stolen: permanent; the bank orders a replacement. Idempotent by
    /// `key` like [`BankLink::set_card_blocked`]. Returns the stopped card and its replacement.
    pub async fn report_card_lost(
        &self,
        customer: CustomerId,
        account: AccountId,
        card_id: &str,
        reason: crate::connector::LostReason,
        key: uuid::Uuid,
    ) -> Result<(LinkedCard, Option<LinkedCard>), BankError> {
        let (resource, account_name, ctx) = self.card_home(customer, account).await?;
        let report = self
            .inner
            .connector
            .report_card_lost(&ctx, &resource, card_id, reason, card_key(key, card_id))
            .await?;
        tracing::info!(customer = %customer, account = %account, reason = reason.wire_name(), "card reported at the bank");
        let linked = |card| LinkedCard {
            account,
            account_name: account_name.clone(),
            card,
        };
        Ok((linked(report.card), report.replacement.map(linked)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, random_token());
    }
}
