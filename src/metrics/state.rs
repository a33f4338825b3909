//! Everything the metrics actor owns, as one plain struct: label policy, running totals, the time-series ring
//! and the Prometheus registry, fed by one call per finished request. Time is passed in, so tests control it.

use std::sync::Arc;

use super::aggregate::{Aggregate, Summary};
use super::exposition::{Exposition, Format, ProviderHealth};
use super::in_flight::InFlight;
use super::keys::KeyPolicy;
use super::labels::LabelPolicy;
use super::series::{Series, SeriesView};
use super::RequestRecord;

/// The metrics of one gateway process.
pub struct MetricsState {
    labels: LabelPolicy,
    key_labels: KeyPolicy,
    aggregate: Aggregate,
    series: Series,
    exposition: Exposition,
    in_flight: Arc<InFlight>,
    /// Unix milliseconds when the process started measuring.
    started_ms: u64,
}

impl MetricsState {
    /// Starts empty at `now_ms` (Unix milliseconds), reading in-flight counts from `in_flight`.
    pub fn new(in_flight: Arc<InFlight>, now_ms: u64) -> Self {
        Self {
            labels: LabelPolicy::default(),
            key_labels: KeyPolicy::default(),
            aggregate: Aggregate::default(),
            series: Series::default(),
            exposition: Exposition::default(),
            in_flight,
            started_ms: now_ms,
        }
    }

    /// Adds one finished request, seen at `now_ms`.
    pub fn record(&mut self, r: &RequestRecord, now_ms: u64) {
        let id = self.labels.intern(&r.provider, &r.model);
        let labels = self.labels.get(id);
        self.aggregate.record(r, labels, now_ms);
        self.series.record(r, labels, now_ms / 1000);
        self.exposition.record(r, id, labels);
        if let Some(key) = r.key.as_deref() {
            let key_id = self.key_labels.intern(key, r.team.as_deref());
            let key_labels = self.key_labels.get(key_id);
            self.aggregate.record_key(r, key_labels, now_ms);
            self.exposition.record_key(r, key_id, key_labels);
        }
        self.sample(now_ms);
    }

    /// Notes the current in-flight counts in the time series (called every second and on each record).
    pub fn sample(&mut self, now_ms: u64) {
        let (requests, streams) = self.in_flight.totals();
        self.series.sample_in_flight(now_ms / 1000, requests, streams);
    }

    /// `GET /metrics/summary`.
    pub fn summary(&self, now_ms: u64) -> Summary {
        let uptime = now_ms.saturating_sub(self.started_ms) / 1000;
        self.aggregate.summary(now_ms, uptime, self.in_flight.view())
    }

    /// `GET /metrics/series`.
    pub fn series(&self, now_ms: u64, window: u64, step: u64) -> SeriesView {
        self.series.view(now_ms / 1000, window, step)
    }

    /// `GET /metrics`.
    pub fn prometheus(&self, format: Format, providers: &[ProviderHealth]) -> String {
        self.exposition.encode(format, &self.in_flight.view(), providers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Usage;
    use std::time::Duration;

    #[test]
    fn one_record_reaches_every_view_under_the_same_labels() {
        let live = Arc::new(InFlight::default());
        let mut m = MetricsState::new(live.clone(), 1_000_000);
        let guard = live.enter("mock", true);
        let r = RequestRecord {
            provider: "mock".into(),
            model: "claude".into(),
            status: 200,
            duration: Duration::from_millis(40),
            usage: Usage { output_tokens: 9, ..Default::default() },
            ..RequestRecord::default()
        };
        m.record(&r, 1_002_500);
        let summary = m.summary(1_005_000);
        assert_eq!(summary.models["mock:claude"].output_tokens, 9);
        assert_eq!(summary.in_flight.by_provider["mock"], 1);
        assert_eq!(summary.uptime_seconds, 5);
        let series = m.series(1_005_000, 10, 1);
        assert_eq!(series.requests.iter().sum::<u64>(), 1);
        assert_eq!(series.in_flight.iter().max(), Some(&1));
        drop(guard);
        let text = m.prometheus(Format::Prometheus, &[]);
        assert!(text.contains(r#"gatehouse_in_flight_requests{provider="mock"} 0"#), "{text}");
        assert!(text.contains(
            r#"gatehouse_requests_total{route="none",provider="mock",model="claude",stream="false",status="200"} 1"#
        ));
    }

    #[test]
    fn a_keyed_record_reaches_the_key_table_and_the_key_metrics() {
        use crate::metrics::RefusalReason;
        let mut m = MetricsState::new(Arc::new(InFlight::default()), 0);
        let keyed = RequestRecord {
            provider: "mock".into(),
            model: "claude".into(),
            status: 200,
            key: Some(Arc::from("alice")),
            team: Some(Arc::from("ml")),
            usage: Usage { input_tokens: 5, output_tokens: 9, cache_read_input_tokens: 4, ..Default::default() },
            spend_nanos: 2_500,
            ..RequestRecord::default()
        };
        m.record(&keyed, 1_000);
        m.record(&RequestRecord { status: 402, refusal: Some(RefusalReason::Budget), spend_nanos: 0, ..keyed }, 2_000);
        m.record(&RequestRecord { provider: "mock".into(), status: 200, ..RequestRecord::default() }, 3_000);
        let mut summary = m.summary(3_000);
        assert_eq!(summary.totals.requests, 3);
        let alice = &summary.keys["alice"];
        assert_eq!((alice.team.as_str(), alice.requests, alice.errors, alice.refused), ("ml", 2, 1, 1));
        assert_eq!((alice.input_tokens, alice.output_tokens, alice.cache_read_input_tokens), (10, 18, 8));
        assert_eq!((alice.spend_nanos, alice.refusals["budget"], alice.last_seen_ms), (2_500, 1, Some(2_000)));
        assert_eq!(summary.keys.len(), 1, "requests without a key have no row");
        assert!(summary.set_remaining_budget("alice", Some(24.5)) && !summary.set_remaining_budget("bob", None));
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["keys"]["alice"]["remaining_budget_usd"], 24.5);
        assert_eq!(json["keys"]["alice"]["spend_usd"], 0.0000025);
        assert_eq!(json["limits"]["max_keys"], crate::metrics::keys::MAX_KEYS);
        let text = m.prometheus(Format::Prometheus, &[]);
        assert!(text.contains(r#"gatehouse_key_refusals_total{key="alice",team="ml",reason="budget"} 1"#), "{text}");
        assert!(text.contains(r#"gatehouse_key_requests_total{key="alice",team="ml"} 2"#), "{text}");
    }

    #[test]
    fn unrouted_failures_count_under_none() {
        let mut m = MetricsState::new(Arc::new(InFlight::default()), 0);
        let r = RequestRecord { provider: "-".into(), model: "-".into(), status: 401, ..RequestRecord::default() };
        m.record(&r, 1_000);
        assert_eq!(m.summary(1_000).models["none:none"].errors, 1);
    }
}
