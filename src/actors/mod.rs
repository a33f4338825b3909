//! The actors: thin shells that own state and delegate to plain structs.

pub mod forwarder;
pub mod metrics;
pub mod registry;
