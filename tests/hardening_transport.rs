//! Issue 19, transport: hostile clients and broken upstreams at the HTTP framing level. The upstreams here are
//! raw TCP servers written byte by byte (interim replies, close-delimited bodies, CR-only and gzip event streams),
//! because an HTTP server library would not misbehave the way these do; slow clients are raw TCP too, against
//! short configured deadlines.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use futures_util::StreamExt;
use serde_json::Value;

/// One request as a raw upstream read it.
#[derive(Debug, Clone)]
struct RawRequest {
    head: String,
    body: Vec<u8>,
}

impl RawRequest {
    /// The model the gateway asked for (`up:<model>` on the client side).
    fn model(&self) -> String {
        let json: Value = serde_json::from_slice(&self.body).unwrap_or_default();
        json["model"].as_str().unwrap_or("").to_string()
    }
}

/// A raw HTTP/1.1 upstream: every request on every connection is read (head, then a `Content-Length` body) and
/// handed to `answer`, which writes whatever bytes it likes and says whether the connection stays open.
struct RawUpstream {
    url: String,
    requests: Arc<Mutex<Vec<RawRequest>>>,
    connections: Arc<AtomicUsize>,
}

impl RawUpstream {
    fn requests(&self) -> Vec<RawRequest> {
        self.requests.lock().unwrap().clone()
    }
}

