//! A bounded, expiring map from tool call id to the opaque reasoning state a provider returned with that call
//! (Gemini's `extra_content`, OpenRouter-style `reasoning_details`), shared by every worker of a provider.
//!
//! Bounds: at most `max_entries` ids and about `max_bytes` of stored JSON; the oldest entries go first (insertion
//! order), and an entry older than `ttl` is never returned. The lock is a plain mutex held for a map operation
//! only — never across an await — and a request that finds the cache empty does not take it at all.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Size limits and lifetime of cached entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    pub max_entries: usize,
    /// Approximate bytes of JSON held, all entries together.
    pub max_bytes: usize,
    /// A single value larger than this is not cached (a provider gone wild should not flush everything else).
    pub max_value_bytes: usize,
    pub ttl: Duration,
}

/// Per provider: 10,000 tool calls, 64 MiB, 24 hours — a long agent session replays its history for hours.
pub const DEFAULT_LIMITS: CacheLimits = CacheLimits {
    max_entries: 10_000,
    max_bytes: 64 * 1024 * 1024,
    max_value_bytes: 1024 * 1024,
    ttl: Duration::from_secs(24 * 60 * 60),
};

/// What is remembered for one tool call. `reasoning_details` belong to the whole assistant message, so the
/// calls of one message share them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remembered {
    /// The call's `extra_content` object, as the provider sent it.
    pub extra_content: Option<Value>,
    /// The message's `reasoning_details` array, as the provider sent it.
    pub reasoning_details: Option<Arc<Value>>,
}

#[derive(Debug)]
struct Stored {
    value: Remembered,
    bytes: usize,
    inserted: Instant,
    generation: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Stored>,
    /// Ids in insertion order, with the generation they were inserted at (older records of a re-inserted id are
    /// skipped when they reach the front).
    order: VecDeque<(String, u64)>,
    bytes: usize,
    next_generation: u64,
}

/// The shared cache of one provider.
#[derive(Debug)]
pub struct SignatureCache {
    inner: Mutex<Inner>,
    /// Entries held; read without the lock so that providers that never send signatures pay nothing.
    len: AtomicUsize,
    limits: CacheLimits,
}

impl Default for SignatureCache {
    fn default() -> Self {
        Self::new(DEFAULT_LIMITS)
    }
}

impl SignatureCache {
    /// An empty cache with these limits (providers use [`DEFAULT_LIMITS`]; tests use small ones).
    pub fn new(limits: CacheLimits) -> Self {
        Self { inner: Mutex::new(Inner::default()), len: AtomicUsize::new(0), limits }
    }

    /// Whether nothing is cached (no lock taken).
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map stays consistent even if a holder panicked (no invariant spans two statements that can panic).
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers `extra_content` for a tool call (keeping reasoning already remembered for it).
    pub fn put_extra_content(&self, id: &str, extra_content: Value, now: Instant) {
        self.update(id, now, |r| r.extra_content = Some(extra_content));
    }

    /// Remembers a message's `reasoning_details` for one of its tool calls.
    pub fn put_reasoning_details(&self, id: &str, details: Arc<Value>, now: Instant) {
        self.update(id, now, |r| r.reasoning_details = Some(details));
    }

    fn update(&self, id: &str, now: Instant, change: impl FnOnce(&mut Remembered)) {
        if id.is_empty() {
            return;
        }
        let mut inner = self.lock();
        let mut value = match inner.map.remove(id) {
            Some(old) if now.saturating_duration_since(old.inserted) < self.limits.ttl => {
                inner.bytes = inner.bytes.saturating_sub(old.bytes);
                old.value
            }
            Some(old) => {
                inner.bytes = inner.bytes.saturating_sub(old.bytes);
                Remembered::default()
            }
            None => Remembered::default(),
        };
        change(&mut value);
        let bytes = id.len()
            + value.extra_content.as_ref().map_or(0, approx_size)
            + value.reasoning_details.as_deref().map_or(0, approx_size);
        if bytes > self.limits.max_value_bytes {
            self.len.store(inner.map.len(), Ordering::Relaxed);
            return;
        }
        let generation = inner.next_generation;
        inner.next_generation += 1;
        inner.bytes += bytes;
        inner.map.insert(id.to_string(), Stored { value, bytes, inserted: now, generation });
        inner.order.push_back((id.to_string(), generation));
        self.evict(&mut inner, now);
        self.len.store(inner.map.len(), Ordering::Relaxed);
    }

    /// What is remembered for each of `ids` (in order), leaving out expired entries.
    pub fn get_many(&self, ids: &[&str], now: Instant) -> Vec<Option<Remembered>> {
        if self.is_empty() {
            return vec![None; ids.len()];
        }
        let inner = self.lock();
        ids.iter()
            .map(|id| {
                inner
                    .map
                    .get(*id)
                    .filter(|s| now.saturating_duration_since(s.inserted) < self.limits.ttl)
                    .map(|s| s.value.clone())
            })
            .collect()
    }

