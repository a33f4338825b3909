//! The provider-registry actor: owns the configuration and publishes immutable snapshots. Requests read the
//! current snapshot without a message (an atomic load); changes go through this actor, which builds and validates
//! a whole new snapshot and swaps it in one store, so an invalid change alters nothing.

use std::sync::Arc;

use actix::{Actor, Context, Handler, Message};
use arc_swap::ArcSwap;

use crate::config::{load_from, ConfigError, ConfigSource, Snapshot};

/// Shared read access to the current snapshot: cheap to clone, one atomic load per read.
#[derive(Clone)]
pub struct SnapshotHandle(Arc<ArcSwap<Snapshot>>);

impl SnapshotHandle {
    pub fn new(snapshot: Snapshot) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(snapshot)))
    }

    /// The snapshot a new request should use; the request keeps it until it ends.
    pub fn current(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    fn publish(&self, snapshot: Snapshot) {
        self.0.store(Arc::new(snapshot));
    }
}

/// Owns where configuration comes from and the published snapshot.
pub struct Registry {
    snapshots: SnapshotHandle,
    source: ConfigSource,
}

impl Registry {
    pub fn new(snapshots: SnapshotHandle, source: ConfigSource) -> Self {
        Self { snapshots, source }
    }

    /// Re-reads file and environment; on success publishes the result under the next version number.
    pub fn reload(&mut self) -> Result<u64, ConfigError> {
        let mut snapshot = load_from(&self.source)?.snapshot;
        let previous = self.snapshots.current();
        snapshot.version = previous.version + 1;
        snapshot.inherit_runtime(&previous);
        let version = snapshot.version;
        self.snapshots.publish(snapshot);
        Ok(version)
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

/// Re-read the configuration file and environment.
#[derive(Message)]
#[rtype(result = "Result<u64, ConfigError>")]
pub struct Reload;

impl Handler<Reload> for Registry {
    type Result = Result<u64, ConfigError>;

    fn handle(&mut self, _: Reload, _: &mut Context<Self>) -> Self::Result {
        self.reload()
    }
}