fn raw_upstream(answer: impl Fn(&RawRequest, &mut TcpStream) -> bool + Send + Sync + 'static) -> RawUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let (seen, count) = (requests.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            stream.set_nodelay(true).unwrap();
            let (seen, answer) = (seen.clone(), answer.clone());
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                while let Some(request) = read_request(&mut stream, &mut buf) {
                    seen.lock().unwrap().push(request.clone());
                    if !answer(&request, &mut stream) {
                        break;
                    }
                }
            });
        }
    });
    RawUpstream { url, requests, connections }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request: the head up to its blank line, then as many body bytes as `Content-Length` says.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<RawRequest> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end + 4..end + 4 + length].to_vec();
            buf.drain(..end + 4 + length);
            return Some(RawRequest { head, body });
        }
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Writes `parts` one by one, pausing between them so they leave as separate TCP segments.
fn dribble(stream: &mut TcpStream, parts: &[&[u8]]) {
    for part in parts {
        let _ = stream.write_all(part);
        let _ = stream.flush();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One chunk of a chunked body.
fn chunk(data: &[u8]) -> Vec<u8> {
    [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n"].concat()
}

fn json_head(length: usize, extra: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n{extra}\r\n")
}

const SSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

fn gateway_for(upstream: &str, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![("UP_API_KEY", "k"), ("UP_BASE_URL", upstream), ("UP_API_FORMAT", "anthropic")];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

/// Sends raw bytes to the gateway and reads its answer until it closes or `wait` passes.
fn raw_call(gateway: &str, request: &[u8], wait: Duration) -> (Vec<u8>, Duration) {
    let mut tcp = TcpStream::connect(gateway.trim_start_matches("http://")).unwrap();
    tcp.set_read_timeout(Some(wait)).unwrap();
    let started = Instant::now();
    tcp.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    (out, started.elapsed())
}

/// Status and body of a raw HTTP/1.1 answer (`Content-Length` or chunked).
fn parse_answer(raw: &[u8]) -> (u16, String, Vec<u8>) {
    let end =
        find(raw, b"\r\n\r\n").unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status = head[9..12].parse().unwrap();
    let mut rest = &raw[end + 4..];
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return (status, head, rest.to_vec());
    }
    let mut body = Vec::new();
    while let Some(line_end) = find(rest, b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest = &rest[line_end + 2 + size + 2..];
    }
    (status, head, body)
}

/// A minimal Messages request body (the common helper, under a name no local shadows).
fn req(model: &str, stream: bool) -> String {
    common::body(model, stream)
}

fn message_json(id: &str) -> String {
    MESSAGE_JSON.replace("msg_mock_1", id)
}

/// The gateway's summary once it has recorded `requests` requests.
async fn summary_after(gw: &Gateway, requests: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut res = client().get(format!("{}/metrics/summary", gw.url)).send().await.unwrap();
        let summary: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
        if summary["totals"]["requests"] == requests {
            return summary;
        }
        assert!(Instant::now() < deadline, "summary never reached {requests} requests: {summary}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(gw: &Gateway, path: &str, body: String) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut res = client().post(format!("{}{path}", gw.url)).send_body(body).await.unwrap();
    let bytes = res.body().limit(64 << 20).await.unwrap().to_vec();
    (res.status().as_u16(), res.headers().clone(), bytes)
}

// ---- 5. Expect ----

#[actix_rt::test]
async fn expect_is_met_by_the_gateway_and_never_forwarded() {
    // An upstream that knows nothing of Expect: it waits for the body its Content-Length announces.
    let up = raw_upstream(|_, stream| {
        let json = message_json("msg_expect");
        stream.write_all(format!("{}{json}", json_head(json.len(), "")).as_bytes()).is_ok()
    });
    let gw = gateway_for(&up.url, &[("REQUEST_TIMEOUT", "3")]);
    let url = gw.url.clone();
    let answer = actix_rt::task::spawn_blocking(move || {
        let body = req("up:m", false);
        let head = format!(
            "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             expect: 100-continue\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let mut tcp = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        tcp.write_all(head.as_bytes()).unwrap();
        let mut interim = [0u8; 25];
        tcp.read_exact(&mut interim).unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        tcp.write_all(body.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = tcp.read_to_end(&mut out);
        out
    })
    .await
    .unwrap();
    let (status, _, body) = parse_answer(&answer);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert!(String::from_utf8_lossy(&body).contains("msg_expect"));
    let forwarded = &up.requests()[0].head.to_ascii_lowercase();
    assert!(!forwarded.contains("expect:"), "Expect reached the upstream: {forwarded}");

    // Any other expectation: 417 in the route's own error shape, and nothing goes upstream.
    for (path, openai) in [("/v1/messages", false), ("/v1/chat/completions", true)] {
        let url = gw.url.clone();
        let (answer, took) = actix_rt::task::spawn_blocking(move || {
            let body = req("up:m", false);
            let request = format!(
                "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 expect: 200-ok\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            raw_call(&url, request.as_bytes(), Duration::from_secs(8))
        })
        .await
        .unwrap();
        assert!(took < Duration::from_secs(3), "{path}: answered after {took:?}");
        let (status, _, body) = parse_answer(&answer);
        assert_eq!(status, 417, "{path}: {}", String::from_utf8_lossy(&answer));
        let error: Value = serde_json::from_slice(&body).unwrap();
        let message = match openai {
            false => {
                assert_eq!(error_type(&body), "invalid_request_error");
                error["error"]["message"].as_str().unwrap().to_string()
            }
            true => {
                assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
                error["error"]["message"].as_str().unwrap().to_string()
            }
        };
        assert!(message.contains("200-ok") && message.contains("100-continue"), "{message}");
    }
    assert_eq!(up.requests().len(), 1);
}

// ---- 6. Stalled request bodies ----

#[actix_rt::test]
async fn a_stalled_or_trickled_request_body_gets_408() {
    let mock = start_mock();
    let env = [
        ("MOCK_API_KEY", "k"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("BODY_IDLE_TIMEOUT", "1"),
        ("BODY_READ_TIMEOUT", "3"),
    ];
    let gw = start_gateway(&env);
    for (path, openai) in [("/v1/messages", false), ("/v1/chat/completions", true)] {
        let url = gw.url.clone();
        let (answer, took) = actix_rt::task::spawn_blocking(move || {
            let request = format!(
                "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n\
                 {{\"model\":\"mock:\""
            );
            raw_call(&url, request.as_bytes(), Duration::from_secs(8))
        })
        .await
        .unwrap();
        assert!(!answer.is_empty(), "{path}: no answer within {took:?}");
        assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "{path}: {took:?}");
        let (status, _, body) = parse_answer(&answer);
        assert_eq!(status, 408, "{path}: {}", String::from_utf8_lossy(&answer));
        let error: Value = serde_json::from_slice(&body).unwrap();
        match openai {
            false => assert_eq!(error_type(&body), "timeout_error"),
            true => assert_eq!(
                (&error["error"]["type"], &error["error"]["code"]),
                (&"invalid_request_error".into(), &"timeout".into())
            ),
        }
        assert!(error["error"]["message"].as_str().unwrap().contains("body_idle_timeout"), "{error}");
    }

    // A body that keeps trickling never goes idle, but the whole-body deadline ends it.
    let url = gw.url.clone();
    let (answer, took) = actix_rt::task::spawn_blocking(move || {
        let mut tcp = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(250))).unwrap();
        let head =
            "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
        let started = Instant::now();
        tcp.write_all(head.as_bytes()).unwrap();
        let mut out = Vec::new();
        while started.elapsed() < Duration::from_secs(8) {
            let _ = tcp.write_all(b" ");
            let mut buf = [0u8; 4096];
            match tcp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) if !out.is_empty() => break,
                Err(_) => {}
            }
        }
        (out, started.elapsed())
    })
    .await
    .unwrap();
    assert!(took >= Duration::from_millis(2900) && took < Duration::from_secs(5), "{took:?}");
    let (status, _, body) = parse_answer(&answer);
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&answer));
    assert!(String::from_utf8_lossy(&body).contains("body_read_timeout"), "{}", String::from_utf8_lossy(&body));
    assert_eq!(mock.hits(), 0);
}

// ---- 7. Interim responses ----

#[actix_rt::test]
async fn interim_responses_from_the_upstream_are_skipped() {
    let up = raw_upstream(|request, stream| {
        let hints: &[&[u8]] = &[
            b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n",
            b"HTTP/1.1 10",
            b"0 Continue\r\n",
            b"\r\n",
        ];
        dribble(stream, hints);
        if request.model() == "stream" {
            let mut parts = vec![SSE_HEAD.to_vec()];
            parts.extend(STREAM_EVENTS.iter().map(|e| chunk(e.as_bytes())));
            parts.push(b"0\r\n\r\n".to_vec());
            dribble(stream, &parts.iter().map(Vec::as_slice).collect::<Vec<_>>());
        } else {
            let json = message_json("msg_after_hints");
            dribble(stream, &[json_head(json.len(), "request-id: req_raw\r\n").as_bytes(), json.as_bytes()]);
        }
        true
    });
    let gw = gateway_for(&up.url, &[]);
    for round in 0..2 {
        let (status, headers, body) = post(&gw, "/v1/messages", req("up:m", false)).await;
        assert_eq!(status, 200, "round {round}: {}", String::from_utf8_lossy(&body));
        assert_eq!(String::from_utf8(body).unwrap(), message_json("msg_after_hints"));
        assert_eq!(headers.get("request-id").unwrap(), "req_raw");
        assert!(headers.get("link").is_none(), "the interim head's fields are not the answer's");
    }
    assert_eq!(up.connections.load(Ordering::SeqCst), 1, "the connection was reused after the interim replies");
    let (status, _, body) = post(&gw, "/v1/messages", req("up:stream", true)).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), stream_body());
}

