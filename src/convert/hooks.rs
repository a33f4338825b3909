//! The middleware interface of converted exchanges: hooks that see the converted OpenAI request body before it is
//! sent, and the upstream's answer — the response as the converter read it, or each stream chunk as the stream
//! converter parsed it (hooks never parse anything themselves).
//!
//! Only the interface lives here, so the converters stay free of configuration; the hooks themselves are in
//! `crate::hooks`, and the exchange that converts a request builds each request's chain from its provider's
//! options.

use std::fmt;

use serde_json::Value;

use super::{ChatRequest, Completion};

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
