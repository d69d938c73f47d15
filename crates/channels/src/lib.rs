//! Chat channels: where customers talk to okienko.
//!
//! This crate owns the channel side of a conversation: accepting a customer's events from a chat
//! surface, handing them to the [`okienko_dialog::Conversation`] in order, and delivering the
//! replies (and the [`okienko_dialog::Outbox`] pushes) back. It renders replies but never decides
//! them, and it never reads financial data itself: it shows what the conversation gives it.
//!
//! Every channel is an adapter ([`ChannelAdapter`]) with declared [`Capabilities`] (what it can
//! show, who can read it); [`adapter::render`] degrades rich replies to what a channel shows.
//! The web chat served by the gateway at `/` ([`WebChat`]) is bank-owned, so it may show
//! financial replies in full; Messenger ([`Messenger`]) is platform-readable, so it never does.

pub mod adapter;
pub mod embedded;
#[cfg(feature = "matrix")]
pub mod matrix;
pub mod messenger;
pub mod webchat;

pub use adapter::{
    Capabilities, ChannelAdapter, ChannelEvent, HandoverEvent, HandoverSink, Outboxes,
};
pub use messenger::{Messenger, MessengerConfig};
pub use webchat::{WebChat, WebChatConfig};
