//! Fraud episodes and fraud cases: "what we warned whom about, and which case is open".
//!
//! An episode groups suspicious transactions close together in time so a customer is warned
//! once; its state is persisted (store migration 0004) so a restart never warns again. A fraud
//! case is opened when the customer answers "not me": it names the customer and the episode by
//! id and is meant for bank staff (a human handover can pick it up by [`FraudCaseId`]). Nothing
//! here holds an amount, a merchant or a card number.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use okienko_core::{AccountId, ConsentStatus, CustomerId, TransactionId};
use okienko_store::{
    BankWarningRecord, FraudCaseRecord, FraudEpisodeRecord, HeldWarningRecord, Store, StoreError,
};
use uuid::Uuid;

macro_rules! uuid_id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                $name(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

uuid_id!(EpisodeId, "A fraud episode's id.");
uuid_id!(
    FraudCaseId,
    "A fraud case's id: what bank staff (and a human handover) refer to."
);

/// How urgent an episode's warning is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertSeverity {
    Low,
    High,
}

impl AlertSeverity {
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertSeverity::Low => "low",
            AlertSeverity::High => "high",
        }
    }
}

/// Where an episode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeStatus {
    /// Suspicious activity seen; warned or waiting to be.
    Open,
    /// Not warned (over the false-alarm budget, low severity): kept so the episode is not
    /// re-opened by its next transaction.
    Suppressed,
    /// The customer said "yes, it was me" (a false alarm; counts against the monthly budget).
    Legit,
    /// The customer said "not me": card blocked, case opened.
    Fraud,
}

impl EpisodeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            EpisodeStatus::Open => "open",
            EpisodeStatus::Suppressed => "suppressed",
            EpisodeStatus::Legit => "legit",
            EpisodeStatus::Fraud => "fraud",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "open" => EpisodeStatus::Open,
            "suppressed" => EpisodeStatus::Suppressed,
            "legit" => EpisodeStatus::Legit,
            "fraud" => EpisodeStatus::Fraud,
            _ => return Err(StoreError::Corrupt("fraud_episodes.status")),
        })
    }
}

/// One fraud episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudEpisode {
    pub id: EpisodeId,
    pub customer: CustomerId,
    pub opened_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub severity: AlertSeverity,
    pub status: EpisodeStatus,
    /// The transaction the warning names.
    pub warning_tx: Option<TransactionId>,
    pub account: Option<AccountId>,
    /// A warning held back by quiet hours is due then.
    pub warn_due_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl FraudEpisode {
    fn to_record(&self) -> FraudEpisodeRecord {
        FraudEpisodeRecord {
            id: self.id.to_string(),
            customer: self.customer,
            opened_at: self.opened_at,
            last_at: self.last_at,
            severity: self.severity.as_str().to_owned(),
            status: self.status.as_str().to_owned(),
            warning_tx: self.warning_tx,
            account: self.account,
            warn_due_at: self.warn_due_at,
            warned_at: self.warned_at,
            answered_at: self.answered_at,
        }
    }

    fn from_record(r: FraudEpisodeRecord) -> Result<Self, StoreError> {
        Ok(FraudEpisode {
            id: r
                .id
                .parse()
                .map_err(|_| StoreError::Corrupt("fraud_episodes.id"))?,
            customer: r.customer,
            opened_at: r.opened_at,
            last_at: r.last_at,
            severity: match r.severity.as_str() {
                "high" => AlertSeverity::High,
                "low" => AlertSeverity::Low,
                _ => return Err(StoreError::Corrupt("fraud_episodes.severity")),
            },
            status: EpisodeStatus::parse(&r.status)?,
            warning_tx: r.warning_tx,
            account: r.account,
            warn_due_at: r.warn_due_at,
            warned_at: r.warned_at,
            answered_at: r.answered_at,
        })
    }
}

/// Whether bank staff still have work on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FraudCaseStatus {
    Open,
    Closed,
}

/// A fraud case for bank staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudCase {
    pub id: FraudCaseId,
    pub customer: CustomerId,
    pub episode: EpisodeId,
    pub status: FraudCaseStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub cards_blocked: u32,
}

