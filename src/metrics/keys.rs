//! Attribution to virtual keys: why a key was refused ([`RefusalReason`]), the bounded `key` and `team` labels
//! ([`KeyPolicy`]) and each key's running totals behind the per-key table of `/metrics/summary` ([`KeyTotals`]).
//!
//! Labels are names, never secrets. Key and team names come from the operator (admin API, config file), not from
//! clients, but keys are created and deleted over a process's life, so the labels are bounded like model labels:
//!
//! - values are reduced to a safe character set and at most [`super::labels::MAX_LABEL_LEN`] bytes;
//! - the first [`MAX_KEYS`] distinct key names get their own label, later ones count as [`OTHER`];
//! - the first [`MAX_TEAMS`] distinct team names get their own label, later ones count as [`OTHER`]; a key without
//!   a team is labelled team [`NO_TEAM`];
//! - at most [`MAX_KEY_SERIES`] distinct (key, team) pairs (a key moved to another team makes a new pair); later
//!   pairs count as (`other`, `other`).
//!
//! So the key series of `/metrics` (at most 15 per pair) and the rows of the summary have a fixed ceiling.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use foldhash::fast::RandomState;
use serde::Serialize;

use super::labels::{sanitize, OTHER};
use super::RequestRecord;

/// Distinct key labels before new keys fold into [`OTHER`].
pub const MAX_KEYS: usize = 500;
/// Distinct team labels before new teams fold into [`OTHER`].
pub const MAX_TEAMS: usize = 100;
/// Distinct (key, team) label pairs before new pairs fold into (`other`, `other`).
pub const MAX_KEY_SERIES: usize = 1000;
/// The team label of a key that belongs to no team.
pub const NO_TEAM: &str = "none";
/// Raw (key, team) pairs remembered with their labels (past it, pairs are labelled from scratch each time).
const MAX_REMEMBERED: usize = 4096;

/// Why a request presenting a virtual key was refused: the `reason` label of `gatehouse_key_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefusalReason {
    /// Over the key's (or its team's) requests per minute.
    Rpm,
    /// Over its tokens per minute.
    Tpm,
    /// Over its `max_parallel`.
    Parallel,
    /// Its budget for the period is spent.
    Budget,
    /// The model is not in the key's `models`.
    Model,
    /// The key has a budget and the model has no price.
    Price,
    Expired,
    Disabled,
    /// The key was deleted.
    Revoked,
}

impl RefusalReason {
    /// Every reason, in label order.
    pub const ALL: [RefusalReason; 9] = [
        Self::Rpm,
        Self::Tpm,
        Self::Parallel,
        Self::Budget,
        Self::Model,
        Self::Price,
        Self::Expired,
        Self::Disabled,
        Self::Revoked,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rpm => "rpm",
            Self::Tpm => "tpm",
            Self::Parallel => "parallel",
            Self::Budget => "budget",
            Self::Model => "model",
            Self::Price => "price",
            Self::Expired => "expired",
            Self::Disabled => "disabled",
            Self::Revoked => "revoked",
        }
    }

    /// The position in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The bounded labels of a keyed request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyLabels {
    pub key: String,
    pub team: String,
}

/// A small number standing for one (key, team) label pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(usize);

/// Remembers which keys and teams own a label, and folds the rest.
#[derive(Debug, Default)]
pub struct KeyPolicy {
    keys: BTreeSet<String>,
    teams: BTreeSet<String>,
    interned: Vec<KeyLabels>,
    ids: HashMap<KeyLabels, KeyId, RandomState>,
    /// Raw key name, then raw team name (empty for none), to the id of their labels.
    remembered: HashMap<String, HashMap<String, KeyId, RandomState>, RandomState>,
    remembered_pairs: usize,
}

