//! Header policy: what goes upstream (client headers minus hop-by-hop and auth, plus the provider's key and
//! custom headers) and what comes back to the client.

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::ApiFormat;
use crate::error::GatewayError;
use crate::hops;

/// The header that carries the gateway's proxy key when the standard auth headers carry the client's provider
/// key. Never forwarded upstream.
pub const PROXY_KEY_HEADER: &str = "x-gatehouse-key";

/// How a key is presented: passthrough keeps the client's style upstream for Anthropic-format providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStyle {
    XApiKey,
    Bearer,
}

/// The client's own provider key (for passthrough providers), as it presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    pub key: String,
    pub style: KeyStyle,
}

/// The `anthropic-version` sent when the client sent none.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

const ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Headers never copied from the client: hop-by-hop, recomputed, credentials that are replaced, and what a browser
/// adds on its own (its cookies for the gateway's host, the page's origin) that is none of the provider's business.
/// `expect` is answered by the gateway itself (awc would otherwise wait for the upstream's `100 Continue` before
/// sending the body, up to the request timeout); `content-encoding` never describes a body the gateway read
/// (encoded request bodies are refused, [`crate::gateway::admission::body`]).
const DROPPED: [&str; 19] = [
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "x-api-key",
    "authorization",
    "accept-encoding",
    "expect",
    "content-encoding",
    "cookie",
    "origin",
    PROXY_KEY_HEADER,
];

/// The key to present upstream and the header style to present it in.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamKey<'a> {
    pub key: &'a str,
    pub style: KeyStyle,
}

/// The headers every attempt of one upstream request shares, built once from the client's request.
///
/// Anthropic format: every client header except hop-by-hop ones, recomputed ones and credentials (`DROPPED`),
/// and those the client's `Connection` header names (so `anthropic-beta`, `anthropic-version` and SDK headers
/// arrive as sent). OpenAI format: only what an OpenAI
/// endpoint understands. Both ask for an uncompressed answer, so relayed bytes and `content-encoding` agree and
/// usage can be read on the side. Both carry the hop count, one more than the client's request carried
/// ([`crate::hops`]). The key and the provider's custom headers go on top, per attempt ([`attempt_headers`]).
pub fn upstream_base_headers(format: ApiFormat, client: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len() + 5);
    match format {
        ApiFormat::Anthropic => {
            let named_by_connection = connection_tokens(client);
            for (name, value) in client {
                let n = name.as_str();
                if !DROPPED.contains(&n) && !named_by_connection.iter().any(|t| t.eq_ignore_ascii_case(n)) {
                    out.append(name.clone(), value.clone());
                }
            }
            if !out.contains_key(&ANTHROPIC_VERSION) {
                out.insert(ANTHROPIC_VERSION, HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION));
            }
        }
        ApiFormat::Vertex => {
            // As for Anthropic (betas stay a header), but the version goes in the body, and no AWS or Google
            // credential of the client's travels to an upstream the gateway authenticates to itself.
            let named_by_connection = connection_tokens(client);
            for (name, value) in client {
                let n = name.as_str();
                if !DROPPED.contains(&n)
                    && n != "anthropic-version"
                    && !n.starts_with("x-amz-")
                    && !n.starts_with("x-goog-")
                    && !named_by_connection.iter().any(|t| t.eq_ignore_ascii_case(n))
                {
                    out.append(name.clone(), value.clone());
                }
            }
        }
        // Bedrock: the betas and the version travel in the body; only what any HTTP API understands goes up.
        ApiFormat::OpenAi | ApiFormat::Bedrock => {
            if let Some(accept) = client.get(header::ACCEPT) {
                out.insert(header::ACCEPT, accept.clone());
            }
        }
    }
    if !out.contains_key(header::USER_AGENT) {
        out.insert(header::USER_AGENT, HeaderValue::from_static(concat!("gatehouse/", env!("CARGO_PKG_VERSION"))));
    }
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    out.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    // The request guard refused a malformed count before the request got here.
    out.insert(hops::HOPS, hops::next_value(hops::hops(client).unwrap_or(hops::MAX_HOPS)));
    out
}

