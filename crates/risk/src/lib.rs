//! okienko-risk: transaction risk scoring against each customer's own history.
//!
//! Owns the per-customer incremental features ([`features`]), velocity windows ([`window`]),
//! versioned hard rules ([`rules`]), a histogram GBDT trained in Rust ([`gbdt`]), the engine
//! that ties them together ([`engine`]), and the fraud benchmarks ([`bench`]). Depends on
//! okienko-core only and does no network I/O; the benchmark reads a local file.
//!
//! Flow: `train` replays a labelled stream through `FeatureExtractor::observe` (the same
//! function live scoring calls), fits the GBDT, and returns a serialisable `RiskModel`;
//! `RiskEngine::score(&mut CustomerState, &Tx)` computes features, updates the state, and
//! returns max(model probability, floor of the rules that fired).

pub mod bench;
pub mod engine;
pub mod error;
pub mod features;
pub mod gbdt;
pub mod handbook;
pub mod live;
pub mod metrics;
pub mod rules;
pub mod sparkov;
pub mod terminal;
pub mod tx;
pub mod window;

pub use bench::bench_sparkov;
pub use engine::{Assessment, LabelledTx, MODEL_FORMAT, RiskEngine, RiskModel, train};
pub use error::RiskError;
pub use features::{
    CustomerState, FEATURE_NAMES, FeatureExtractor, Features, N_FEATURES, feature_index,
};
pub use gbdt::GbdtParams;
pub use handbook::{HandbookOptions, Protocol, bench_handbook};
pub use live::{HIGH_SEVERITY_SCORE, LiveScorer, Severity, train_sparkov_file};
pub use rules::{RuleHit, RuleSet};
pub use tx::{GeoPoint, Tx};
