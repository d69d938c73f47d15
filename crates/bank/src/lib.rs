//! Bank access for okienko: the [`BankConnector`] trait with its NextGenPSD2 implementation, the
//! [`SyncEngine`] that mirrors a consent's accounts, balances and transactions into the store,
//! the [`BankLink`] service the conversation calls (link, refresh, status, revoke), and the
//! background [`SyncWorker`].
//!
//! This crate is one of the two that touch financial tables (it writes them; the privacy gate
//! reads them). It must never log or put into an error string a bank payload, an amount, an
//! account number, a description or a token.

pub mod connector;
pub mod error;
pub mod link;
pub mod nextgenpsd2;
pub mod pis;
pub mod retry;
pub mod sync;
pub mod worker;

pub use connector::{
    AccessCtx, AccessToken, BankAccount, BankBalance, BankCard, BankConnector, BankTransaction,
    BankTxPage, Capabilities, CardReport, CardStatus, ConsentCreated, ConsentRequest, LostReason,
    PageCursor, Presence, ScaApproach, ScaStep, TxQuery, TxStatusQuery,
};
pub use error::{BankError, ConnectorError};
pub use link::{
    BankLink, LinkConfig, LinkDone, LinkEvent, LinkStart, LinkStatus, LinkedCard,
    REMIND_DAYS_BEFORE, RevokeReport,
};
pub use nextgenpsd2::NextGenPsd2Connector;
pub use retry::RetryPolicy;
pub use sync::{SyncEngine, SyncReport, TxChanges};
pub use worker::SyncWorker;
