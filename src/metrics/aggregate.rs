//! Running totals overall, per provider and per `provider:model`, behind `GET /metrics/summary`. Keys are
//! already-bounded labels (see [`super::labels`]), so the maps cannot grow past the label caps.

use std::collections::BTreeMap;

use serde::Serialize;

use super::keys::{KeyLabels, KeyTotals, KeyView};
use super::labels::Labels;
use super::totals::{Totals, TotalsView};
use super::RequestRecord;

/// All running totals.
#[derive(Debug, Default)]
pub struct Aggregate {
    overall: Totals,
    /// Inbound routes are names from the gateway's code (`messages`, `count_tokens`): bounded.
    by_route: BTreeMap<&'static str, Totals>,
    by_provider: BTreeMap<String, Totals>,
    by_model: BTreeMap<Labels, Totals>,
    /// Keyed requests by key label (bounded by [`super::keys::KeyPolicy`]).
    by_key: BTreeMap<String, KeyTotals>,
}

/// In-flight requests at the moment of a summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct InFlightView {
    pub requests: i64,
    pub streams: i64,
    pub by_provider: BTreeMap<String, i64>,
}

/// `GET /metrics/summary`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Unix milliseconds when the summary was taken.
    pub now_ms: u64,
    pub uptime_seconds: u64,
    pub totals: TotalsView,
    pub in_flight: InFlightView,
    /// Per inbound route (`messages`, `count_tokens`), so token counting does not hide in message latency.
    pub routes: BTreeMap<&'static str, TotalsView>,
    pub providers: BTreeMap<String, TotalsView>,
    /// Keyed `provider:model`.
    pub models: BTreeMap<String, TotalsView>,
    /// Per virtual key (by its name's label): requests, tokens, spend and refusals of this process since it
    /// started. `remaining_budget_usd` is `null` here; [`Summary::set_remaining_budget`] fills it from the limits
    /// store.
    pub keys: BTreeMap<String, KeyView>,
    pub limits: Limits,
}

impl Summary {
    /// Sets the remaining budget of the row of key label `key` (the key's name, sanitised: see
    /// [`super::labels::sanitize`]), if the table has that row. Returns whether it had.
    pub fn set_remaining_budget(&mut self, key: &str, remaining_usd: Option<f64>) -> bool {
        match self.keys.get_mut(key) {
            Some(row) => {
                row.remaining_budget_usd = remaining_usd;
                true
            }
            None => false,
        }
    }
}

/// The label caps in force, so a reader of the summary knows when `other` means "folded".
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    pub max_providers: usize,
    pub max_models_per_provider: usize,
    pub max_keys: usize,
    pub max_teams: usize,
}

impl Aggregate {
    /// Adds one finished request under its bounded labels, seen at `now_ms` (Unix milliseconds).
    pub fn record(&mut self, r: &RequestRecord, labels: &Labels, now_ms: u64) {
        self.overall.add(r, now_ms);
        self.by_route.entry(if r.route.is_empty() { "none" } else { r.route }).or_default().add(r, now_ms);
        if let Some(t) = self.by_provider.get_mut(&labels.provider) {
            t.add(r, now_ms);
        } else {
            self.by_provider.entry(labels.provider.clone()).or_default().add(r, now_ms);
        }
        if let Some(t) = self.by_model.get_mut(labels) {
            t.add(r, now_ms);
        } else {
            self.by_model.entry(labels.clone()).or_default().add(r, now_ms);
        }
    }

    /// Adds one finished keyed request under its bounded key labels, seen at `now_ms`.
    pub fn record_key(&mut self, r: &RequestRecord, labels: &KeyLabels, now_ms: u64) {
        if let Some(t) = self.by_key.get_mut(&labels.key) {
            t.add(r, &labels.team, now_ms);
        } else {
            self.by_key.entry(labels.key.clone()).or_default().add(r, &labels.team, now_ms);
        }
    }

    /// A copy for rendering.
    pub fn summary(&self, now_ms: u64, uptime_seconds: u64, in_flight: InFlightView) -> Summary {
        Summary {
            now_ms,
            uptime_seconds,
            totals: self.overall.view(),
            in_flight,
            routes: self.by_route.iter().map(|(r, t)| (*r, t.view())).collect(),
            providers: self.by_provider.iter().map(|(p, t)| (p.clone(), t.view())).collect(),
            models: self.by_model.iter().map(|(l, t)| (format!("{}:{}", l.provider, l.model), t.view())).collect(),
            keys: self.by_key.iter().map(|(k, t)| (k.clone(), t.view())).collect(),
            limits: Limits {
                max_providers: super::labels::MAX_PROVIDERS,
                max_models_per_provider: super::labels::MAX_MODELS_PER_PROVIDER,
                max_keys: super::keys::MAX_KEYS,
                max_teams: super::keys::MAX_TEAMS,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Usage;
    use std::time::Duration;

    fn record(status: u16, streamed: bool, out: u64, ms: u64) -> RequestRecord {
        RequestRecord {
            provider: "p".into(),
            model: "m".into(),
            route: "messages",
            streamed,
            status,
            duration: Duration::from_millis(ms),
            time_to_first_byte: Some(Duration::from_millis(ms / 2)),
            usage: Usage { input_tokens: 10, output_tokens: out, cache_read_input_tokens: 2, ..Default::default() },
            ..RequestRecord::default()
        }
    }

    fn labels(model: &str) -> Labels {
        Labels { provider: "p".into(), model: model.into() }
    }

    #[test]
    fn totals_add_up_per_model_provider_and_overall() {
        let mut a = Aggregate::default();
        a.record(&record(200, true, 3, 100), &labels("m"), 1_000);
        a.record(&record(200, false, 4, 200), &labels("m"), 2_000);
        a.record(&record(429, false, 0, 10), &labels("n"), 3_000);
        let s = a.summary(3_000, 5, InFlightView::default());
        let t = &s.models["p:m"];
        assert_eq!((t.requests, t.errors, t.streamed, t.input_tokens, t.output_tokens), (2, 0, 1, 20, 7));
        assert_eq!(t.cache_read_input_tokens, 4);
        assert_eq!(t.last_seen_ms, Some(2_000));
        assert_eq!(t.avg_ms, Some(150.0));
        let p = &s.providers["p"];
        assert_eq!((p.requests, p.errors, p.output_tokens), (3, 1, 7));
        assert_eq!(p.errors_by_kind.get("http_error"), Some(&1));
        assert_eq!(s.totals.requests, 3);
        assert_eq!(s.routes["messages"].requests, 3);
        assert_eq!(s.models["p:n"].ttfb_p50_ms.map(|v| v < 6.0), Some(true));
    }

    #[test]
    fn error_kinds_are_counted() {
        let mut a = Aggregate::default();
        let mut r = record(200, true, 1, 5);
        r.error_kind = Some("upstream_truncated");
        a.record(&r, &labels("m"), 1);
        let s = a.summary(1, 0, InFlightView::default());
        assert_eq!(s.models["p:m"].errors, 1);
        assert_eq!(s.totals.errors_by_kind.get("upstream_truncated"), Some(&1));
    }
}
