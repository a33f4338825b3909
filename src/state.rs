//! What handlers are given: the configuration snapshot to route with, the actors to talk to, and this worker's
//! forwarder, the virtual keys and their ledgers. One `AppState` per worker thread (the forwarder is per worker);
//! everything else in it is shared.

use std::sync::Arc;
use std::time::Instant;

use actix::Addr;

use crate::actors::forwarder::ForwarderHandle;
use crate::actors::metrics::MetricsHandle;
use crate::actors::registry::{Registry, SnapshotHandle};
use crate::keys::{DirectoryHandle, Keyring};
use crate::limits::Store;
use crate::models::ModelsCache;

/// The state of one worker's handlers.
#[derive(Clone)]
pub struct AppState {
    pub snapshots: SnapshotHandle,
    pub metrics: MetricsHandle,
    pub registry: Addr<Registry>,
    pub started: Instant,
    /// Provider model lists for `GET /v1/models`, shared by every worker.
    pub models: Arc<ModelsCache>,
    /// This worker's forwarder: every upstream call from this worker goes through it.
    pub forwarder: ForwarderHandle,
    /// The virtual keys and teams every request is checked against (one atomic load per request).
    pub keys: DirectoryHandle,
    /// The ledgers of keys and teams: admission, lease renewal, settlement, usage.
    pub limits: Store,
    /// Admin changes to keys and teams, and their status with usage.
    pub keyring: Keyring,
}
