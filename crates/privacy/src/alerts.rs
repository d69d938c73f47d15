//! Alert settings and the notice ledger (issue 10).
//!
//! [`AlertSettings`] is what a customer chose: which notices are on, their thresholds, quiet
//! hours, the channel that gets them, or "all off". [`AlertBook`] keeps them per customer,
//! sealed with the customer's data key (thresholds say something about their money), and they go
//! with the rest of the customer's data when the consent is revoked. [`NoticeBook`] is the
//! persisted ledger that makes every notice exactly once per event (re-syncs and restarts
//! included) and every digest at most once a day. Each notice kind has its own purpose
//! ([`NoticeKind::purpose`]), so a read for one kind is audited as that kind.
//!
//! Nothing here logs a threshold or a notice's text.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use okienko_core::{Currency, CustomerId};
use okienko_store::{NoticeRecord, Store, StoreError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::purpose::Purpose;

/// The notices a customer can opt in to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The balance fell below the customer's threshold (urgent).
    LowBalance,
    /// A payment above the customer's threshold (urgent).
    LargePayment,
    /// The salary arrived (digest).
    Salary,
    /// A recurring charge went up (digest).
    RecurringUp,
    /// A possible duplicate charge (digest).
    Duplicate,
    /// A subscription renewed (digest).
    Subscription,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 6] = [
        NoticeKind::LowBalance,
        NoticeKind::LargePayment,
        NoticeKind::Salary,
        NoticeKind::RecurringUp,
        NoticeKind::Duplicate,
        NoticeKind::Subscription,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            NoticeKind::LowBalance => "low_balance",
            NoticeKind::LargePayment => "large_payment",
            NoticeKind::Salary => "salary",
            NoticeKind::RecurringUp => "recurring_up",
            NoticeKind::Duplicate => "duplicate",
            NoticeKind::Subscription => "subscription",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The purpose a read for this notice is made under.
    pub fn purpose(&self) -> Purpose {
        match self {
            NoticeKind::LowBalance => Purpose::ServiceNoticeLowBalance,
            NoticeKind::LargePayment => Purpose::ServiceNoticeLargePayment,
            NoticeKind::Salary => Purpose::ServiceNoticeSalary,
            NoticeKind::RecurringUp => Purpose::ServiceNoticeRecurringUp,
            NoticeKind::Duplicate => Purpose::ServiceNoticeDuplicate,
            NoticeKind::Subscription => Purpose::ServiceNoticeSubscription,
        }
    }

    /// Urgent notices go at once (after quiet hours); the rest wait for the daily digest.
    pub fn urgent(&self) -> bool {
        matches!(self, NoticeKind::LowBalance | NoticeKind::LargePayment)
    }
}

/// An amount a notice compares against. Without a currency it applies in the account's own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub amount: Decimal,
    pub currency: Option<Currency>,
}

impl std::fmt::Debug for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Threshold(<redacted> {:?})", self.currency)
    }
}

impl Threshold {
    /// Most a threshold may be (a typo guard, and what `Money` accepts).
    pub const MAX: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

    pub fn new(amount: Decimal, currency: Option<Currency>) -> Result<Threshold, SettingsError> {
        if amount <= Decimal::ZERO || amount > Self::MAX || amount.scale() > 2 {
            return Err(SettingsError::BadAmount);
        }
        Ok(Threshold { amount, currency })
    }

    /// Whether `amount` in `currency` is past this threshold's currency (always, when it names
    /// none).
    pub fn same_currency(&self, currency: Currency) -> bool {
        self.currency.is_none_or(|c| c == currency)
    }
}

/// Quiet hours, "22:00" to "07:00" in the customer's zone (may wrap midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quiet {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A customer's alert choices. The default: every notice off (each is opt-in).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertSettings {
    /// "Wyłącz wszystkie powiadomienia": nothing but fraud warnings, whatever else is set (the
    /// rest is kept so "włącz powiadomienia" brings it back).
    pub all_off: bool,
    pub low_balance: Option<Threshold>,
    pub large_payment: Option<Threshold>,
    pub salary: bool,
    pub recurring_up: bool,
    pub duplicate: bool,
    pub subscription: bool,
    pub quiet: Option<Quiet>,
    /// The channel that gets notices ("web_chat", "messenger"); `None` = every open chat.
    pub channel: Option<String>,
}

impl AlertSettings {
    /// Whether a notice of this kind is to be made now.
    pub fn is_on(&self, kind: NoticeKind) -> bool {
        !self.all_off
            && match kind {
                NoticeKind::LowBalance => self.low_balance.is_some(),
                NoticeKind::LargePayment => self.large_payment.is_some(),
                NoticeKind::Salary => self.salary,
                NoticeKind::RecurringUp => self.recurring_up,
                NoticeKind::Duplicate => self.duplicate,
                NoticeKind::Subscription => self.subscription,
            }
    }

