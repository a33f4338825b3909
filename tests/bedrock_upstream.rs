//! End-to-end: a `bedrock` provider behind the Anthropic routes, against an in-process mock Bedrock runtime that
//! answers with real event-stream frames (encoded with the gateway's own codec; the frames' CRCs are the crate's).
//! The mock re-computes each request's SigV4 signature over the path, headers and body exactly as they arrived,
//! so a path re-encoded on the way or a body changed after signing fails here. (An independent verifier,
//! botocore's, runs in the Python suite.)

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use bytes::Bytes;
use common::{client, error_type, start_gateway, Gateway};
use futures_util::stream;
use gatehouse::cloud::eventstream::{encode_chunk, encode_exception};
use gatehouse::cloud::sigv4::{sign_request, Keys, Outgoing};

const ACCESS_KEY: &str = "AKIDGATEHOUSETEST";
const SECRET_KEY: &str = "gatehouse/test/secret";
const SONNET: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

const MESSAGE: &str = r#"{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hello from Bedrock"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":4}}"#;

const EVENTS: [&str; 6] = [
    r#"{"type":"message_start","message":{"id":"msg_bdrk_2","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#,
    r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there"}}"#,
    r#"{"type":"content_block_stop","index":0}"#,
    r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}"#,
    r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":25,"outputTokenCount":7}}"#,
];

fn event_type(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json).unwrap()["type"].as_str().unwrap().to_string()
}

/// The SSE a client must receive for `events`: each event's JSON bytes exactly as Bedrock carried them.
fn sse_of(events: &[&str]) -> String {
    events.iter().map(|e| format!("event: {}\ndata: {e}\n\n", event_type(e))).collect()
}

#[derive(Debug, Clone)]
struct Seen {
    /// The path as it arrived, percent-encoding included.
    raw_path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    /// Whether the signature re-computed over what arrived matches the one sent.
    signature_ok: Option<bool>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct MockBedrock {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: ServerHandle,
}

impl Drop for MockBedrock {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl MockBedrock {
    fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().expect("the mock received a request")
    }
}

fn start_bedrock() -> MockBedrock {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let data = web::Data::new(seen.clone());
    let (url, handle) = common::serve(move |app| {
        app.app_data(data.clone()).default_service(web::to(handle));
    });
    MockBedrock { url, seen, handle }
}

/// Re-computes the SigV4 signature of what arrived, at the time the request says it was signed.
fn signature_matches(req: &HttpRequest, body: &[u8]) -> Option<bool> {
    let authorization = req.headers().get("authorization")?.to_str().ok()?;
    if !authorization.starts_with("AWS4-HMAC-SHA256") {
        return None;
    }
    let date = req.headers().get("x-amz-date")?.to_str().ok()?;
    let seconds = jiff::Timestamp::strptime("%Y%m%dT%H%M%SZ%z", format!("{date}+0000")).ok()?.as_second();
    let time = std::time::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).ok()?);
    let host = req.headers().get("host")?.to_str().ok()?;
    let url = format!("http://{host}{}", req.uri());
    let content_type = req.headers().get("content-type")?.to_str().ok()?;
    let token = req.headers().get("x-amz-security-token").and_then(|v| v.to_str().ok());
    let keys = Keys { access_key_id: ACCESS_KEY, secret_access_key: SECRET_KEY, session_token: token };
    let outgoing = Outgoing { method: "POST", url: &url, headers: &[("content-type", content_type)], body };
    let expected = sign_request(keys, "us-east-1", "bedrock", outgoing, time).ok()?;
    let expected = expected.iter().find(|(k, _)| *k == "authorization")?;
    Some(expected.1 == authorization)
}

