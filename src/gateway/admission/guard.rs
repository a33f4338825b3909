//! The request guard: what every request must satisfy before any handler runs, checked in one place (an actix
//! middleware wired in `lib.rs`) and answered in the route's dialect (`crate::error::render`).
//!
//! | check | routes | answer |
//! |---|---|---|
//! | request headers at most [`MAX_HEADER_BYTES`] in total | all | 431 `request_too_large` |
//! | `Host` is a loopback name, a loopback address or an `allowed_hosts` entry — only when the gateway listens on a loopback address (DNS rebinding) | all | 403 `permission_error` |
//! | no `Origin`, or one in `allowed_origins` (a browser page elsewhere must not spend the gateway's keys) | model routes, `/admin/*` | 403 `permission_error` |
//! | a `POST`/`PUT` body is declared `Content-Type: application/json` (a page can send `text/plain` without a CORS preflight); on Bedrock's routes a body may also come without `Content-Type`, as boto3 sends it | model routes, `/admin/*` | 415 `invalid_request_error` |
//! | fewer than [`MAX_HOPS`] gateways passed (`x-gatehouse-hops`) | model routes | 508 `api_error` (400 for a malformed count) |
//!
//! The model routes are `/v1/*` and the cloud dialects' `/bedrock/*` and `/vertex/*`; refusals there are written in
//! the route's dialect ([`dialect_of`]).
//!
//! For an allowed origin the guard also speaks CORS: it answers the preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) and adds `Access-Control-Allow-Origin` to the answer. Claude Code and the
//! SDKs send no `Origin`; the dashboard's own reads are same-origin `GET`s of `/dashboard` and `/metrics/*`, which
//! only the first two checks concern.
//!
//! A request that passes costs a walk over its headers and a few lookups: no allocation.

use std::future::{ready, Future};
use std::net::SocketAddr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{RequestHead, Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use futures_util::future::Either;
use futures_util::FutureExt;

use crate::config::address::{bare_host, is_loopback_host, split_host_port};
use crate::config::Listen;
use crate::error::{render, Dialect, GatewayError};
use crate::hops::{hop_count, hop_count_error, HOPS, MAX_HOPS};

/// The largest total size of a request's headers (names, values and their separators), as
/// `docs/resilience.md` promises. actix-web itself reads up to about 128 KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Headers a browser page at an allowed origin may read from an answer, besides the CORS-safelisted ones.
const EXPOSED_HEADERS: &str =
    "request-id, x-gatehouse-request-id, x-gatehouse-target, retry-after, server-timing, x-gatehouse-token-count";

/// What the guard allows, fixed at startup.
#[derive(Debug, Clone)]
pub struct RequestGuard {
    /// The gateway listens on a loopback address: `Host` must name this machine.
    check_host: bool,
    /// Extra `Host` names (lower case): exact, `*.suffix`, or `*`.
    allowed_hosts: Vec<String>,
    /// Origins whose requests are served (lower case, as browsers send them).
    allowed_origins: Vec<String>,
}

/// The guard's decision on one request.
pub enum Verdict {
    /// Serve it; with an allowed origin, whose CORS headers go on the answer.
    Pass(Option<HeaderValue>),
    /// Answer this instead (a refusal, or a CORS preflight's answer).
    Answer(HttpResponse),
}

/// Which checks a path gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Routes {
    /// `/v1/*` (model routes, the model list, aliases), `/bedrock/*`, `/vertex/*`.
    Api,
    /// `/admin/*`.
    Admin,
    /// Health, metrics, the dashboard, `/`.
    Other,
}

impl RequestGuard {
    /// The guard for a gateway listening at `bound` (its real address, so a loopback check follows what was
    /// actually bound) with `listen`'s origins and host names.
    pub fn new(listen: &Listen, bound: Option<SocketAddr>) -> Self {
        let check_host = bound.is_some_and(|a| a.ip().is_loopback()) && !listen.allowed_hosts.iter().any(|h| h == "*");
        Self {
            check_host,
            allowed_hosts: listen.allowed_hosts.clone(),
            allowed_origins: listen.allowed_origins.clone(),
        }
    }

