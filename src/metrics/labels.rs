//! Bounded label values. Model names come from clients, so every label value that reaches Prometheus, the JSON
//! summary or the time series passes through [`LabelPolicy`] first:
//!
//! - a request that failed before routing has provider and model [`NONE`];
//! - values are reduced to a safe character set and at most [`MAX_LABEL_LEN`] bytes;
//! - each provider keeps its first [`MAX_MODELS_PER_PROVIDER`] distinct models; later ones count as [`OTHER`];
//! - at most [`MAX_PROVIDERS`] distinct providers get their own label; later ones count as [`OTHER`].
//!
//! So the number of label combinations, and the memory behind them, has a fixed ceiling whatever clients send.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use foldhash::fast::RandomState;

/// Provider and model of a request that failed before it was routed (bad key, bad body, unknown provider).
pub const NONE: &str = "none";
/// Where values past a cap are counted.
pub const OTHER: &str = "other";
/// Distinct model labels per provider before new models fold into [`OTHER`].
pub const MAX_MODELS_PER_PROVIDER: usize = 32;
/// Distinct provider labels before new providers fold into [`OTHER`] (providers come from configuration, but the
/// admin API can add and remove them over the process's life).
pub const MAX_PROVIDERS: usize = 32;
/// Longest label value kept; longer values are cut.
pub const MAX_LABEL_LEN: usize = 64;
/// Distinct raw (provider, model) pairs remembered with their labels. Past it, a new pair is labelled from scratch
/// on each record (correct, just slower), so clients sending ever new model names cannot grow the memory.
pub const MAX_REMEMBERED_PAIRS: usize = 4096;

/// The bounded labels of one request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels {
    pub provider: String,
    pub model: String,
}

/// Remembers which providers and models already own a label, and folds the rest.
#[derive(Debug, Default)]
pub struct LabelPolicy {
    models: BTreeMap<String, BTreeSet<String>>,
    /// Every distinct label pair handed out, indexed by its [`LabelId`].
    interned: Vec<Labels>,
    ids: HashMap<Labels, LabelId, RandomState>,
    /// Raw provider, then raw model, to the id of their labels: a pair seen before costs two lookups, no
    /// allocation. At most [`MAX_REMEMBERED_PAIRS`] pairs.
    remembered: HashMap<String, HashMap<String, LabelId, RandomState>, RandomState>,
    remembered_pairs: usize,
}

/// A small number standing for one label pair, for caches keyed by labels (see [`LabelPolicy::intern`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelId(usize);

impl LabelPolicy {
    /// [`labels`](Self::labels) for a finished request, as an id: the same pair of labels always gets the same
    /// id, and a raw pair seen before is looked up without allocating.
    pub fn intern(&mut self, provider: &str, model: &str) -> LabelId {
        if let Some(id) = self.remembered.get(provider).and_then(|models| models.get(model)) {
            return *id;
        }
        let labels = self.labels(provider, model);
        let id = match self.ids.get(&labels) {
            Some(id) => *id,
            None => {
                let id = LabelId(self.interned.len());
                self.interned.push(labels.clone());
                self.ids.insert(labels, id);
                id
            }
        };
        if self.remembered_pairs < MAX_REMEMBERED_PAIRS {
            self.remembered.entry(provider.to_string()).or_default().insert(model.to_string(), id);
            self.remembered_pairs += 1;
        }
        id
    }

    /// The labels an id stands for.
    pub fn get(&self, id: LabelId) -> &Labels {
        &self.interned[id.0]
    }

    /// The labels to count a request under. `provider` `-` (or empty) means the request was never routed.
    pub fn labels(&mut self, provider: &str, model: &str) -> Labels {
        let provider = self.provider(provider);
        if provider == NONE {
            return Labels { provider, model: NONE.to_string() };
        }
        let model = sanitize(model);
        let model = if model.is_empty() || model == "-" { NONE.to_string() } else { model };
        let Some(models) = self.models.get_mut(&provider) else {
            return Labels { provider, model: OTHER.to_string() };
        };
        if models.contains(&model) || model == OTHER {
            return Labels { provider, model };
        }
        if models.len() >= MAX_MODELS_PER_PROVIDER {
            return Labels { provider, model: OTHER.to_string() };
        }
        models.insert(model.clone());
        Labels { provider, model }
    }

