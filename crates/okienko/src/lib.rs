//! Wiring of the okienko gateway: configuration, and starting the parts in the right order.
//! The `okienko` binary (main.rs) is a thin command line over this.

pub mod agents;
pub mod bank_notify;
pub mod bench;
pub mod bench_agents;
pub mod bench_chat;
pub mod bench_messenger;
pub mod bench_payments;
pub mod bus_events;
pub mod checkout;
pub mod config;
pub mod conversations;
pub mod fraud;
pub mod gateway;
pub mod leader;
pub mod logging;
pub mod matrix;
pub mod messenger;
pub mod notices;
pub mod outbox;
pub mod payments;
pub mod sandbox_customer;
pub mod vault;
pub mod webchat;
