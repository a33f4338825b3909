//! Running totals per provider and model: plain data, so it is tested without an actor system.

use std::collections::BTreeMap;

use serde::Serialize;

use super::RequestRecord;

/// Totals for one provider:model pair.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ModelTotals {
    pub requests: u64,
    pub errors: u64,
    pub streamed: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

/// All totals, keyed by `provider:model`.
#[derive(Debug, Default)]
pub struct Aggregate {
    by_model: BTreeMap<(String, String), ModelTotals>,
}

/// A serialisable copy of the totals.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub models: BTreeMap<String, ModelTotals>,
}

impl Aggregate {
    /// Adds one finished request.
    pub fn record(&mut self, r: &RequestRecord) {
        let totals = self.by_model.entry((r.provider.clone(), r.model.clone())).or_default();
        totals.requests += 1;
        if r.status >= 400 || r.error_kind.is_some() {
            totals.errors += 1;
        }
        if r.streamed {
            totals.streamed += 1;
        }
        totals.input_tokens += r.usage.input_tokens;
        totals.output_tokens += r.usage.output_tokens;
        totals.cache_read_input_tokens += r.usage.cache_read_input_tokens;
        totals.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
    }

    /// A copy for rendering.
    pub fn summary(&self) -> Summary {
        Summary { models: self.by_model.iter().map(|((p, m), t)| (format!("{p}:{m}"), t.clone())).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Usage;
    use std::time::Duration;

    fn record(status: u16, streamed: bool, out: u64) -> RequestRecord {
        RequestRecord {
            request_id: "r".into(),
            provider: "p".into(),
            model: "m".into(),
            route: "messages",
            streamed,
            status,
            error_kind: None,
            duration: Duration::from_millis(5),
            time_to_first_byte: None,
            upstream_time: None,
            usage: Usage { input_tokens: 10, output_tokens: out, ..Default::default() },
        }
    }

    #[test]
    fn totals_add_up() {
        let mut a = Aggregate::default();
        a.record(&record(200, true, 3));
        a.record(&record(200, false, 4));
        a.record(&record(429, false, 0));
        let s = a.summary();
        let t = &s.models["p:m"];
        assert_eq!((t.requests, t.errors, t.streamed, t.input_tokens, t.output_tokens), (3, 1, 1, 30, 7));
    }
}