    /// Drops expired entries from the front, then the oldest until the limits hold; compacts stale records.
    fn evict(&self, inner: &mut Inner, now: Instant) {
        loop {
            let over = inner.map.len() > self.limits.max_entries || inner.bytes > self.limits.max_bytes;
            let Some((id, generation)) = inner.order.front().cloned() else { break };
            let live = inner.map.get(&id).filter(|s| s.generation == generation);
            let expired = live.is_some_and(|s| now.saturating_duration_since(s.inserted) >= self.limits.ttl);
            if live.is_some() && !over && !expired {
                break;
            }
            inner.order.pop_front();
            if live.is_some() {
                if let Some(old) = inner.map.remove(&id) {
                    inner.bytes = inner.bytes.saturating_sub(old.bytes);
                }
            }
        }
        if inner.order.len() > 2 * self.limits.max_entries.max(16) {
            let Inner { map, order, .. } = inner;
            order.retain(|(id, generation)| map.get(id).is_some_and(|s| s.generation == *generation));
        }
    }
}

/// Roughly the bytes a value takes as JSON: string and key lengths plus a little per node. Depth is bounded by
/// the JSON parser (128 levels), so the recursion is too.
fn approx_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(approx_size).sum::<usize>(),
        Value::Object(map) => 2 + map.iter().map(|(k, v)| k.len() + 3 + approx_size(v)).sum::<usize>(),
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn small(max_entries: usize, max_bytes: usize) -> SignatureCache {
        SignatureCache::new(CacheLimits { max_entries, max_bytes, max_value_bytes: 1000, ttl: Duration::from_secs(60) })
    }

    fn sig(s: &str) -> Value {
        json!({"google": {"thought_signature": s}})
    }

    fn extra(cache: &SignatureCache, id: &str, now: Instant) -> Option<Value> {
        cache.get_many(&[id], now).remove(0).and_then(|r| r.extra_content)
    }

    #[test]
    fn remembers_and_merges_per_id() {
        let cache = small(10, 10_000);
        let now = Instant::now();
        assert!(cache.is_empty());
        cache.put_extra_content("call_1", sig("a"), now);
        let details = Arc::new(json!([{"type": "reasoning.encrypted", "data": "x"}]));
        cache.put_reasoning_details("call_1", details.clone(), now);
        let got = cache.get_many(&["call_1", "call_2"], now);
        assert_eq!(got[0], Some(Remembered { extra_content: Some(sig("a")), reasoning_details: Some(details) }));
        assert_eq!(got[1], None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn oldest_entries_are_evicted_by_count_and_by_bytes() {
        let cache = small(3, 10_000);
        let now = Instant::now();
        for i in 0..5 {
            cache.put_extra_content(&format!("call_{i}"), sig("s"), now);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(extra(&cache, "call_1", now), None);
        assert_eq!(extra(&cache, "call_2", now), Some(sig("s")));

        let cache = small(100, 200);
        for i in 0..10 {
            cache.put_extra_content(&format!("c{i}"), sig(&"x".repeat(40)), now);
        }
        assert!(cache.len() < 10 && cache.len() >= 2, "{}", cache.len());
        assert!(extra(&cache, "c9", now).is_some() && extra(&cache, "c0", now).is_none());
        cache.put_extra_content("huge", sig(&"x".repeat(5000)), now);
        assert_eq!(extra(&cache, "huge", now), None, "a value over max_value_bytes is not cached");
    }

    #[test]
    fn entries_expire() {
        let cache = small(10, 10_000);
        let t0 = Instant::now();
        cache.put_extra_content("old", sig("o"), t0);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(extra(&cache, "old", later), None, "expired entries are not returned");
        cache.put_extra_content("new", sig("n"), later);
        assert_eq!(cache.len(), 1, "expired entries are dropped on the next insert");
        cache.put_extra_content("new", sig("n2"), later);
        assert_eq!(extra(&cache, "new", later), Some(sig("n2")));
    }

    #[test]
    fn re_inserting_an_id_keeps_accounting_right() {
        let cache = small(2, 10_000);
        let now = Instant::now();
        for _ in 0..100 {
            cache.put_extra_content("same", sig("s"), now);
        }
        cache.put_extra_content("other", sig("o"), now);
        cache.put_extra_content("third", sig("t"), now);
        assert_eq!(cache.len(), 2);
        assert_eq!(extra(&cache, "same", now), None);
        let inner = cache.lock();
        assert!(inner.order.len() <= 2 * 16 + 1, "stale records are compacted: {}", inner.order.len());
        assert_eq!(inner.bytes, inner.map.values().map(|s| s.bytes).sum::<usize>());
    }
}
