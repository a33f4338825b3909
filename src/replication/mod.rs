//! Sharing admin changes between replicas: the overlay lives in a store (Redis), every write is a compare-and-set
//! on the overlay version, and a follower task brings each replica the overlays other replicas wrote.
//!
//! A write validates the edit on top of the overlay this replica knows, then stores the result only if the store
//! still holds the version it built on; otherwise it takes the newer overlay from the store and tries again. So
//! every overlay in the store was validated by the replica that wrote it, and concurrent writes never lose each
//! other's changes.

pub mod follower;
pub mod redis_store;

use derive_more::Display;

use crate::config::{Overlay, RawConfig};
use crate::error::GatewayError;
use crate::registry::{propose, Edit, Proposal};

/// How often a write retries after losing a race with another replica before giving up with 503.
const MAX_ATTEMPTS: usize = 5;

/// The store could not be reached or answered nonsense. The message never contains a key or the store's URL.
#[derive(Debug, Display, Clone, PartialEq, Eq)]
#[display("{_0}")]
pub struct StoreError(pub String);

/// Whether a compare-and-set took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    Stored,
    /// The store holds another version than the one expected.
    Conflict,
}

/// Where the shared overlay lives. `pub(crate)` because its futures are not `Send` (one actor thread uses them).
pub(crate) trait OverlayStore {
    /// Stores `overlay` (and announces it to every replica) only if the store still holds version `expected`
    /// (0: nothing stored).
    async fn compare_and_set(&self, expected: u64, overlay: &Overlay) -> Result<CasOutcome, StoreError>;
    /// The stored overlay (empty, version 0, when there is none).
    async fn fetch(&self) -> Result<Overlay, StoreError>;
}

/// Validates `edit` on top of `current` and stores the result, retrying on top of the store's newer overlay after
/// a lost race. Returns the proposal to publish locally. When the store holds an *older* overlay than `current`
/// (it lost its data), `current` is kept and written over it, so admin changes survive a Redis restart.
pub(crate) async fn write_through<S: OverlayStore>(
    store: &S,
    base: &RawConfig,
    mut current: Overlay,
    edit: &Edit,
) -> Result<Proposal, GatewayError> {
    let mut expected = current.version;
    for _ in 0..MAX_ATTEMPTS {
        let proposal = propose(base, &current, edit)?;
        match store.compare_and_set(expected, &proposal.overlay).await.map_err(unavailable)? {
            CasOutcome::Stored => return Ok(proposal),
            CasOutcome::Conflict => {
                let stored = store.fetch().await.map_err(unavailable)?;
                expected = stored.version;
                if stored.version >= current.version {
                    current = stored;
                }
            }
        }
    }
    Err(GatewayError::Unavailable(
        "the configuration changed concurrently on other replicas too often; retry the request".into(),
    ))
}

/// The 503 an admin write gets while the store is down.
pub fn unavailable(error: StoreError) -> GatewayError {
    GatewayError::Unavailable(format!(
        "the shared configuration store (Redis) is unavailable, so configuration changes are refused until it is \
         back; traffic is still served with the current configuration ({error})"
    ))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::config::{Change, RawProvider};
    use actix_web::ResponseError;

    /// An in-memory store; `interfere` runs before each compare-and-set, to simulate another replica.
    #[derive(Default)]
    struct MemoryStore {
        stored: RefCell<Overlay>,
        down: bool,
        interfere: RefCell<Vec<Overlay>>,
        writes: RefCell<usize>,
    }

    impl OverlayStore for MemoryStore {
        async fn compare_and_set(&self, expected: u64, overlay: &Overlay) -> Result<CasOutcome, StoreError> {
            if self.down {
                return Err(StoreError("connection refused".into()));
            }
            if let Some(other) = self.interfere.borrow_mut().pop() {
                *self.stored.borrow_mut() = other;
            }
            if self.stored.borrow().version != expected {
                return Ok(CasOutcome::Conflict);
            }
            *self.writes.borrow_mut() += 1;
            *self.stored.borrow_mut() = overlay.clone();
            Ok(CasOutcome::Stored)
        }

        async fn fetch(&self) -> Result<Overlay, StoreError> {
            Ok(self.stored.borrow().clone())
        }
    }

    fn provider(url: &str) -> RawProvider {
        RawProvider {
            base_url: Some(url.into()),
            api_format: Some("anthropic".into()),
            api_keys: Some(vec!["k".into()]),
            ..Default::default()
        }
    }

    fn base() -> RawConfig {
        let mut raw = RawConfig::default();
        raw.providers.insert("main".into(), provider("http://main"));
        raw
    }

    fn upsert(name: &str) -> Edit {
        Edit::Upsert { name: name.into(), provider: provider(&format!("http://{name}")) }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        actix_rt::System::new().block_on(f)
    }

    #[test]
    fn a_write_is_stored_under_the_next_version() {
        let store = MemoryStore::default();
        let p = block_on(write_through(&store, &base(), Overlay::default(), &upsert("a"))).unwrap();
        assert_eq!(p.overlay.version, 1);
        assert_eq!(*store.stored.borrow(), p.overlay);
    }

    #[test]
    fn a_lost_race_rebuilds_on_the_other_replicas_change() {
        let store = MemoryStore::default();
        let theirs = Overlay::default().with("b", Change::Upsert { provider: provider("http://b") });
        store.interfere.borrow_mut().push(theirs);
        let p = block_on(write_through(&store, &base(), Overlay::default(), &upsert("a"))).unwrap();
        assert_eq!(p.overlay.version, 2);
        assert!(p.snapshot.providers.contains_key("a") && p.snapshot.providers.contains_key("b"), "both kept");
        assert_eq!(*store.stored.borrow(), p.overlay);
    }

    #[test]
    fn a_store_that_lost_its_data_gets_this_replicas_overlay_back() {
        let store = MemoryStore::default();
        let ours = Overlay::default().with("a", Change::Upsert { provider: provider("http://a") });
        let ours = ours.with("b", Change::Upsert { provider: provider("http://b") });
        let p = block_on(write_through(&store, &base(), ours, &upsert("c"))).unwrap();
        assert_eq!(p.overlay.version, 3, "versions keep growing");
        assert_eq!(p.overlay.changes.len(), 3, "earlier admin changes are written back");
        assert_eq!(store.stored.borrow().version, 3);
    }

    #[test]
    fn an_invalid_edit_never_reaches_the_store() {
        let store = MemoryStore::default();
        let edit =
            Edit::Upsert { name: "x".into(), provider: RawProvider { base_url: Some("nope".into()), ..provider("") } };
        let err = block_on(write_through(&store, &base(), Overlay::default(), &edit)).unwrap_err();
        assert_eq!(err.status_code(), 400);
        assert_eq!(*store.writes.borrow(), 0);
    }

    #[test]
    fn a_store_that_is_down_is_503() {
        let store = MemoryStore { down: true, ..Default::default() };
        let err = block_on(write_through(&store, &base(), Overlay::default(), &upsert("a"))).unwrap_err();
        assert_eq!(err.status_code(), 503);
        assert!(err.to_string().contains("Redis"), "{err}");
    }
}