async fn handle(req: HttpRequest, body: Bytes, seen: web::Data<Arc<Mutex<Vec<Seen>>>>) -> HttpResponse {
    let headers = req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let raw_path = req.uri().path().to_string();
    let signature_ok = signature_matches(&req, &body);
    seen.lock().unwrap().push(Seen { raw_path: raw_path.clone(), headers, body: body.clone(), signature_ok });
    if signature_ok == Some(false) {
        return aws_error(403, "InvalidSignatureException", "The request signature we calculated does not match");
    }
    let rest = raw_path.strip_prefix("/model/").unwrap_or("");
    let Some((encoded_id, action)) = rest.rsplit_once('/') else {
        return aws_error(404, "UnknownOperationException", "no such operation");
    };
    let id = encoded_id.replace("%3A", ":");
    match (id.as_str(), action) {
        ("expired", _) => {
            aws_error(403, "ExpiredTokenException", "The security token included in the request is expired")
        }
        ("throttled", _) => aws_error(429, "ThrottlingException", "Too many requests, please wait"),
        (_, "invoke") => HttpResponse::Ok().content_type("application/json").body(MESSAGE),
        (_, "count-tokens") => {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let inner = v["input"]["invokeModel"]["body"].as_str().unwrap_or("");
            let decoded = base64::engine::general_purpose::STANDARD.decode(inner).unwrap_or_default();
            match serde_json::from_slice::<serde_json::Value>(&decoded) {
                Ok(invoke) if invoke["anthropic_version"] == "bedrock-2023-05-31" => {
                    HttpResponse::Ok().content_type("application/json").body(r#"{"inputTokens":17}"#)
                }
                _ => aws_error(400, "ValidationException", "count-tokens body is not an invokeModel body"),
            }
        }
        (id, "invoke-with-response-stream") => event_stream(id),
        _ => aws_error(404, "UnknownOperationException", "no such operation"),
    }
}

fn aws_error(status: u16, name: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("x-amzn-ErrorType", format!("{name}:http://internal.amazon.com/coral/com.amazon.bedrock/")))
        .insert_header(("x-amzn-RequestId", "req-bedrock-1"))
        .content_type("application/json")
        .body(serde_json::json!({ "message": message }).to_string())
}

/// The stream for model `id`: the six events; `exception-mid`: two events then a throttling exception;
/// `exception-first`: an overload exception only; `silent`: the first event, 2.5 s of silence, the rest.
fn event_stream(id: &str) -> HttpResponse {
    let frames: Vec<(Bytes, Duration)> = match id {
        "exception-mid" => vec![
            (encode_chunk(EVENTS[0].as_bytes()), Duration::ZERO),
            (encode_chunk(EVENTS[1].as_bytes()), Duration::ZERO),
            (encode_exception("throttlingException", "Too many tokens, please wait"), Duration::ZERO),
        ],
        "exception-first" => {
            vec![(encode_exception("serviceUnavailableException", "Bedrock is busy"), Duration::ZERO)]
        }
        "silent" => EVENTS
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (encode_chunk(e.as_bytes()), if i == 1 { Duration::from_millis(2500) } else { Duration::ZERO })
            })
            .collect(),
        _ => {
            // All frames in one buffer, cut at odd places: the gateway must reassemble them.
            let all: Vec<u8> = EVENTS.iter().flat_map(|e| encode_chunk(e.as_bytes()).to_vec()).collect();
            all.chunks(13).map(|c| (Bytes::copy_from_slice(c), Duration::ZERO)).collect()
        }
    };
    let body = stream::unfold(frames.into_iter(), |mut frames| async move {
        let (bytes, delay) = frames.next()?;
        if !delay.is_zero() {
            actix_rt::time::sleep(delay).await;
        }
        Some((Ok::<_, actix_web::Error>(bytes), frames))
    });
    HttpResponse::Ok().content_type("application/vnd.amazon.eventstream").streaming(body)
}

