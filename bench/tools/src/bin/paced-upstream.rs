//! A paced SSE upstream: `POST /{a|o}/{N}/{M}/...` answers with a stream of N text deltas sent M ms apart, in the
//! Anthropic (`a`) or OpenAI (`o`) format, over HTTP/1.1 chunked encoding with keep-alive. Each delta's text is
//! `@ts=<CLOCK_MONOTONIC ns at send>@`, stamped just before the write, so a client compares receipt with send time
//! (the text survives gatehouse's conversion). The pacing's own jitter does not matter: delays are measured from
//! each actual send. Usage: paced-upstream PORT
use std::time::Duration;

use bench_tools::{head_end, header, now_ns};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn chunk(out: &mut Vec<u8>, payload: &str) {
    out.extend_from_slice(format!("{:x}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn anthropic_event(kind: &str, data: &str) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}

const OPENAI_PREFIX: &str =
    r#"{"id":"chatcmpl-paced","object":"chat.completion.chunk","created":1764172800,"model":"paced""#;

fn start(openai: bool) -> String {
    if openai {
        format!("data: {OPENAI_PREFIX},\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},\"finish_reason\":null}}]}}\n\n")
    } else {
        anthropic_event(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_paced","type":"message","role":"assistant","model":"paced","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#,
        ) + &anthropic_event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        )
    }
}

fn delta(openai: bool) -> String {
    let text = format!("@ts={}@", now_ns());
    if openai {
        format!("data: {OPENAI_PREFIX},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n")
    } else {
        anthropic_event(
            "content_block_delta",
            &format!(r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}}}}"#),
        )
    }
}

fn finish(openai: bool, n: usize) -> String {
    if openai {
        format!("data: {OPENAI_PREFIX},\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n")
            + &format!("data: {OPENAI_PREFIX},\"choices\":[],\"usage\":{{\"prompt_tokens\":10,\"completion_tokens\":{n},\"total_tokens\":{}}}}}\n\n", n + 10)
            + "data: [DONE]\n\n"
    } else {
        anthropic_event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#)
            + &anthropic_event(
                "message_delta",
                &format!(
                    r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn","stop_sequence":null}},"usage":{{"output_tokens":{n}}}}}"#
                ),
            )
            + &anthropic_event("message_stop", r#"{"type":"message_stop"}"#)
    }
}

/// `/{a|o}/{N}/{M}/...` → (openai, N, M ms).
fn parse_path(path: &str) -> Option<(bool, usize, u64)> {
    let mut parts = path.trim_start_matches('/').split('/');
    let openai = match parts.next()? {
        "a" => false,
        "o" => true,
        _ => return None,
    };
    Some((openai, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

async fn serve(mut conn: TcpStream) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        // Read one request: head, then `content-length` bytes of body (discarded).
        let end = loop {
            if let Some(end) = head_end(&buf) {
                break end;
            }
            let mut tmp = [0u8; 16384];
            let n = conn.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let length: usize = header(&head, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        while buf.len() < end + length {
            let mut tmp = [0u8; 65536];
            let n = conn.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        buf.drain(..end + length);
        let path = head.split_whitespace().nth(1).unwrap_or("");
        let Some((openai, n, ms)) = parse_path(path) else {
            conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await?;
            continue;
        };
        let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        chunk(&mut out, &start(openai));
        conn.write_all(&out).await?;
        let mut ticks = tokio::time::interval(Duration::from_millis(ms.max(1)));
        ticks.tick().await;
        for _ in 0..n {
            ticks.tick().await;
            out.clear();
            chunk(&mut out, &delta(openai));
            conn.write_all(&out).await?;
        }
        out.clear();
        chunk(&mut out, &finish(openai, n));
        out.extend_from_slice(b"0\r\n\r\n");
        conn.write_all(&out).await?;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).expect("usage: paced-upstream PORT");
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (conn, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = serve(conn).await;
        });
    }
}