    pub fn any_on(&self) -> bool {
        NoticeKind::ALL.iter().any(|k| self.is_on(*k))
    }

    fn to_doc(&self) -> Doc {
        let th = |t: &Option<Threshold>| {
            t.map(|t| DocThreshold {
                amount: t.amount.to_string(),
                currency: t.currency.map(|c| c.code().to_owned()),
            })
        };
        let hm = |t: NaiveTime| t.format("%H:%M").to_string();
        Doc {
            v: 1,
            all_off: self.all_off,
            low_balance: th(&self.low_balance),
            large_payment: th(&self.large_payment),
            salary: self.salary,
            recurring_up: self.recurring_up,
            duplicate: self.duplicate,
            subscription: self.subscription,
            quiet: self.quiet.map(|q| (hm(q.start), hm(q.end))),
            channel: self.channel.clone(),
        }
    }

    fn from_doc(d: Doc) -> Result<Self, StoreError> {
        let bad = || StoreError::Corrupt("alert_settings.sealed");
        let th = |t: Option<DocThreshold>| -> Result<Option<Threshold>, StoreError> {
            t.map(|t| {
                let amount = Decimal::from_str_exact(&t.amount).map_err(|_| bad())?;
                let currency = t
                    .currency
                    .map(|c| c.parse::<Currency>())
                    .transpose()
                    .map_err(|_| bad())?;
                Threshold::new(amount, currency).map_err(|_| bad())
            })
            .transpose()
        };
        let hm = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| bad());
        Ok(AlertSettings {
            all_off: d.all_off,
            low_balance: th(d.low_balance)?,
            large_payment: th(d.large_payment)?,
            salary: d.salary,
            recurring_up: d.recurring_up,
            duplicate: d.duplicate,
            subscription: d.subscription,
            quiet: d
                .quiet
                .map(|(a, b)| -> Result<Quiet, StoreError> {
                    Ok(Quiet {
                        start: hm(&a)?,
                        end: hm(&b)?,
                    })
                })
                .transpose()?,
            channel: d.channel,
        })
    }
}

