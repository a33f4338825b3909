//! Test harness: a scriptable mock upstream (behaviour chosen by model name, every request recorded) and a
//! gatehouse instance, each on its own free loopback port and actix system thread.

#![allow(dead_code)]

pub mod admin;
pub mod claude;
pub mod dialects;
pub mod keys;
pub mod raw;
pub mod redis;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use futures_util::{stream, StreamExt};

/// One request as the mock upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("upstream body is JSON")
    }
}

#[derive(Default)]
pub struct MockState {
    pub requests: Mutex<Vec<Recorded>>,
    /// Streams whose body was dropped before they finished (the gateway closed the connection).
    pub streams_cancelled: AtomicUsize,
    /// Streams that sent their last byte.
    pub streams_completed: AtomicUsize,
    /// Requests seen per model, for behaviours that change with the attempt number.
    pub hits_by_model: Mutex<std::collections::HashMap<String, usize>>,
}

pub struct MockUpstream {
    pub url: String,
    pub state: Arc<MockState>,
    handle: ServerHandle,
}

impl MockUpstream {
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }
    pub fn last(&self) -> Recorded {
        self.requests().pop().expect("the upstream received a request")
    }
    pub fn hits(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The non-streaming Anthropic message the mock answers with.
pub const MESSAGE_JSON: &str = r#"{"id":"msg_mock_1","type":"message","role":"assistant","model":"claude-mock","content":[{"type":"text","text":"Hello from the mock"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":21,"output_tokens":9,"cache_creation_input_tokens":3,"cache_read_input_tokens":4}}"#;

/// The Anthropic stream the mock answers with, one event per element.
pub const STREAM_EVENTS: [&str; 8] = [
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_mock_2\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-mock\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":30,\"output_tokens\":1,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":6}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" world\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
];

pub fn stream_body() -> String {
    STREAM_EVENTS.concat()
}

/// Starts a mock Anthropic-format upstream. Behaviour by the model it receives:
/// - `hang`: never answers; `slow-stream`: events 300 ms apart; `endless-stream`: a ping every 50 ms forever;
/// - `drop-mid-stream`: three events, then the connection breaks; `stall-stream`: three events, then silence; `truncated-stream`: three events, clean end;
/// - `error-<status>`: that status with an Anthropic error body (429 adds `retry-after: 7`);
/// - `delay-<ms>`: the default answer (either format), after `ms` milliseconds;
/// - `fixture-<name>`: `tests/fixtures/anthropic_streams/<name>.sse` when streaming (in 7-byte chunks), else
///   `tests/fixtures/anthropic_responses/<name>.json`; `tool-use` is `fixture-tool_use` (two parallel calls);
/// - anything else: [`MESSAGE_JSON`], or [`STREAM_EVENTS`] when `stream` is true.
pub fn start_mock() -> MockUpstream {
    let state = Arc::new(MockState::default());
    let data = web::Data::from(state.clone());
    let (url, handle) = serve(move |app| {
        app.app_data(data.clone()).default_service(web::to(mock_handler));
    });
    MockUpstream { url, state, handle }
}

/// Serves the app `configure` sets up on a free loopback port, in an actix system thread of its own (one worker,
/// no shutdown grace): its URL and the handle that stops it. Every mock upstream of the suites runs on it.
pub fn serve<F>(configure: F) -> (String, ServerHandle)
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = HttpServer::new(move || App::new().configure(configure.clone()))
                .workers(1)
                .shutdown_timeout(0)
                .listen(listener)
                .unwrap()
                .run();
            tx.send(server.handle()).unwrap();
            server.await
        })
    });
    (url, rx.recv().unwrap())
}

/// Counts a stream as cancelled when it is dropped before its end.
struct StreamGuard {
    state: Arc<MockState>,
    finished: bool,
}

