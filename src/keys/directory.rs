//! The directory of virtual keys and teams that every request consults: an immutable snapshot swapped whole
//! (like the configuration), so a lookup is one atomic load and one hash-map probe. Deleted keys leave a
//! tombstone, so their holders are told the key was revoked rather than that it is unknown.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{secret, Team, VirtualKey};

/// Every key and team, by what a request presents.
#[derive(Debug, Default)]
pub struct Directory {
    /// Keys by the hex SHA-256 of their secret (foldhash: looked up on every keyed request, and a SHA-256 cannot
    /// be steered into colliding buckets).
    by_hash: HashMap<String, Arc<VirtualKey>, foldhash::fast::RandomState>,
    /// Hashes of deleted keys.
    revoked: HashSet<String>,
    teams: HashMap<String, Arc<Team>, foldhash::fast::RandomState>,
    /// The records could not be loaded yet (Redis down since startup): no key can be checked.
    unavailable: bool,
    /// While unavailable, whether every `/v1/*` request needs a credential (failure policy `closed`).
    strict: bool,
}

/// What a presented secret is.
#[derive(Debug, Clone)]
pub enum Presented {
    /// A key that may be used, with its team.
    Valid(Arc<VirtualKey>, Option<Arc<Team>>),
    Disabled(Arc<VirtualKey>),
    Expired(Arc<VirtualKey>),
    Revoked,
    /// Not a virtual key of this gateway.
    Unknown,
    /// A virtual key, but the key records have not been loaded yet (Redis unreachable since this replica
    /// started): answer as the limits store's failure (503), never as an unknown key.
    Unavailable,
}

impl Directory {
    /// A directory of `keys` and `teams`, with the hashes of deleted keys.
    pub fn new(keys: Vec<VirtualKey>, teams: Vec<Team>, revoked: HashSet<String>) -> Self {
        Self {
            by_hash: keys.into_iter().map(|k| (k.secret_hash.clone(), Arc::new(k))).collect(),
            revoked,
            teams: teams.into_iter().map(|t| (t.name.to_string(), Arc::new(t))).collect(),
            unavailable: false,
            strict: false,
        }
    }

    /// The directory of a replica that could not load the key records yet: virtual keys are
    /// [`Presented::Unavailable`] until the records arrive. `strict` (failure policy `closed`): keys may exist, so
    /// every `/v1/*` request needs a credential meanwhile — requests without one are not let through unlimited;
    /// otherwise (`open`) requests without a virtual key flow as if none existed.
    pub fn unavailable(strict: bool) -> Self {
        Self { unavailable: true, strict, ..Self::default() }
    }

    /// Whether the records were loaded (false only until a replica first reaches Redis).
    pub fn loaded(&self) -> bool {
        !self.unavailable
    }

    /// Whether virtual keys are in use: once any exists (or existed), every `/v1/*` request needs one.
    pub fn in_use(&self) -> bool {
        (self.unavailable && self.strict) || !self.by_hash.is_empty() || !self.revoked.is_empty()
    }

    /// What `presented` is, at `now_ms`.
    pub fn identify(&self, presented: &str, now_ms: u64) -> Presented {
        if !presented.starts_with(secret::PREFIX) {
            return Presented::Unknown;
        }
        if self.unavailable {
            return Presented::Unavailable;
        }
        if !self.in_use() {
            return Presented::Unknown;
        }
        secret::with_presented_hash(presented, |hash| match self.by_hash.get(hash) {
            Some(key) if key.disabled => Presented::Disabled(key.clone()),
            Some(key) if key.expires_at.is_some_and(|at| at <= now_ms) => Presented::Expired(key.clone()),
            Some(key) => Presented::Valid(key.clone(), key.team.as_ref().and_then(|t| self.teams.get(t).cloned())),
            None if self.revoked.contains(hash) => Presented::Revoked,
            None => Presented::Unknown,
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &Arc<VirtualKey>> {
        self.by_hash.values()
    }

    /// A key by its id, or else by its name (the admin API accepts either).
    pub fn key(&self, id: &str) -> Option<&Arc<VirtualKey>> {
        self.by_hash.values().find(|k| *k.id == *id).or_else(|| self.by_hash.values().find(|k| *k.name == *id))
    }

    pub fn teams(&self) -> impl Iterator<Item = &Arc<Team>> {
        self.teams.values()
    }

    pub fn team(&self, name: &str) -> Option<&Arc<Team>> {
        self.teams.get(name)
    }
}

/// Shared read access to the current directory: one atomic load per request.
#[derive(Clone, Default)]
pub struct DirectoryHandle(Arc<ArcSwap<Directory>>);

impl DirectoryHandle {
    pub fn current(&self) -> Arc<Directory> {
        self.0.load_full()
    }

    /// Swaps in a new directory in one store.
    pub fn publish(&self, directory: Directory) {
        self.0.store(Arc::new(directory));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    fn key(id: &str, secret: &str, team: Option<&str>) -> VirtualKey {
        VirtualKey {
            id: id.into(),
            name: id.into(),
            team: team.map(str::to_string),
            models: vec![],
            limits: Limits::default(),
            expires_at: None,
            disabled: false,
            metadata: Default::default(),
            created_at: 0,
            secret_hash: secret::hash(secret),
            declared: false,
        }
    }

    #[test]
    fn a_presented_secret_is_valid_disabled_expired_revoked_or_unknown() {
        let team =
            Team { id: "t1".into(), name: "ml".into(), limits: Limits::default(), created_at: 0, declared: false };
        let mut disabled = key("k2", "gh_disabled", None);
        disabled.disabled = true;
        let mut expired = key("k3", "gh_expired", None);
        expired.expires_at = Some(1_000);
        let revoked = HashSet::from([secret::hash("gh_deleted")]);
        let d = Directory::new(vec![key("k1", "gh_alice", Some("ml")), disabled, expired], vec![team], revoked);
        assert!(
            matches!(d.identify("gh_alice", 0), Presented::Valid(k, Some(t)) if &*k.id == "k1" && &*t.name == "ml")
        );
        assert!(matches!(d.identify("gh_disabled", 0), Presented::Disabled(_)));
        assert!(matches!(d.identify("gh_expired", 999), Presented::Valid(..)));
        assert!(matches!(d.identify("gh_expired", 1_000), Presented::Expired(_)));
        assert!(matches!(d.identify("gh_deleted", 0), Presented::Revoked));
        assert!(matches!(d.identify("gh_other", 0), Presented::Unknown));
        assert!(matches!(d.identify("sk-ant-api03-x", 0), Presented::Unknown), "provider keys are not hashed");
        assert!(!Directory::default().in_use());
        let waiting = Directory::unavailable(true);
        assert!(waiting.in_use() && !waiting.loaded());
        assert!(matches!(waiting.identify("gh_alice", 0), Presented::Unavailable));
        assert!(matches!(waiting.identify("proxy-key", 0), Presented::Unknown));
        let lenient = Directory::unavailable(false);
        assert!(!lenient.in_use() && matches!(lenient.identify("gh_alice", 0), Presented::Unavailable));
        assert_eq!(d.key("k2").map(|k| &*k.name), Some("k2"));
    }
}
