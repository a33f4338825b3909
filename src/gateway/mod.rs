//! The request path of the model routes, in the order a request meets it: [`admission`] (who, what, where to),
//! the [`pipeline`] (the one fallback loop, the one failure point), the [`exchange`] planned per target (how the
//! request is carried to that provider's format and its answer back), [`respond`] (the response head and body),
//! and the [`recorder`] (the one logging point). `docs/architecture.md` draws it.

pub mod admission;
pub mod charge;
pub mod endpoint;
pub mod exchange;
pub mod pipeline;
pub mod ratelimit_headers;
pub mod recorder;
pub mod respond;

pub use endpoint::Endpoint;
pub use pipeline::serve;