impl KeyPolicy {
    /// The id of the labels to count a request of key `key` (of team `team`) under; a pair seen before costs two
    /// lookups and no allocation.
    pub fn intern(&mut self, key: &str, team: Option<&str>) -> KeyId {
        let raw_team = team.unwrap_or("");
        if let Some(id) = self.remembered.get(key).and_then(|teams| teams.get(raw_team)) {
            return *id;
        }
        let labels = self.labels(key, team);
        let id = match self.ids.get(&labels) {
            Some(id) => *id,
            None if self.interned.len() >= MAX_KEY_SERIES => {
                let other = KeyLabels { key: OTHER.into(), team: OTHER.into() };
                match self.ids.get(&other) {
                    Some(id) => *id,
                    None => self.push(other),
                }
            }
            None => self.push(labels),
        };
        if self.remembered_pairs < MAX_REMEMBERED {
            self.remembered.entry(key.to_string()).or_default().insert(raw_team.to_string(), id);
            self.remembered_pairs += 1;
        }
        id
    }

    fn push(&mut self, labels: KeyLabels) -> KeyId {
        let id = KeyId(self.interned.len());
        self.interned.push(labels.clone());
        self.ids.insert(labels, id);
        id
    }

    /// The labels an id stands for.
    pub fn get(&self, id: KeyId) -> &KeyLabels {
        &self.interned[id.0]
    }

    fn labels(&mut self, key: &str, team: Option<&str>) -> KeyLabels {
        let key = bounded(&mut self.keys, MAX_KEYS, sanitize(key));
        let team = match team.map(sanitize).filter(|t| !t.is_empty()) {
            None => NO_TEAM.to_string(),
            Some(team) => bounded(&mut self.teams, MAX_TEAMS, team),
        };
        KeyLabels { key, team }
    }
}

/// `value` if it already has a label or there is room for one more, else [`OTHER`].
fn bounded(known: &mut BTreeSet<String>, cap: usize, value: String) -> String {
    let value = if value.is_empty() { "-".to_string() } else { value };
    if known.contains(&value) || value == OTHER {
        return value;
    }
    if known.len() >= cap {
        return OTHER.to_string();
    }
    known.insert(value.clone());
    value
}

/// One key's running totals.
#[derive(Debug, Default, Clone)]
pub struct KeyTotals {
    /// The team the key's latest request belonged to.
    pub team: String,
    /// Every finished request that presented the key, refused ones included.
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub spend_nanos: u64,
    /// By [`RefusalReason::index`].
    pub refusals: [u64; 9],
    /// Unix milliseconds of the latest request.
    pub last_seen_ms: u64,
}

impl KeyTotals {
    /// Adds one finished request of this key, under team label `team`, seen at `now_ms`.
    pub fn add(&mut self, r: &RequestRecord, team: &str, now_ms: u64) {
        if self.team != team {
            self.team = team.to_string();
        }
        self.requests += 1;
        if r.is_error() {
            self.errors += 1;
        }
        self.input_tokens += r.usage.input_tokens;
        self.output_tokens += r.usage.output_tokens;
        self.cache_read_input_tokens += r.usage.cache_read_input_tokens;
        self.cache_creation_input_tokens += r.usage.cache_creation_input_tokens;
        self.spend_nanos = self.spend_nanos.saturating_add(r.spend_nanos);
        if let Some(reason) = r.refusal {
            self.refusals[reason.index()] += 1;
        }
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
    }

    /// The JSON form.
    pub fn view(&self) -> KeyView {
        let refusals: BTreeMap<&'static str, u64> = RefusalReason::ALL
            .iter()
            .filter(|r| self.refusals[r.index()] > 0)
            .map(|r| (r.as_str(), self.refusals[r.index()]))
            .collect();
        KeyView {
            team: self.team.clone(),
            requests: self.requests,
            errors: self.errors,
            refused: self.refusals.iter().sum(),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
            cache_creation_input_tokens: self.cache_creation_input_tokens,
            spend_nanos: self.spend_nanos,
            spend_usd: usd(self.spend_nanos),
            remaining_budget_usd: None,
            refusals,
            last_seen_ms: (self.last_seen_ms > 0).then_some(self.last_seen_ms),
        }
    }
}

