//! The hooks a provider can enable on its converted exchanges ([`crate::convert::hooks::OpenAiHook`]). Each hook
//! takes its own options; state shared across requests and workers (the thought-signature cache) lives in the
//! provider's runtime state, so it survives configuration reloads like the circuit breaker does.

pub mod signature_cache;
pub mod thought_signatures;

pub use signature_cache::SignatureCache;
pub use thought_signatures::ThoughtSignatures;
