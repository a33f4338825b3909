//! HTTP handlers, one module per endpoint family.

pub mod admin;
pub mod admin_keys;
pub mod aliases;
pub mod bedrock;
pub mod chat_completions;
pub mod count_tokens;
pub mod dashboard;
pub mod health;
pub mod me;
pub mod messages;
pub mod metrics;
pub mod models;
pub mod root;
pub mod vertex;