impl FraudCase {
    fn from_record(r: FraudCaseRecord) -> Result<Self, StoreError> {
        Ok(FraudCase {
            id: r
                .id
                .parse()
                .map_err(|_| StoreError::Corrupt("fraud_cases.id"))?,
            customer: r.customer,
            episode: r
                .episode_id
                .parse()
                .map_err(|_| StoreError::Corrupt("fraud_cases.episode_id"))?,
            status: match r.status.as_str() {
                "open" => FraudCaseStatus::Open,
                "closed" => FraudCaseStatus::Closed,
                _ => return Err(StoreError::Corrupt("fraud_cases.status")),
            },
            opened_at: r.opened_at,
            closed_at: r.closed_at,
            cards_blocked: r.cards_blocked,
        })
    }
}

/// The persisted book of episodes and cases.
#[derive(Clone)]
pub struct FraudBook {
    store: Store,
}

impl FraudBook {
    pub fn new(store: Store) -> Self {
        FraudBook { store }
    }

    /// When the watcher took the customer's history as its baseline.
    pub async fn baseline(
        &self,
        customer: CustomerId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.fraud_baseline(customer).await
    }

    pub async fn set_baseline(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store.set_fraud_baseline(customer, at).await
    }

    pub async fn latest_episode(
        &self,
        customer: CustomerId,
    ) -> Result<Option<FraudEpisode>, StoreError> {
        self.store
            .latest_fraud_episode(customer)
            .await?
            .map(FraudEpisode::from_record)
            .transpose()
    }

    pub async fn episode(&self, id: EpisodeId) -> Result<Option<FraudEpisode>, StoreError> {
        self.store
            .fraud_episode(&id.to_string())
            .await?
            .map(FraudEpisode::from_record)
            .transpose()
    }

    pub async fn save_episode(&self, e: &FraudEpisode) -> Result<(), StoreError> {
        self.store.upsert_fraud_episode(&e.to_record()).await
    }

    /// Open episodes whose held-back warning is due at `now`.
    pub async fn due_warnings(&self, now: DateTime<Utc>) -> Result<Vec<FraudEpisode>, StoreError> {
        self.store
            .fraud_episodes_due(EpisodeStatus::Open.as_str(), now)
            .await?
            .into_iter()
            .map(FraudEpisode::from_record)
            .collect()
    }

    /// "Yes, it was me" answers since `since` (the false-alarm budget's count).
    pub async fn false_alarms_since(
        &self,
        customer: CustomerId,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.store
            .fraud_answers_since(customer, EpisodeStatus::Legit.as_str(), since)
            .await
    }

    /// Opens the case for an episode (or returns the one already open for it).
    pub async fn open_case(
        &self,
        customer: CustomerId,
        episode: EpisodeId,
        cards_blocked: u32,
        at: DateTime<Utc>,
    ) -> Result<FraudCase, StoreError> {
        let r = self
            .store
            .insert_fraud_case(&FraudCaseRecord {
                id: FraudCaseId::new().to_string(),
                customer,
                episode_id: episode.to_string(),
                status: "open".into(),
                opened_at: at,
                closed_at: None,
                cards_blocked,
            })
            .await?;
        let case = FraudCase::from_record(r)?;
        tracing::info!(case = %case.id, customer = %customer, "fraud case opened");
        Ok(case)
    }

    pub async fn case_for_episode(
        &self,
        episode: EpisodeId,
    ) -> Result<Option<FraudCase>, StoreError> {
        self.store
            .fraud_case_for_episode(&episode.to_string())
            .await?
            .map(FraudCase::from_record)
            .transpose()
    }

    pub async fn cases_for_customer(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<FraudCase>, StoreError> {
        self.store
            .fraud_cases_for_customer(customer)
            .await?
            .into_iter()
            .map(FraudCase::from_record)
            .collect()
    }

    /// Closes a case (bank staff finished it).
    pub async fn close_case(&self, case: &FraudCase, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.store
            .update_fraud_case(&FraudCaseRecord {
                id: case.id.to_string(),
                customer: case.customer,
                episode_id: case.episode.to_string(),
                status: "closed".into(),
                opened_at: case.opened_at,
                closed_at: Some(at),
                cards_blocked: case.cards_blocked,
            })
            .await
    }
}

/// The delivery ledger of bank warnings ("scam campaign" notices from bank analysts): who is
/// to get one, and who already got it.
#[derive(Clone)]
pub struct NoticeLedger {
    store: Store,
}

impl NoticeLedger {
    pub fn new(store: Store) -> Self {
        NoticeLedger { store }
    }