// ---- 8. Close-delimited bodies ----

#[actix_rt::test]
async fn close_delimited_upstream_bodies_are_read_until_the_close() {
    let up = raw_upstream(|request, stream| {
        if request.model() == "stream" {
            let mut parts: Vec<&[u8]> =
                vec![b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"];
            parts.extend(STREAM_EVENTS.iter().map(|e| e.as_bytes()));
            dribble(stream, &parts);
        } else {
            let json = message_json("msg_until_close");
            dribble(stream, &[b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n", json.as_bytes()]);
        }
        false
    });
    let gw = gateway_for(&up.url, &[]);
    let (status, _, body) = post(&gw, "/v1/messages", req("up:json", false)).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), message_json("msg_until_close"));
    let (status, _, body) = post(&gw, "/v1/messages", req("up:stream", true)).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body).unwrap(), stream_body());
    // And a request after them goes through: nothing stale was left in a pooled connection.
    let (status, _, _) = post(&gw, "/v1/messages", req("up:json", false)).await;
    assert_eq!(status, 200);

    let summary = summary_after(&gw, 3).await;
    assert_eq!(summary["models"]["up:json"]["output_tokens"], 18, "{summary}");
    assert_eq!(summary["models"]["up:stream"]["output_tokens"], 12, "{summary}");
    assert_eq!(summary["totals"]["errors"], 0, "{summary}");
}

