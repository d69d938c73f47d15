//! Wiring of the okienko gateway: configuration, and starting the parts in the right order.
//! The `okienko` binary (main.rs) is a thin command line over this.

pub mod bench;
pub mod config;
pub mod gateway;
pub mod logging;
pub mod sandbox_customer;