fn gateway(mock: &MockBedrock, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("BR_API_FORMAT", "bedrock"),
        ("BR_BASE_URL", mock.url.as_str()),
        ("BR_AWS_REGION", "us-east-1"),
        ("BR_AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("BR_AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("BR_PING_INTERVAL_SECS", "1"),
        ("MAX_RETRIES", "0"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

fn request(model: &str, stream: bool) -> String {
    serde_json::json!({
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "anthropic_beta": ["body-beta-1"],
        "messages": [{"role": "user", "content": "Hi"}],
    })
    .to_string()
}

async fn post(gw: &Gateway, path: &str, body: String) -> (u16, Vec<(String, String)>, Bytes) {
    let mut res = client()
        .post(format!("{}{path}", gw.url))
        .insert_header(("x-api-key", "client-key-never-forwarded"))
        .insert_header(("x-amz-security-token", "client-token-never-forwarded"))
        .insert_header(("anthropic-beta", "header-beta-2, body-beta-1"))
        .send_body(body)
        .await
        .unwrap();
    let headers = res.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    (res.status().as_u16(), headers, res.body().limit(1 << 20).await.unwrap())
}

#[actix_rt::test]
async fn a_message_is_signed_mapped_and_relayed() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let (status, _, body) = post(&gw, "/v1/messages", request(&format!("br:{SONNET}"), false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, Bytes::from_static(MESSAGE.as_bytes()), "the JSON answer is relayed as it is");

    let seen = mock.last();
    assert_eq!(seen.raw_path, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke");
    assert_eq!(seen.signature_ok, Some(true), "signature over the path and body as they arrived");
    let auth = seen.header("authorization").unwrap();
    assert!(auth.contains(&format!("Credential={ACCESS_KEY}/")) && auth.contains("/us-east-1/bedrock/aws4_request"));
    assert_eq!(seen.header("x-api-key"), None, "the client's key never goes to Bedrock");
    assert_eq!(seen.header("x-amz-security-token"), None, "nor its AWS headers");
    assert_eq!(seen.header("anthropic-beta"), None, "betas travel in the body");
    let sent = seen.json();
    assert_eq!(sent["anthropic_version"], "bedrock-2023-05-31");
    assert!(sent.get("model").is_none() && sent.get("stream").is_none(), "{sent}");
    assert_eq!(sent["anthropic_beta"], serde_json::json!(["body-beta-1", "header-beta-2"]));
    assert_eq!(sent["max_tokens"], 64);
}

#[actix_rt::test]
async fn a_session_token_is_sent_and_signed() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[("BR_AWS_SESSION_TOKEN", "session-token-1")]);
    let (status, _, _) = post(&gw, "/v1/messages", request(&format!("br:{SONNET}"), false)).await;
    assert_eq!(status, 200);
    let seen = mock.last();
    assert_eq!(seen.header("x-amz-security-token"), Some("session-token-1"));
    assert_eq!(seen.signature_ok, Some(true));
}

#[actix_rt::test]
async fn a_stream_is_decoded_into_the_events_bedrock_carried_and_usage_reaches_metrics() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let (status, headers, body) = post(&gw, "/v1/messages", request(&format!("br:{SONNET}"), true)).await;
    assert_eq!(status, 200);
    let content_type = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str()).unwrap();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    assert_eq!(String::from_utf8(body.to_vec()).unwrap(), sse_of(&EVENTS));
    let seen = mock.last();
    assert_eq!(seen.raw_path, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream");
    assert_eq!(seen.header("accept"), Some("application/vnd.amazon.eventstream"));
    assert_eq!(seen.signature_ok, Some(true));

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut res = client().get(format!("{}/metrics", gw.url)).send().await.unwrap();
        let text = String::from_utf8(res.body().limit(8 << 20).await.unwrap().to_vec()).unwrap();
        let input = format!(r#"gatehouse_tokens_total{{provider="br",model="{SONNET}",kind="input"}} 25"#);
        let output = format!(r#"gatehouse_tokens_total{{provider="br",model="{SONNET}",kind="output"}} 7"#);
        if text.contains(&input) && text.contains(&output) {
            break;
        }
        assert!(Instant::now() < deadline, "stream usage never reached the metrics:\n{text}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_rt::test]
async fn an_exception_mid_stream_is_one_error_event_and_a_clean_end() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let (status, _, body) = post(&gw, "/v1/messages", request("br:exception-mid", true)).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body.to_vec()).unwrap();
    let expected_start = sse_of(&EVENTS[..2]);
    assert!(text.starts_with(&expected_start), "{text}");
    let rest = &text[expected_start.len()..];
    assert!(rest.starts_with("event: error\ndata: "), "{rest}");
    assert_eq!(rest.matches("event:").count(), 1, "exactly one event after the relayed ones: {rest}");
    let error: serde_json::Value =
        serde_json::from_str(rest.trim_start_matches("event: error\ndata: ").trim_end()).unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_error");
    assert!(error["error"]["message"].as_str().unwrap().contains("throttlingException: Too many tokens"));
}

#[actix_rt::test]
async fn an_exception_before_any_event_is_a_real_http_error() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let (status, _, body) = post(&gw, "/v1/messages", request("br:exception-first", true)).await;
    assert_eq!(status, 529, "{}", String::from_utf8_lossy(&body));
    assert_eq!(error_type(&body), "overloaded_error");
}

#[actix_rt::test]
async fn pings_keep_a_silent_stream_alive() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let (status, _, body) = post(&gw, "/v1/messages", request("br:silent", true)).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body.to_vec()).unwrap();
    let pings = text.matches("event: ping\ndata: {\"type\": \"ping\"}\n\n").count();
    assert!(pings >= 2, "2.5 s of silence with a 1 s interval: {pings} pings in {text}");
    let without_pings = text.replace("event: ping\ndata: {\"type\": \"ping\"}\n\n", "");
    assert_eq!(without_pings, sse_of(&EVENTS), "pings only between whole events");
}

