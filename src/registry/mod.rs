//! The configuration registry's logic, free of actors: the published snapshot handle, admin edits and their
//! validation, and the live state (base + overlay → snapshot) that the registry actor wraps.

pub mod edit;
pub mod handle;
pub mod live;

pub use edit::{build, propose, Edit, Proposal};
pub use handle::SnapshotHandle;
pub use live::{Adoption, LiveConfig, Transition};
