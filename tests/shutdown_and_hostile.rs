//! The real binary: graceful shutdown lets in-flight streams finish; hostile input gets a quick 4xx.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
}

#[actix_rt::test]
async fn sigterm_lets_an_in_flight_stream_finish_then_exits_zero() {
    let mock = start_mock();
    let mut gw = start_binary(&[("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url), ("MOCK_API_FORMAT", "anthropic")]);
    let mut res =
        client().post(format!("{}/v1/messages", gw.url)).send_body(body("mock:slow-stream", true)).await.unwrap();
    let mut received = res.next().await.unwrap().unwrap().to_vec();
    signal(&gw.child, "TERM");
    while let Some(chunk) = res.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(String::from_utf8(received).unwrap(), stream_body(), "the stream completed after SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = gw.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "gatehouse did not exit after its streams finished");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
}

/// Sends raw bytes and returns what the server answered before closing (or within `wait`).
fn raw_exchange(url: &str, request: &[u8], wait: Duration) -> (String, Duration) {
    let addr = url.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(wait)).unwrap();
    let started = Instant::now();
    let _ = tcp.write_all(request);
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    (String::from_utf8_lossy(&out).to_string(), started.elapsed())
}

#[actix_rt::test]
async fn hostile_clients_get_quick_4xx() {
    let mock = start_mock();
    let gw = start_binary(&[("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url), ("MOCK_API_FORMAT", "anthropic")]);
    let url = gw.url.clone();
    actix_rt::task::spawn_blocking(move || {
        // Slowloris: a request line and never the end of the headers.
        let (answer, took) =
            raw_exchange(&url, b"POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-slow: 1\r\n", Duration::from_secs(15));
        assert!(took < Duration::from_secs(12), "slow client held the connection for {took:?}");
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");

        // Huge headers.
        let huge = format!("GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n", "a".repeat(200_000));
        let (answer, took) = raw_exchange(&url, huge.as_bytes(), Duration::from_secs(10));
        assert!(took < Duration::from_secs(5));
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 431") || answer.starts_with("HTTP/1.1 400"),
            "{answer}"
        );
    })
    .await
    .unwrap();

    // Deeply nested JSON.
    let nested = format!(
        "{{\"model\":\"mock:m\",\"max_tokens\":1,\"messages\":[{}1{}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let started = Instant::now();
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(nested).await.unwrap();
    assert_eq!(res.status(), 400);
    let answer = res.body().await.unwrap();
    assert_eq!(error_type(&answer), "invalid_request_error");
    assert!(String::from_utf8_lossy(&answer).contains("deeper than 128 levels"), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // A declared body over the limit is refused before it is read.
    let (answer, took) = actix_rt::task::spawn_blocking({
        let url = gw.url.clone();
        move || {
            raw_exchange(
                &url,
                b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 999999999999\r\n\r\n{",
                Duration::from_secs(10),
            )
        }
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(took < Duration::from_secs(5));
    assert_eq!(mock.hits(), 0);
}
