//! A provider's static keys: round-robin order, and a cool-down for a key that keeps failing (401, 403, 429), so
//! later requests skip it instead of paying for the failure again.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::runtime::now_millis;

/// Per-key failure state, shared by every worker.
#[derive(Debug, Default)]
struct KeyState {
    consecutive_failures: AtomicU32,
    cooling_until_ms: AtomicU64,
}

/// Round-robin with cool-downs over `n` keys (the keys themselves stay in the provider's configuration).
#[derive(Debug)]
pub struct KeyPool {
    next: AtomicUsize,
    states: Vec<KeyState>,
    cooldown: Duration,
    /// Failures in a row after which a key cools down.
    failure_threshold: u32,
}

impl KeyPool {
    pub fn new(n: usize, cooldown: Duration, failure_threshold: u32) -> Self {
        Self {
            next: AtomicUsize::new(0),
            states: (0..n).map(|_| KeyState::default()).collect(),
            cooldown,
            failure_threshold: failure_threshold.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The next key index in round-robin order that this request has not tried and that is not cooling down.
    /// When every untried key is cooling down, the untried one whose cool-down ends first is used rather than
    /// failing without an attempt.
    pub fn pick(&self, tried: &[usize], now_ms: u64) -> Option<usize> {
        let n = self.states.len();
        if n == 0 || tried.len() >= n {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let untried = (0..n).map(|i| (start + i) % n).filter(|i| !tried.contains(i));
        let mut soonest: Option<(u64, usize)> = None;
        for i in untried {
            let until = self.states[i].cooling_until_ms.load(Ordering::Relaxed);
            if until <= now_ms {
                return Some(i);
            }
            if soonest.is_none_or(|(u, _)| until < u) {
                soonest = Some((until, i));
            }
        }
        soonest.map(|(_, i)| i)
    }

    /// The upstream refused this key (401, 403, 429).
    pub fn report_failure(&self, index: usize) {
        let Some(state) = self.states.get(index) else { return };
        let failures = state.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= self.failure_threshold {
            let until = now_millis() + self.cooldown.as_millis() as u64;
            state.cooling_until_ms.store(until, Ordering::Relaxed);
        }
    }

    /// The upstream accepted this key.
    pub fn report_success(&self, index: usize) {
        if let Some(state) = self.states.get(index) {
            state.consecutive_failures.store(0, Ordering::Relaxed);
            state.cooling_until_ms.store(0, Ordering::Relaxed);
        }
    }

    /// How many keys are cooling down now (for `/health`).
    pub fn cooling(&self) -> usize {
        let now = now_millis();
        self.states.iter().filter(|s| s.cooling_until_ms.load(Ordering::Relaxed) > now).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_skips_tried_keys() {
        let pool = KeyPool::new(3, Duration::from_secs(60), 1);
        assert_eq!(pool.pick(&[], 0), Some(0));
        assert_eq!(pool.pick(&[], 0), Some(1));
        assert_eq!(pool.pick(&[2], 0), Some(0), "2 was tried, so the next one after it");
        assert_eq!(pool.pick(&[0, 1, 2], 0), None);
    }

    #[test]
    fn failing_key_cools_down_then_returns() {
        let pool = KeyPool::new(2, Duration::from_secs(60), 2);
        pool.report_failure(0);
        let now = now_millis();
        assert_eq!(pool.cooling(), 0, "one failure is below the threshold");
        pool.report_failure(0);
        assert_eq!(pool.cooling(), 1);
        for _ in 0..4 {
            assert_eq!(pool.pick(&[], now), Some(1), "key 0 is skipped while cooling");
        }
        assert_eq!(pool.pick(&[1], now), Some(0), "a cooling key is still used when nothing else is left");
        assert!(pool.pick(&[], now + 61_000).is_some());
        pool.report_success(0);
        assert_eq!(pool.cooling(), 0);
    }
}
