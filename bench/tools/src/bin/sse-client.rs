//! Streaming client for the benchmark: POSTs a body, reads the SSE response and, for every `@ts=<ns>@` marker the
//! paced upstream stamped, records receipt time minus send time (both CLOCK_MONOTONIC). Prints one JSON summary:
//! time to first body byte and per-chunk delays (µs), and how many streams finished correctly (status 200, every
//! marker, the closing `message_stop`).
//!
//! sse-client --url http://127.0.0.1:PORT/PATH --body FILE [--header 'name: value']... [--streams K]
//!            [--concurrency C] [--ramp-ms R] [--expect N] [--end TEXT] [--raw FILE]
use std::sync::Arc;
use std::time::Duration;

use bench_tools::{head_end, header, now_ns};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    host: String,
    path: String,
    body: Vec<u8>,
    headers: Vec<String>,
    streams: usize,
    concurrency: usize,
    ramp_ms: u64,
    expect: usize,
    end: String,
    raw: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        host: String::new(),
        path: String::new(),
        body: Vec::new(),
        headers: Vec::new(),
        streams: 1,
        concurrency: 1,
        ramp_ms: 0,
        expect: 0,
        end: "message_stop".into(),
        raw: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => {
                let rest = value.strip_prefix("http://").expect("--url must be http://");
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                args.host = host.to_string();
                args.path = format!("/{path}");
            }
            "--body" => args.body = std::fs::read(&value).expect("--body file"),
            "--header" => args.headers.push(value),
            "--streams" => args.streams = value.parse().expect("--streams"),
            "--concurrency" => args.concurrency = value.parse().expect("--concurrency"),
            "--ramp-ms" => args.ramp_ms = value.parse().expect("--ramp-ms"),
            "--expect" => args.expect = value.parse().expect("--expect"),
            "--end" => args.end = value,
            "--raw" => args.raw = Some(value),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

#[derive(Default)]
struct Outcome {
    ttfb_ns: u64,
    delays_ns: Vec<u64>,
    error: Option<String>,
}

