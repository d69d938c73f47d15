//! okienko's storage: one API over SQLite (the default, a single file) and PostgreSQL (scaled out).
//!
//! This crate owns the schema, the embedded migrations and every SQL statement of the gateway. It
//! persists what it is given and reads it back faithfully; it never decides who may read what (that
//! is the privacy gate's job) and never talks to a bank. Only the bank crate (sync writes) and the
//! privacy crate (gated reads) may touch the financial tables.
//!
//! Financial data and tokens are encrypted at rest (envelope encryption, see `crypto`, `keys`,
//! `vault`): callers read and write plaintext domain types; only ids, dates, status and currency
//! stay in plaintext columns.
//!
//! Portable forms, identical on both backends: ids and dates as text, instants as fixed-width
//! RFC 3339 UTC text, money as BIGINT minor units plus an ISO 4217 code.

mod accounts;
mod alerts;
mod audit;
mod audit_file;
mod audit_head;
mod audit_repair;
mod budget;
mod codec;
mod consents;
mod conversations;
mod corrections;
mod crypto;
mod customers;
mod direct;
mod erase;
mod error;
mod fraud;
mod held_warnings;
mod keys;
/// Leader leases for run-once jobs (`Store::try_acquire_lease`).
pub mod lease;
mod messenger;
mod outbox;
mod payees;
mod payments;
mod pg_user;
mod quiet_support;
mod read_cache;
mod records;
mod sealed;
mod store;
mod support;
mod sync_state;
mod transactions;
mod vault;
mod view_links;
mod webchat_sessions;

pub use alerts::NoticeRecord;
pub use audit::{AUDIT_GENESIS, AuditCheck, AuditEntry, AuditProblem};
pub use audit_head::{AuditHeadSeal, HEAD_FILE_FORMAT, HeadFileError, HeadFileStatus};
pub use audit_repair::{RepairOutcome, RepairRefusal};
pub use consents::ConsentGrant;
pub use conversations::{
    ConversationRead, ConversationRecord, ConversationWrite, MAX_CONVERSATION_BYTES,
};
pub use corrections::{CategoryCorrection, MAX_CORRECTIONS};
pub use error::{DbFailure, StoreError};
pub use fraud::{FraudCaseRecord, FraudEpisodeRecord};
pub use held_warnings::{BankWarningRecord, HeldWarningRecord};
pub use keys::{KeyError, KeyId, Keyring, MasterKey};
pub use messenger::{LinkCodeTake, MessengerLinkRecord};
pub use outbox::{MAX_OUTBOX_EVENT_BYTES, OutboxEvent, OutboxPut};
pub use payees::{CounterpartyRecord, PayeeRecord};
pub use payments::{DayLimit, LimitedPayment, NewPayment, PaymentRecord};
pub use records::{
    AccountRecord, AuditRow, ConsentRecord, CustomerRecord, NewTransaction, StoredTransaction,
    SyncState, TxBatch,
};
pub use store::{Backend, ConsentListener, Store, pg_connect_options};
pub use support::{
    StaffRecord, SupportCaseRecord, SupportConversationRecord, SupportMessageRecord,
};
pub use view_links::{NewViewLink, ViewLinkFacts, ViewLinkTake};
pub use webchat_sessions::WebChatSessionRecord;