    /// Customers with a valid consent at `bank`: the ones who opted in to the service there.
    pub async fn opted_in(&self, bank: &str) -> Result<Vec<CustomerId>, StoreError> {
        let mut out: Vec<CustomerId> = self
            .store
            .consents_with_status(ConsentStatus::Valid)
            .await?
            .into_iter()
            .filter(|c| c.bank == bank)
            .map(|c| c.customer)
            .collect();
        out.sort_by_key(|c| c.to_string());
        out.dedup();
        Ok(out)
    }

    /// Records a delivery before it is made; false when the customer already has this notice.
    pub async fn claim(
        &self,
        notice: &str,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store
            .record_notice_delivery(notice, customer, at)
            .await
    }

    /// Gives back a claim whose delivery failed, so a later publish retries it.
    pub async fn release(&self, notice: &str, customer: CustomerId) -> Result<(), StoreError> {
        self.store.forget_notice_delivery(notice, customer).await
    }

    /// Keeps a published bank warning's texts, so a warning held for quiet hours is rebuilt from
    /// them at delivery (after a restart too). Campaign texts, not personal data.
    pub async fn save_published(
        &self,
        w: &PublishedWarning,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store
            .save_bank_warning(&BankWarningRecord {
                id: w.id.clone(),
                bank: w.bank.clone(),
                text_pl: w.text_pl.clone(),
                text_en: w.text_en.clone(),
                published_at: at,
            })
            .await
    }

    /// A published bank warning's texts.
    pub async fn published(&self, notice: &str) -> Result<Option<PublishedWarning>, StoreError> {
        Ok(self
            .store
            .bank_warning(notice)
            .await?
            .map(|w| PublishedWarning {
                id: w.id,
                bank: w.bank,
                text_pl: w.text_pl,
                text_en: w.text_en,
            }))
    }

    /// Holds `notice` for `customer` until `due` (their quiet hours), meant for `channel`
    /// (`None` = every open chat); false when it was already held.
    pub async fn hold(
        &self,
        notice: &str,
        customer: CustomerId,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
        channel: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.store
            .hold_warning(&HeldWarningRecord {
                customer,
                kind: HELD_BANK_WARNING.to_owned(),
                ref_id: notice.to_owned(),
                due_at: due,
                held_at: now,
                channel: channel.map(str::to_owned),
            })
            .await
    }

    pub async fn is_held(&self, notice: &str, customer: CustomerId) -> Result<bool, StoreError> {
        self.store
            .is_warning_held(customer, HELD_BANK_WARNING, notice)
            .await
    }

    /// Bank warnings held until `now` or earlier, oldest first (at most `limit`).
    pub async fn held_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HeldWarning>, StoreError> {
        Ok(self
            .store
            .held_warnings_due(now, limit)
            .await?
            .into_iter()
            .filter(|h| h.kind == HELD_BANK_WARNING)
            .map(|h| HeldWarning {
                customer: h.customer,
                notice: h.ref_id,
                due: h.due_at,
                channel: h.channel,
            })
            .collect())
    }

    /// Holds a held warning longer (the customer's quiet hours changed).
    pub async fn hold_until(
        &self,
        notice: &str,
        customer: CustomerId,
        due: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store
            .reschedule_held_warning(customer, HELD_BANK_WARNING, notice, due)
            .await
    }

    /// Forgets a held warning (delivered, or not to be delivered).
    pub async fn unhold(&self, notice: &str, customer: CustomerId) -> Result<bool, StoreError> {
        self.store
            .release_held_warning(customer, HELD_BANK_WARNING, notice)
            .await
    }
}

/// A bank warning's texts as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedWarning {
    pub id: String,
    pub bank: String,
    pub text_pl: String,
    pub text_en: String,
}

/// A bank warning held for one customer's quiet hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldWarning {
    pub customer: CustomerId,
    pub notice: String,
    pub due: DateTime<Utc>,
    /// The channel it was meant for when held; `None` = every open chat.
    pub channel: Option<String>,
}

/// The kind of a held bank warning in the store's held-warning table.
pub const HELD_BANK_WARNING: &str = "bank_warning";
