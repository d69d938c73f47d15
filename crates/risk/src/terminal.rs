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

/// Names of [`TerminalRisk::compromise_features`], in order.
pub const TERMINAL_COMPROMISE_FEATURE_NAMES: [&str; 2] = [
    "terminal_ordinary_frauds_30d",
    "terminal_genuine_since_first_fraud_30d",
];

/// One remembered payment: its time, its (eventual) label, and whether its amount was ordinary
/// for its card (so a fraud there is not explained by the card's own unusual spending).
#[derive(Debug, Clone, Copy)]
struct Payment {
    ts: i64,
    fraud: bool,
    ordinary: bool,
}

/// Per-terminal delayed fraud rates.
#[derive(Debug, Clone)]
pub struct TerminalRisk<K> {
    delay_secs: i64,
    terminals: HashMap<K, VecDeque<Payment>>,
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
        for p in q.iter().rev() {
            if p.ts > end {
                continue;
            }
            let age = end - p.ts;
            if age >= TERMINAL_WINDOWS_DAYS[2] * 86_400 {
                break;
            }
            for (w, days) in TERMINAL_WINDOWS_DAYS.iter().enumerate() {
                if age < days * 86_400 {
                    n[w] += 1;
                    fraud[w] += p.fraud as u32;
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
            .find(|p| p.fraud && p.ts > start && p.ts <= end)
            .map_or(-1.0, |p| ((end - p.ts) as f64 / 86_400.0) as f32)
    }

    /// Point-of-compromise evidence at `terminal` for a payment at `ts`, from the payments
    /// whose labels are known (older than the delay) within the longest window: the number of
    /// frauds whose amounts were ordinary for their cards (a fraud a card's own spending does
    /// not explain points at the terminal), and the number of genuine payments since the
    /// oldest known fraud (-1 when none is known; 0 means every known payment since then was
    /// fraud, as at a terminal that is still compromised).
    pub fn compromise_features(&self, terminal: &K, ts: i64) -> [f32; 2] {
        let Some(q) = self.terminals.get(terminal) else {
            return [0.0, -1.0];
        };
        let end = ts - self.delay_secs;
        let start = end - TERMINAL_WINDOWS_DAYS[2] * 86_400;
        let mut ordinary_frauds = 0u32;
        let mut genuine_since = None::<u32>;
        for p in q.iter().filter(|p| p.ts > start && p.ts <= end) {
            if p.fraud {
                ordinary_frauds += p.ordinary as u32;
                genuine_since.get_or_insert(0);
            } else if let Some(g) = genuine_since.as_mut() {
                *g += 1;
            }
        }
        [
            ordinary_frauds as f32,
            genuine_since.map_or(-1.0, |g| g as f32),
        ]
    }

    /// Records a payment and its (eventual) label. Payments must come in time order per
    /// terminal; entries older than delay + 30 days are dropped.
    pub fn record(&mut self, terminal: &K, ts: i64, is_fraud: bool) {
        self.record_payment(terminal, ts, is_fraud, false);
    }

    /// [`TerminalRisk::record`], saying whether the amount was ordinary for the paying card
    /// (read by [`TerminalRisk::compromise_features`]).
    pub fn record_payment(&mut self, terminal: &K, ts: i64, is_fraud: bool, ordinary: bool) {
        let horizon = self.delay_secs + TERMINAL_WINDOWS_DAYS[2] * 86_400;
        let q = match self.terminals.get_mut(terminal) {
            Some(q) => q,
            None => self.terminals.entry(terminal.clone()).or_default(),
        };
        q.push_back(Payment {
            ts,
            fraud: is_fraud,
            ordinary,
        });
        while q.front().is_some_and(|p| ts - p.ts > horizon) {
            q.pop_front();
        }
    }
}
