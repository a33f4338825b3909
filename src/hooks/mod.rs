//! Request/response middleware for OpenAI-format upstreams: a chain of hooks that see the converted OpenAI
//! request body before it is sent, and the upstream's answer — the response as the converter read it, or each
//! stream chunk as the stream converter parsed it (hooks never parse anything themselves).
//!
//! A chain is built per request from the provider's configuration ([`HookChain::for_provider`]); state shared
//! across requests and workers (the thought-signature cache) lives in the provider's runtime state, so it
//! survives configuration reloads like the circuit breaker does.

pub mod signature_cache;
pub mod thought_signatures;

use std::fmt;

use serde_json::Value;

pub use signature_cache::SignatureCache;
pub use thought_signatures::ThoughtSignatures;

use crate::config::Provider;
use crate::convert::{ChatRequest, Completion};

/// One middleware. Every method has a do-nothing default, so a hook implements only what it needs.
pub trait OpenAiHook: Send {
    /// The converted request body, just before it is serialised and sent.
    fn on_request(&mut self, _body: &mut ChatRequest<'_>) {}
    /// A non-streaming answer as the converter read it, before it is converted.
    fn on_response(&mut self, _body: &Completion<'_>) {}
    /// One parsed stream chunk, before it is converted.
    fn on_chunk(&mut self, _chunk: &Value) {}
}

/// The hooks of one request, applied in order.
#[derive(Default)]
pub struct HookChain {
    hooks: Vec<Box<dyn OpenAiHook>>,
}

impl HookChain {
    /// The hooks `provider` has enabled: thought signatures unless `thought_signatures = false`.
    pub fn for_provider(provider: &Provider) -> Self {
        let mut chain = Self::default();
        if provider.options.thought_signatures {
            chain.push(Box::new(ThoughtSignatures::new(provider.runtime.signatures.clone())));
        }
        chain
    }

    /// Appends a hook; it runs after the ones already there.
    pub fn push(&mut self, hook: Box<dyn OpenAiHook>) {
        self.hooks.push(hook);
    }

    /// No hook enabled (the provider turned them all off).
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// Every hook's [`OpenAiHook::on_request`], in order.
    pub fn on_request(&mut self, body: &mut ChatRequest<'_>) {
        self.hooks.iter_mut().for_each(|h| h.on_request(body));
    }

    /// Every hook's [`OpenAiHook::on_response`], in order.
    pub fn on_response(&mut self, body: &Completion<'_>) {
        self.hooks.iter_mut().for_each(|h| h.on_response(body));
    }

    /// Every hook's [`OpenAiHook::on_chunk`], in order.
    pub fn on_chunk(&mut self, chunk: &Value) {
        self.hooks.iter_mut().for_each(|h| h.on_chunk(chunk));
    }
}

impl fmt::Debug for HookChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HookChain({} hooks)", self.hooks.len())
    }
}
