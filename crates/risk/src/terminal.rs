//! Terminal (merchant) risk with delayed labels, in the Fraud Detection Handbook's style: for a
//! payment at time t, the number of payments at the same terminal and the share of them that were
//! fraud, over windows of 1, 7 and 30 days that end `delay` before t. Fraud labels arrive late in
//! practice (a customer disputes a payment days after it), so only payments older than the delay
//! are counted: the feature is causal for any delay ≥ the labelling lag.
//!
//! Kept incrementally per terminal (a short deque, pruned to delay + the longest window).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Window lengths in days, as in the handbook.
pub const TERMINAL_WINDOWS_DAYS: [i64; 3] = [1, 7, 30];

/// Names of the terminal features, in the order [`TerminalRisk::features`] returns them.
pub const TERMINAL_FEATURE_NAMES: [&str; 6] = [
    "terminal_nb_tx_1d",
    "terminal_nb_tx_7d",
    "terminal_nb_tx_30d",
    "terminal_risk_1d",
    "terminal_risk_7d",
    "terminal_risk_30d",
];

/// Per-terminal delayed fraud rates.
#[derive(Debug, Clone)]
pub struct TerminalRisk<K> {
    delay_secs: i64,
    terminals: HashMap<K, VecDeque<(i64, bool)>>,
}

impl<K: Hash + Eq + Clone> TerminalRisk<K> {
    /// `delay_days`: how long after a payment its fraud label is known.
    pub fn new(delay_days: i64) -> Self {
        Self {
            delay_secs: delay_days.max(0) * 86_400,
            terminals: HashMap::new(),
        }
    }

    /// The features of a payment at `terminal` at time `ts` (seconds): counts and fraud shares
    /// of the payments in `(ts - delay - w, ts - delay]` for each window `w`. Only labels older
    /// than the delay are read.
    pub fn features(&self, terminal: &K, ts: i64) -> [f32; 6] {
        let mut out = [0f32; 6];
        let Some(q) = self.terminals.get(terminal) else {
            return out;
        };
        let end = ts - self.delay_secs;
        let mut n = [0u32; 3];
        let mut fraud = [0u32; 3];
        // Newest first; stop once past the longest window.
        for (t, f) in q.iter().rev() {
            if *t > end {
                continue;
            }
            let age = end - *t;
            if age >= TERMINAL_WINDOWS_DAYS[2] * 86_400 {
                break;
            }
            for (w, days) in TERMINAL_WINDOWS_DAYS.iter().enumerate() {
                if age < days * 86_400 {
                    n[w] += 1;
                    fraud[w] += *f as u32;
                }
            }
        }
        for w in 0..3 {
            out[w] = n[w] as f32;
            out[3 + w] = if n[w] == 0 {
                0.0
            } else {
                fraud[w] as f32 / n[w] as f32
            };
        }
        out
    }

    /// Days from the oldest fraud known at `terminal` (older than the delay, within the
    /// longest window) to `ts - delay`; -1 when none is known. A compromise has a start: a
    /// terminal whose frauds are all old may have been cleaned since.
    pub fn known_fraud_age_days(&self, terminal: &K, ts: i64) -> f32 {
        let Some(q) = self.terminals.get(terminal) else {
            return -1.0;
        };
        let end = ts - self.delay_secs;
        let start = end - TERMINAL_WINDOWS_DAYS[2] * 86_400;
        q.iter()
            .find(|(t, f)| *f && *t > start && *t <= end)
            .map_or(-1.0, |(t, _)| ((end - *t) as f64 / 86_400.0) as f32)
    }

    /// Records a payment and its (eventual) label. Payments must come in time order per
    /// terminal; entries older than delay + 30 days are dropped.
    pub fn record(&mut self, terminal: &K, ts: i64, is_fraud: bool) {
        let horizon = self.delay_secs + TERMINAL_WINDOWS_DAYS[2] * 86_400;
        let q = match self.terminals.get_mut(terminal) {
            Some(q) => q,
            None => self.terminals.entry(terminal.clone()).or_default(),
        };
        q.push_back((ts, is_fraud));
        while q.front().is_some_and(|(t, _)| ts - *t > horizon) {
            q.pop_front();
        }
    }
}