/// Decodes an HTTP/1.1 chunked body incrementally: returns the payload bytes found in `raw` and whether the final
/// chunk was seen; consumed bytes are drained from `raw`.
fn dechunk(raw: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<bool, String> {
    loop {
        let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") else { return Ok(false) };
        let size_text = std::str::from_utf8(&raw[..line_end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        if size == 0 {
            return Ok(true);
        }
        if raw.len() < line_end + 2 + size + 2 {
            return Ok(false);
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw.drain(..line_end + 2 + size + 2);
    }
}

async fn one_stream(args: &Args) -> Outcome {
    let mut outcome = Outcome::default();
    if let Err(e) = run_stream(args, &mut outcome).await {
        outcome.error = Some(e);
    }
    outcome
}

async fn run_stream(args: &Args, outcome: &mut Outcome) -> Result<(), String> {
    let mut conn = TcpStream::connect(&args.host).await.map_err(|e| format!("connect: {e}"))?;
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        args.path,
        args.host,
        args.body.len()
    );
    for h in &args.headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(&args.body);
    let sent = now_ns();
    conn.write_all(&bytes).await.map_err(|e| format!("write: {e}"))?;

    let mut raw: Vec<u8> = Vec::with_capacity(65536);
    let mut body: Vec<u8> = Vec::with_capacity(65536);
    let mut head: Option<(u16, bool, Option<usize>)> = None; // status, chunked, content-length
    let mut scanned = 0usize;
    let mut finished = false;
    let mut tmp = vec![0u8; 65536];
    while !finished {
        let n = conn.read(&mut tmp).await.map_err(|e| format!("read: {e}"))?;
        let now = now_ns();
        if n == 0 {
            if head.as_ref().is_some_and(|h| !h.1 && h.2.is_none()) {
                finished = true; // body delimited by close
            } else {
                return Err("connection closed before the end of the response".into());
            }
        }
        raw.extend_from_slice(&tmp[..n]);
        if head.is_none() {
            let Some(end) = head_end(&raw) else { continue };
            let text = String::from_utf8_lossy(&raw[..end]).into_owned();
            let status: u16 = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let chunked = header(&text, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
            let length = header(&text, "content-length").and_then(|v| v.parse().ok());
            head = Some((status, chunked, length));
            raw.drain(..end);
        }
        let (status, chunked, length) = head.unwrap();
        let before = body.len();
        if chunked {
            finished |= dechunk(&mut raw, &mut body)?;
        } else {
            body.append(&mut raw);
            finished |= length.is_some_and(|l| body.len() >= l);
        }
        if body.len() > before && outcome.ttfb_ns == 0 {
            outcome.ttfb_ns = now - sent;
        }
        if status != 200 {
            if finished {
                return Err(format!("status {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)])));
            }
            continue;
        }
        // Markers `@ts=<digits>@` completed by this read.
        while let Some(pos) = body[scanned..].windows(4).position(|w| w == b"@ts=") {
            let start = scanned + pos + 4;
            let Some(len) = body[start..].iter().position(|&b| b == b'@') else { break };
            let ts: u64 =
                std::str::from_utf8(&body[start..start + len]).ok().and_then(|s| s.parse().ok()).ok_or("bad marker")?;
            outcome.delays_ns.push(now.saturating_sub(ts));
            scanned = start + len + 1;
        }
    }
    if args.expect > 0 && outcome.delays_ns.len() != args.expect {
        return Err(format!("{} markers, expected {}", outcome.delays_ns.len(), args.expect));
    }
    if !body.windows(args.end.len()).any(|w| w == args.end.as_bytes()) {
        return Err(format!("no {} in the stream", args.end));
    }
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[index.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let args = Arc::new(parse_args());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let outcomes: Vec<Outcome> = runtime.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
        let mut tasks = Vec::new();
        for i in 0..args.streams {
            let args = args.clone();
            let permits = permits.clone();
            let delay = Duration::from_micros(args.ramp_ms * 1000 * i as u64 / args.streams.max(1) as u64);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _permit = permits.acquire().await.expect("semaphore");
                one_stream(&args).await
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.expect("task"));
        }
        all
    });
    if let Some(path) = &args.raw {
        // One line per finished stream: time to first byte, then each chunk's delay, in ns.
        let mut text = String::new();
        for o in outcomes.iter().filter(|o| o.error.is_none()) {
            text.push_str(&o.ttfb_ns.to_string());
            for d in &o.delays_ns {
                text.push(' ');
                text.push_str(&d.to_string());
            }
            text.push('\n');
        }
        std::fs::write(path, text).expect("--raw file");
    }
    let ok = outcomes.iter().filter(|o| o.error.is_none()).count();
    let mut ttfb: Vec<u64> = outcomes.iter().filter(|o| o.error.is_none()).map(|o| o.ttfb_ns).collect();
    let mut delays: Vec<u64> =
        outcomes.iter().filter(|o| o.error.is_none()).flat_map(|o| o.delays_ns.iter().copied()).collect();
    ttfb.sort_unstable();
    delays.sort_unstable();
    let error = outcomes.iter().find_map(|o| o.error.clone()).unwrap_or_default().replace(['"', '\\', '\n'], " ");
    println!(
        "{{\"streams\":{},\"ok\":{ok},\"events\":{},\"ttfb_us\":{{\"p50\":{:.1},\"p99\":{:.1},\"max\":{:.1}}},\"delay_us\":{{\"p50\":{:.1},\"p99\":{:.1},\"max\":{:.1}}},\"error\":\"{error}\"}}",
        outcomes.len(),
        delays.len(),
        percentile(&ttfb, 50.0),
        percentile(&ttfb, 99.0),
        percentile(&ttfb, 100.0),
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
        percentile(&delays, 100.0),
    );
}
