//! The admin API's pieces that are not HTTP plumbing: who may call it, what a provider body may say, and how the
//! configuration is shown without its secrets. The handlers are in `routes::admin`; the semantics of a change in
//! `registry` and `replication`.

pub mod auth;
pub mod body;
pub mod view;