/// The headers one attempt adds to the shared ones, each replacing any header of the same name: the chosen key,
/// then the provider's custom headers (which win) — except `expect`: awc would hold the body back until the
/// upstream's `100 Continue`, which the connection filter ([`super::connect`]) skips as an interim reply.
pub fn attempt_headers(
    format: ApiFormat,
    key: UpstreamKey<'_>,
    custom: &[(HeaderName, HeaderValue)],
) -> Result<HeaderMap, GatewayError> {
    let mut out = HeaderMap::with_capacity(custom.len() + 1);
    insert_key(&mut out, format, key)?;
    add_custom(&mut out, custom);
    Ok(out)
}

/// The headers one attempt adds when the gateway authenticates by other means (SigV4, a Google token): the
/// provider's custom headers only.
pub fn custom_attempt_headers(custom: &[(HeaderName, HeaderValue)]) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(custom.len() + 4);
    add_custom(&mut out, custom);
    out
}

fn add_custom(out: &mut HeaderMap, custom: &[(HeaderName, HeaderValue)]) {
    for (name, value) in custom.iter().filter(|(name, _)| name != header::EXPECT) {
        out.insert(name.clone(), value.clone());
    }
}

fn insert_key(out: &mut HeaderMap, format: ApiFormat, key: UpstreamKey<'_>) -> Result<(), GatewayError> {
    // Only Anthropic-format upstreams take `x-api-key`; Bedrock API keys and Google tokens are bearer tokens.
    let style = if format == ApiFormat::Anthropic { key.style } else { KeyStyle::Bearer };
    let invalid =
        || GatewayError::Authentication("the API key contains characters not allowed in an HTTP header".into());
    match style {
        KeyStyle::XApiKey => {
            let mut value = HeaderValue::from_str(key.key).map_err(|_| invalid())?;
            value.set_sensitive(true);
            out.insert(X_API_KEY, value);
        }
        KeyStyle::Bearer => {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.key)).map_err(|_| invalid())?;
            value.set_sensitive(true);
            out.insert(header::AUTHORIZATION, value);
        }
    }
    Ok(())
}

fn connection_tokens(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether headers announce an event stream (`content-type: text/event-stream`, any parameters).
pub fn is_event_stream(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Whether headers announce an AWS event stream (`application/vnd.amazon.eventstream`): Bedrock's streams.
pub fn is_aws_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(crate::cloud::eventstream::CONTENT_TYPE))
}

/// The upstream headers a client may see; the rest (hop-by-hop, server, date, length) stay behind.
pub fn relayed_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream.iter().filter(|(name, _)| is_relayed_response_header(name)) {
        out.append(name.clone(), value.clone());
    }
    out
}

