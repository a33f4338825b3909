//! HTTP handlers, one module per endpoint family.

pub mod aliases;
pub mod chat_completions;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod root;