    /// Runs the checks on a request and either passes it to `service` (adding CORS headers to its answer for an
    /// allowed origin) or answers it here. The body is `EitherBody` so that both answers have one type.
    pub fn serve<S, B>(
        &self,
        req: ServiceRequest,
        service: &S,
    ) -> impl Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
        B: MessageBody,
    {
        match self.check(req.head()) {
            Verdict::Pass(origin) => Either::Left(service.call(req).map(move |result| {
                result.map(|mut response| {
                    if let Some(origin) = origin {
                        cors_headers(response.headers_mut(), origin);
                    }
                    response.map_into_left_body()
                })
            })),
            Verdict::Answer(answer) => Either::Right(ready(Ok(req.into_response(answer).map_into_right_body()))),
        }
    }

    /// The decision on one request.
    pub fn check(&self, head: &RequestHead) -> Verdict {
        let path = head.uri.path();
        let dialect = dialect_of(path);
        let refuse = |error: GatewayError| Verdict::Answer(render::response(dialect, &error));
        let seen = Seen::of(&head.headers);
        if seen.bytes > MAX_HEADER_BYTES {
            return refuse(GatewayError::HeadersTooLarge { limit: MAX_HEADER_BYTES });
        }
        if self.check_host {
            if let Err(host) = self.host_allowed(head, seen.host) {
                return refuse(GatewayError::Forbidden(format!(
                    "Host '{}' does not name this gateway: it listens on a loopback address and only answers \
                     requests addressed to localhost or a loopback address (DNS rebinding protection); add the name \
                     to allowed_hosts (ALLOWED_HOSTS) if it is yours",
                    shown(host)
                )));
            }
        }
        let routes = match path {
            p if p.starts_with("/v1/") || p.starts_with("/bedrock/") || p.starts_with("/vertex/") => Routes::Api,
            p if p == "/admin" || p.starts_with("/admin/") => Routes::Admin,
            _ => Routes::Other,
        };
        if routes == Routes::Other {
            return Verdict::Pass(None);
        }
        let mut cors = None;
        if let Some(origin) = seen.origin {
            if !self.origin_allowed(origin) {
                return refuse(GatewayError::Forbidden(format!(
                    "requests from browser pages are refused: Origin '{}' is not in allowed_origins \
                     (ALLOWED_ORIGINS); API clients send no Origin",
                    shown(origin.as_bytes())
                )));
            }
            if head.method == Method::OPTIONS && seen.preflight {
                return Verdict::Answer(preflight(origin.clone(), &head.headers));
            }
            cors = Some(origin.clone());
        }
        let has_body = seen.chunked || seen.content_length.is_some_and(|v| v.as_bytes().iter().any(|&b| b != b'0'));
        // boto3 sends InvokeModel without `Content-Type` when the caller gives no `contentType` (Bedrock defaults
        // it to JSON): Bedrock's routes take that too. A page elsewhere sending such a body still sends `Origin`.
        let undeclared_ok = seen.content_type.is_none() && dialect == Dialect::Bedrock;
        if matches!(head.method, Method::POST | Method::PUT | Method::PATCH)
            && has_body
            && !is_json(seen.content_type)
            && !undeclared_ok
        {
            let got = seen.content_type.map_or("none".into(), |v| format!("'{}'", shown(v.as_bytes())));
            return refuse(GatewayError::UnsupportedMediaType(format!(
                "the request body must be sent with Content-Type: application/json (got {got})"
            )));
        }
        if routes == Routes::Api {
            match seen.hops {
                (0, _) => {}
                (1, Some(value)) => match hop_count(value) {
                    Ok(n) if n >= MAX_HOPS => return refuse(GatewayError::LoopDetected { hops: n }),
                    Ok(_) => {}
                    Err(message) => return refuse(GatewayError::InvalidRequest(message)),
                },
                _ => return refuse(GatewayError::InvalidRequest(hop_count_error())),
            }
        }
        Verdict::Pass(cors)
    }

