//! Human handover: a conversation has one owner at a time — the bot, a member of the bank's staff,
//! or nobody while it waits in the queue (Messenger's handover protocol, in one process).
//!
//! [`Handover`] wraps the conversation engine and is what the channels talk to: it routes each
//! customer event to the bot or to the person who holds the conversation, queues the customer
//! when they ask for a person (the `agent` intent, the button offered after two
//! misunderstandings, or [`Handover::request_handover`] for a fraud case), tells them their place
//! and an estimate, offers a message or a callback outside business hours, lets them go back to
//! the bot, and asks for a CSAT score after closing. [`console`] is the agent console at
//! `/agent`. Who may see what (staff, banks, cases, transcripts) is decided in
//! `okienko_privacy::support`; this crate never touches the store.

pub mod canned;
pub mod config;
pub mod console;
mod handover;
pub mod hub;
pub mod relay;
mod texts;

pub use config::{AgentsConfig, BusinessHours};
pub use handover::{Handover, HandoverReason};
pub use hub::{Hub, HubEvent};
