//! A fixed-size latency histogram for percentiles: log-spaced buckets from 1 ms to about 20 minutes, so memory
//! per histogram is constant however many requests it counts, and a percentile is off by at most one bucket
//! width (±12 %).

use std::time::Duration;

/// Number of buckets. Bucket `i` holds values in `[BASE_MS·GROWTH^(i-1), BASE_MS·GROWTH^i)`; bucket 0 holds
/// everything below `BASE_MS`, the last one everything above.
const BUCKETS: usize = 64;
const BASE_MS: f64 = 1.0;
const GROWTH: f64 = 1.25;

/// Counts of durations in log-spaced buckets, plus their exact sum for the average.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyHistogram {
    counts: [u32; BUCKETS],
    total: u64,
    sum_ms: f64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self { counts: [0; BUCKETS], total: 0, sum_ms: 0.0 }
    }
}

impl LatencyHistogram {
    /// Adds one duration.
    pub fn observe(&mut self, value: Duration) {
        let ms = value.as_secs_f64() * 1000.0;
        let slot = &mut self.counts[bucket_of(ms)];
        *slot = slot.saturating_add(1);
        self.total += 1;
        self.sum_ms += ms;
    }

    /// Adds every observation of `other` (for coarser time steps).
    pub fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.total += other.total;
        self.sum_ms += other.sum_ms;
    }

    /// How many durations were observed.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The mean in milliseconds, `None` when empty.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.total > 0).then(|| self.sum_ms / self.total as f64)
    }

    /// The `q`-quantile (0 < q ≤ 1) in milliseconds, interpolated inside its bucket; `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.total as f64).ceil().max(1.0);
        let mut seen = 0.0;
        for (i, &count) in self.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let before = seen;
            seen += f64::from(count);
            if seen >= rank {
                let (low, high) = bounds(i);
                let within = (rank - before) / f64::from(count);
                return Some(low + (high - low) * within);
            }
        }
        Some(bounds(BUCKETS - 1).1)
    }
}

/// The bucket index for a duration in milliseconds.
fn bucket_of(ms: f64) -> usize {
    if !ms.is_finite() || ms < BASE_MS {
        return 0;
    }
    let index = ((ms / BASE_MS).ln() / GROWTH.ln()).floor() as usize + 1;
    index.min(BUCKETS - 1)
}

/// Lower and upper bound of bucket `i` in milliseconds.
fn bounds(i: usize) -> (f64, f64) {
    if i == 0 {
        return (0.0, BASE_MS);
    }
    let low = BASE_MS * GROWTH.powi(i as i32 - 1);
    (low, low * GROWTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn empty_has_no_percentiles() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.5), None);
        assert_eq!(h.mean_ms(), None);
    }

    #[test]
    fn percentiles_are_within_a_bucket_width() {
        let mut h = LatencyHistogram::default();
        for v in 1..=1000 {
            h.observe(ms(v));
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p95 = h.quantile_ms(0.95).unwrap();
        assert!((500.0 * 0.88..=500.0 * 1.12).contains(&p50), "p50 {p50}");
        assert!((950.0 * 0.88..=950.0 * 1.12).contains(&p95), "p95 {p95}");
        assert!((h.mean_ms().unwrap() - 500.5).abs() < 1e-6);
    }

    #[test]
    fn tiny_huge_and_odd_values_stay_in_range() {
        let mut h = LatencyHistogram::default();
        h.observe(Duration::ZERO);
        h.observe(Duration::from_secs(100_000));
        assert_eq!(h.count(), 2);
        assert!(h.quantile_ms(0.01).unwrap() <= 1.0);
        assert!(h.quantile_ms(1.0).unwrap() > 1_000_000.0);
        assert_eq!(bucket_of(f64::NAN), 0);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (LatencyHistogram::default(), LatencyHistogram::default());
        a.observe(ms(10));
        b.observe(ms(1000));
        b.observe(ms(1000));
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert!(a.quantile_ms(0.9).unwrap() > 800.0);
    }
}
