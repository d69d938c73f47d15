//! Replay protection for webhook deliveries, bounded in memory.
//!
//! An event is accepted once: its key (the message id, or kind + sender + timestamp where Meta
//! gives no id) is remembered for the window, and events stamped outside the window (older, or
//! more than five minutes ahead of our clock) are refused outright, so a captured, correctly
//! signed body cannot be played again later. Keys live here in memory, at most `capacity` of them
//! (the oldest go first when full); the channel also keeps them in its state store, which
//! survives a restart.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// How far ahead of our clock an event may be stamped (clock skew).
const FUTURE_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fresh,
    /// Seen before inside the window.
    Duplicate,
    /// Stamped outside the window.
    Stale,
}

pub struct ReplayGuard {
    window: Duration,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    seen: HashSet<String>,
    order: VecDeque<(DateTime<Utc>, String)>,
}

impl ReplayGuard {
    pub fn new(window: Duration, capacity: usize) -> Self {
        ReplayGuard {
            window,
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Decides on one event and, when fresh, remembers it.
    pub fn check(&self, key: &str, stamped_ms: i64, now: DateTime<Utc>) -> Verdict {
        let Some(stamped) = DateTime::<Utc>::from_timestamp_millis(stamped_ms) else {
            return Verdict::Stale;
        };
        if stamped < now - self.window || stamped > now + FUTURE_SKEW {
            return Verdict::Stale;
        }
        let mut st = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let horizon = now - self.window;
        while let Some((at, _)) = st.order.front() {
            if *at >= horizon && st.order.len() < self.capacity {
                break;
            }
            if let Some((_, k)) = st.order.pop_front() {
                st.seen.remove(&k);
            }
        }
        if st.seen.contains(key) {
            return Verdict::Duplicate;
        }
        st.seen.insert(key.to_owned());
        st.order.push_back((now, key.to_owned()));
        Verdict::Fresh
    }

    /// Forgets a key remembered by [`ReplayGuard::check`] (it could not be handled after all).
    pub fn forget(&self, key: &str) {
        let mut st = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        st.seen.remove(key);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.seen.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_inside_the_window_never_outside() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let ms = now.timestamp_millis();
        let g = ReplayGuard::new(Duration::hours(1), 100);
        assert_eq!(g.check("m_1", ms, now), Verdict::Fresh);
        assert_eq!(g.check("m_1", ms, now), Verdict::Duplicate);
        assert_eq!(g.check("m_2", ms - 2 * 3_600_000, now), Verdict::Stale);
        assert_eq!(g.check("m_3", ms + 3_600_000, now), Verdict::Stale);
        assert_eq!(g.check("m_4", i64::MAX, now), Verdict::Stale);
        // Keys leave memory once the window is past; the timestamp check then refuses them.
        let later = now + Duration::hours(2);
        assert_eq!(
            g.check("m_5", later.timestamp_millis(), later),
            Verdict::Fresh
        );
        assert_eq!(g.len(), 1);
        assert_eq!(g.check("m_1", ms, later), Verdict::Stale);
    }

    #[test]
    fn memory_is_bounded() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let g = ReplayGuard::new(Duration::hours(1), 10);
        for i in 0..100 {
            assert_eq!(
                g.check(&format!("m_{i}"), now.timestamp_millis(), now),
                Verdict::Fresh
            );
        }
        assert!(g.len() <= 10, "{}", g.len());
    }
}