    /// `Err` with the offending host when the request is addressed to a name that is not this machine's.
    fn host_allowed<'h>(&self, head: &'h RequestHead, host: Option<&'h HeaderValue>) -> Result<(), &'h [u8]> {
        let allowed = |authority: &[u8]| {
            if is_plain_loopback(authority) {
                return true;
            }
            let Ok(authority) = std::str::from_utf8(authority) else { return false };
            let (host, _) = split_host_port(authority);
            is_loopback_host(host) || self.allowed_hosts.iter().any(|pattern| host_matches(pattern, bare_host(host)))
        };
        // An absolute request target (`POST http://host/…`) names the host the request is for, whatever `Host`
        // says (RFC 9112 §3.2.2).
        if let Some(authority) = head.uri.authority() {
            if !allowed(authority.host().as_bytes()) {
                return Err(authority.as_str().as_bytes());
            }
        }
        // A request without `Host` (HTTP/1.0) does not come from a browser.
        match host {
            Some(value) if !allowed(value.as_bytes()) => Err(value.as_bytes()),
            _ => Ok(()),
        }
    }

    fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        let origin = origin.as_bytes();
        let origin = origin.strip_suffix(b"/").unwrap_or(origin);
        self.allowed_origins.iter().any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin))
    }
}

/// The dialect a refusal on `path` is written in: the OpenAI route's, the cloud dialects' under their prefixes,
/// Anthropic's everywhere else.
pub fn dialect_of(path: &str) -> Dialect {
    match path {
        "/v1/chat/completions" => Dialect::OpenAi,
        p if p.starts_with("/bedrock/") => Dialect::Bedrock,
        p if p.starts_with("/vertex/") => Dialect::Vertex,
        _ => Dialect::Anthropic,
    }
}

/// Whether `host` (no port, no trailing dot) matches an `allowed_hosts` entry: `*`, `*.suffix`, or a name.
fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.is_char_boundary(host.len() - suffix.len() - 1)
                && host[host.len() - suffix.len() - 1..].starts_with('.')
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// What the checks need from the headers, gathered in one pass over them (a lookup by name hashes the name; the
/// pass compares names, which for standard headers is comparing two numbers).
struct Seen<'h> {
    /// The size of the headers as they came: each `name: value` line with its line end.
    bytes: usize,
    host: Option<&'h HeaderValue>,
    origin: Option<&'h HeaderValue>,
    content_type: Option<&'h HeaderValue>,
    content_length: Option<&'h HeaderValue>,
    /// `Transfer-Encoding` is present: a body follows.
    chunked: bool,
    /// `Access-Control-Request-Method` is present: an `OPTIONS` request is a CORS preflight.
    preflight: bool,
    /// How many `x-gatehouse-hops` values, and the first.
    hops: (usize, Option<&'h HeaderValue>),
}

impl<'h> Seen<'h> {
    fn of(headers: &'h HeaderMap) -> Self {
        let mut seen = Seen {
            bytes: 0,
            host: None,
            origin: None,
            content_type: None,
            content_length: None,
            chunked: false,
            preflight: false,
            hops: (0, None),
        };
        for (name, value) in headers.iter() {
            seen.bytes += name.as_str().len() + value.len() + 4;
            if *name == header::HOST {
                seen.host = Some(value);
            } else if *name == header::CONTENT_TYPE {
                seen.content_type = Some(value);
            } else if *name == header::CONTENT_LENGTH {
                seen.content_length = Some(value);
            } else if *name == header::ORIGIN {
                seen.origin = Some(value);
            } else if *name == header::TRANSFER_ENCODING {
                seen.chunked = true;
            } else if *name == header::ACCESS_CONTROL_REQUEST_METHOD {
                seen.preflight = true;
            } else if *name == HOPS {
                seen.hops = (seen.hops.0 + 1, seen.hops.1.or(Some(value)));
            }
        }
        seen
    }
}

