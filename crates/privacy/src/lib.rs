//! The privacy gate: the only way to read a customer's financial data.
//!
//! Every read names who asks ([`Actor`]), whose data it is (the subject), why ([`Purpose`], a
//! closed taxonomy) and through which channel. The gate decides with Cedar policies kept in
//! `policies/` ([`policy`]), writes a
//! hash-chained audit record whatever the decision ([`audit`]), and hands the data back wrapped
//! in [`Gated`], which nothing outside this crate can construct. Conversation, channel and
//! server code never depend on the store, so this is the one road to the financial tables.

pub mod alerts;
pub mod audit;
pub mod bench;
pub mod cards;
pub mod case;
pub mod categories;
mod cedar;
mod consent_cache;
mod decision_cache;
pub mod fraud_case;
pub mod gate;
pub mod payees;
pub mod policy;
pub mod purpose;
pub mod support;
pub mod view;

pub use alerts::{
    AlertBook, AlertSettings, LedgerNotice, NoticeBook, NoticeKind, Quiet, SettingsError, Threshold,
};
pub use audit::{AccessLogEntry, AuditVerification, parse_decision};
pub use cards::{CardAccess, CardAccessError};
pub use case::{CaseId, SupportCase};
pub use categories::{Correction, CorrectionError};
pub use decision_cache::CacheStats;
pub use fraud_case::{
    AlertSeverity, EpisodeId, EpisodeStatus, FraudBook, FraudCase, FraudCaseId, FraudCaseStatus,
    FraudEpisode, HeldWarning, NoticeLedger, PublishedWarning,
};
pub use gate::{AccessError, AccountBalances, Gated, PrivacyGate, TxPage};
pub use payees::Payee;
pub use policy::{Decision, DenyReason, Facts, PolicyEngine, PolicyError, Verdict};
pub use purpose::{AccessRequest, Actor, ChannelContext, ChannelInfo, Purpose, Room};
pub use view::{DEFAULT_VIEW_TTL, ReplayNotice, ViewContent, ViewError, ViewToken};
