//! `Server-Timing` and `gatehouse_overhead_seconds` split a request's time correctly between the gateway and the
//! upstream: the gateway's share includes everything before the upstream call (reading and scanning the body,
//! routing, converting), for JSON and streamed answers, passthrough and converted. The client uploads its body
//! with a pause in the middle (gateway time) and the upstream waits before answering (upstream time), so each
//! share has a known lower bound and the other's time must not leak into it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// The client's pause mid-body: the gateway's time.
const PAUSE: Duration = Duration::from_millis(1000);
/// The upstream's wait before its answer (the mock's `delay-300` model).
const UPSTREAM_DELAY_MS: f64 = 300.0;

/// POSTs `body` to `path`, pausing halfway through the body; returns the response head and body.
fn post_with_pause(gateway: &str, path: &str, body: &str) -> (String, String) {
    let address = gateway.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nx-api-key: client-key\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, second) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(PAUSE);
    stream.write_all(second).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// (gateway, upstream) milliseconds from a `Server-Timing` header.
fn timing(head: &str) -> (f64, f64) {
    let line = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("server-timing")))
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_else(|| panic!("no Server-Timing in {head}"));
    let dur = |name: &str| -> f64 {
        let part = line.split(',').map(str::trim).find(|p| p.starts_with(name)).unwrap();
        part.split_once("dur=").unwrap().1.parse().unwrap()
    };
    (dur("gateway;"), dur("upstream;"))
}

fn get(gateway: &str, path: &str) -> String {
    let address = gateway.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

#[test]
fn gateway_share_includes_body_reading_and_conversion_for_json_and_streams() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("MOCK_API_KEY", "k"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("MOCKO_API_KEY", "k"),
        ("MOCKO_BASE_URL", mock.url.as_str()),
        ("MOCKO_API_FORMAT", "openai"),
    ]);
    let pause_ms = PAUSE.as_secs_f64() * 1000.0;
    let cases =
        [("mock:delay-300", false), ("mock:delay-300", true), ("mocko:delay-300", false), ("mocko:delay-300", true)];
    for (model, stream) in cases {
        let started = Instant::now();
        let (head, body) = post_with_pause(&gw.url, "/v1/messages", &common::body(model, stream));
        let total_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert!(head.starts_with("HTTP/1.1 200"), "{model} stream={stream}: {head}\n{body}");
        let (gateway, upstream) = timing(&head);
        let case =
            format!("{model} stream={stream}: gateway {gateway} ms, upstream {upstream} ms, total {total_ms} ms");
        // The handler starts a moment after the client wrote the first half: allow for that moment.
        assert!(gateway >= pause_ms - 20.0, "the body upload is the gateway's time: {case}");
        assert!(upstream >= UPSTREAM_DELAY_MS, "the upstream's wait is its own: {case}");
        assert!(upstream < pause_ms, "the gateway's time is not the upstream's: {case}");
        assert!(gateway + upstream <= total_ms + 1.0, "{case}");
    }
    // The same split in the overhead metric: the gateway's share of each of the four requests, at least the pause.
    let mut overhead = 0.0;
    for _ in 0..100 {
        let text = get(&gw.url, "/metrics");
        if metric_sum(&text, "gatehouse_overhead_seconds_count") >= 4.0 {
            overhead = metric_sum(&text, "gatehouse_overhead_seconds_sum");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(overhead >= 4.0 * (PAUSE.as_secs_f64() - 0.02), "gatehouse_overhead_seconds_sum {overhead}");
    assert!(overhead < 4.0 * (PAUSE.as_secs_f64() + UPSTREAM_DELAY_MS / 1000.0), "{overhead}");
}
