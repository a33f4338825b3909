//! Requests in flight, counted with shared atomics rather than actor messages: a request enters when it is routed
//! and leaves when its [`InFlightGuard`] drops (when the request is recorded, or abandoned). Reading the counts
//! (for `/metrics`, the summary, the series) never blocks a request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::aggregate::InFlightView;
use super::labels::{sanitize, MAX_PROVIDERS, OTHER};

/// The live counts, shared by every worker and the metrics actor.
#[derive(Debug, Default)]
pub struct InFlight {
    requests: AtomicI64,
    streams: AtomicI64,
    /// Per provider label; at most [`MAX_PROVIDERS`] names plus [`OTHER`]. Entries stay (at zero) once created,
    /// so a provider's gauge reads 0 rather than vanishing.
    by_provider: RwLock<BTreeMap<String, Arc<AtomicI64>>>,
}

/// One request in flight; dropping it ends the count.
#[derive(Debug)]
pub struct InFlightGuard {
    owner: Arc<InFlight>,
    provider: Arc<AtomicI64>,
    streamed: bool,
}

impl InFlight {
    /// Counts a routed request against `provider` until the returned guard drops.
    pub fn enter(self: &Arc<Self>, provider: &str, streamed: bool) -> InFlightGuard {
        let provider = self.counter(provider);
        provider.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        if streamed {
            self.streams.fetch_add(1, Ordering::Relaxed);
        }
        InFlightGuard { owner: self.clone(), provider, streamed }
    }

    fn counter(&self, provider: &str) -> Arc<AtomicI64> {
        let map = self.by_provider.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = map.get(provider) {
            return counter.clone();
        }
        drop(map);
        let mut map = self.by_provider.write().unwrap_or_else(PoisonError::into_inner);
        let mut label = sanitize(provider);
        if !map.contains_key(&label) && map.len() >= MAX_PROVIDERS {
            label = OTHER.to_string();
        }
        map.entry(label).or_default().clone()
    }

    /// Requests and streams in flight now, without the per-provider counts (read on every record: no allocation).
    pub fn totals(&self) -> (i64, i64) {
        (self.requests.load(Ordering::Relaxed), self.streams.load(Ordering::Relaxed))
    }

    /// The counts now.
    pub fn view(&self) -> InFlightView {
        let map = self.by_provider.read().unwrap_or_else(PoisonError::into_inner);
        InFlightView {
            requests: self.requests.load(Ordering::Relaxed),
            streams: self.streams.load(Ordering::Relaxed),
            by_provider: map.iter().map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed))).collect(),
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.provider.fetch_sub(1, Ordering::Relaxed);
        self.owner.requests.fetch_sub(1, Ordering::Relaxed);
        if self.streamed {
            self.owner.streams.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_until_dropped() {
        let live = Arc::new(InFlight::default());
        let a = live.enter("openai", true);
        let b = live.enter("openai", false);
        let c = live.enter("anthropic", false);
        let v = live.view();
        assert_eq!((v.requests, v.streams, v.by_provider["openai"], v.by_provider["anthropic"]), (3, 1, 2, 1));
        drop((a, b, c));
        let v = live.view();
        assert_eq!((v.requests, v.streams, v.by_provider["openai"]), (0, 0, 0));
    }

    #[test]
    fn provider_names_are_capped() {
        let live = Arc::new(InFlight::default());
        let guards: Vec<_> = (0..MAX_PROVIDERS + 5).map(|i| live.enter(&format!("p{i}"), false)).collect();
        let v = live.view();
        assert_eq!(v.by_provider.len(), MAX_PROVIDERS + 1);
        assert_eq!(v.by_provider[OTHER], 5);
        drop(guards);
        assert!(live.view().by_provider.values().all(|&n| n == 0));
    }
}