#[actix_rt::test]
async fn refused_credentials_are_a_clear_error_naming_the_provider() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let (status, _, body) = post(&gw, "/v1/messages", request("br:expired", false)).await;
    assert_eq!(status, 403);
    assert_eq!(error_type(&body), "permission_error");
    let message = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"]["message"].to_string();
    assert!(message.contains("provider 'br' (bedrock) refused the gateway's credentials"), "{message}");
    assert!(message.contains("ExpiredTokenException"), "{message}");
    assert!(!message.contains(SECRET_KEY) && !message.contains(ACCESS_KEY), "no credential in the message");

    let (status, _, body) = post(&gw, "/v1/messages", request("br:throttled", true)).await;
    assert_eq!(status, 429);
    assert_eq!(error_type(&body), "rate_limit_error");
    let message = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"]["message"].to_string();
    assert!(message.contains("provider 'br' (bedrock): ThrottlingException: Too many requests"), "{message}");
}

#[actix_rt::test]
async fn count_tokens_wraps_the_invoke_body_and_renames_the_answer() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let body = serde_json::json!({"model": format!("br:{SONNET}"), "messages": [{"role": "user", "content": "Hi"}]});
    let (status, _, answer) = post(&gw, "/v1/messages/count_tokens", body.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(answer, Bytes::from_static(br#"{"input_tokens":17}"#));
    let seen = mock.last();
    assert_eq!(seen.raw_path, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens");
    assert_eq!(seen.signature_ok, Some(true));
}

#[actix_rt::test]
async fn a_bedrock_api_key_is_a_bearer_and_aliases_route_to_bedrock() {
    let mock = start_bedrock();
    let gw = start_gateway(&[
        ("BR_API_FORMAT", "bedrock"),
        ("BR_BASE_URL", mock.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-1"),
        ("BR_ALIAS_SONNET", SONNET),
        ("DEFAULT_PROVIDER", "br"),
    ]);
    let (status, _, _) = post(&gw, "/v1/messages", request("claude-sonnet-4-5", false)).await;
    assert_eq!(status, 200);
    let seen = mock.last();
    assert_eq!(seen.header("authorization"), Some("Bearer bedrock-api-key-1"));
    assert_eq!(seen.signature_ok, None);
    assert_eq!(seen.raw_path, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke");
}

#[actix_rt::test]
async fn chat_completions_reach_bedrock_through_the_messages_conversion() {
    let mock = start_bedrock();
    let gw = gateway(&mock, &[]);
    let chat = |stream: bool| {
        serde_json::json!({
            "model": format!("br:{SONNET}"),
            "stream": stream,
            "messages": [{"role": "user", "content": "Hi"}],
        })
        .to_string()
    };
    let (status, _, body) = post(&gw, "/v1/chat/completions", chat(false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let completion: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(completion["choices"][0]["message"]["content"], "Hello from Bedrock");
    assert!(mock.last().json().get("model").is_none());

    let (status, _, body) = post(&gw, "/v1/chat/completions", chat(true)).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("\"content\":\"Hi there\"") && text.trim_end().ends_with("data: [DONE]"), "{text}");
}

#[actix_rt::test]
async fn passthrough_sends_the_clients_own_key_as_a_bearer() {
    let mock = start_bedrock();
    let gw = start_gateway(&[
        ("BR_API_FORMAT", "bedrock"),
        ("BR_BASE_URL", mock.url.as_str()),
        ("BR_AWS_REGION", "eu-central-1"),
        ("BR_API_KEY", "!PASSTHRU"),
        ("MAX_RETRIES", "0"),
    ]);
    let (status, _, _) = post(&gw, "/v1/messages", request(&format!("br:{SONNET}"), false)).await;
    assert_eq!(status, 200);
    // Under !PASSTHRU the key `post` sends as x-api-key is the client's Bedrock key: it goes up as a bearer.
    assert_eq!(mock.last().header("authorization"), Some("Bearer client-key-never-forwarded"));
    assert_eq!(mock.last().header("x-api-key"), None);

    let (status, _, body) = post(&gw, "/v1/messages", request("br:expired", false)).await;
    assert_eq!(status, 403);
    assert_eq!(error_type(&body), "authentication_error", "the client's own key was refused");
    assert!(String::from_utf8_lossy(&body).contains("refused the key you sent"));
}
