//! The recent past, second by second: a ring of [`SECONDS`] one-second buckets behind `GET /metrics/series` and
//! the dashboard's charts. Memory is fixed (the ring never grows; per-bucket maps are keyed by bounded labels and
//! error kinds), and a bucket is reset lazily when its second comes round again.

use std::collections::BTreeMap;

use serde::Serialize;

use super::histogram::LatencyHistogram;
use super::labels::Labels;
use super::RequestRecord;

/// How far back the ring reaches, in seconds (15 minutes).
pub const SECONDS: u64 = 900;
/// Most points one answer carries; a wider window gets a coarser step.
pub const MAX_POINTS: u64 = 300;
/// Coarsest step a caller may ask for, in seconds.
pub const MAX_STEP: u64 = 60;

#[derive(Debug, Default, Clone)]
struct Bucket {
    /// The Unix second this bucket holds; a bucket whose second is not the one asked for is stale.
    second: u64,
    requests: u64,
    errors: u64,
    streamed: u64,
    tokens: [u64; 4],
    duration: LatencyHistogram,
    ttfb: LatencyHistogram,
    in_flight: i64,
    in_flight_streams: i64,
    requests_by_provider: BTreeMap<String, u64>,
    tokens_by_provider: BTreeMap<String, u64>,
    errors_by_kind: BTreeMap<&'static str, u64>,
}

/// The ring of one-second buckets.
#[derive(Debug)]
pub struct Series {
    buckets: Vec<Bucket>,
}

impl Default for Series {
    fn default() -> Self {
        Self { buckets: vec![Bucket::default(); SECONDS as usize] }
    }
}

/// `GET /metrics/series`: one array per measure, index-aligned with `t` (each point's first second). Only
/// complete steps are returned, so the last point never shows a half-filled interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesView {
    pub now: u64,
    pub step: u64,
    pub t: Vec<u64>,
    pub requests: Vec<u64>,
    pub errors: Vec<u64>,
    pub streamed: Vec<u64>,
    pub input_tokens: Vec<u64>,
    pub output_tokens: Vec<u64>,
    pub cache_read_input_tokens: Vec<u64>,
    pub cache_creation_input_tokens: Vec<u64>,
    pub p50_ms: Vec<Option<f64>>,
    pub p95_ms: Vec<Option<f64>>,
    pub p99_ms: Vec<Option<f64>>,
    pub ttfb_p50_ms: Vec<Option<f64>>,
    pub ttfb_p95_ms: Vec<Option<f64>>,
    /// Highest in-flight count sampled during the step.
    pub in_flight: Vec<i64>,
    pub in_flight_streams: Vec<i64>,
    pub requests_by_provider: BTreeMap<String, Vec<u64>>,
    /// Input + output + cache tokens.
    pub tokens_by_provider: BTreeMap<String, Vec<u64>>,
    pub errors_by_kind: BTreeMap<&'static str, Vec<u64>>,
    /// The whole window merged: totals and percentiles over every returned point.
    pub window: WindowTotals,
}

/// A window's requests merged into one: what the dashboard's headline numbers show.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WindowTotals {
    /// Seconds covered (points × step).
    pub seconds: u64,
    pub requests: u64,
    pub errors: u64,
    pub streamed: u64,
    pub tokens: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub ttfb_p50_ms: Option<f64>,
    pub ttfb_p95_ms: Option<f64>,
}

impl Series {
    fn bucket(&mut self, second: u64) -> &mut Bucket {
        let bucket = &mut self.buckets[(second % SECONDS) as usize];
        if bucket.second != second {
            *bucket = Bucket { second, ..Bucket::default() };
        }
        bucket
    }

    /// Adds one finished request in the second `now` (Unix seconds).
    pub fn record(&mut self, r: &RequestRecord, labels: &Labels, now: u64) {
        let b = self.bucket(now);
        b.requests += 1;
        if r.is_error() {
            b.errors += 1;
            *b.errors_by_kind.entry(r.error_kind.unwrap_or("http_error")).or_default() += 1;
        }
        if r.streamed {
            b.streamed += 1;
        }
        let u = &r.usage;
        let tokens = [u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens];
        for (sum, add) in b.tokens.iter_mut().zip(tokens) {
            *sum += add;
        }
        b.duration.observe(r.duration);
        if let Some(ttfb) = r.time_to_first_byte {
            b.ttfb.observe(ttfb);
        }
        add_to(&mut b.requests_by_provider, &labels.provider, 1);
        add_to(&mut b.tokens_by_provider, &labels.provider, tokens.iter().sum());
    }