impl StreamGuard {
    /// The stream sent its last byte.
    fn complete(mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.finished {
            self.state.streams_completed.fetch_add(1, Ordering::SeqCst);
        } else {
            self.state.streams_cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn mock_handler(req: HttpRequest, body: Bytes, state: web::Data<MockState>) -> HttpResponse {
    let headers = req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    state.requests.lock().unwrap().push(Recorded { path: req.path().to_string(), headers, body: body.clone() });
    if req.method() == actix_web::http::Method::GET && req.path().ends_with("/models") {
        return model_list(&req);
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let model = json["model"].as_str().unwrap_or("").to_string();
    let streamed = json["stream"].as_bool().unwrap_or(false);
    let state = state.into_inner();
    let hit = {
        let mut hits = state.hits_by_model.lock().unwrap();
        let n = hits.entry(model.clone()).or_default();
        *n += 1;
        *n
    };
    if let Some(ms) = model.strip_prefix("delay-").and_then(|ms| ms.parse::<u64>().ok()) {
        actix_rt::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(response) = resilience_behaviour(&model, hit, &req) {
        return response;
    }
    if model == "script" {
        return scripted(&json, req.path().ends_with("/chat/completions"), streamed, state);
    }
    if req.path().ends_with("/chat/completions") {
        return openai_handler(&model, streamed, state).await;
    }
    if req.path().ends_with("/count_tokens") {
        return HttpResponse::Ok().content_type("application/json").body(r#"{"input_tokens":42}"#);
    }
    if let Some(status) = model.strip_prefix("error-") {
        let status: u16 = status.parse().unwrap_or(500);
        let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
        response.insert_header(("request-id", "req_mock_err"));
        if status == 429 {
            response.insert_header(("retry-after", "7"));
        }
        return response.content_type("application/json").body(format!(
            r#"{{"type":"error","error":{{"type":"mock_error_{status}","message":"mock upstream says {status}"}}}}"#
        ));
    }
    if let Some(name) = model.strip_prefix("fixture-").or((model == "tool-use").then_some("tool_use")) {
        return anthropic_fixture(name, streamed, state);
    }
    match model.as_str() {
        "hang" => {
            actix_rt::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::Ok().finish()
        }
        "slow-stream" => {
            sse(paced(state, STREAM_EVENTS.iter().map(|e| Bytes::from_static(e.as_bytes())).collect(), 300, true))
        }
        "endless-stream" => {
            let events =
                (0..100_000).map(|_| Bytes::from_static(b"event: ping\ndata: {\"type\":\"ping\"}\n\n")).collect();
            sse(paced(state, events, 50, true))
        }
        "truncated-stream" => {
            sse(paced(state, STREAM_EVENTS[..3].iter().map(|e| Bytes::from_static(e.as_bytes())).collect(), 0, true))
        }
        "drop-mid-stream" => {
            sse(paced(state, STREAM_EVENTS[..3].iter().map(|e| Bytes::from_static(e.as_bytes())).collect(), 50, false))
        }
        "stall-stream" => {
            let mut events: Vec<Bytes> = STREAM_EVENTS[..3].iter().map(|e| Bytes::from_static(e.as_bytes())).collect();
            events.push(Bytes::new());
            sse(paced(state, events, 0, true).then(|item| async move {
                if item.as_ref().is_ok_and(|b| b.is_empty()) {
                    actix_rt::time::sleep(Duration::from_secs(60)).await;
                }
                item
            }))
        }
        _ if streamed => {
            sse(paced(state, STREAM_EVENTS.iter().map(|e| Bytes::from_static(e.as_bytes())).collect(), 0, true))
        }
        _ => HttpResponse::Ok()
            .insert_header(("request-id", "req_mock_1"))
            .insert_header(("anthropic-ratelimit-requests-limit", "1000"))
            .insert_header(("set-cookie", "secret=1"))
            .content_type("application/json")
            .body(MESSAGE_JSON),
    }
}

/// An Anthropic-format fixture, streamed in 7-byte chunks (so events and lines are split) or as one JSON body.
fn anthropic_fixture(name: &str, streamed: bool, state: Arc<MockState>) -> HttpResponse {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let path = match streamed {
        true => format!("{dir}/anthropic_streams/{name}.sse"),
        false => format!("{dir}/anthropic_responses/{name}.json"),
    };
    let Ok(body) = std::fs::read(&path) else {
        return HttpResponse::NotFound()
            .content_type("application/json")
            .body(r#"{"type":"error","error":{"type":"not_found_error","message":"no such fixture"}}"#);
    };
    if streamed {
        let chunks: Vec<Bytes> = body.chunks(7).map(Bytes::copy_from_slice).collect();
        return sse(paced(state, chunks, 0, true));
    }
    HttpResponse::Ok().content_type("application/json").body(body)
}

/// What the `script` model does next in a conversation, for driving real clients (Claude Code).
enum Turn {
    /// Ask for the Bash tool to run `echo tool-ran-ok`.
    CallTool,
    /// Ask for the Read tool to read the file at this path.
    ReadFile(String),
    /// Answer with text.
    Say(String),
}

/// The marker a prompt uses to have the `script` model read a PDF: `Read the PDF at <absolute path>`.
pub const READ_PDF_MARKER: &str = "Read the PDF at ";

/// `script`: asked to "use the tool", it calls Bash; once it sees the tool's result it reports it; asked to
/// [`READ_PDF_MARKER`], it calls Read and then says whether the PDF came as a document (Anthropic format) or a
/// `file` part (OpenAI format): `PDF-RECEIVED` or `PDF-MISSING`; otherwise it answers `MAGIC-42`. Works in both
/// formats, streamed or not.
fn scripted(json: &serde_json::Value, openai: bool, streamed: bool, state: Arc<MockState>) -> HttpResponse {
    let text = json["messages"].to_string();
    let saw_result = text.contains("tool-ran-ok") && (text.contains("tool_result") || text.contains("\"tool\""));
    let pdf_path = text.find(READ_PDF_MARKER).map(|at| {
        let rest = &text[at + READ_PDF_MARKER.len()..];
        rest[..rest.find([' ', '"', '\\']).unwrap_or(rest.len())].to_string()
    });
    let saw_pdf = json["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .any(|part| {
            let data = if openai { &part["file"]["file_data"] } else { &part["source"]["media_type"] };
            data.as_str().is_some_and(|d| d.starts_with("data:application/pdf;base64,JVBER") || d == "application/pdf")
        });
    let turn = if saw_result {
        Turn::Say("The tool said: tool-ran-ok".into())
    } else if let Some(path) = pdf_path {
        if text.contains("PDF file read") || saw_pdf {
            Turn::Say(if saw_pdf { "PDF-RECEIVED".into() } else { "PDF-MISSING".into() })
        } else {
            Turn::ReadFile(path)
        }
    } else if text.to_lowercase().contains("use the tool") {
        Turn::CallTool
    } else {
        Turn::Say("MAGIC-42 from the mock".into())
    };
    let events: Vec<String> = match (openai, &turn) {
        (false, Turn::Say(t)) => anthropic_events(
            &[serde_json::json!({"type":"text","text":""})],
            &[serde_json::json!({"type":"text_delta","text":t})],
            "end_turn",
        ),
        (false, Turn::CallTool) => anthropic_events(
            &[serde_json::json!({"type":"tool_use","id":"toolu_mock_1","name":"Bash","input":{}})],
            &[
                serde_json::json!({"type":"input_json_delta","partial_json":"{\"command\": \"echo tool-ran-ok\", \"description\": \"Print a marker\"}"}),
            ],
            "tool_use",
        ),
        (false, Turn::ReadFile(path)) => anthropic_events(
            &[serde_json::json!({"type":"tool_use","id":"toolu_mock_read","name":"Read","input":{}})],
            &[
                serde_json::json!({"type":"input_json_delta","partial_json":serde_json::json!({"file_path": path}).to_string()}),
            ],
            "tool_use",
        ),
        (true, Turn::ReadFile(path)) => openai_chunks(
            serde_json::json!({"tool_calls":[{"index":0,"id":"call_mock_read","type":"function","function":{"name":"Read","arguments":serde_json::json!({"file_path": path}).to_string()}}]}),
            "tool_calls",
        ),
        (true, Turn::Say(t)) => openai_chunks(serde_json::json!({"content": t}), "stop"),
        (true, Turn::CallTool) => openai_chunks(
            serde_json::json!({"tool_calls":[{"index":0,"id":"call_mock_1","type":"function","function":{"name":"Bash","arguments":"{\"command\": \"echo tool-ran-ok\", \"description\": \"Print a marker\"}"}}]}),
            "tool_calls",
        ),
    };
    if streamed {
        return sse(paced(state, events.into_iter().map(Bytes::from).collect(), 0, true));
    }
    let body = match (openai, turn) {
        (false, Turn::Say(t)) => {
            serde_json::json!({"id":"msg_s","type":"message","role":"assistant","model":"script","content":[{"type":"text","text":t}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":5}})
        }
        (false, Turn::CallTool) => {
            serde_json::json!({"id":"msg_s","type":"message","role":"assistant","model":"script","content":[{"type":"tool_use","id":"toolu_mock_1","name":"Bash","input":{"command":"echo tool-ran-ok","description":"Print a marker"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":5}})
        }
        (false, Turn::ReadFile(path)) => {
            serde_json::json!({"id":"msg_s","type":"message","role":"assistant","model":"script","content":[{"type":"tool_use","id":"toolu_mock_read","name":"Read","input":{"file_path":path}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":5}})
        }
        (true, Turn::ReadFile(path)) => {
            serde_json::json!({"id":"c","object":"chat.completion","created":0,"model":"script","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_mock_read","type":"function","function":{"name":"Read","arguments":serde_json::json!({"file_path": path}).to_string()}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}})
        }
        (true, Turn::Say(t)) => {
            serde_json::json!({"id":"c","object":"chat.completion","created":0,"model":"script","choices":[{"index":0,"message":{"role":"assistant","content":t},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}})
        }
        (true, Turn::CallTool) => {
            serde_json::json!({"id":"c","object":"chat.completion","created":0,"model":"script","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_mock_1","type":"function","function":{"name":"Bash","arguments":"{\"command\": \"echo tool-ran-ok\", \"description\": \"Print a marker\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}})
        }
    };
    HttpResponse::Ok().content_type("application/json").body(body.to_string())
}

/// An Anthropic event stream with one block (start, one delta) and the given stop reason.
fn anthropic_events(start: &[serde_json::Value], delta: &[serde_json::Value], stop: &str) -> Vec<String> {
    let ev = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    let mut out = vec![ev(
        "message_start",
        serde_json::json!({"type":"message_start","message":{"id":"msg_script","type":"message","role":"assistant","model":"script","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}),
    )];
    out.push(ev(
        "content_block_start",
        serde_json::json!({"type":"content_block_start","index":0,"content_block":start[0]}),
    ));
    out.push(ev("content_block_delta", serde_json::json!({"type":"content_block_delta","index":0,"delta":delta[0]})));
    out.push(ev("content_block_stop", serde_json::json!({"type":"content_block_stop","index":0})));
    out.push(ev("message_delta", serde_json::json!({"type":"message_delta","delta":{"stop_reason":stop,"stop_sequence":null},"usage":{"output_tokens":7}})));
    out.push(ev("message_stop", serde_json::json!({"type":"message_stop"})));
    out
}

/// An OpenAI chunk stream: a role chunk, one delta, the finish, a usage chunk and `[DONE]`.
fn openai_chunks(delta: serde_json::Value, finish: &str) -> Vec<String> {
    let chunk = |choices: serde_json::Value, usage: serde_json::Value| {
        format!(
            "data: {}\n\n",
            serde_json::json!({"id":"c","object":"chat.completion.chunk","created":0,"model":"script","choices":choices,"usage":usage})
        )
    };
    vec![
        chunk(
            serde_json::json!([{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]),
            serde_json::Value::Null,
        ),
        chunk(serde_json::json!([{"index":0,"delta":delta,"finish_reason":null}]), serde_json::Value::Null),
        chunk(serde_json::json!([{"index":0,"delta":{},"finish_reason":finish}]), serde_json::Value::Null),
        chunk(serde_json::json!([]), serde_json::json!({"prompt_tokens":5,"completion_tokens":7,"total_tokens":12})),
        "data: [DONE]\n\n".to_string(),
    ]
}

/// `GET …/models`: Anthropic's list shape when the request carries `anthropic-version`, else OpenAI's.
fn model_list(req: &HttpRequest) -> HttpResponse {
    let body = if req.headers().contains_key("anthropic-version") {
        r#"{"data":[{"type":"model","id":"claude-mock-1","display_name":"Claude Mock 1","created_at":"2025-02-19T00:00:00Z"},{"type":"model","id":"claude-mock-2","display_name":"Claude Mock 2","created_at":"2025-05-14T00:00:00Z"}],"has_more":false,"first_id":"claude-mock-1","last_id":"claude-mock-2"}"#
    } else {
        r#"{"object":"list","data":[{"id":"gpt-mock","object":"model","created":1715367049,"owned_by":"system"}]}"#
    };
    HttpResponse::Ok().content_type("application/json").body(body)
}

/// The mock's OpenAI-format endpoint (`<mock>/v1/chat/completions`). Behaviour by model:
/// - `fixture-<name>`: `tests/fixtures/openai_streams/<name>.sse` when streaming (sent in 7-byte chunks, so
///   events and lines are split), else `tests/fixtures/openai_responses/<name>.json`;
/// - `error-<status>`: that status with an OpenAI error body (429 adds `retry-after: 7`);
/// - anything else: the `text` fixtures.
async fn openai_handler(model: &str, streamed: bool, state: Arc<MockState>) -> HttpResponse {
    if let Some(status) = model.strip_prefix("error-") {
        let status: u16 = status.parse().unwrap_or(500);
        let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
        if status == 429 {
            response.insert_header(("retry-after", "7"));
        }
        return response.content_type("application/json").body(format!(
            r#"{{"error":{{"message":"openai mock says {status}","type":"mock_type","param":null,"code":"mock_code"}}}}"#
        ));
    }
    let name = model.strip_prefix("fixture-").unwrap_or("text");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let path = match streamed {
        true => format!("{dir}/openai_streams/{name}.sse"),
        false => format!("{dir}/openai_responses/{name}.json"),
    };
    let Ok(body) = std::fs::read(&path) else {
        return HttpResponse::NotFound().content_type("application/json").body(
            r#"{"error":{"message":"no such fixture","type":"invalid_request_error","code":"model_not_found"}}"#,
        );
    };
    if streamed {
        let chunks: Vec<Bytes> = body.chunks(7).map(Bytes::copy_from_slice).collect();
        return sse(paced(state, chunks, 0, true));
    }
    HttpResponse::Ok().content_type("application/json").body(body)
}

/// Behaviours for retry, rotation and breaker tests (both formats):
/// - `fail-<n>-<status>`: the first `n` requests with this model get `status` (429 with `retry-after: 0`);
/// - `ratelimit-<secs>`: always 429 with `retry-after: <secs>`;
/// - `keys-ok-<key>`: 401 unless the request's key (x-api-key or bearer) is `<key>`.
fn resilience_behaviour(model: &str, hit: usize, req: &HttpRequest) -> Option<HttpResponse> {
    let error = |status: u16| {
        let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
        response.content_type("application/json");
        response
    };
    let body = |status: u16| {
        format!(r#"{{"type":"error","error":{{"type":"mock_error_{status}","message":"mock says {status}"}}}}"#)
    };
    if let Some(rest) = model.strip_prefix("fail-") {
        let (n, status) = rest.split_once('-')?;
        let (n, status): (usize, u16) = (n.parse().ok()?, status.parse().ok()?);
        if hit > n {
            return None;
        }
        let mut response = error(status);
        if status == 429 {
            response.insert_header(("retry-after", "0"));
        }
        return Some(response.body(body(status)));
    }
    if let Some(secs) = model.strip_prefix("ratelimit-") {
        return Some(error(429).insert_header(("retry-after", secs)).body(body(429)));
    }
    if let Some(good) = model.strip_prefix("keys-ok-") {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let key = header("x-api-key")
            .or_else(|| header("authorization").map(|v| v.trim_start_matches("Bearer ").to_string()));
        if key.as_deref() != Some(good) {
            return Some(error(401).body(body(401)));
        }
    }
    None
}

fn sse<S>(body: S) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    HttpResponse::Ok()
        .insert_header(("request-id", "req_mock_stream"))
        .content_type("text/event-stream; charset=utf-8")
        .streaming(body)
}

/// Sends `events` one per chunk, `gap_ms` apart; when `clean_end` is false the body fails after the last event,
/// which breaks the connection mid-body.
fn paced(
    state: Arc<MockState>,
    events: Vec<Bytes>,
    gap_ms: u64,
    clean_end: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let guard = StreamGuard { state, finished: false };
    stream::unfold((events.into_iter(), guard, 0usize), move |(mut it, guard, i)| async move {
        if i > 0 && gap_ms > 0 {
            actix_rt::time::sleep(Duration::from_millis(gap_ms)).await;
        }
        match it.next() {
            Some(event) => Some((Ok(event), (it, guard, i + 1))),
            None if clean_end => {
                guard.complete();
                None
            }
            None => {
                guard.complete();
                let guard = StreamGuard { state: Arc::new(MockState::default()), finished: true };
                Some((Err(actix_web::error::ErrorInternalServerError("mock drops the connection")), (it, guard, i + 1)))
            }
        }
    })
}

pub struct Gateway {
    pub url: String,
    handle: ServerHandle,
    /// The data directory this harness made for it, removed on drop.
    data_dir: Option<PathBuf>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts gatehouse configured only by `env` (no file, no process environment).
pub fn start_gateway(env: &[(&str, &str)]) -> Gateway {
    start_gateway_from(None, env)
}

/// Starts gatehouse from the config file at `path` plus `env`; the file is re-read by reloads.
pub fn start_gateway_with_file(path: &Path, env: &[(&str, &str)]) -> Gateway {
    start_gateway_from(Some(path.to_path_buf()), env)
}

/// A fresh data directory for one gateway (its embedded key store), unless the test chose one.
pub fn temp_data_dir() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("gatehouse-data-{}-{n}-{nanos}", std::process::id())).display().to_string()
}

fn start_gateway_from(path: Option<PathBuf>, env: &[(&str, &str)]) -> Gateway {
    let data_dir = temp_data_dir();
    let mut vars: Vec<(String, String)> = vec![
        ("WORKERS".into(), "1".into()),
        ("LOG_LEVEL".into(), "warn".into()),
        ("DATA_DIR".into(), data_dir.clone()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let data_dir = (!env.iter().any(|(k, _)| *k == "DATA_DIR")).then(|| PathBuf::from(data_dir));
    let source = gatehouse::config::ConfigSource { path, env: vars };
    let settings = gatehouse::config::load_from(&source).expect("test configuration is valid");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = gatehouse::serve(settings, source, listener).unwrap();
            tx.send(server.handle()).unwrap();
            server.await
        })
    });
    let handle = rx.recv().unwrap();
    Gateway { url, handle, data_dir }
}

/// A config file in the temp directory, removed on drop.
pub struct TempConfig {
    pub path: PathBuf,
}

impl TempConfig {
    pub fn new(content: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("gatehouse-it-{}-{n}.toml", std::process::id()));
        let file = Self { path };
        file.write(content);
        file
    }

    pub fn write(&self, content: &str) {
        std::fs::write(&self.path, content).unwrap();
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A TCP server that accepts connections and closes them at once without answering; counts connections.
pub fn start_resetter() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, count)
}

/// The gatehouse binary on a free port; killed on drop if still running.
pub struct Binary {
    pub child: Child,
    pub url: String,
    /// The data directory this harness made for it (unless the test chose one), removed on drop.
    data_dir: Option<PathBuf>,
}

impl Binary {
    /// A process a test started itself, with the data directory it gave it (removed on drop).
    pub fn adopt(child: Child, url: String, data_dir: Option<PathBuf>) -> Self {
        Self { child, url, data_dir }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the release-or-debug gatehouse binary on a free port. The port is picked before the process binds it, so
/// under load another process can take it in between: the start counts only once `/health` answers as gatehouse,
/// and a process that exits (its bind failed) is started again on another port.
pub fn start_binary(env: &[(&str, &str)]) -> Binary {
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        let data_dir = temp_data_dir();
        cmd.env_clear().env("PORT", port.to_string()).env("WORKERS", "1").env("LOG_LEVEL", "warn");
        cmd.env("DATA_DIR", &data_dir);
        let data_dir = (!env.iter().any(|(k, _)| *k == "DATA_DIR")).then(|| PathBuf::from(data_dir));
        cmd.current_dir(std::env::temp_dir()).stdout(Stdio::null()).stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if child.try_wait().unwrap().is_some() {
                break; // exited: most likely the port was taken; try another
            }
            if answers_as_gatehouse(port) {
                return Binary { child, url: format!("http://127.0.0.1:{port}"), data_dir };
            }
            assert!(Instant::now() < deadline, "gatehouse did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("gatehouse exited at start five times");
}

/// Whether `GET /health` on `port` is answered by gatehouse (not by another process that took the port).
fn answers_as_gatehouse(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
    if tcp.write_all(b"GET /health HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.") && answer.contains("\"providers\"")
}

/// A TCP server that reads requests and never answers; counts connections the peer closed. (An actix mock cannot
/// show this: actix-web keeps running a handler after its client leaves.)
pub fn start_silent_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let closed = Arc::new(AtomicUsize::new(0));
    let counter = closed.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counter = counter.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                counter.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (url, closed)
}

/// A loopback URL where nothing listens.
pub fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// An HTTP client for tests, with a generous timeout. Sends `content-type: application/json`, as every API
/// client does (the gateway refuses bodies declared otherwise).
pub fn client() -> awc::Client {
    client_with_timeout(Duration::from_secs(30))
}

/// [`client`] with another timeout.
pub fn client_with_timeout(timeout: Duration) -> awc::Client {
    gatehouse::install_crypto_provider();
    awc::Client::builder().timeout(timeout).add_default_header(("content-type", "application/json")).finish()
}

/// A minimal valid Messages request body.
pub fn body(model: &str, stream: bool) -> String {
    serde_json::json!({
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hi"}],
    })
    .to_string()
}

/// The `error.type` of an Anthropic error envelope, asserting the envelope's shape.
pub fn error_type(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    assert_eq!(v["type"], "error", "envelope: {v}");
    assert!(v["error"]["message"].is_string(), "envelope has a message: {v}");
    v["error"]["type"].as_str().unwrap().to_string()
}

impl Binary {
    /// Resident memory of the process in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Open file descriptors of the process.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).unwrap().count()
    }
}