/// The `Host` values every local client sends — `127.0.0.1`, `localhost`, `[::1]`, with or without a port —
/// recognised without parsing (other spellings take the general path).
fn is_plain_loopback(authority: &[u8]) -> bool {
    let digits = authority.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let host = match authority.len() - digits {
        cut if digits > 0 && cut > 0 && authority[cut - 1] == b':' => &authority[..cut - 1],
        _ => authority,
    };
    host == b"127.0.0.1" || host == b"[::1]" || host.eq_ignore_ascii_case(b"localhost")
}

/// Whether `Content-Type` is `application/json`, any case, with or without parameters (`; charset=utf-8`).
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    const JSON: &[u8] = b"application/json";
    let Some(value) = content_type else { return false };
    let value = value.as_bytes().trim_ascii();
    value.len() >= JSON.len()
        && value[..JSON.len()].eq_ignore_ascii_case(JSON)
        && matches!(value.get(JSON.len()), None | Some(b';' | b' ' | b'\t'))
}

/// A client-supplied value for an error message: at most 100 bytes, invalid UTF-8 replaced.
fn shown(value: &[u8]) -> String {
    let cut = &value[..value.len().min(100)];
    let text = String::from_utf8_lossy(cut);
    if cut.len() < value.len() {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

/// The answer to a CORS preflight from an allowed origin.
fn preflight(origin: HeaderValue, headers: &HeaderMap) -> HttpResponse {
    let mut answer = HttpResponse::build(StatusCode::NO_CONTENT);
    answer
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, PUT, DELETE"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .insert_header((header::VARY, "Origin"));
    if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        answer.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone()));
    }
    answer.finish()
}