    /// Notes the in-flight counts seen in second `now`; a step shows the highest.
    pub fn sample_in_flight(&mut self, now: u64, requests: i64, streams: i64) {
        let b = self.bucket(now);
        b.in_flight = b.in_flight.max(requests);
        b.in_flight_streams = b.in_flight_streams.max(streams);
    }

    /// The last `window` seconds before `now` in steps of `step` seconds (both clamped to what the ring holds and
    /// to [`MAX_POINTS`]), ending with the last complete step.
    pub fn view(&self, now: u64, window: u64, step: u64) -> SeriesView {
        let window = window.clamp(1, SECONDS - 1);
        let step = step.clamp(1, MAX_STEP).max(window.div_ceil(MAX_POINTS));
        let points = (window / step).max(1);
        let end = now - now % step; // first second of the current, incomplete step
        let start = end.saturating_sub(points * step);
        let mut view = SeriesView::empty(now, step);
        let mut whole = Bucket::default();
        let mut index = 0;
        for first in (start..end).step_by(step as usize) {
            let mut merged = Bucket::default();
            for second in first..first + step {
                let b = &self.buckets[(second % SECONDS) as usize];
                if b.second == second && now - second < SECONDS {
                    merge(&mut merged, b);
                }
            }
            view.push(first, index, &merged);
            merge(&mut whole, &merged);
            index += 1;
        }
        view.window = WindowTotals::of(&whole, index as u64 * step);
        view
    }
}

fn add_to<K: Ord + Clone>(map: &mut BTreeMap<K, u64>, key: &K, n: u64) {
    if let Some(v) = map.get_mut(key) {
        *v += n;
    } else {
        map.insert(key.clone(), n);
    }
}

fn merge(into: &mut Bucket, b: &Bucket) {
    into.requests += b.requests;
    into.errors += b.errors;
    into.streamed += b.streamed;
    for (sum, add) in into.tokens.iter_mut().zip(b.tokens) {
        *sum += add;
    }
    into.duration.merge(&b.duration);
    into.ttfb.merge(&b.ttfb);
    into.in_flight = into.in_flight.max(b.in_flight);
    into.in_flight_streams = into.in_flight_streams.max(b.in_flight_streams);
    for (k, v) in &b.requests_by_provider {
        add_to(&mut into.requests_by_provider, k, *v);
    }
    for (k, v) in &b.tokens_by_provider {
        add_to(&mut into.tokens_by_provider, k, *v);
    }
    for (k, v) in &b.errors_by_kind {
        *into.errors_by_kind.entry(*k).or_default() += v;
    }
}

impl SeriesView {
    fn empty(now: u64, step: u64) -> Self {
        Self {
            now,
            step,
            t: Vec::new(),
            requests: Vec::new(),
            errors: Vec::new(),
            streamed: Vec::new(),
            input_tokens: Vec::new(),
            output_tokens: Vec::new(),
            cache_read_input_tokens: Vec::new(),
            cache_creation_input_tokens: Vec::new(),
            p50_ms: Vec::new(),
            p95_ms: Vec::new(),
            p99_ms: Vec::new(),
            ttfb_p50_ms: Vec::new(),
            ttfb_p95_ms: Vec::new(),
            in_flight: Vec::new(),
            in_flight_streams: Vec::new(),
            requests_by_provider: BTreeMap::new(),
            tokens_by_provider: BTreeMap::new(),
            errors_by_kind: BTreeMap::new(),
            window: WindowTotals::default(),
        }
    }

    /// Appends point number `index` (starting at second `first`).
    fn push(&mut self, first: u64, index: usize, b: &Bucket) {
        let round = |v: Option<f64>| v.map(|v| (v * 100.0).round() / 100.0);
        self.t.push(first);
        self.requests.push(b.requests);
        self.errors.push(b.errors);
        self.streamed.push(b.streamed);
        self.input_tokens.push(b.tokens[0]);
        self.output_tokens.push(b.tokens[1]);
        self.cache_read_input_tokens.push(b.tokens[2]);
        self.cache_creation_input_tokens.push(b.tokens[3]);
        self.p50_ms.push(round(b.duration.quantile_ms(0.5)));
        self.p95_ms.push(round(b.duration.quantile_ms(0.95)));
        self.p99_ms.push(round(b.duration.quantile_ms(0.99)));
        self.ttfb_p50_ms.push(round(b.ttfb.quantile_ms(0.5)));
        self.ttfb_p95_ms.push(round(b.ttfb.quantile_ms(0.95)));
        self.in_flight.push(b.in_flight);
        self.in_flight_streams.push(b.in_flight_streams);
        fill(&mut self.requests_by_provider, &b.requests_by_provider, index);
        fill(&mut self.tokens_by_provider, &b.tokens_by_provider, index);
        fill(&mut self.errors_by_kind, &b.errors_by_kind, index);
    }
}

