//! The registry's state as a plain struct: where configuration comes from, the base it last read (file and
//! environment), the admin overlay on top, and the published snapshot. Synchronous and free of actors and I/O
//! (except re-reading the file on reload), so it is tested directly; the registry actor is a shell around it.

use std::sync::Arc;

use super::edit::{build, propose, Edit, Proposal};
use super::handle::SnapshotHandle;
use crate::config::{load_raw, ConfigSource, Overlay, RawConfig, Snapshot};
use crate::error::GatewayError;

/// The live configuration of one replica.
pub struct LiveConfig {
    source: ConfigSource,
    base: RawConfig,
    overlay: Overlay,
    handle: SnapshotHandle,
    /// The last overlay from the shared store that this replica could not apply, with the reason, so it is logged
    /// once rather than at every poll, and shown by `GET /admin/config`.
    refused: Option<(u64, String)>,
}

/// One published change: the replica's config version and the shared overlay version, before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Config versions (this replica's, shown by `/health`).
    pub from: u64,
    pub to: u64,
    /// Overlay versions (shared by all replicas with Redis).
    pub overlay_from: u64,
    pub overlay_to: u64,
}

/// What became of an overlay read from the shared store.
#[derive(Debug, PartialEq, Eq)]
pub enum Adoption {
    /// Nothing new.
    Unchanged,
    /// Published.
    Applied(Transition),
    /// It does not validate on top of this replica's base; the message says why (first time for this version).
    Refused(String),
    /// Refused before; still refused.
    StillRefused,
    /// The store holds an older overlay than this replica (Redis restarted empty, or was flushed): this replica's
    /// overlay should be written back.
    StoreBehind,
}

impl LiveConfig {
    /// `base` is what `source` gave at startup; `handle` already holds the snapshot built from it.
    pub fn new(source: ConfigSource, base: RawConfig, handle: SnapshotHandle) -> Self {
        Self { source, base, overlay: Overlay::default(), handle, refused: None }
    }

    /// File and environment as last read: what an edit is validated on top of.
    pub fn base(&self) -> &RawConfig {
        &self.base
    }