fn cors_headers(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn listen(origins: &[&str], hosts: &[&str]) -> Listen {
        Listen {
            host: "127.0.0.1".into(),
            port: 8082,
            workers: 1,
            log_level: None,
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn loopback() -> Option<SocketAddr> {
        Some("127.0.0.1:8082".parse().unwrap())
    }

    fn guard() -> RequestGuard {
        RequestGuard::new(&listen(&["https://app.example"], &["gw.internal", "*.corp.example"]), loopback())
    }

    /// Status and body of the guard's answer (200 when it passes).
    fn verdict(guard: &RequestGuard, req: TestRequest) -> (u16, String) {
        let req = req.to_srv_request();
        match guard.check(req.head()) {
            Verdict::Pass(_) => (200, String::new()),
            Verdict::Answer(answer) => {
                let status = answer.status().as_u16();
                let body = answer.into_body().try_into_bytes().unwrap();
                (status, String::from_utf8(body.to_vec()).unwrap())
            }
        }
    }

    fn post(path: &str) -> TestRequest {
        TestRequest::post()
            .uri(path)
            .insert_header(("host", "127.0.0.1:8082"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("content-length", "2"))
    }

    #[test]
    fn a_plain_api_request_passes() {
        assert_eq!(verdict(&guard(), post("/v1/messages")).0, 200);
        let get = TestRequest::get().uri("/v1/models").insert_header(("host", "localhost:8082"));
        assert_eq!(verdict(&guard(), get).0, 200);
    }

    #[test]
    fn content_type_must_be_json_for_bodies() {
        for ok in ["application/json", "application/json; charset=utf-8", "Application/JSON"] {
            assert_eq!(verdict(&guard(), post("/v1/messages").insert_header(("content-type", ok))).0, 200, "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "application/x-www-form-urlencoded", "multipart/form-data"] {
            let (status, body) = verdict(&guard(), post("/v1/messages").insert_header(("content-type", bad)));
            assert_eq!(status, 415, "{bad}");
            assert!(body.contains("\"type\":\"invalid_request_error\"") && body.contains(bad), "{body}");
        }
        let none = TestRequest::post().uri("/admin/providers/x").insert_header(("content-length", "2"));
        let (status, body) = verdict(&guard(), none.insert_header(("host", "127.0.0.1")));
        assert!(status == 415 && body.contains("(got none)"), "{body}");
        let chunked = TestRequest::put().uri("/admin/providers/x").insert_header(("transfer-encoding", "chunked"));
        assert_eq!(verdict(&guard(), chunked).0, 415);
        let (status, body) =
            verdict(&guard(), post("/v1/chat/completions").insert_header(("content-type", "text/plain")));
        assert_eq!(status, 415);
        assert!(body.starts_with("{\"error\":{"), "OpenAI shape: {body}");
        let empty = TestRequest::post().uri("/admin/reload").insert_header(("content-length", "0"));
        assert_eq!(verdict(&guard(), empty).0, 200, "no body, nothing to declare");
        let health = TestRequest::post().uri("/health").insert_header(("content-type", "text/plain"));
        assert_eq!(verdict(&guard(), health.insert_header(("content-length", "1"))).0, 200, "not a guarded route");
    }

    #[test]
    fn the_cloud_dialects_are_guarded_and_refused_in_their_shapes() {
        let bedrock = "/bedrock/model/us.anthropic.claude-x-v1:0/invoke";
        let (status, body) = verdict(&guard(), post(bedrock).insert_header(("content-type", "text/plain")));
        assert_eq!(status, 415);
        assert!(body.starts_with("{\"message\":"), "Bedrock shape: {body}");
        let undeclared = TestRequest::post()
            .uri(bedrock)
            .insert_header(("host", "127.0.0.1"))
            .insert_header(("content-length", "2"));
        assert_eq!(verdict(&guard(), undeclared).0, 200, "boto3's InvokeModel without contentType");
        let undeclared = TestRequest::post()
            .uri("/v1/messages")
            .insert_header(("host", "127.0.0.1"))
            .insert_header(("content-length", "2"));
        assert_eq!(verdict(&guard(), undeclared).0, 415, "elsewhere a body must say it is JSON");
        let (status, body) = verdict(&guard(), post(bedrock).insert_header(("x-gatehouse-hops", "99")));
        assert!(status == 508 && body.starts_with("{\"message\":"), "{body}");
        let vertex = "/vertex/v1/projects/p/locations/r/publishers/anthropic/models/m:rawPredict";
        let (status, body) = verdict(&guard(), post(vertex).insert_header(("origin", "https://evil.example")));
        assert!(status == 403 && body.contains("\"type\":\"permission_error\""), "Anthropic shape: {body}");
        assert_eq!(dialect_of("/bedrock/inference-profiles"), Dialect::Bedrock);
        assert_eq!(dialect_of("/vertex/v1/x"), Dialect::Vertex);
        assert_eq!(dialect_of("/bedrockx"), Dialect::Anthropic);
    }

    #[test]
    fn origins_must_be_allowed() {
        let (status, body) = verdict(&guard(), post("/v1/messages").insert_header(("origin", "https://evil.example")));
        assert_eq!(status, 403);
        assert!(body.contains("permission_error") && body.contains("ALLOWED_ORIGINS"), "{body}");
        assert_eq!(verdict(&guard(), post("/admin/reload").insert_header(("origin", "null"))).0, 403);
        assert_eq!(verdict(&guard(), post("/v1/messages").insert_header(("origin", "https://APP.example"))).0, 200);
        let dashboard = TestRequest::get().uri("/metrics/summary").insert_header(("origin", "https://evil.example"));
        assert_eq!(verdict(&guard(), dashboard).0, 200, "the dashboard's routes are not model or admin routes");
        let nobody = RequestGuard::new(&listen(&[], &[]), loopback());
        assert_eq!(verdict(&nobody, post("/v1/messages").insert_header(("origin", "https://app.example"))).0, 403);
    }

    #[test]
    fn an_allowed_origin_gets_its_preflight_answered() {
        let req = TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/v1/messages")
            .insert_header(("origin", "https://app.example"))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "content-type, x-api-key"))
            .to_srv_request();
        let Verdict::Answer(answer) = guard().check(req.head()) else { panic!("a preflight is answered") };
        assert_eq!(answer.status(), 204);
        let h = answer.headers();
        assert_eq!(h.get("access-control-allow-origin").unwrap(), "https://app.example");
        assert_eq!(h.get("access-control-allow-headers").unwrap(), "content-type, x-api-key");
    }

    #[test]
    fn host_must_name_this_machine_when_bound_to_loopback() {
        let host = |h: &str| post("/v1/messages").insert_header(("host", h.to_string()));
        for ok in ["127.0.0.1:8082", "localhost", "LOCALHOST:1", "[::1]:8082", "gw.internal:8082", "a.corp.example"] {
            assert_eq!(verdict(&guard(), host(ok)).0, 200, "{ok}");
        }
        for bad in ["evil.example:8082", "corp.example", "127.0.0.1.evil.example", "localhost.evil.example"] {
            let (status, body) = verdict(&guard(), host(bad));
            assert_eq!(status, 403, "{bad}");
            assert!(body.contains("DNS rebinding") && body.contains(bad), "{body}");
        }
        let health = TestRequest::get().uri("/health").insert_header(("host", "evil.example"));
        assert_eq!(verdict(&guard(), health).0, 403, "every route");
        let absolute = TestRequest::get().uri("http://evil.example/health").insert_header(("host", "localhost"));
        assert_eq!(verdict(&guard(), absolute).0, 403, "the request target's authority counts");
        let public = RequestGuard::new(&listen(&[], &[]), Some("0.0.0.0:8082".parse().unwrap()));
        assert_eq!(verdict(&public, host("evil.example")).0, 200, "not bound to loopback: any name");
        let any = RequestGuard::new(&listen(&[], &["*"]), loopback());
        assert_eq!(verdict(&any, host("evil.example")).0, 200, "allowed_hosts = *");
    }

    #[test]
    fn headers_over_the_limit_are_refused() {
        let half = "a".repeat(MAX_HEADER_BYTES / 2);
        let ok = post("/v1/messages").insert_header(("x-one", half.clone()));
        assert_eq!(verdict(&guard(), ok).0, 200);
        let big = post("/v1/chat/completions").insert_header(("x-one", half.clone())).insert_header(("x-two", half));
        let (status, body) = verdict(&guard(), big);
        assert_eq!(status, 431);
        assert!(body.contains("request_too_large") && body.starts_with("{\"error\""), "{body}");
    }

    #[test]
    fn hop_counts_past_the_limit_are_refused() {
        let hops = |n: &str| post("/v1/messages").insert_header((HOPS, n.to_string()));
        assert_eq!(verdict(&guard(), hops("4")).0, 200);
        let (status, body) = verdict(&guard(), hops("5"));
        assert_eq!(status, 508);
        assert!(body.contains("passed through gatehouse 5 times"), "{body}");
        assert_eq!(verdict(&guard(), hops("many")).0, 400);
        let models = TestRequest::get().uri("/v1/models").insert_header((HOPS, "9"));
        assert_eq!(verdict(&guard(), models).0, 508, "the model list fans out upstream too");
    }

    #[test]
    fn plain_loopback_hosts() {
        for yes in ["127.0.0.1", "127.0.0.1:8082", "localhost", "LocalHost:1", "[::1]", "[::1]:8082"] {
            assert!(is_plain_loopback(yes.as_bytes()), "{yes}");
        }
        for no in ["127.0.0.2", "localhost.evil", "evil:127.0.0.1", ":8082", "", "[::1]x", "127.0.0.1:"] {
            assert!(!is_plain_loopback(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("*.corp.example", "a.b.corp.example"));
        assert!(!host_matches("*.corp.example", "corp.example"));
        assert!(!host_matches("*.corp.example", "xcorp.example"));
        assert!(host_matches("GW.internal", "gw.INTERNAL"));
    }
}
