//! okienko-guard: scam checks for the links and messages customers paste or forward to the chat
//! ("czy ten link jest bezpieczny?", "kolega prosi o kod BLIK").
//!
//! Owns: link extraction and lookalike-domain heuristics (IDNA, Public Suffix List, UTS #39 confusable
//! skeletons, brand tokens, edit distance), the allow-list of official domains, known-bad lists in CERT Polska's
//! format with reload on change, Polish and English scam-message rules, and the link-check benchmark.
//! Depends on okienko-core only; does no network I/O and never logs the checked text.
//!
//! Entry points: [`Guard::check`] → [`Verdict`], [`Guard::check_json_line`] for `okienko guard check`,
//! [`bench_links`] for the link-check benchmark.

pub mod bench;
pub mod brands;
pub mod extract;
pub mod guard;
pub mod known_bad;
pub mod links;
pub mod messages;
pub mod text;
pub mod verdict;

use std::path::PathBuf;

pub use bench::bench_links;
pub use guard::{Guard, GuardConfig};
pub use known_bad::ReloadStats;
pub use verdict::{Reason, ReasonCode, SCAM_THRESHOLD, SUSPICIOUS_THRESHOLD, Verdict, VerdictKind};

/// Errors a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A known-bad list file could not be read at start-up.
    #[error("cannot read known-bad list {path}: {source}")]
    ListRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A built-in rule failed to compile (a bug; caught by the tests).
    #[error("internal rule error: {0}")]
    Rules(String),
}
