//! Chat channels: where customers talk to okienko.
//!
//! This crate owns the channel side of a conversation: accepting a customer's events from a chat
//! surface, handing them to the [`okienko_dialog::Conversation`] in order, and delivering the
//! replies (and the [`okienko_dialog::Outbox`] pushes) back. It renders replies but never decides
//! them, and it never reads financial data itself: it shows what the conversation gives it.
//!
//! The first channel is the web chat served by the gateway at `/` ([`WebChat`]); it is
//! bank-owned, so it may show financial replies in full.

pub mod webchat;

pub use webchat::{WebChat, WebChatConfig};
