//! What the Bedrock client dialect adds to a request, measured on fixtures: reading an InvokeModel body into the
//! Anthropic request it means (admission's `cloud::view`: the member walk, the rebuilt body, its scan and
//! inspection), and per chunk of a stream the re-framing of Anthropic events as AWS event-stream frames
//! (`EventFrames` over the byte-exact SSE relay), against the relay alone. The issue's target for translated streams
//! is at most 1 ms added per chunk at p99.
//!
//! ```sh
//! cargo run --release --example dialect_cost
//! ```

use std::time::Instant;

use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use gatehouse::gateway::admission::body::JsonBody;
use gatehouse::gateway::admission::cloud::view;
use gatehouse::gateway::exchange::wire_readers::AnthropicReader;
use gatehouse::gateway::respond::event_frames::EventFrames;
use gatehouse::gateway::respond::relay::StreamTransform;
use gatehouse::gateway::respond::sse_relay::SseRelay;
use gatehouse::gateway::Endpoint;

const REQUEST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/passthrough/claude_code_request.json");
const STREAM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/anthropic_streams/tool_use.sse");

/// Microseconds per call of `f`: the best of ten batches (the machine is shared; the best batch is the least
/// disturbed one).
fn per_pass(passes: u32, mut f: impl FnMut()) -> f64 {
    f();
    (0..10)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..passes {
                f();
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(passes)
        })
        .fold(f64::MAX, f64::min)
}

/// The stream's events, one per chunk (as an upstream usually sends them).
fn events(text: &str) -> Vec<Bytes> {
    text.split_inclusive("\n\n").map(|e| Bytes::copy_from_slice(e.as_bytes())).collect()
}

/// Every chunk through a fresh transform; the latencies of the single chunks in microseconds, sorted.
fn chunk_latencies<T: StreamTransform>(chunks: &[Bytes], rounds: usize, make: impl Fn() -> T) -> Vec<f64> {
    let mut out = Vec::with_capacity(chunks.len() * rounds);
    for _ in 0..rounds {
        let mut transform = make();
        for chunk in chunks {
            let started = Instant::now();
            std::hint::black_box(transform.on_chunk(chunk.clone()));
            out.push(started.elapsed().as_secs_f64() * 1e6);
        }
        std::hint::black_box(transform.on_end());
    }
    out.sort_by(f64::total_cmp);
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> Result<(), String> {
    let mut request: serde_json::Value =
        serde_json::from_slice(&std::fs::read(REQUEST).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let object = request.as_object_mut().ok_or("the fixture is not an object")?;
    object.remove("model");
    object.remove("stream");
    object.insert("anthropic_version".into(), "bedrock-2023-05-31".into());
    object.insert("anthropic_beta".into(), serde_json::json!(["interleaved-thinking-2025-05-14"]));
    let body = Bytes::from(serde_json::to_vec(&request).map_err(|e| e.to_string())?);
    let path = "/bedrock/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream";
    let headers = HeaderMap::new();
    let view_us = per_pass(200, || {
        let json = JsonBody::whole(body.clone()).unwrap_or_else(|e| panic!("{e}"));
        std::hint::black_box(view(Endpoint::BedrockStream, path, json, &headers).map(|v| v.body.len()).ok());
    });
    let scan_us = per_pass(200, || {
        std::hint::black_box(JsonBody::whole(body.clone()).map(|j| j.bytes.len()).ok());
    });
    println!(
        "InvokeModel body ({} bytes) read into a Messages body: {:.1} µs (besides the {scan_us:.1} µs scan every body gets)",
        body.len(),
        view_us - scan_us
    );

    let text = std::fs::read_to_string(STREAM).map_err(|e| e.to_string())?;
    let chunks = events(&text);
    let relay = chunk_latencies(&chunks, 2000, SseRelay::<AnthropicReader>::default);
    let framed = chunk_latencies(&chunks, 2000, || EventFrames::new(SseRelay::<AnthropicReader>::default()));
    println!("per chunk ({} events, one per chunk):", chunks.len());
    for (name, sorted) in [("SSE relay", &relay), ("relay + event-stream frames", &framed)] {
        let (p50, p99) = (percentile(sorted, 0.5), percentile(sorted, 0.99));
        println!("  {name:30} p50 {p50:6.2} µs   p99 {p99:6.2} µs");
    }
    Ok(())
}
