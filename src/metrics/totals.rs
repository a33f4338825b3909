//! Running totals for one group of requests (everything, one provider, or one provider:model), and their JSON form.

use std::collections::BTreeMap;

use serde::Serialize;

use super::histogram::LatencyHistogram;
use super::RequestRecord;

/// Totals of one group: counts, tokens, latency distributions, errors by kind and when it was last seen.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub streamed: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub duration: LatencyHistogram,
    pub time_to_first_byte: LatencyHistogram,
    /// Error kinds come from the gateway's own code (`GatewayError::kind` and a few stream outcomes), so this map
    /// is bounded by the code, not by clients.
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    /// Unix time in milliseconds of the last request.
    pub last_seen_ms: u64,
}

impl Totals {
    /// Adds one finished request seen at `now_ms` (Unix milliseconds).
    pub fn add(&mut self, r: &RequestRecord, now_ms: u64) {
        self.requests += 1;
        if r.is_error() {
            self.errors += 1;
            *self.errors_by_kind.entry(r.error_kind.unwrap_or("http_error")).or_default() += 1;
        }
        if r.streamed {
            self.streamed += 1;
        }
        self.input_tokens += r.usage.input_tokens;
        self.output_tokens += r.usage.output_tokens;
        self.cache_read_input_tokens += r.usage.cache_read_input_tokens;
        self.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
        self.duration.observe(r.duration);
        if let Some(ttfb) = r.time_to_first_byte {
            self.time_to_first_byte.observe(ttfb);
        }
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
    }

    /// The JSON form.
    pub fn view(&self) -> TotalsView {
        let round = |v: Option<f64>| v.map(|v| (v * 1000.0).round() / 1000.0);
        TotalsView {
            requests: self.requests,
            errors: self.errors,
            streamed: self.streamed,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            avg_ms: round(self.duration.mean_ms()),
            p50_ms: round(self.duration.quantile_ms(0.5)),
            p95_ms: round(self.duration.quantile_ms(0.95)),
            ttfb_p50_ms: round(self.time_to_first_byte.quantile_ms(0.5)),
            ttfb_p95_ms: round(self.time_to_first_byte.quantile_ms(0.95)),
            errors_by_kind: self.errors_by_kind.clone(),
            last_seen_ms: (self.last_seen_ms > 0).then_some(self.last_seen_ms),
        }
    }
}

/// Totals as `/metrics/summary` shows them. Latencies are milliseconds; percentiles come from fixed buckets.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TotalsView {
    pub requests: u64,
    pub errors: u64,
    pub streamed: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub ttfb_p50_ms: Option<f64>,
    pub ttfb_p95_ms: Option<f64>,
    pub errors_by_kind: BTreeMap<&'static str, u64>,
    /// Unix milliseconds of the last request in this group.
    pub last_seen_ms: Option<u64>,
}
