//! The published configuration: one atomic pointer to the current snapshot. Requests load it without a message or a
//! lock; the registry replaces it whole.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Snapshot;

/// Shared read access to the current snapshot: cheap to clone, one atomic load per read.
#[derive(Clone)]
pub struct SnapshotHandle(Arc<ArcSwap<Snapshot>>);

impl SnapshotHandle {
    /// Publishes the startup snapshot.
    pub fn new(snapshot: Snapshot) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// The snapshot a new request should use; the request keeps it until it ends.
    pub fn current(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Swaps in a new snapshot in one store. Only the registry calls this.
    pub(crate) fn publish(&self, snapshot: Snapshot) {
        self.0.store(Arc::new(snapshot));
    }
}
