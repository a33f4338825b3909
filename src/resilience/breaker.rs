//! A circuit breaker per provider: after `threshold` failed requests in a row the provider is *open* for a
//! cool-down (requests fail fast or go to a fallback), then one *half-open* probe decides between closing again
//! and another cool-down. Lock-free, shared by every worker.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::runtime::now_millis;

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// What `/health` and metrics show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// The breaker's shared state.
#[derive(Debug)]
pub struct Breaker {
    state: AtomicU8,
    consecutive_failures: AtomicU32,
    open_until_ms: AtomicU64,
    probe_in_flight: AtomicBool,
    threshold: u32,
    cooldown: Duration,
}

/// Permission to send one request; report its outcome with [`Permit::success`] or [`Permit::failure`]. A permit
/// dropped unreported (the client left) frees the half-open probe slot without judging the provider.
#[derive(Debug)]
pub struct Permit {
    breaker: Arc<Breaker>,
    probe: bool,
    reported: bool,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            state: AtomicU8::new(CLOSED),
            consecutive_failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            probe_in_flight: AtomicBool::new(false),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    /// A permit, or the time until the breaker will let a probe through.
    pub fn allow(self: &Arc<Self>, now_ms: u64) -> Result<Permit, Duration> {
        match self.state.load(Ordering::Acquire) {
            CLOSED => Ok(self.permit(false)),
            _ => {
                let until = self.open_until_ms.load(Ordering::Acquire);
                if now_ms < until {
                    return Err(Duration::from_millis(until - now_ms));
                }
                if self.probe_in_flight.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    self.state.store(HALF_OPEN, Ordering::Release);
                    Ok(self.permit(true))
                } else {
                    Err(Duration::from_millis(100))
                }
            }
        }
    }

    fn permit(self: &Arc<Self>, probe: bool) -> Permit {
        Permit { breaker: self.clone(), probe, reported: false }
    }

    pub fn state(&self) -> BreakerState {
        match self.state.load(Ordering::Acquire) {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    fn on_success(&self) {
        self.consecutive_failures.store(0, Ordering::Release);
        self.state.store(CLOSED, Ordering::Release);
        self.probe_in_flight.store(false, Ordering::Release);
    }

    fn on_failure(&self, probe: bool) {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
        if probe || failures >= self.threshold {
            self.open_until_ms.store(now_millis() + self.cooldown.as_millis() as u64, Ordering::Release);
            self.state.store(OPEN, Ordering::Release);
        }
        if probe {
            self.probe_in_flight.store(false, Ordering::Release);
        }
    }
}

impl Permit {
    /// The provider answered (any status that is not a provider failure).
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.on_success();
    }

    /// The provider failed: unreachable, timed out, or a 5xx after retries.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.on_failure(self.probe);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            self.breaker.probe_in_flight.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_then_closes() {
        let b = Arc::new(Breaker::new(3, Duration::from_millis(200)));
        for _ in 0..2 {
            b.allow(now_millis()).unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.allow(now_millis()).unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.allow(now_millis()).is_err(), "open: fail fast");
        let later = now_millis() + 300;
        let probe = b.allow(later).unwrap();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.allow(later).is_err(), "only one probe at a time");
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow(later).is_ok());
    }

    #[test]
    fn failed_probe_opens_again() {
        let b = Arc::new(Breaker::new(1, Duration::from_millis(50)));
        b.allow(now_millis()).unwrap().failure();
        let probe = b.allow(now_millis() + 100).unwrap();
        probe.failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.allow(now_millis()).is_err());
    }

    #[test]
    fn abandoned_probe_frees_the_slot() {
        let b = Arc::new(Breaker::new(1, Duration::from_millis(10)));
        b.allow(now_millis()).unwrap().failure();
        let t = now_millis() + 50;
        drop(b.allow(t).unwrap());
        assert!(b.allow(t).is_ok(), "a new probe may go");
    }

    #[test]
    fn success_resets_the_count() {
        let b = Arc::new(Breaker::new(2, Duration::from_secs(10)));
        b.allow(now_millis()).unwrap().failure();
        b.allow(now_millis()).unwrap().success();
        b.allow(now_millis()).unwrap().failure();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
