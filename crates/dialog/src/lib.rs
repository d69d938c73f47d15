//! The conversation engine: turns what a customer says into actions and replies.
//!
//! It owns dialog state (language, the last question asked, the page of transactions shown) and
//! decides what to do; it reads financial data only through the privacy gate and reaches the bank
//! only through the bank crate's link service. It never touches the store.

pub mod engine;
mod render;
pub mod reply;
mod texts;

use async_trait::async_trait;
use okienko_core::{CustomerId, Lang};

pub use engine::{CallbackOutcome, Engine, EngineConfig};
pub use reply::{
    AccountLine, BalanceLine, QuickReply, Reply, ReplyPart, Sensitivity, TransactionsTable, TxRow,
};

/// Something a customer did in a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundEvent {
    /// Typed text.
    Text(String),
    /// A quick-reply button pressed; carries the button's payload.
    QuickReply(String),
}

/// The conversation as channels see it: an event in, replies out.
#[async_trait]
pub trait Conversation: Send + Sync + 'static {
    /// Handles one event from a customer. `lang_hint` is the channel's idea of the customer's
    /// language (the web chat's UI language), used until the customer's own words decide.
    async fn handle(
        &self,
        customer: CustomerId,
        lang_hint: Option<Lang>,
        event: InboundEvent,
    ) -> Vec<Reply>;
}

/// Where replies that are not answers to an event go (the bank confirmed a consent, a sync
/// finished): the channels deliver them to the customer's open chats, or keep them until the
/// customer comes back.
pub trait Outbox: Send + Sync + 'static {
    fn push(&self, customer: CustomerId, reply: Reply);
}