    /// The admin changes this replica has applied.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// The published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.handle.current()
    }

    /// The shared overlay version this replica refused, and why.
    pub fn refused(&self) -> Option<&(u64, String)> {
        self.refused.as_ref()
    }

    /// Publishes a proposal built on the current base under the next config version, carrying each provider's
    /// runtime state (breaker, key cool-downs) over from the snapshot it replaces.
    pub fn commit(&mut self, proposal: Proposal) -> Transition {
        let previous = self.handle.current();
        let from = previous.version;
        let overlay_from = self.overlay.version;
        let mut snapshot = proposal.snapshot;
        snapshot.version = from + 1;
        snapshot.inherit_runtime(&previous);
        self.overlay = proposal.overlay;
        self.handle.publish(snapshot);
        Transition { from, to: from + 1, overlay_from, overlay_to: self.overlay.version }
    }

    /// Validates and publishes an edit, for a replica without a shared store.
    pub fn apply(&mut self, edit: &Edit) -> Result<Transition, GatewayError> {
        let proposal = propose(&self.base, &self.overlay, edit)?;
        Ok(self.commit(proposal))
    }

    /// Re-reads the file and environment and re-applies the overlay on top; an invalid result changes nothing.
    pub fn reload(&mut self) -> Result<Transition, GatewayError> {
        let refused = |e| GatewayError::InvalidRequest(format!("reload refused, configuration unchanged: {e}"));
        let base = load_raw(&self.source).map_err(refused)?;
        let snapshot = build(&base, &self.overlay).map_err(refused)?;
        self.base = base;
        let overlay = self.overlay.clone();
        Ok(self.commit(Proposal { overlay, snapshot }))
    }

    /// Takes an overlay read from the shared store: newer ones (or a different one at the same version: the store
    /// is the reference) are published when they validate on this replica's base.
    pub fn adopt(&mut self, remote: Overlay) -> Adoption {
        if remote.version < self.overlay.version {
            return Adoption::StoreBehind;
        }
        if remote == self.overlay {
            return Adoption::Unchanged;
        }
        match build(&self.base, &remote) {
            Ok(snapshot) => {
                self.refused = None;
                Adoption::Applied(self.commit(Proposal { overlay: remote, snapshot }))
            }
            Err(_) if self.refused.as_ref().is_some_and(|(v, _)| *v == remote.version) => Adoption::StillRefused,
            Err(error) => {
                let reason = error.to_string();
                self.refused = Some((remote.version, reason.clone()));
                Adoption::Refused(reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{validate, Change, RawProvider};

    fn provider(url: &str, key: &str) -> RawProvider {
        RawProvider {
            base_url: Some(url.into()),
            api_format: Some("anthropic".into()),
            api_keys: Some(vec![key.into()]),
            ..Default::default()
        }
    }

    /// A replica whose base has one provider, `main`, read from a config file at `path`.
    fn live_with_file(path: &std::path::Path) -> LiveConfig {
        std::fs::write(
            path,
            "[providers.main]\napi_format = \"anthropic\"\nbase_url = \"http://main\"\napi_key = \"m\"\n",
        )
        .unwrap();
        let source = ConfigSource { path: Some(path.to_path_buf()), env: vec![] };
        let base = load_raw(&source).unwrap();
        let handle = SnapshotHandle::new(validate(&base).unwrap().snapshot);
        LiveConfig::new(source, base, handle)
    }

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("gatehouse-live-{tag}-{}.toml", std::process::id()))
    }

    fn upsert(name: &str, url: &str, key: &str) -> Edit {
        Edit::Upsert { name: name.into(), provider: provider(url, key) }
    }

    #[test]
    fn each_accepted_change_increments_the_version_and_refusals_change_nothing() {
        let path = temp_path("versions");
        let mut live = live_with_file(&path);
        let t = live.apply(&upsert("extra", "http://extra", "e")).unwrap();
        assert_eq!((t.from, t.to, t.overlay_from, t.overlay_to), (1, 2, 0, 1));
        assert!(live.apply(&upsert("extra", "gopher://x", "e")).is_err());
        let snapshot = live.snapshot();
        assert_eq!(snapshot.version, 2);
        assert_eq!(snapshot.providers["extra"].base_url, "http://extra");
        assert_eq!(live.overlay().version, 1);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_request_keeps_the_provider_it_started_with() {
        let path = temp_path("keeps");
        let mut live = live_with_file(&path);
        live.apply(&upsert("extra", "http://old", "e")).unwrap();
        let held = live.snapshot().providers["extra"].clone();
        live.apply(&upsert("extra", "http://new", "e")).unwrap();
        live.apply(&Edit::Remove { name: "extra".into() }).unwrap();
        assert_eq!(held.endpoint, "http://old/v1/messages", "the old Arc<Provider> is untouched");
        assert!(!live.snapshot().providers.contains_key("extra"));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn runtime_state_follows_the_provider_until_it_is_repointed() {
        let path = temp_path("runtime");
        let mut live = live_with_file(&path);
        live.apply(&upsert("extra", "http://a", "e")).unwrap();
        let first = live_breaker(&live);
        let mut with_header = provider("http://a", "e");
        with_header.custom_headers.insert("x-team".into(), "t".into());
        live.apply(&Edit::Upsert { name: "extra".into(), provider: with_header }).unwrap();
        assert!(Arc::ptr_eq(&first, &live_breaker(&live)), "same upstream: the breaker is kept");
        live.apply(&upsert("extra", "http://b", "e")).unwrap();
        assert!(!Arc::ptr_eq(&first, &live_breaker(&live)), "repointed: a fresh breaker");
        let _ = std::fs::remove_file(path);
    }

    fn live_breaker(live: &LiveConfig) -> Arc<crate::resilience::Breaker> {
        live.snapshot().providers["extra"].runtime.breaker.clone()
    }

    #[test]
    fn reload_rereads_the_file_and_keeps_admin_changes() {
        let path = temp_path("reload");
        let mut live = live_with_file(&path);
        live.apply(&upsert("extra", "http://extra", "e")).unwrap();
        std::fs::write(
            &path,
            "[providers.main]\napi_format = \"anthropic\"\nbase_url = \"http://main-v2\"\napi_key = \"m\"\n",
        )
        .unwrap();
        let t = live.reload().unwrap();
        assert_eq!((t.from, t.to), (2, 3));
        let snapshot = live.snapshot();
        assert_eq!(snapshot.providers["main"].base_url, "http://main-v2");
        assert!(snapshot.providers.contains_key("extra"), "the overlay survives the reload");

        std::fs::write(&path, "[providers.main]\napi_format = \"gemini\"\n").unwrap();
        let err = live.reload().unwrap_err().to_string();
        assert!(err.contains("api_format") && err.contains("unchanged"), "{err}");
        assert_eq!(live.snapshot().version, 3);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn adopting_remote_overlays() {
        let path = temp_path("adopt");
        let mut live = live_with_file(&path);
        let remote = Overlay::default().with("extra", Change::Upsert { provider: provider("http://extra", "e") });
        assert!(matches!(live.adopt(remote.clone()), Adoption::Applied(t) if t.overlay_to == 1 && t.to == 2));
        assert_eq!(live.adopt(remote.clone()), Adoption::Unchanged);
        assert_eq!(live.adopt(Overlay::default()), Adoption::StoreBehind);

        let bad = remote.with("worse", Change::Upsert { provider: provider("nope://", "w") });
        assert!(matches!(live.adopt(bad.clone()), Adoption::Refused(reason) if reason.contains("base_url")));
        assert_eq!(live.adopt(bad), Adoption::StillRefused);
        assert_eq!(live.snapshot().version, 2, "a refused overlay changes nothing");
        assert_eq!(live.refused().map(|r| r.0), Some(2));

        let fixed =
            remote.with("worse", Change::Remove).with("other", Change::Upsert { provider: provider("http://o", "o") });
        assert!(matches!(live.adopt(fixed), Adoption::Applied(_)));
        assert!(live.refused().is_none());
        let _ = std::fs::remove_file(path);
    }
}
