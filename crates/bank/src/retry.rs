//! Retry policy for bank calls: exponential backoff with full jitter (AWS style), a small fixed
//! number of attempts, and respect for the bank's `Retry-After` when it is short enough.
//!
//! Which errors are retried is decided by [`ConnectorError::retryable`]; this module only decides
//! how long to wait and whether another attempt is allowed.

use std::time::Duration;

use rand::Rng;

use crate::error::ConnectorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (≥ 1).
    pub max_attempts: u32,
    /// The first backoff ceiling; doubles per attempt.
    pub base: Duration,
    /// The largest pause we will take, including a bank's `Retry-After`.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1` after `attempt` (1-based) failed with `err`, or
    /// `None` when we should give up.
    pub fn next_delay(&self, attempt: u32, err: &ConnectorError) -> Option<Duration> {
        if attempt >= self.max_attempts.max(1) || !err.retryable() {
            return None;
        }
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let ceiling = exp.min(self.cap);
        let jitter_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let jittered = Duration::from_millis(rand::rng().random_range(0..=jitter_ms));
        match err.retry_after() {
            // A bank that asks for a longer pause than we are willing to take: give up now and
            // let the caller decide (the customer should not wait on a spinner).
            Some(ra) if ra > self.cap => None,
            Some(ra) => Some(ra.max(jittered)),
            None => Some(jittered),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_retryable_and_bounded() {
        let p = RetryPolicy::default();
        let unavailable = ConnectorError::BankUnavailable { retry_after: None };
        for _ in 0..100 {
            let d = p.next_delay(1, &unavailable).unwrap();
            assert!(d <= p.base);
            let d = p.next_delay(2, &unavailable).unwrap();
            assert!(d <= p.base * 2);
        }
        assert!(p.next_delay(3, &unavailable).is_none());
        assert!(p.next_delay(1, &ConnectorError::AccessExceeded).is_none());
        assert!(p.next_delay(1, &ConnectorError::ConsentExpired).is_none());
        let slow = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
        };
        assert!(p.next_delay(1, &slow).is_none());
        let short = ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        };
        assert!(p.next_delay(1, &short).unwrap() >= Duration::from_secs(1));
    }
}