impl WindowTotals {
    fn of(b: &Bucket, seconds: u64) -> Self {
        let round = |v: Option<f64>| v.map(|v| (v * 100.0).round() / 100.0);
        Self {
            seconds,
            requests: b.requests,
            errors: b.errors,
            streamed: b.streamed,
            tokens: b.tokens.iter().sum(),
            p50_ms: round(b.duration.quantile_ms(0.5)),
            p95_ms: round(b.duration.quantile_ms(0.95)),
            p99_ms: round(b.duration.quantile_ms(0.99)),
            ttfb_p50_ms: round(b.ttfb.quantile_ms(0.5)),
            ttfb_p95_ms: round(b.ttfb.quantile_ms(0.95)),
        }
    }
}

/// Sets point `index` of each keyed column from `values`, creating columns (zero-filled) for keys first seen now
/// and padding the others with zero.
fn fill<K: Ord + Clone>(columns: &mut BTreeMap<K, Vec<u64>>, values: &BTreeMap<K, u64>, index: usize) {
    for key in values.keys() {
        if !columns.contains_key(key) {
            columns.insert(key.clone(), vec![0; index]);
        }
    }
    for (key, column) in columns.iter_mut() {
        column.push(values.get(key).copied().unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Usage;
    use std::time::Duration;

    fn record(ms: u64, error: bool) -> RequestRecord {
        RequestRecord {
            status: if error { 502 } else { 200 },
            error_kind: error.then_some("upstream_unreachable"),
            duration: Duration::from_millis(ms),
            usage: Usage { input_tokens: 5, output_tokens: 7, ..Default::default() },
            ..RequestRecord::default()
        }
    }

    fn labels(provider: &str) -> Labels {
        Labels { provider: provider.into(), model: "m".into() }
    }

    #[test]
    fn points_are_complete_steps_aligned_to_the_step() {
        let mut s = Series::default();
        s.record(&record(10, false), &labels("a"), 1_000);
        s.record(&record(20, true), &labels("b"), 1_004);
        s.record(&record(30, false), &labels("a"), 1_010); // current step, not shown yet
        let v = s.view(1_012, 60, 5);
        assert_eq!(v.t.len(), 12);
        assert_eq!(*v.t.last().unwrap(), 1_005);
        let i = v.t.iter().position(|&t| t == 1_000).unwrap();
        assert_eq!(v.requests[i], 2);
        assert_eq!(v.errors[i], 1);
        assert_eq!(v.requests_by_provider["a"][i], 1);
        assert_eq!(v.requests_by_provider["b"][i], 1);
        assert_eq!(v.requests_by_provider["a"].len(), v.t.len());
        assert_eq!(v.errors_by_kind["upstream_unreachable"][i], 1);
        assert_eq!(v.tokens_by_provider["a"][i], 12);
        assert_eq!(v.requests.iter().sum::<u64>(), 2);
        assert!(v.p95_ms[i].unwrap() >= 15.0);
        assert_eq!(v.p50_ms[0], None);
        assert_eq!((v.window.seconds, v.window.requests, v.window.errors, v.window.tokens), (60, 2, 1, 24));
    }

    #[test]
    fn old_seconds_fall_out_of_the_ring() {
        let mut s = Series::default();
        s.record(&record(10, false), &labels("a"), 1_000);
        // The same slot reused a full ring later resets it.
        s.record(&record(10, false), &labels("a"), 1_000 + SECONDS);
        let v = s.view(1_000 + SECONDS + 10, SECONDS, 1);
        assert_eq!(v.requests.iter().sum::<u64>(), 1);
        // Nothing older than the ring is reported even if its slot was never overwritten.
        let mut s = Series::default();
        s.record(&record(10, false), &labels("a"), 1_000);
        assert_eq!(s.view(1_000 + 2 * SECONDS, SECONDS, 1).requests.iter().sum::<u64>(), 0);
    }

    #[test]
    fn in_flight_shows_the_highest_sample_and_steps_are_bounded() {
        let mut s = Series::default();
        s.sample_in_flight(2_000, 3, 1);
        s.sample_in_flight(2_001, 5, 2);
        s.sample_in_flight(2_001, 1, 0);
        let v = s.view(2_010, 10, 10);
        assert_eq!((v.in_flight, v.in_flight_streams), (vec![5], vec![2]));
        let wide = s.view(2_010, 100_000, 1);
        assert!(wide.t.len() as u64 <= MAX_POINTS && wide.step >= 3);
        assert_eq!(s.view(5, 900, 0).step, 3, "zero step is clamped, early clocks do not underflow");
    }
}
