//! What gatehouse's own work on a request body costs, stage by stage: the validating pass that finds the routing
//! fields (`inspect`) and the nesting-depth scan. For profiling-guided tuning of scenario 7 of `bench/run`:
//!
//! ```sh
//! bench/run --only 7 --keep --smoke          # leaves big-anthropic.json in the run directory it prints
//! cargo run --release --example body_cost -- /tmp/gatehouse-bench-…/big-anthropic.json
//! ```

use std::time::Instant;

use gatehouse::proxy::body::{inspect, Required};
use gatehouse::proxy::json_depth::{exceeds_depth, MAX_DEPTH};

fn per_pass(passes: u32, mut f: impl FnMut()) -> f64 {
    f();
    let started = Instant::now();
    for _ in 0..passes {
        f();
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(passes)
}

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: body_cost <request body JSON file>")?;
    let body = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let passes = 2000;
    let inspect_us = per_pass(passes, || {
        std::hint::black_box(inspect(std::hint::black_box(&body), Required::Messages).is_ok());
    });
    let depth_us = per_pass(passes, || {
        std::hint::black_box(exceeds_depth(std::hint::black_box(&body), MAX_DEPTH));
    });
    let copy_us = per_pass(passes, || {
        std::hint::black_box(std::hint::black_box(&body).to_vec());
    });
    println!("{} bytes, {passes} passes each", body.len());
    println!("inspect (validating serde pass)  {inspect_us:8.1} µs");
    println!("depth scan                       {depth_us:8.1} µs");
    println!("memcpy of the body, for scale    {copy_us:8.1} µs");
    Ok(())
}
