//! What gatehouse's own work on a request body costs, stage by stage: the one-pass scan that validates the body and
//! locates the routing fields (`json::scan`, run on 16 KB pieces as the body arrives), checking those fields
//! (`inspect`), and for comparison the validating serde_json pass the scan replaced. For profiling-guided tuning
//! of scenario 7 of `bench/run`:
//!
//! ```sh
//! bench/run --only 7 --keep --smoke          # leaves big-anthropic.json in the run directory it prints
//! cargo run --release --example body_cost -- /tmp/gatehouse-bench-…/big-anthropic.json
//! ```

use std::time::Instant;

use bytes::Bytes;
use gatehouse::gateway::admission::body::{inspect, JsonBody, Required};
use gatehouse::json::scan::JsonScan;
use serde::de::IgnoredAny;

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

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: body_cost <request body JSON file>")?;
    let body = Bytes::from(std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?);
    let whole = JsonBody::whole(body.clone()).map_err(|e| format!("{path}: {e}"))?;
    let passes = 200;
    let scan_us = per_pass(passes, || {
        let mut scan = JsonScan::default();
        let fed = body.chunks(16 * 1024).all(|piece| scan.feed(std::hint::black_box(piece)).is_ok());
        std::hint::black_box(fed && scan.finish(&body).is_ok());
    });
    let inspect_us = per_pass(passes, || {
        std::hint::black_box(inspect(std::hint::black_box(&whole), Required::Messages).is_ok());
    });
    let serde_us = per_pass(passes, || {
        std::hint::black_box(serde_json::from_slice::<IgnoredAny>(std::hint::black_box(&body)).is_ok());
    });
    let copy_us = per_pass(passes, || {
        std::hint::black_box(std::hint::black_box(&body).to_vec());
    });
    println!("{} bytes, best of 10 × {passes} passes each", body.len());
    println!("scan (validate, locate; 16 KB pieces)  {scan_us:8.1} µs");
    println!("inspect (check the located fields)     {inspect_us:8.1} µs");
    println!("serde_json validating pass, for scale  {serde_us:8.1} µs");
    println!("memcpy of the body, for scale          {copy_us:8.1} µs");
    Ok(())
}
