//! The conversation engine: turns what a customer says into actions and replies.
//!
//! It owns dialog state (language, the last question asked, the page of transactions shown) and
//! decides what to do; it reads financial data only through the privacy gate and reaches the bank
//! only through the bank crate's link service. It never touches the store.

pub mod alerts;
pub mod cards;
pub mod categories;
pub mod checkout;
pub mod conversations;
pub mod engine;
pub mod forms;
pub mod fraud;
pub mod handover;
mod insights;
pub mod masking;
pub mod notices;
#[cfg(test)]
mod quick_labels;
mod render;
pub mod reply;
mod texts;
pub mod transfer;

use async_trait::async_trait;
use okienko_core::{CustomerId, Lang};

pub use conversations::{
    ConversationStore, ConversationStoreError, Loaded, Saved, StoredConversation,
};
pub use engine::{CallbackOutcome, DEFAULT_CHART_FONT, Engine, EngineConfig, IDLE_EXPIRY_MINUTES};
pub use masking::{GoneReason, ViewConfig, ViewPage};
/// Where a conversation takes place; channels build it, so they need not depend on the gate.
pub use okienko_privacy::{ChannelContext, ChannelInfo, Room};
pub use reply::{
    AccountLine, BalanceLine, QuickReply, Reply, ReplyPart, Sensitivity, TransactionsTable, TxRow,
};

/// Something a customer did in a chat. `Debug` shows the kind and length only: what customers
/// write never reaches a log line, even through `?event`.
#[derive(Clone, PartialEq, Eq)]
pub enum InboundEvent {
    /// Typed text.
    Text(String),
    /// A quick-reply button pressed; carries the button's payload.
    QuickReply(String),
}

impl std::fmt::Debug for InboundEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InboundEvent::Text(t) => write!(f, "Text(<{} chars>)", t.chars().count()),
            InboundEvent::QuickReply(p) => write!(f, "QuickReply(<{} chars>)", p.chars().count()),
        }
    }
}

/// The conversation as channels see it: an event in, replies out.
#[async_trait]
pub trait Conversation: Send + Sync + 'static {
    /// Handles one event from a customer. `channel` says where the conversation takes place
    /// (which channel, whether its platform can read it, whether the room holds only the account
    /// holder): the engine names it in every privacy-gate request and masks financial replies
    /// where they may not be shown. `lang_hint` is the channel's idea of the customer's language
    /// (the web chat's UI language), used until the customer's own words decide.
    async fn handle(
        &self,
        customer: CustomerId,
        channel: ChannelInfo,
        lang_hint: Option<Lang>,
        event: InboundEvent,
    ) -> Vec<Reply>;

    /// The customer is typing (on channels that tell). Whoever holds the conversation may show
    /// it — a bank agent's console does; the bot ignores it.
    async fn customer_typing(&self, _customer: CustomerId) {}

    /// A reply pushed to the customer (not an answer to an event: the account list after linking,
    /// a fraud warning, a notice) is about to be delivered in `channel`. The conversation masks
    /// it for that channel exactly as it masks answers: a Financial reply where it may not be
    /// shown (a platform-readable channel, a room with others) becomes a masked text with a
    /// single-use view link. Every channel that may not show financial data calls this before
    /// delivering a push; wrappers delegate it. The default changes nothing, so such a channel
    /// must still refuse a reply that is left Financial.
    async fn prepare_push(
        &self,
        _customer: CustomerId,
        _channel: ChannelInfo,
        reply: Reply,
    ) -> Reply {
        reply
    }
}

/// Where replies that are not answers to an event go (the bank confirmed a consent, a sync
/// finished): the channels deliver them to the customer's open chats, or keep them until the
/// customer comes back. A push names no channel: each channel that delivers it masks it for
/// itself through [`Conversation::prepare_push`] with its own [`ChannelInfo`], so the same
/// Financial push arrives in full in the bank's web chat and masked on Messenger.
pub trait Outbox: Send + Sync + 'static {
    fn push(&self, customer: CustomerId, reply: Reply);

    /// Shows the customer that someone (a bank agent) is typing; channels without a typing
    /// indicator ignore it.
    fn typing(&self, _customer: CustomerId) {}
}