    /// The bounded provider label alone (for in-flight counts, which have no model).
    pub fn provider(&mut self, provider: &str) -> String {
        let provider = sanitize(provider);
        if provider.is_empty() || provider == "-" || provider == NONE {
            return NONE.to_string();
        }
        if provider == OTHER || self.models.contains_key(&provider) {
            return provider;
        }
        if self.models.len() >= MAX_PROVIDERS {
            return OTHER.to_string();
        }
        self.models.insert(provider.clone(), BTreeSet::new());
        provider
    }
}

/// Keeps `[A-Za-z0-9._:/@+-]`, replaces anything else with `_`, and cuts the result to [`MAX_LABEL_LEN`] bytes.
/// (The Prometheus encoder escapes quotes and newlines anyway; this also keeps logs, JSON keys and dashboard
/// legends plain.)
pub fn sanitize(value: &str) -> String {
    value
        .chars()
        .take(MAX_LABEL_LEN)
        .map(|c| if c.is_ascii_alphanumeric() || "._:/@+-".contains(c) { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unrouted_requests_count_under_none() {
        let mut p = LabelPolicy::default();
        assert_eq!(p.labels("-", "-"), Labels { provider: "none".into(), model: "none".into() });
        assert_eq!(p.labels("", "whatever"), Labels { provider: "none".into(), model: "none".into() });
    }

    #[test]
    fn interned_pairs_share_ids_by_their_labels() {
        let mut p = LabelPolicy::default();
        let a = p.intern("openai", "gpt 4o");
        assert_eq!(p.intern("openai", "gpt 4o"), a, "a pair seen before");
        assert_eq!(p.intern("openai", "gpt_4o"), a, "a different raw pair with the same labels");
        assert_eq!(p.get(a), &Labels { provider: "openai".into(), model: "gpt_4o".into() });
        let b = p.intern("openai", "o1");
        assert_ne!(a, b);
        assert_eq!(p.get(b).model, "o1");
        let unrouted = p.intern("-", "-");
        assert_eq!(p.get(unrouted).provider, NONE);
    }

    #[test]
    fn remembered_raw_pairs_are_bounded_and_later_pairs_still_get_labels() {
        let mut p = LabelPolicy::default();
        for i in 0..MAX_REMEMBERED_PAIRS + 10 {
            let id = p.intern("openai", &format!("m{i}"));
            let expected = if i < MAX_MODELS_PER_PROVIDER { format!("m{i}") } else { OTHER.to_string() };
            assert_eq!(p.get(id).model, expected);
        }
        assert_eq!(p.remembered_pairs, MAX_REMEMBERED_PAIRS);
        assert_eq!(p.interned.len(), MAX_MODELS_PER_PROVIDER + 1);
    }

    #[test]
    fn models_past_the_cap_fold_into_other() {
        let mut p = LabelPolicy::default();
        for i in 0..MAX_MODELS_PER_PROVIDER {
            assert_eq!(p.labels("openai", &format!("m{i}")).model, format!("m{i}"));
        }
        assert_eq!(p.labels("openai", "one-too-many").model, OTHER);
        assert_eq!(p.labels("openai", "m3").model, "m3", "known models keep their label");
        assert_eq!(p.labels("anthropic", "fresh").model, "fresh", "the cap is per provider");
    }

    #[test]
    fn providers_past_the_cap_fold_into_other() {
        let mut p = LabelPolicy::default();
        for i in 0..MAX_PROVIDERS {
            assert_eq!(p.provider(&format!("p{i}")), format!("p{i}"));
        }
        assert_eq!(p.labels("late", "m"), Labels { provider: OTHER.into(), model: OTHER.into() });
    }

    #[test]
    fn values_are_sanitised_and_cut() {
        let mut p = LabelPolicy::default();
        let l = p.labels("openai", "llama3:8b\"}\n evil");
        assert_eq!(l.model, "llama3:8b____evil");
        let long = "x".repeat(10_000);
        assert_eq!(p.labels("openai", &long).model.len(), MAX_LABEL_LEN);
        assert_eq!(sanitize("é中"), "__");
    }
}