// ---- 9. Exact relaying: CR-only event streams, gzip-encoded answers ----

fn cr_only(text: &str) -> String {
    text.replace('\n', "\r")
}

#[actix_rt::test]
async fn cr_only_event_streams_are_relayed_event_by_event_and_byte_exact() {
    let release = Arc::new(AtomicBool::new(false));
    let gate = release.clone();
    let up = raw_upstream(move |request, stream| {
        let events: Vec<String> = STREAM_EVENTS.iter().map(|e| cr_only(e)).collect();
        let _ = stream.write_all(SSE_HEAD);
        for event in &events[..3] {
            let _ = stream.write_all(&chunk(event.as_bytes()));
        }
        if request.model() == "cut" {
            // Half an event, then the connection breaks.
            let _ = stream.write_all(&chunk(&events[3].as_bytes()[..20]));
            return false;
        }
        let waiting = Instant::now();
        while !gate.load(Ordering::SeqCst) && waiting.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for event in &events[3..] {
            let _ = stream.write_all(&chunk(event.as_bytes()));
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        true
    });
    let gw = gateway_for(&up.url, &[]);
    let expected = cr_only(&stream_body());

    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(req("up:m", true)).await.unwrap();
    assert_eq!(res.status(), 200);
    let mut received = Vec::new();
    let first_three = STREAM_EVENTS[..3].iter().map(|e| e.len()).sum::<usize>();
    while received.len() < first_three {
        let next = tokio::time::timeout(Duration::from_secs(3), res.next()).await;
        let chunk = next.expect("complete CR-only events are forwarded while the stream is open").unwrap().unwrap();
        received.extend_from_slice(&chunk);
    }
    assert_eq!(received, expected.as_bytes()[..first_three]);
    release.store(true, Ordering::SeqCst);
    while let Some(chunk) = res.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(String::from_utf8(received).unwrap(), expected);

    // A cut CR-only stream keeps every complete event; the unfinished one gives way to one error frame.
    let (status, _, body) = post(&gw, "/v1/messages", req("up:cut", true)).await;
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    let kept = cr_only(&STREAM_EVENTS[..3].concat());
    assert!(body.starts_with(&kept), "{body:?}");
    assert!(body[kept.len()..].starts_with("event: error\ndata: {\"type\":\"error\""), "{body:?}");

    let summary = summary_after(&gw, 2).await;
    assert_eq!(summary["models"]["up:m"]["output_tokens"], 12, "usage read from CR-only events: {summary}");
}

/// gzip with a sync flush after every part, so each can be decoded as it arrives.
fn gzip_parts(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut out = Vec::new();
    for part in parts {
        encoder.write_all(part).unwrap();
        encoder.flush().unwrap();
        out.push(std::mem::take(encoder.get_mut()));
    }
    out.push(encoder.finish().unwrap());
    out
}

#[actix_rt::test]
async fn gzip_encoded_answers_reach_the_client_decoded_with_usage_read() {
    let up = raw_upstream(|request, stream| {
        let model = request.model();
        if model == "json" {
            let json = message_json("msg_gzip");
            let encoded = gzip_parts(&[json.as_bytes()]).concat();
            let head = json_head(encoded.len(), "content-encoding: gzip\r\n");
            dribble(stream, &[head.as_bytes(), &encoded]);
            return true;
        }
        if model == "brotli" {
            let head = json_head(4, "content-encoding: br\r\n");
            dribble(stream, &[head.as_bytes(), b"\x0b\x01\x80\x03"]);
            return true;
        }
        let events: Vec<&[u8]> = STREAM_EVENTS.iter().map(|e| e.as_bytes()).collect();
        let mut encoded = gzip_parts(&events);
        if model == "cut" {
            encoded.truncate(3);
        }
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\n\
                     transfer-encoding: chunked\r\n\r\n";
        let mut parts = vec![head.to_vec()];
        parts.extend(encoded.iter().filter(|p| !p.is_empty()).map(|p| chunk(p)));
        if model != "cut" {
            parts.push(b"0\r\n\r\n".to_vec());
        }
        dribble(stream, &parts.iter().map(Vec::as_slice).collect::<Vec<_>>());
        model != "cut"
    });
    let gw = gateway_for(&up.url, &[]);

    let (status, headers, body) = post(&gw, "/v1/messages", req("up:stream", true)).await;
    assert_eq!(status, 200);
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    assert_eq!(String::from_utf8(body).unwrap(), stream_body());

    let (status, headers, body) = post(&gw, "/v1/messages", req("up:json", false)).await;
    assert_eq!(status, 200);
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    assert_eq!(String::from_utf8(body).unwrap(), message_json("msg_gzip"));

    // Cut short: the events that arrived, decoded, then a plain error frame in a plain body.
    let (status, headers, body) = post(&gw, "/v1/messages", req("up:cut", true)).await;
    assert_eq!(status, 200);
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    let body = String::from_utf8(body).expect("a plain body");
    let kept = STREAM_EVENTS[..3].concat();
    assert!(body.starts_with(&kept), "{body:?}");
    assert!(body[kept.len()..].starts_with("event: error\ndata: {"), "{body:?}");

    // A coding the gateway cannot decode is refused, not relayed.
    let (status, _, body) = post(&gw, "/v1/messages", req("up:brotli", false)).await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert_eq!(error_type(&body), "api_error");
    assert!(String::from_utf8_lossy(&body).contains("content-encoding 'br'"), "{}", String::from_utf8_lossy(&body));

    let summary = summary_after(&gw, 4).await;
    let stream = &summary["models"]["up:stream"];
    assert_eq!((&stream["input_tokens"], &stream["output_tokens"]), (&30.into(), &12.into()), "{summary}");
    assert_eq!(summary["models"]["up:json"]["output_tokens"], 9, "{summary}");
}

// ---- 10. Encoded request bodies ----

#[actix_rt::test]
async fn encoded_request_bodies_are_refused_and_content_encoding_never_forwarded() {
    let mock = start_mock();
    let gw = start_gateway(&[("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url), ("MOCK_API_FORMAT", "anthropic")]);
    let plain = req("mock:m", false);
    let gzipped = gzip_parts(&[plain.as_bytes()]).concat();
    for (path, openai) in [("/v1/messages", false), ("/v1/chat/completions", true)] {
        for encoded in [plain.as_bytes().to_vec(), gzipped.clone()] {
            let mut res = client()
                .post(format!("{}{path}", gw.url))
                .insert_header(("content-type", "application/json"))
                .insert_header(("content-encoding", "gzip"))
                .send_body(encoded)
                .await
                .unwrap();
            assert_eq!(res.status(), 415, "{path}");
            let body = res.body().await.unwrap();
            let error: Value = serde_json::from_slice(&body).unwrap();
            if openai {
                assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
            } else {
                assert_eq!(error_type(&body), "invalid_request_error");
            }
            assert!(error["error"]["message"].as_str().unwrap().contains("Content-Encoding: gzip"), "{error}");
        }
    }
    assert_eq!(mock.hits(), 0);

    // `identity` is no encoding: accepted, and not forwarded either.
    let mut res = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("content-encoding", "identity"))
        .send_body(plain)
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.body().await);
    assert_eq!(mock.last().header("content-encoding"), None);
}