/// Nano-dollars as US dollars.
pub fn usd(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// One row of the per-key table of `/metrics/summary`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeyView {
    /// The team label ([`NO_TEAM`] for a key without a team).
    pub team: String,
    /// Every finished request that presented the key, refused ones included.
    pub requests: u64,
    /// Requests that failed (refusals, upstream errors, …).
    pub errors: u64,
    /// Requests refused by the key's limits or status (the sum of `refusals`).
    pub refused: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    /// Spend of this process's requests since it started, exact.
    pub spend_nanos: u64,
    /// The same in US dollars.
    pub spend_usd: f64,
    /// What is left of the key's budget this period, from the limits store (all replicas), when the key has a
    /// budget; `null` when it has none or the summary was taken without the store (see [`super::Summary`]).
    pub remaining_budget_usd: Option<f64>,
    /// Refusals by reason (reasons with none are left out).
    pub refusals: BTreeMap<&'static str, u64>,
    pub last_seen_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Usage;
    use std::sync::Arc;

    #[test]
    fn reasons_have_their_labels_in_order() {
        let labels: Vec<&str> = RefusalReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels, ["rpm", "tpm", "parallel", "budget", "model", "price", "expired", "disabled", "revoked"]);
        assert!(RefusalReason::ALL.iter().enumerate().all(|(i, r)| r.index() == i));
    }

    #[test]
    fn keys_and_teams_past_their_caps_fold_into_other() {
        let mut p = KeyPolicy::default();
        for i in 0..MAX_KEYS {
            let id = p.intern(&format!("k{i}"), Some(&format!("t{}", i % MAX_TEAMS)));
            assert_eq!(p.get(id), &KeyLabels { key: format!("k{i}"), team: format!("t{}", i % MAX_TEAMS) });
        }
        let late = p.intern("late", Some("t1"));
        assert_eq!(p.get(late), &KeyLabels { key: OTHER.into(), team: "t1".into() });
        let new_team = p.intern("k3", Some("new-team"));
        assert_eq!(p.get(new_team).team, OTHER, "teams are capped too");
        let no_team = p.intern("k3", None);
        assert_eq!(p.get(no_team).team, NO_TEAM);
        assert_eq!(p.intern("k7", Some("t7")), p.intern("k7", Some("t7")), "a pair keeps its id");
    }

    #[test]
    fn pairs_past_their_cap_fold_into_other_other() {
        let mut p = KeyPolicy::default();
        // Keys moved through teams: every (key, team) pair is new.
        for i in 0..MAX_KEY_SERIES + 50 {
            p.intern(&format!("k{}", i % 400), Some(&format!("t{}", i % 97)));
        }
        assert_eq!(p.interned.len(), MAX_KEY_SERIES + 1, "the cap, plus (other, other)");
        let id = p.intern("k1", Some("t5"));
        assert_eq!(p.get(id), &KeyLabels { key: OTHER.into(), team: OTHER.into() });
    }

    #[test]
    fn names_are_sanitised() {
        let mut p = KeyPolicy::default();
        let id = p.intern("alice \"}\n", Some("ml team"));
        assert_eq!(p.get(id), &KeyLabels { key: "alice____".into(), team: "ml_team".into() });
        let empty = p.intern("", Some(""));
        assert_eq!(p.get(empty), &KeyLabels { key: "-".into(), team: NO_TEAM.into() });
    }

    #[test]
    fn totals_count_tokens_spend_and_refusals() {
        let mut t = KeyTotals::default();
        let ok = RequestRecord {
            status: 200,
            key: Some(Arc::from("alice")),
            usage: Usage { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 3, ..Usage::default() },
            spend_nanos: 1_500_000_001,
            ..RequestRecord::default()
        };
        t.add(&ok, "ml", 5);
        let refused = RequestRecord { status: 429, refusal: Some(RefusalReason::Rpm), ..ok.clone() };
        t.add(&RequestRecord { usage: Usage::default(), spend_nanos: 0, ..refused }, "ml", 9);
        let v = t.view();
        assert_eq!((v.requests, v.errors, v.refused, v.input_tokens, v.cache_creation_input_tokens), (2, 1, 1, 10, 3));
        assert_eq!((v.spend_nanos, v.spend_usd), (1_500_000_001, 1.500000001));
        assert_eq!(v.refusals, BTreeMap::from([("rpm", 1)]));
        assert_eq!((v.team.as_str(), v.last_seen_ms, v.remaining_budget_usd), ("ml", Some(9), None));
    }
}
