//! `GET /metrics`: the Prometheus metrics, kept in a `prometheus-client` registry and encoded by it, in the
//! Prometheus text format (0.0.4) or OpenMetrics, whichever the scraper asks for. Every label value here has
//! been through [`super::labels::LabelPolicy`]; docs/metrics.md lists the metrics and the queries they answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use foldhash::fast::RandomState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::aggregate::InFlightView;
use super::keys::{usd, KeyId, KeyLabels};
use super::labels::{LabelId, Labels};
use super::RequestRecord;

/// Request duration buckets, seconds: LLM calls run from milliseconds (errors) to many minutes (long streams).
const DURATION_BUCKETS: [f64; 16] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];
/// Time-to-first-byte buckets, seconds.
const TTFB_BUCKETS: [f64; 13] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Gateway overhead buckets, seconds: the gateway should add well under a millisecond.
const OVERHEAD_BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// Which text format to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: what `curl`, `promtool` and older scrapers read.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`: what Prometheus asks for first.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header value.
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Self::OpenMetrics,
            _ => Self::Prometheus,
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    provider: String,
    model: String,
    stream: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    route: &'static str,
    provider: String,
    stream: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    provider: String,
    state: &'static str,
}

/// A provider's resilience state at scrape time (from the live configuration, not from request records).
#[derive(Debug, Clone)]
pub struct ProviderHealth {
    pub provider: String,
    pub breaker: crate::resilience::BreakerState,
    pub keys_cooling_down: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    provider: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabelSet {
    key: String,
    team: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyTokenLabels {
    key: String,
    team: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyRefusalLabels {
    key: String,
    team: String,
    reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;
/// A counter of US dollars (a float counter, set from an exact sum of nano-dollars).
type UsdCounter = Counter<f64, AtomicU64>;

/// The registry and handles to each metric in it.
pub struct Exposition {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    duration: HistogramFamily<DurationLabels>,
    ttfb: HistogramFamily<RouteLabels>,
    overhead: HistogramFamily<RouteLabels>,
    errors: Family<ErrorLabels, Counter>,
    upstream_errors: Family<ErrorLabels, Counter>,
    in_flight: Family<ProviderLabels, Gauge>,
    in_flight_streams: Gauge,
    breaker: Family<BreakerLabels, Gauge>,
    keys_cooling: Family<ProviderLabels, Gauge>,
    key_requests: Family<KeyLabelSet, Counter>,
    key_tokens: Family<KeyTokenLabels, Counter>,
    key_spend: Family<KeyLabelSet, UsdCounter>,
    key_refusals: Family<KeyRefusalLabels, Counter>,
    /// Per (key, team) label pair seen, its metrics (bounded like the pairs: see [`super::keys`]).
    key_handles: HashMap<KeyId, KeyHandles, RandomState>,
    /// Per label combination seen, its metrics, so a record costs one lookup rather than a label set and a family
    /// lookup per metric. Bounded like the labels themselves (ids, routes, two stream values, HTTP statuses).
    handles: HashMap<HandleKey, Handles, RandomState>,
}

impl Default for Exposition {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gatehouse");
        let requests = Family::default();
        let tokens = Family::default();
        let duration: HistogramFamily<DurationLabels> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        let ttfb: HistogramFamily<RouteLabels> = Family::new_with_constructor(|| Histogram::new(TTFB_BUCKETS));
        let overhead: HistogramFamily<RouteLabels> = Family::new_with_constructor(|| Histogram::new(OVERHEAD_BUCKETS));
        let errors = Family::default();
        let upstream_errors = Family::default();
        let in_flight = Family::default();
        let in_flight_streams = Gauge::default();
        let breaker = Family::default();
        let keys_cooling = Family::default();
        let key_requests = Family::default();
        let key_tokens = Family::default();
        let key_spend = Family::default();
        let key_refusals = Family::default();
        registry.register(
            "requests",
            "Finished requests by provider, model, streaming and HTTP status",
            requests.clone(),
        );
        registry.register(
            "tokens",
            "Tokens by provider, model and kind (input, output, cache_read, cache_creation)",
            tokens.clone(),
        );
        registry.register("request_duration_seconds", "Request duration, arrival to last byte", duration.clone());
        registry.register(
            "time_to_first_byte_seconds",
            "Arrival to the first body byte sent to the client",
            ttfb.clone(),
        );
        registry.register("overhead_seconds", "Time the gateway added on top of the upstream's", overhead.clone());
        registry.register(
            "errors",
            "Failed requests by provider and error kind, client and upstream side",
            errors.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failures attributed to the upstream, by provider and kind",
            upstream_errors.clone(),
        );
        registry.register("in_flight_requests", "Requests routed and not yet finished", in_flight.clone());
        registry.register(
            "in_flight_streams",
            "Streaming requests routed and not yet finished",
            in_flight_streams.clone(),
        );
        registry.register(
            "circuit_breaker_state",
            "Circuit breaker per provider: 1 for its current state (closed, open, half_open), 0 for the others",
            breaker.clone(),
        );
        registry.register(
            "keys_cooling_down",
            "Static keys skipped after 401/403/429, per provider",
            keys_cooling.clone(),
        );
        registry.register(
            "key_requests",
            "Finished requests that presented a virtual key, refused ones included, by key name and team",
            key_requests.clone(),
        );
        registry.register(
            "key_tokens",
            "Tokens by virtual key name, team and kind (input, output, cache_read, cache_write)",
            key_tokens.clone(),
        );
        registry.register(
            "key_spend_usd",
            "What a virtual key's requests cost, in US dollars, by key name and team (exact to the nano-dollar)",
            key_spend.clone(),
        );
        registry.register(
            "key_refusals",
            "Requests refused for a virtual key, by key name, team and reason (rpm, tpm, parallel, budget, model, \
             price, expired, disabled, revoked)",
            key_refusals.clone(),
        );
        Self {
            registry,
            requests,
            tokens,
            duration,
            ttfb,
            overhead,
            errors,
            upstream_errors,
            in_flight,
            in_flight_streams,
            breaker,
            keys_cooling,
            key_requests,
            key_tokens,
            key_spend,
            key_refusals,
            key_handles: HashMap::default(),
            handles: HashMap::default(),
        }
    }
}

/// The metrics one combination of labels feeds, taken from their families once (each is a shared handle: updating
/// it updates the family's series).
struct Handles {
    requests: Counter,
    /// Input, output, cache read, cache creation.
    tokens: [Counter; 4],
    duration: Histogram,
    ttfb: Option<Histogram>,
    overhead: Option<Histogram>,
}

/// The key metrics of one (key, team) label pair.
struct KeyHandles {
    requests: Counter,
    /// Input, output, cache read, cache write.
    tokens: [Counter; 4],
    spend: UsdCounter,
    /// The exact spend behind `spend`.
    spend_nanos: u64,
    /// By [`super::keys::RefusalReason::index`], created with the first refusal of each reason.
    refusals: [Option<Counter>; 9],
}

/// Provider and model (by [`LabelId`]), route, streamed, HTTP status (0 for any outside 100–599).
type HandleKey = (LabelId, &'static str, bool, u16);

impl Exposition {
    /// Counts one finished request under its bounded labels (`id` stands for `labels`).
    pub fn record(&mut self, r: &RequestRecord, id: LabelId, labels: &Labels) {
        // Routes are names from the gateway's code (`messages`, `count_tokens`), so the label is bounded.
        let route = if r.route.is_empty() { "none" } else { r.route };
        let Self { requests, tokens, duration, ttfb, overhead, handles, .. } = self;
        // Statuses outside 100–599 share the `other` label, so they share one key too.
        let status_key = if (100..=599).contains(&r.status) { r.status } else { 0 };
        let handles = handles.entry((id, route, r.streamed, status_key)).or_insert_with(|| {
            let stream = if r.streamed { "true" } else { "false" };
            let (provider, model) = (|| labels.provider.clone(), || labels.model.clone());
            let status = status_label(r.status);
            let token =
                |kind| tokens.get_or_create(&TokenLabels { provider: provider(), model: model(), kind }).clone();
            Handles {
                requests: requests
                    .get_or_create(&RequestLabels { route, provider: provider(), model: model(), stream, status })
                    .clone(),
                // Created even at zero, so `rate()` sees each series from its first request.
                tokens: [token("input"), token("output"), token("cache_read"), token("cache_creation")],
                duration: duration.get_or_create(&DurationLabels { route, provider: provider(), stream }).clone(),
                ttfb: None,
                overhead: None,
            }
        });
        handles.requests.inc();
        let u = &r.usage;
        let counts = [u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens];
        for (counter, n) in handles.tokens.iter().zip(counts) {
            counter.inc_by(n);
        }
        handles.duration.observe(r.duration.as_secs_f64());
        // These two series appear with the first request that has a value for them.
        let by_route = || RouteLabels { route, provider: labels.provider.clone() };
        if let Some(t) = r.time_to_first_byte {
            handles.ttfb.get_or_insert_with(|| ttfb.get_or_create(&by_route()).clone()).observe(t.as_secs_f64());
        }
        if let Some(t) = r.overhead() {
            handles
                .overhead
                .get_or_insert_with(|| overhead.get_or_create(&by_route()).clone())
                .observe(t.as_secs_f64());
        }
        let provider = || labels.provider.clone();
        if r.is_error() {
            let kind = r.error_kind.unwrap_or("http_error");
            self.errors.get_or_create(&ErrorLabels { provider: provider(), kind }).inc();
            if is_upstream_kind(kind) {
                self.upstream_errors.get_or_create(&ErrorLabels { provider: provider(), kind }).inc();
            }
        }
    }

    /// Counts one finished request that presented a virtual key, under its bounded key labels (`id` stands for
    /// `labels`).
    pub fn record_key(&mut self, r: &RequestRecord, id: KeyId, labels: &KeyLabels) {
        let Self { key_requests, key_tokens, key_spend, key_handles, .. } = self;
        let handles = key_handles.entry(id).or_insert_with(|| {
            let set = || KeyLabelSet { key: labels.key.clone(), team: labels.team.clone() };
            // Each handle is cloned before the next is created: the family's lock guard must not outlive it.
            let token = |kind| {
                let labels = KeyTokenLabels { key: labels.key.clone(), team: labels.team.clone(), kind };
                key_tokens.get_or_create(&labels).clone()
            };
            KeyHandles {
                requests: key_requests.get_or_create(&set()).clone(),
                // Created even at zero, so `rate()` sees each series from the key's first request.
                tokens: [token("input"), token("output"), token("cache_read"), token("cache_write")],
                spend: key_spend.get_or_create(&set()).clone(),
                spend_nanos: 0,
                refusals: Default::default(),
            }
        });
        handles.requests.inc();
        let u = &r.usage;
        let counts = [u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens];
        for (counter, n) in handles.tokens.iter().zip(counts) {
            counter.inc_by(n);
        }
        if r.spend_nanos > 0 {
            // Dollars as floats drift when added up request by request; the counter shows the exact sum instead.
            handles.spend_nanos = handles.spend_nanos.saturating_add(r.spend_nanos);
            handles.spend.inner().store(usd(handles.spend_nanos).to_bits(), Ordering::Relaxed);
        }
        if let Some(reason) = r.refusal {
            let key_refusals = &self.key_refusals;
            handles.refusals[reason.index()]
                .get_or_insert_with(|| {
                    let labels = KeyRefusalLabels {
                        key: labels.key.clone(),
                        team: labels.team.clone(),
                        reason: reason.as_str(),
                    };
                    key_refusals.get_or_create(&labels).clone()
                })
                .inc();
        }
    }

    /// Encodes everything, with the in-flight gauges set from `in_flight` and the provider gauges from `providers`
    /// first (providers that left the configuration disappear).
    pub fn encode(&self, format: Format, in_flight: &InFlightView, providers: &[ProviderHealth]) -> String {
        self.breaker.clear();
        self.keys_cooling.clear();
        for p in providers {
            use crate::resilience::BreakerState;
            for (state, name) in
                [(BreakerState::Closed, "closed"), (BreakerState::Open, "open"), (BreakerState::HalfOpen, "half_open")]
            {
                let labels = BreakerLabels { provider: p.provider.clone(), state: name };
                self.breaker.get_or_create(&labels).set(i64::from(p.breaker == state));
            }
            self.keys_cooling
                .get_or_create(&ProviderLabels { provider: p.provider.clone() })
                .set(p.keys_cooling_down as i64);
        }
        for (provider, n) in &in_flight.by_provider {
            self.in_flight.get_or_create(&ProviderLabels { provider: provider.clone() }).set(*n);
        }
        self.in_flight_streams.set(in_flight.streams);
        let mut out = String::with_capacity(16 * 1024);
        let result = match format {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry),
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &self.registry),
        };
        // Writing into a String cannot fail; an encoder error would be a bug in the label types.
        if let Err(e) = result {
            log::error!("metrics encoding failed: {e}");
        }
        out
    }
}

/// Failures that are the upstream's doing (as opposed to the client's or the gateway's): its own errors, and the
/// gateway refusing to call it because its keys are cooling down or its breaker is open.
fn is_upstream_kind(kind: &str) -> bool {
    kind.starts_with("upstream_") || matches!(kind, "keys_exhausted" | "circuit_open")
}

/// The status as a label: any real HTTP status (100–599) as its number, anything else `other`.
fn status_label(status: u16) -> String {
    if (100..=599).contains(&status) {
        status.to_string()
    } else {
        "other".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Usage;
    use std::time::Duration;

    fn record(status: u16, kind: Option<&'static str>) -> RequestRecord {
        RequestRecord {
            status,
            error_kind: kind,
            streamed: true,
            duration: Duration::from_millis(120),
            time_to_first_byte: Some(Duration::from_millis(30)),
            upstream_time: Some(Duration::from_millis(29)),
            usage: Usage { input_tokens: 7, output_tokens: 3, ..Default::default() },
            route: "messages",
            ..RequestRecord::default()
        }
    }

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let mut e = Exposition::default();
        let mut policy = super::super::labels::LabelPolicy::default();
        let id = policy.intern("openai", "gpt-4o");
        let labels = policy.get(id).clone();
        e.record(&record(200, None), id, &labels);
        e.record(&record(502, Some("upstream_unreachable")), id, &labels);
        e.record(&record(400, Some("invalid_request")), id, &labels);
        let live = InFlightView { requests: 2, streams: 1, by_provider: [("openai".to_string(), 2)].into() };
        let text = e.encode(Format::Prometheus, &live, &[]);
        for line in [
            r#"gatehouse_requests_total{route="messages",provider="openai",model="gpt-4o",stream="true",status="200"} 1"#,
            r#"gatehouse_tokens_total{provider="openai",model="gpt-4o",kind="input"} 21"#,
            r#"gatehouse_tokens_total{provider="openai",model="gpt-4o",kind="cache_read"} 0"#,
            r#"gatehouse_request_duration_seconds_count{route="messages",provider="openai",stream="true"} 3"#,
            r#"gatehouse_overhead_seconds_bucket{route="messages",provider="openai",le="0.0025"} 3"#,
            r#"gatehouse_upstream_errors_total{provider="openai",kind="upstream_unreachable"} 1"#,
            r#"gatehouse_errors_total{provider="openai",kind="invalid_request"} 1"#,
            r#"gatehouse_in_flight_requests{provider="openai"} 2"#,
            "gatehouse_in_flight_streams 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(!text.contains(r#"upstream_errors_total{provider="openai",kind="invalid_request"}"#));
        let open = e.encode(Format::OpenMetrics, &live, &[]);
        assert!(open.ends_with("# EOF\n"));
    }

    #[test]
    fn key_metrics_are_labelled_by_name_and_team_and_spend_is_exact() {
        use crate::metrics::keys::{KeyPolicy, RefusalReason};
        use std::sync::Arc;
        let mut e = Exposition::default();
        let mut keys = KeyPolicy::default();
        let id = keys.intern("alice", Some("ml"));
        let labels = keys.get(id).clone();
        let keyed = RequestRecord {
            key: Some(Arc::from("alice")),
            team: Some(Arc::from("ml")),
            usage: Usage { input_tokens: 7, output_tokens: 3, cache_creation_input_tokens: 2, ..Default::default() },
            // $0.1 and $0.2 add up to $0.3 exactly (as floats, 0.1 + 0.2 is 0.30000000000000004).
            spend_nanos: 100_000_000,
            ..record(200, None)
        };
        e.record_key(&keyed, id, &labels);
        e.record_key(&RequestRecord { spend_nanos: 200_000_000, ..keyed.clone() }, id, &labels);
        let refused = RequestRecord {
            status: 429,
            refusal: Some(RefusalReason::Rpm),
            usage: Usage::default(),
            spend_nanos: 0,
            ..keyed.clone()
        };
        e.record_key(&refused, id, &labels);
        let text = e.encode(Format::Prometheus, &InFlightView::default(), &[]);
        for line in [
            r#"gatehouse_key_requests_total{key="alice",team="ml"} 3"#,
            r#"gatehouse_key_tokens_total{key="alice",team="ml",kind="input"} 14"#,
            r#"gatehouse_key_tokens_total{key="alice",team="ml",kind="cache_write"} 4"#,
            r#"gatehouse_key_tokens_total{key="alice",team="ml",kind="cache_read"} 0"#,
            r#"gatehouse_key_spend_usd_total{key="alice",team="ml"} 0.3"#,
            r#"gatehouse_key_refusals_total{key="alice",team="ml",reason="rpm"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("reason=\"tpm\""), "reasons appear with their first refusal");
        let open = e.encode(Format::OpenMetrics, &InFlightView::default(), &[]);
        assert!(open.contains("gatehouse_key_spend_usd_total{key=\"alice\",team=\"ml\"} 0.3"), "{open}");
    }

    #[test]
    fn format_follows_accept() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        let prometheus_accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::from_accept(Some(prometheus_accept)), Format::OpenMetrics);
        assert!(Format::Prometheus.content_type().starts_with("text/plain"));
        assert_eq!(status_label(0), "other");
        assert!(is_upstream_kind("circuit_open") && is_upstream_kind("upstream_status"));
        assert!(!is_upstream_kind("client_disconnected") && !is_upstream_kind("invalid_request"));
    }
}
