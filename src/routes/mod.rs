//! HTTP handlers, one module per endpoint family.

pub mod aliases;
pub mod dashboard;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod root;
