//! Runtime state of each provider (breaker, key cool-downs). It belongs to the provider *name*, not to one
//! configuration: when a new snapshot replaces the old one, [`inherit`](ProviderRuntime::inherit) carries the state over, so a reload keeps
//! breaker state, and keeps key cool-downs unless the keys changed.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Breaker, KeyPool};
use crate::hooks::SignatureCache;

/// Milliseconds since the Unix epoch: a clock all workers agree on, cheap enough for the request path.
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Settings that shape the runtime state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeSettings {
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
    pub key_cooldown: Duration,
    pub key_failure_threshold: u32,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            key_cooldown: Duration::from_secs(60),
            key_failure_threshold: 1,
        }
    }
}

/// A provider's shared runtime state.
#[derive(Debug, Clone)]
pub struct ProviderRuntime {
    pub breaker: Arc<Breaker>,
    pub keys: Arc<KeyPool>,
    /// Thought signatures remembered for this provider's tool calls (see `crate::hooks`).
    pub signatures: Arc<SignatureCache>,
    settings: RuntimeSettings,
    key_fingerprints: Vec<String>,
}

impl ProviderRuntime {
    /// Fresh state for a provider with these keys.
    pub fn new(key_fingerprints: Vec<String>, settings: &RuntimeSettings) -> Self {
        Self {
            breaker: Arc::new(Breaker::new(settings.breaker_threshold, settings.breaker_cooldown)),
            keys: Arc::new(KeyPool::new(key_fingerprints.len(), settings.key_cooldown, settings.key_failure_threshold)),
            signatures: Arc::new(SignatureCache::default()),
            settings: settings.clone(),
            key_fingerprints,
        }
    }

    /// Takes over `previous`'s state where it still applies: the thought-signature cache always, the breaker when
    /// its settings are unchanged, the key cool-downs when the keys are also the same.
    pub fn inherit(&mut self, previous: &ProviderRuntime) {
        // Remembered signatures belong to conversations in flight, whatever else changed.
        self.signatures = previous.signatures.clone();
        if previous.settings != self.settings {
            return;
        }
        self.breaker = previous.breaker.clone();
        if previous.key_fingerprints == self.key_fingerprints {
            self.keys = previous.keys.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_reload_with_the_same_keys() {
        let s = RuntimeSettings::default();
        let a = ProviderRuntime::new(vec!["k1".into()], &s);
        let mut b = ProviderRuntime::new(vec!["k1".into()], &s);
        b.inherit(&a);
        assert!(Arc::ptr_eq(&a.breaker, &b.breaker));
        assert!(Arc::ptr_eq(&a.keys, &b.keys));
        assert!(Arc::ptr_eq(&a.signatures, &b.signatures));
        let mut c = ProviderRuntime::new(vec!["k2".into(), "k3".into()], &s);
        c.inherit(&a);
        assert!(Arc::ptr_eq(&a.breaker, &c.breaker), "the breaker is about the provider, not its keys");
        assert!(!Arc::ptr_eq(&a.keys, &c.keys));
        assert_eq!(c.keys.len(), 2);
    }

    #[test]
    fn changed_settings_start_fresh() {
        let a = ProviderRuntime::new(vec![], &RuntimeSettings::default());
        let mut b =
            ProviderRuntime::new(vec![], &RuntimeSettings { breaker_threshold: 9, ..RuntimeSettings::default() });
        b.inherit(&a);
        assert!(!Arc::ptr_eq(&a.breaker, &b.breaker));
    }
}
