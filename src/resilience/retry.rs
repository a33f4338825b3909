//! When to retry an upstream attempt and how long to wait first.

use std::time::Duration;

/// Retry settings; see docs/resilience.md for the reasoning behind the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    /// First backoff; doubled per retry.
    pub base_delay: Duration,
    /// Backoff never exceeds this (before jitter).
    pub max_delay: Duration,
    /// A `retry-after` longer than this is not waited for: the error goes to the client instead.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            retry_after_cap: Duration::from_secs(20),
        }
    }
}

/// Statuses that say "this key", not "this request": the next key may succeed.
pub fn is_key_failure(status: u16) -> bool {
    matches!(status, 401 | 403 | 429)
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based). A `retry-after` from the upstream wins when present; `None`
    /// means it asks for longer than the cap, so retrying is pointless. `jitter` in [0, 1) spreads retries of
    /// many clients ("full jitter" on the upper half of the exponential delay).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
        if let Some(wait) = retry_after {
            return (wait <= self.retry_after_cap).then_some(wait);
        }
        let exp = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(16)).min(self.max_delay);
        Some(exp / 2 + exp.mul_f64(jitter.clamp(0.0, 1.0) / 2.0))
    }
}

/// Parses `retry-after` (seconds, possibly fractional) or `retry-after-ms`. HTTP dates are ignored (rare from APIs).
pub fn parse_retry_after(seconds: Option<&str>, millis: Option<&str>) -> Option<Duration> {
    if let Some(ms) = millis.and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    seconds
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exponential_backoff_with_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None, 0.0), Some(Duration::from_millis(125)));
        assert_eq!(p.delay(2, None, 0.0), Some(Duration::from_millis(250)));
        assert_eq!(p.delay(3, None, 0.999_999).map(|d| d.as_millis()), Some(999));
        assert_eq!(p.delay(30, None, 0.0), Some(Duration::from_secs(4)));
    }

    #[test]
    fn retry_after_wins_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, Some(Duration::from_secs(3)), 0.5), Some(Duration::from_secs(3)));
        assert_eq!(p.delay(1, Some(Duration::from_secs(60)), 0.5), None);
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after(Some("2"), None), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(Some("0.5"), None), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after(Some("7"), Some("1500")), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), None), None);
        assert_eq!(parse_retry_after(Some("-1"), None), None);
    }

    proptest! {
        #[test]
        fn delay_is_bounded(retry in 0u32..100, jitter in 0.0f64..1.0) {
            let p = RetryPolicy::default();
            let d = p.delay(retry, None, jitter).unwrap();
            prop_assert!(d <= p.max_delay);
        }
    }
}
