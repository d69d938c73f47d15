//! Velocity windows over one customer's recent transactions: counts and sums over 10 min, 1 h,
//! 24 h and 7 d, kept incrementally (push one event, expire old ones; O(1) amortised).
//! Sums are integers (cents, milli-z) so incremental and batch results agree exactly.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Window lengths in seconds: 10 min, 1 h, 24 h, 7 d. The last must be the longest.
pub const WINDOWS_SECS: [i64; 4] = [600, 3_600, 86_400, 604_800];

/// One remembered transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub ts: i64,
    pub cents: i64,
    /// Positive part of the amount z-score, in thousandths.
    pub z_milli: i64,
    pub new_merchant: bool,
    pub new_category: bool,
}

/// Aggregates of the events inside one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowAgg {
    pub count: u32,
    pub cents: i64,
    pub z_milli: i64,
    pub new_merchants: u32,
    pub new_categories: u32,
}

impl WindowAgg {
    fn add(&mut self, e: &Event, sign: i64) {
        self.count = (self.count as i64 + sign) as u32;
        self.cents += sign * e.cents;
        self.z_milli += sign * e.z_milli;
        self.new_merchants = (self.new_merchants as i64 + sign * e.new_merchant as i64) as u32;
        self.new_categories = (self.new_categories as i64 + sign * e.new_category as i64) as u32;
    }
}

/// The events of the longest window and, per window, the aggregate and where it starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Windows {
    events: VecDeque<Event>,
    /// Absolute sequence number of `events[0]`.
    base: u64,
    /// Absolute sequence number of the oldest event inside each window.
    head: [u64; 4],
    agg: [WindowAgg; 4],
}

impl Windows {
    /// Adds an event (whose `ts` must not be older than the previous one) and expires events
    /// that fell out of each window. An event is inside a window of length W at time t when
    /// `t - ts < W`.
    pub fn push(&mut self, e: Event) {
        self.events.push_back(e);
        for (w, len) in WINDOWS_SECS.iter().enumerate() {
            self.agg[w].add(&e, 1);
            while let Some(old) = self.events.get((self.head[w] - self.base) as usize) {
                if e.ts - old.ts < *len {
                    break;
                }
                let old = *old;
                self.agg[w].add(&old, -1);
                self.head[w] += 1;
            }
        }
        let keep_from = self.head[WINDOWS_SECS.len() - 1];
        while self.base < keep_from {
            self.events.pop_front();
            self.base += 1;
        }
    }

    /// Aggregate of window `w` (index into [`WINDOWS_SECS`]) as of the last push.
    pub fn agg(&self, w: usize) -> WindowAgg {
        self.agg.get(w).copied().unwrap_or_default()
    }

    /// Number of events remembered (those inside the longest window).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
