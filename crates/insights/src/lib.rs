//! Spending insights for the customer who asked: what they spent on, against what they usually
//! spend, drawn as a chart. Pure computation over transactions the caller already read through
//! the privacy gate; nothing here reads, stores or sends anything.

pub mod category;
pub mod chart;
pub mod summary;

pub use category::{Categoriser, Category};
pub use chart::{Chart, ChartError, Charts};
pub use summary::{CategoryTotal, MerchantTotal, SpendingSummary, summarise};