/// Whether an upstream response header is worth relaying to the client.
pub fn is_relayed_response_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    matches!(
        n,
        "content-type"
            | "content-encoding"
            | "request-id"
            | "x-request-id"
            | "retry-after"
            | "retry-after-ms"
            | "x-should-retry"
            // Bedrock's error name and request id: what its errors are read by.
            | "x-amzn-errortype"
            | "x-amzn-requestid"
    ) || n.starts_with("anthropic-")
        || n.starts_with("x-ratelimit-")
        || n.starts_with("openai-")
        // Bedrock's error type, request id and token counts, for Bedrock-dialect clients of Bedrock providers.
        || n.starts_with("x-amzn-")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What goes on the wire: the shared headers, minus any the attempt replaces, plus the attempt's (this is how
    /// awc writes a frozen request's head with extra headers).
    fn upstream_request_headers(
        format: ApiFormat,
        client: &HeaderMap,
        key: UpstreamKey<'_>,
        custom: &[(HeaderName, HeaderValue)],
    ) -> Result<HeaderMap, GatewayError> {
        let extra = attempt_headers(format, key, custom)?;
        let mut out = upstream_base_headers(format, client);
        for (name, value) in extra.iter() {
            out.insert(name.clone(), value.clone());
        }
        Ok(out)
    }

    fn client() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-api-key", "client-key"),
            ("anthropic-beta", "a-1,b-2"),
            ("user-agent", "claude-cli/2"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("x-gatehouse-key", "gw"),
            ("accept-encoding", "gzip, br"),
            ("content-length", "10"),
            ("expect", "100-continue"),
            ("content-encoding", "identity"),
            ("x-stainless-os", "Linux"),
            ("cookie", "session=browser-secret"),
            ("origin", "https://app.example"),
            ("x-gatehouse-hops", "2"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn anthropic_keeps_client_headers_and_replaces_auth() {
        let key = UpstreamKey { key: "provider-key", style: KeyStyle::XApiKey };
        let out = upstream_request_headers(ApiFormat::Anthropic, &client(), key, &[]).unwrap();
        assert_eq!(out.get("x-api-key").unwrap(), "provider-key");
        assert_eq!(out.get("anthropic-beta").unwrap(), "a-1,b-2");
        assert_eq!(out.get("anthropic-version").unwrap(), DEFAULT_ANTHROPIC_VERSION);
        assert_eq!(out.get("user-agent").unwrap(), "claude-cli/2");
        assert_eq!(out.get("x-stainless-os").unwrap(), "Linux");
        assert_eq!(out.get("accept-encoding").unwrap(), "identity");
        assert_eq!(out.get("x-gatehouse-hops").unwrap(), "3");
        for gone in [
            "connection",
            "x-hop",
            "x-gatehouse-key",
            "content-length",
            "authorization",
            "expect",
            "content-encoding",
            "cookie",
            "origin",
        ] {
            assert!(!out.contains_key(gone), "{gone} must not be forwarded");
        }
    }

    #[test]
    fn bearer_style_is_kept_for_anthropic_passthrough() {
        let key = UpstreamKey { key: "oauth-token", style: KeyStyle::Bearer };
        let out = upstream_request_headers(ApiFormat::Anthropic, &client(), key, &[]).unwrap();
        assert_eq!(out.get("authorization").unwrap(), "Bearer oauth-token");
        assert!(!out.contains_key("x-api-key"));
    }

    #[test]
    fn openai_gets_bearer_and_no_anthropic_headers() {
        let key = UpstreamKey { key: "sk", style: KeyStyle::XApiKey };
        let custom = [
            (HeaderName::from_static("x-team"), HeaderValue::from_static("t")),
            (header::EXPECT, HeaderValue::from_static("100-continue")),
        ];
        let out = upstream_request_headers(ApiFormat::OpenAi, &client(), key, &custom).unwrap();
        assert!(!out.contains_key("expect"), "a custom expect header would make awc wait for an interim reply");
        assert_eq!(out.get("authorization").unwrap(), "Bearer sk");
        assert_eq!(out.get("x-team").unwrap(), "t");
        assert!(!out.contains_key("anthropic-beta"));
        assert!(!out.contains_key("x-api-key"));
        assert_eq!(out.get("x-gatehouse-hops").unwrap(), "3");
        assert_eq!(upstream_base_headers(ApiFormat::OpenAi, &HeaderMap::new()).get("x-gatehouse-hops").unwrap(), "1");
    }

    #[test]
    fn response_allow_list() {
        for yes in [
            "request-id",
            "retry-after",
            "anthropic-ratelimit-tokens-limit",
            "content-type",
            "x-ratelimit-remaining-requests",
        ] {
            assert!(is_relayed_response_header(&HeaderName::from_static(yes)), "{yes}");
        }
        for no in ["set-cookie", "server", "content-length", "transfer-encoding", "connection"] {
            assert!(!is_relayed_response_header(&HeaderName::from_static(no)), "{no}");
        }
    }
}
