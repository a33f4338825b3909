//! The admin overlay: provider upserts and removals made at runtime through the admin API. It is kept apart from
//! the file and environment (the base) and re-applied on top of them at every reload, so a reload never loses an
//! admin change. With `REDIS_URL` it is the document every replica shares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::raw::{Origin, RawConfig, RawProvider};

/// Every admin change since the overlay began, by provider name (lower case), with a version that only grows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    /// Incremented by every accepted admin change; shared by all replicas when the overlay lives in Redis.
    pub version: u64,
    /// The latest change to each name.
    pub changes: BTreeMap<String, Change>,
}

/// What an admin did to one provider name. The latest change to a name replaces any earlier one.
// A handful exist at a time (admin changes), so boxing the provider definition would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Change {
    /// Create or replace the whole provider definition.
    Upsert { provider: RawProvider },
    /// Remove the provider, whatever the base defines under that name.
    Remove,
}

impl Change {
    /// `upsert` or `remove`, for logs and `GET /admin/config`.
    pub fn op(&self) -> &'static str {
        match self {
            Self::Upsert { .. } => "upsert",
            Self::Remove => "remove",
        }
    }
}

impl Overlay {
    /// Applies every change on top of `base` (file and environment); names match case-insensitively, as they do in
    /// validation.
    pub fn apply(&self, base: &mut RawConfig) {
        for (name, change) in &self.changes {
            base.providers.retain(|existing, _| !existing.eq_ignore_ascii_case(name));
            if let Change::Upsert { provider } = change {
                let provider = RawProvider { origin: Origin::Admin, ..provider.clone() };
                base.providers.insert(name.clone(), provider);
            }
        }
    }

    /// This overlay plus one change, under the next version.
    pub fn with(&self, name: &str, change: Change) -> Overlay {
        let mut next = self.clone();
        next.version = self.version + 1;
        next.changes.insert(name.to_ascii_lowercase(), change);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(url: &str) -> RawProvider {
        RawProvider { base_url: Some(url.into()), api_keys: Some(vec!["k".into()]), ..Default::default() }
    }

    fn base() -> RawConfig {
        let mut raw = RawConfig::default();
        raw.providers.insert("OpenAI".into(), provider("http://file"));
        raw.providers.insert("local".into(), provider("http://local"));
        raw
    }

    #[test]
    fn upsert_replaces_whatever_the_base_had_and_is_marked_admin() {
        let overlay = Overlay::default().with("openai", Change::Upsert { provider: provider("http://admin") });
        let mut raw = base();
        overlay.apply(&mut raw);
        assert!(!raw.providers.contains_key("OpenAI"), "case-insensitive replacement");
        assert_eq!(raw.providers["openai"].base_url.as_deref(), Some("http://admin"));
        assert_eq!(raw.providers["openai"].origin, Origin::Admin);
        assert_eq!(raw.providers["local"].origin, Origin::File);
    }

    #[test]
    fn remove_wins_over_the_base_and_later_changes_replace_earlier_ones() {
        let overlay = Overlay::default()
            .with("local", Change::Upsert { provider: provider("http://x") })
            .with("LOCAL", Change::Remove);
        assert_eq!(overlay.version, 2);
        assert_eq!(overlay.changes.len(), 1);
        let mut raw = base();
        overlay.apply(&mut raw);
        assert!(!raw.providers.contains_key("local"));
        assert!(raw.providers.contains_key("OpenAI"));
    }

    #[test]
    fn reapplying_on_a_new_base_keeps_admin_changes() {
        let overlay = Overlay::default().with("added", Change::Upsert { provider: provider("http://added") });
        let mut reloaded = RawConfig::default();
        reloaded.providers.insert("fresh".into(), provider("http://fresh"));
        overlay.apply(&mut reloaded);
        assert_eq!(reloaded.providers.keys().collect::<Vec<_>>(), ["added", "fresh"]);
    }

    #[test]
    fn round_trips_through_json_for_the_shared_store() {
        let overlay =
            Overlay::default().with("a", Change::Upsert { provider: provider("http://a") }).with("b", Change::Remove);
        let json = serde_json::to_string(&overlay).unwrap();
        assert!(json.contains(r#""op":"remove""#), "{json}");
        assert_eq!(serde_json::from_str::<Overlay>(&json).unwrap(), overlay);
    }
}
