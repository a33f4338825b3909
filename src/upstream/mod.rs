//! Talking to upstream providers: how connections are made ([`client`]: each provider's pool, the outbound
//! address policy at connect time), which headers go (and come back), the request body as sent, the sender that
//! applies the resilience policy (breaker → attempts with keys and retries → body), and the answer as the
//! request path reads it. No actor code: the forwarder actor (`crate::actors::forwarder`) owns one
//! [`Upstream`] per provider on each worker and runs [`Upstream::send`] for it.

pub mod client;
mod cloud_auth;
pub mod connect;
pub mod decode;
pub mod headers;
pub mod outgoing;
pub mod reply;
pub mod send;

use actix_web::http::header::HeaderMap;

pub use client::provider_client;
pub use headers::{ClientKey, KeyStyle, PROXY_KEY_HEADER};
pub use outgoing::OutgoingBody;
pub use reply::{UpstreamBody, UpstreamReply, MAX_WHOLE_BODY_BYTES};
pub use send::Upstream;

use crate::config::{Provider, UpstreamCall};

/// One call to make upstream, as the request path prepared it.
#[derive(Debug)]
pub struct UpstreamRequest {
    /// Which upstream endpoint.
    pub call: UpstreamCall,
    /// The exact bytes to POST (empty for a GET).
    pub body: OutgoingBody,
    /// The headers every attempt shares ([`headers::upstream_base_headers`]); each attempt adds the key and the
    /// provider's custom headers.
    pub headers: HeaderMap,
    /// The client's own provider key, for passthrough providers.
    pub client_key: Option<ClientKey>,
    /// The URL to call when the provider's format puts the model or the kind of call in the path (bedrock,
    /// vertex); `None`: the provider's URL for `call`.
    pub url: Option<String>,
}

impl UpstreamRequest {
    /// A call to `provider`, with the upstream headers derived from the client's by the provider's format.
    pub fn new(
        provider: &Provider,
        call: UpstreamCall,
        body: impl Into<OutgoingBody>,
        client_headers: &HeaderMap,
        client_key: Option<ClientKey>,
    ) -> Self {
        let headers = headers::upstream_base_headers(provider.format, client_headers);
        Self { call, body: body.into(), headers, client_key, url: None }
    }

    /// The same request sent to `url` with `body` instead.
    pub fn redirected(self, url: String, body: impl Into<OutgoingBody>) -> Self {
        Self { url: Some(url), body: body.into(), ..self }
    }
}
