//! HTTP handlers, one module per endpoint family.

pub mod admin;
pub mod aliases;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod root;
