//! Helpers for the metrics tests: a known mix of requests with the totals it must produce, a small parser for the
//! Prometheus text format, polling, and guards for the external processes (Prometheus, Chromium) and temporary
//! directories that the tool tests start, so nothing outlives a test.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use crate::common::{body, client, start_gateway, Gateway, MockUpstream};

/// A gateway with one Anthropic-format provider, `mock`, in front of the mock upstream. No retries: each request
/// of a test is exactly one upstream exchange, and a 429 answers at once instead of after its `retry-after`.
pub fn mock_gateway(mock: &MockUpstream) -> Gateway {
    start_gateway(&[
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("MAX_RETRIES", "0"),
    ])
}

/// One request of the mix: model, stream flag, expected status.
pub const MIX: [(&str, bool, u16); 8] = [
    ("mock:claude", false, 200),
    ("mock:claude", false, 200),
    ("mock:claude", false, 200),
    ("mock:claude", true, 200),
    ("mock:claude", true, 200),
    ("mock:error-429", false, 429),
    // Ends after three events: a 200 whose stream failed (`upstream_stream_error`).
    ("mock:truncated-stream", true, 200),
    // Fails before routing: counted under provider `none`.
    ("nosuch:model", false, 400),
];
/// Requests in [`MIX`] that count as errors: the 429, the truncated stream, the unknown provider.
pub const MIX_ERRORS: u64 = 3;
/// Token totals of `mock:claude` in [`MIX`]: three messages (21 in, 9 out, 4 cache read, 3 cache write each)
/// and two streams (30 in, 12 out, 6 cache read).
pub const CLAUDE_TOKENS: [(&str, u64); 4] =
    [("input", 3 * 21 + 2 * 30), ("output", 3 * 9 + 2 * 12), ("cache_read", 3 * 4 + 2 * 6), ("cache_creation", 3 * 3)];

/// Sends [`MIX`] (each body read to its end) and checks each status.
pub async fn send_mix(gw: &Gateway) {
    let c = client();
    for (model, stream, status) in MIX {
        let mut res = c.post(format!("{}/v1/messages", gw.url)).send_body(body(model, stream)).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{model} stream={stream}");
        res.body().limit(1 << 20).await.unwrap();
    }
}

/// `GET path` as text.
pub async fn get_text(gw: &Gateway, path: &str) -> String {
    let mut res = client().get(format!("{}{path}", gw.url)).send().await.unwrap();
    assert!(res.status().is_success(), "GET {path}: {}", res.status());
    String::from_utf8(res.body().limit(8 << 20).await.unwrap().to_vec()).unwrap()
}

/// `GET path` as JSON.
pub async fn get_json(gw: &Gateway, path: &str) -> serde_json::Value {
    serde_json::from_str(&get_text(gw, path).await).unwrap()
}

/// Polls `/metrics/summary` until it has counted `requests` requests (records arrive asynchronously).
pub async fn summary_after(gw: &Gateway, requests: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let summary = get_json(gw, "/metrics/summary").await;
        if summary["totals"]["requests"] == requests {
            return summary;
        }
        assert!(Instant::now() < deadline, "summary never reached {requests} requests: {summary}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One sample line of the Prometheus text format.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the sample lines (label values here never contain `,` or `"`: see the label policy).
pub fn parse_samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            Sample { name: name.to_string(), labels, value: value.parse().unwrap() }
        })
        .collect()
}

/// The sum of the samples named `name` whose labels include all of `want`.
pub fn total(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && want.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed and reaped when the guard drops.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh directory under the system temp dir, removed when the guard drops.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("gatehouse-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where tests leave artefacts for people to look at (gitignored).
pub fn test_output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