/// The stored form (sealed JSON); versioned so it can grow.
#[derive(Serialize, Deserialize)]
struct Doc {
    v: u32,
    all_off: bool,
    low_balance: Option<DocThreshold>,
    large_payment: Option<DocThreshold>,
    salary: bool,
    recurring_up: bool,
    duplicate: bool,
    subscription: bool,
    quiet: Option<(String, String)>,
    channel: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct DocThreshold {
    amount: String,
    currency: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the amount must be more than 0 and at most 1000000000, with at most 2 decimals")]
    BadAmount,
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Each customer's alert settings.
#[derive(Clone)]
pub struct AlertBook {
    store: Store,
}

impl AlertBook {
    pub fn new(store: Store) -> Self {
        AlertBook { store }
    }

    /// The customer's settings (all off by default). A customer whose data was erased reads as
    /// the default.
    pub async fn get(&self, customer: CustomerId) -> Result<AlertSettings, StoreError> {
        let doc = match self.store.alert_settings(customer).await {
            Ok(Some(d)) => d,
            Ok(None) | Err(StoreError::DataKeyMissing) => return Ok(AlertSettings::default()),
            Err(e) => return Err(e),
        };
        let d: Doc =
            serde_json::from_str(&doc).map_err(|_| StoreError::Corrupt("alert_settings.sealed"))?;
        AlertSettings::from_doc(d)
    }

    pub async fn put(
        &self,
        customer: CustomerId,
        settings: &AlertSettings,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let doc = serde_json::to_string(&settings.to_doc())
            .map_err(|_| StoreError::Invalid("alert_settings"))?;
        self.store.put_alert_settings(customer, &doc, at).await?;
        tracing::info!(%customer, on = settings.any_on(), all_off = settings.all_off, "alert settings changed");
        Ok(())
    }
}

/// One notice in the ledger.
#[derive(Clone, PartialEq, Eq)]
pub struct LedgerNotice {
    pub customer: CustomerId,
    pub kind: NoticeKind,
    /// What it is about, by ids only ("large_payment:<transaction id>").
    pub event_key: String,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub digest: bool,
    /// The text to send; `None` once sent (or dropped).
    pub text: Option<String>,
}

impl std::fmt::Debug for LedgerNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerNotice")
            .field("customer", &self.customer)
            .field("kind", &self.kind)
            .field("event_key", &self.event_key)
            .field("due_at", &self.due_at)
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

impl LedgerNotice {
    fn to_record(&self) -> NoticeRecord {
        NoticeRecord {
            customer: self.customer,
            event_key: self.event_key.clone(),
            kind: self.kind.as_str().to_owned(),
            created_at: self.created_at,
            due_at: self.due_at,
            sent_at: self.sent_at,
            digest: self.digest,
            content: self.text.clone(),
        }
    }

    fn from_record(r: NoticeRecord) -> Result<Self, StoreError> {
        Ok(LedgerNotice {
            kind: NoticeKind::parse(&r.kind).ok_or(StoreError::Corrupt("notices.kind"))?,
            customer: r.customer,
            event_key: r.event_key,
            created_at: r.created_at,
            due_at: r.due_at,
            sent_at: r.sent_at,
            digest: r.digest,
            text: r.content,
        })
    }
}

/// The persisted notice ledger.
#[derive(Clone)]
pub struct NoticeBook {
    store: Store,
}

impl NoticeBook {
    pub fn new(store: Store) -> Self {
        NoticeBook { store }
    }

    pub async fn baseline(
        &self,
        customer: CustomerId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.notice_baseline(customer).await
    }

    pub async fn set_baseline(
        &self,
        customer: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.store.set_notice_baseline(customer, at).await
    }

    /// Records a notice event; false when this customer already had it.
    pub async fn claim(&self, n: &LedgerNotice) -> Result<bool, StoreError> {
        self.store.claim_notice(&n.to_record()).await
    }

    pub async fn claimed(&self, customer: CustomerId, event_key: &str) -> Result<bool, StoreError> {
        self.store.notice_claimed(customer, event_key).await
    }

    /// Forgets an event whose condition ended (re-arms it).
    pub async fn release(&self, customer: CustomerId, event_key: &str) -> Result<bool, StoreError> {
        self.store.release_notice(customer, event_key).await
    }

    /// Unsent notices due at `now`, oldest first.
    pub async fn due(&self, now: DateTime<Utc>) -> Result<Vec<LedgerNotice>, StoreError> {
        self.store
            .due_notices(now)
            .await?
            .into_iter()
            .map(LedgerNotice::from_record)
            .collect()
    }

    pub async fn for_customer(
        &self,
        customer: CustomerId,
    ) -> Result<Vec<LedgerNotice>, StoreError> {
        self.store
            .notices_for_customer(customer)
            .await?
            .into_iter()
            .map(LedgerNotice::from_record)
            .collect()
    }

    /// Marks notices sent; returns how many were still unsent (the ones to deliver).
    pub async fn mark_sent(
        &self,
        customer: CustomerId,
        keys: &[String],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.store.mark_notices_sent(customer, keys, at).await
    }

    /// Moves unsent notices to `due_at`, or drops them (`None`).
    pub async fn reschedule(
        &self,
        customer: CustomerId,
        keys: &[String],
        due_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.store.reschedule_notices(customer, keys, due_at).await
    }

    /// Claims the customer's digest for a local day; false when one went out that day.
    pub async fn claim_digest(
        &self,
        customer: CustomerId,
        day: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store.claim_digest(customer, day, at).await
    }

    pub async fn release_digest(
        &self,
        customer: CustomerId,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        self.store.release_digest(customer, day).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_the_stored_form() {
        let s = AlertSettings {
            all_off: false,
            low_balance: Some(Threshold::new(Decimal::new(10050, 2), None).unwrap()),
            large_payment: Some(Threshold::new(Decimal::new(500, 0), Some(Currency::PLN)).unwrap()),
            salary: true,
            recurring_up: false,
            duplicate: true,
            subscription: false,
            quiet: Some(Quiet {
                start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            }),
            channel: Some("web_chat".into()),
        };
        let json = serde_json::to_string(&s.to_doc()).unwrap();
        let back = AlertSettings::from_doc(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(back.is_on(NoticeKind::LargePayment));
        assert!(!back.is_on(NoticeKind::Subscription));
        let off = AlertSettings { all_off: true, ..s };
        assert!(!off.any_on());
    }

    #[test]
    fn thresholds_are_checked_and_kinds_have_their_own_purposes() {
        assert!(Threshold::new(Decimal::ZERO, None).is_err());
        assert!(Threshold::new(Decimal::new(-5, 0), None).is_err());
        assert!(Threshold::new(Decimal::new(1, 3), None).is_err());
        assert!(Threshold::new(Decimal::new(2_000_000_000, 0), None).is_err());
        let mut purposes: Vec<&str> = NoticeKind::ALL
            .iter()
            .map(|k| k.purpose().as_str())
            .collect();
        purposes.dedup();
        assert_eq!(purposes.len(), 6);
        assert!(purposes.iter().all(|p| p.starts_with("service.notice.")));
        for k in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(k.as_str()), Some(k));
        }
    }
}
