//! Upstream resilience policy, as plain state shared by every worker: retry and backoff rules, key rotation with
//! cool-downs, a circuit breaker per provider, and the runtime state a provider keeps across configuration
//! reloads. The upstream sender (`crate::upstream`) applies it; nothing here does I/O.

pub mod breaker;
pub mod keys;
pub mod retry;
pub mod runtime;

pub use breaker::{Breaker, BreakerState};
pub use keys::KeyPool;
pub use retry::RetryPolicy;
pub use runtime::ProviderRuntime;
