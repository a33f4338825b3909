//! Real clients in their Bedrock and Vertex modes against a real gatehouse, and gatehouse against mock Bedrock and
//! Vertex upstreams that check signatures and tokens with independent implementations (botocore, PyJWT): the
//! official `anthropic` Python SDK (AnthropicBedrock, AnthropicVertex, plain Anthropic) and Claude Code itself.
//! Ignored by default (they need Python packages and Claude Code); `.ci/suites/cloud.sh` installs them and runs
//! these with `--ignored`. The mocks and check scripts live in tests/cloud/ (see docs/bedrock-and-vertex.md, "Tests").

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// The gateway key clients present (PROXY_API_KEY).
const GW_KEY: &str = "gw-cloud-test-key";
/// The AWS credentials gatehouse signs with; the Bedrock mock knows them.
const GW_AKID: &str = "AKIDGATEHOUSE";
const GW_SECRET: &str = "gatehouse-secret";
/// The AWS credentials clients sign with: the Bedrock mock does NOT know them, so a forwarded client signature fails.
const CLIENT_AKID: &str = "AKIDCLIENTONLY";
const CLIENT_SECRET: &str = "client-secret";
/// A Bedrock API key gatehouse may use as a bearer instead of SigV4.
const BEDROCK_API_KEY: &str = "bedrock-api-key-test";
/// A static Vertex token the Vertex mock accepts.
const VERTEX_STATIC: &str = "ya29.static-test-token";
const REGION: &str = "us-east-1";
const VERTEX_PROJECT: &str = "mock-project";
const VERTEX_REGION: &str = "us-east5";
/// Claude Code's default Bedrock model id, and its default Vertex model.
const BEDROCK_DEFAULT_ID: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const VERTEX_DEFAULT_MODEL: &str = "claude-sonnet-4-5@20250929";

fn cloud_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud")
}

/// A per-test temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("gatehouse-cloud-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One of the Python mocks (tests/cloud/mock_*.py), killed on drop.
struct PyMock {
    child: Child,
    url: String,
}

impl PyMock {
    fn start(script: &str, args: &[&str]) -> Self {
        let mut child = Command::new("python3")
            .arg(cloud_dir().join(script))
            .args(args)
            .current_dir(cloud_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the mock prints its URL");
        let url = line.trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{script} did not start: {line:?}");
        Self { child, url }
    }

    /// mock_bedrock.py knowing gatehouse's credentials and Bedrock API key (not the clients').
    fn bedrock() -> Self {
        let creds = format!("{GW_AKID}:{GW_SECRET}");
        Self::start("mock_bedrock.py", &["--credentials", &creds, "--api-key", BEDROCK_API_KEY, "--region", REGION])
    }

    /// mock_vertex.py with a throwaway service account written to `sa_file` and tokens living `expires_in` s.
    fn vertex(sa_file: &Path, expires_in: u32) -> Self {
        let expires = expires_in.to_string();
        Self::start(
            "mock_vertex.py",
            &[
                "--project",
                VERTEX_PROJECT,
                "--region",
                VERTEX_REGION,
                "--static-token",
                VERTEX_STATIC,
                "--expires-in",
                &expires,
                "--make-service-account",
                sa_file.to_str().unwrap(),
            ],
        )
    }

    fn requests(&self) -> Vec<Value> {
        serde_json::from_str(&http_call(&self.url, "GET", "/_mock/requests", "")).expect("records are JSON")
    }

    fn stats(&self) -> Value {
        serde_json::from_str(&http_call(&self.url, "GET", "/_mock/stats", "")).expect("stats are JSON")
    }

    fn reset(&self) {
        http_call(&self.url, "POST", "/_mock/reset", "{}");
    }
}

impl Drop for PyMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP/1.0 request to a mock's control endpoint; returns the body.
fn http_call(base: &str, method: &str, path: &str, body: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(addr).expect("mock reachable");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "{method} {path} HTTP/1.0\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// Runs a check script with one JSON config argument; fails the test with its output when it fails.
fn run_check(script: &str, config: Value) {
    let out = Command::new("python3")
        .arg(cloud_dir().join(script))
        .arg(config.to_string())
        .current_dir(cloud_dir())
        .output()
        .expect("python3 runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{script}:\n{text}");
    assert!(out.status.success(), "{script} failed:\n{text}");
}

/// The providers every gatehouse here has: `br` (bedrock format, SigV4 with gatehouse's keys), `brk` (bedrock
/// format, Bedrock API key), `vx` (vertex format, service-account file), `vxs` (vertex, static token), `mock`
/// (Anthropic format) and `oai` (OpenAI format), both on the Rust mock; clients need the gateway key.
fn cloud_gateway(bedrock: &PyMock, vertex: &PyMock, sa_file: &Path, rust_mock: &MockUpstream) -> Gateway {
    let vertex_base = format!("{}/v1", vertex.url);
    let oai_base = format!("{}/v1", rust_mock.url);
    start_gateway(&[
        ("PROXY_API_KEY", GW_KEY),
        ("BR_API_FORMAT", "bedrock"),
        ("BR_BASE_URL", &bedrock.url),
        ("BR_AWS_REGION", REGION),
        ("BR_AWS_ACCESS_KEY_ID", GW_AKID),
        ("BR_AWS_SECRET_ACCESS_KEY", GW_SECRET),
        ("BRK_API_FORMAT", "bedrock"),
        ("BRK_BASE_URL", &bedrock.url),
        ("BRK_AWS_REGION", REGION),
        ("BRK_API_KEY", BEDROCK_API_KEY),
        ("VX_API_FORMAT", "vertex"),
        ("VX_BASE_URL", &vertex_base),
        ("VX_VERTEX_PROJECT", VERTEX_PROJECT),
        ("VX_VERTEX_REGION", VERTEX_REGION),
        ("VX_CREDENTIALS_FILE", sa_file.to_str().unwrap()),
        ("VXS_API_FORMAT", "vertex"),
        ("VXS_BASE_URL", &vertex_base),
        ("VXS_VERTEX_PROJECT", VERTEX_PROJECT),
        ("VXS_VERTEX_REGION", VERTEX_REGION),
        ("VXS_API_KEY", VERTEX_STATIC),
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", &rust_mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "sk-provider"),
        ("OAI_BASE_URL", &oai_base),
        ("BEDROCK_DEFAULT_PROVIDER", "br"),
        ("VERTEX_DEFAULT_PROVIDER", "vx"),
        ("WORKERS", "2"),
    ])
}

/// Everything one test needs: both Python mocks, the Rust mock, gatehouse in front of them.
struct Rig {
    bedrock: PyMock,
    vertex: PyMock,
    rust_mock: MockUpstream,
    gateway: Gateway,
    _dir: TempDir,
}

impl Rig {
    fn new(name: &str, token_lifetime: u32) -> Self {
        let dir = TempDir::new(name);
        let sa_file = dir.0.join("service-account.json");
        let bedrock = PyMock::bedrock();
        let vertex = PyMock::vertex(&sa_file, token_lifetime);
        let rust_mock = start_mock();
        let gateway = cloud_gateway(&bedrock, &vertex, &sa_file, &rust_mock);
        Self { bedrock, vertex, rust_mock, gateway, _dir: dir }
    }

    fn bedrock_base(&self) -> String {
        format!("{}/bedrock", self.gateway.url)
    }

    fn vertex_base(&self) -> String {
        format!("{}/vertex/v1", self.gateway.url)
    }
}

/// Roles (see tests/cloud/checks.py) for a Python mock: any model id does everything.
fn cloud_models(id: &str, error_id: &str) -> Value {
    json!({"text": id, "thinking": id, "tools": id, "script": id, "stream_error": error_id})
}

/// Roles for the Rust mock behind provider `p` (tests/common: `script`, fixtures); `mock` is Anthropic-format,
/// `oai` OpenAI-format (whose reasoning converts to thinking without a signature; its tools are covered by the
/// `script` round trip).
fn rust_mock_models(p: &str) -> Value {
    match p {
        "oai" => json!({
            "text": "oai:fixture-text",
            "thinking": "oai:fixture-reasoning_content",
            "thinking_unsigned": true,
            "script": "oai:script",
        }),
        _ => json!({
            "text": format!("{p}:fixture-text"),
            "thinking": format!("{p}:fixture-thinking"),
            "tools": format!("{p}:tool-use"),
            "script": format!("{p}:script"),
        }),
    }
}

#[test]
#[ignore = "needs Python boto3, anthropic, google-auth, pyjwt, cryptography; run by .ci/suites/cloud.sh"]
fn cloud_mocks_check_what_they_claim_with_boto3_google_auth_and_the_sdks() {
    let dir = TempDir::new("selftest");
    let creds = ["--credentials", "AKIDSELF:selfsecret", "--credentials", "ASIASELF:tempsecret:selftoken"];
    let bedrock = PyMock::start("mock_bedrock.py", &[&creds[..], &["--api-key", "self-bearer"]].concat());
    let sa = dir.0.join("sa.json");
    let vertex = PyMock::start(
        "mock_vertex.py",
        &["--static-token", "self-static", "--expires-in", "3", "--make-service-account", sa.to_str().unwrap()],
    );
    for (script, args) in [
        ("mock_bedrock_selftest.py", vec![bedrock.url.clone()]),
        ("mock_vertex_selftest.py", vec![vertex.url.clone(), sa.display().to_string()]),
    ] {
        let out = Command::new("python3")
            .arg(cloud_dir().join(script))
            .args(&args)
            .current_dir(cloud_dir())
            .output()
            .expect("python3 runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        println!("{script}:\n{text}");
        assert!(out.status.success(), "{script} failed:\n{text}");
    }
}

/// AnthropicBedrock → gatehouse /bedrock → (a) the bedrock mock, relayed (the client signs with its own keys, which
/// the mock does not know: gatehouse must drop that signature and sign with its own), (b) the same with the
/// client's bearer = gateway key and gatehouse using a Bedrock API key, (c) the Anthropic-format and (d) the
/// OpenAI-format mock, converted into event-stream frames.
#[test]
#[ignore = "needs the anthropic and boto3 Python packages; run by .ci/suites/cloud.sh"]
fn anthropic_bedrock_sdk_through_the_bedrock_dialect() {
    let rig = Rig::new("bedrock-sdk", 3599);
    let id = format!("br:{BEDROCK_DEFAULT_ID}");
    run_check(
        "bedrock_sdk_check.py",
        json!({
            "label": "AnthropicBedrock (SigV4) → bedrock",
            "base_url": rig.bedrock_base(), "region": REGION,
            "aws": format!("{CLIENT_AKID}:{CLIENT_SECRET}"), "gateway_key": GW_KEY,
            "models": {"text": id, "thinking": id, "tools": id, "script": id, "stream_error": "br:throttle-me",
                       "stream_error_type": "throttlingException"},
            "beta_model": id,
            "bedrock_mock": rig.bedrock.url, "expect_auth": "sigv4", "expect_version": "2026-10-21",
            "expect_encoded": true,
            "count_tokens": {"model": id, "expect": 110, "bearer": GW_KEY},
            "profiles": {"bearer": GW_KEY},
        }),
    );
    let model_calls: Vec<Value> =
        rig.bedrock.requests().into_iter().filter(|r| r["action"] == "invoke-with-response-stream").collect();
    assert!(
        model_calls.iter().all(|r| r["model_id"] == BEDROCK_DEFAULT_ID || r["model_id"] == "throttle-me"),
        "the provider prefix is stripped: {:?}",
        model_calls.iter().map(|r| r["model_id"].clone()).collect::<Vec<_>>()
    );
    // The default provider (BEDROCK_DEFAULT_PROVIDER=br) takes an id that names no provider; bearer client.
    run_check(
        "bedrock_sdk_check.py",
        json!({
            "label": "AnthropicBedrock (bearer) → default provider",
            "base_url": rig.bedrock_base(), "region": REGION, "api_key": GW_KEY,
            "models": cloud_models(BEDROCK_DEFAULT_ID, "throttle-again"),
            "bedrock_mock": rig.bedrock.url, "expect_auth": "sigv4", "expect_model_id": null,
        }),
    );
    run_check(
        "bedrock_sdk_check.py",
        json!({
            "label": "AnthropicBedrock → brk (gatehouse uses a Bedrock API key)",
            "base_url": rig.bedrock_base(), "region": REGION, "api_key": GW_KEY,
            "models": {"text": "brk:anthropic.claude-3-haiku", "script": "brk:anthropic.claude-3-haiku"},
            "bedrock_mock": rig.bedrock.url, "expect_auth": "bearer", "expect_model_id": "anthropic.claude-3-haiku",
            "expect_version": "2026-10-21",
        }),
    );
    for p in ["mock", "oai"] {
        let mut models = rust_mock_models(p);
        if p == "mock" {
            models["stream_error"] = json!("mock:fixture-mid_stream_error");
        }
        run_check(
            "bedrock_sdk_check.py",
            json!({
                "label": format!("AnthropicBedrock → {p}"),
                "base_url": rig.bedrock_base(), "region": REGION,
                "aws": format!("{CLIENT_AKID}:{CLIENT_SECRET}"), "gateway_key": GW_KEY,
                "models": models,
                "beta_model": format!("{p}:script"),
                "count_tokens": if p == "mock" { json!({"model": "mock:fixture-text", "expect": 42, "bearer": GW_KEY}) } else { Value::Null },
            }),
        );
    }
    let anthropic_side = rig.rust_mock.requests();
    assert!(
        anthropic_side.iter().filter(|r| r.path.ends_with("/v1/messages")).all(|r| {
            r.header("authorization").is_none_or(|a| !a.starts_with("AWS4-"))
                && r.headers.iter().all(|(k, _)| !k.starts_with("x-amz-"))
        }),
        "no client SigV4 material reached the Anthropic-format upstream"
    );
    assert!(
        anthropic_side.iter().any(|r| r.header("anthropic-beta").is_some_and(|b| b.contains("context-1m-2025-08-07"))),
        "the body's anthropic_beta reached the Anthropic-format upstream as the anthropic-beta header"
    );
    assert!(
        anthropic_side.iter().filter(|r| r.path.ends_with("/v1/messages")).all(|r| {
            let body = r.json();
            body.get("anthropic_version").is_none() && body.get("anthropic_beta").is_none() && body["model"].is_string()
        }),
        "Bedrock-only fields removed and the model set for the Anthropic-format upstream"
    );
}

/// AnthropicVertex → gatehouse /vertex/v1 → (a) the vertex mock (service account and static token), relayed,
/// (b) the bedrock mock, (c) the Anthropic-format and (d) the OpenAI-format mock.
#[test]
#[ignore = "needs the anthropic Python package; run by .ci/suites/cloud.sh"]
fn anthropic_vertex_sdk_through_the_vertex_dialect() {
    let rig = Rig::new("vertex-sdk", 3599);
    let base = json!({"base_url": rig.vertex_base(), "region": VERTEX_REGION, "project": VERTEX_PROJECT,
                      "access_token": GW_KEY});
    let with = |extra: Value| {
        let mut config = base.clone();
        config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        config
    };
    let mut models = cloud_models(&format!("vx:{VERTEX_DEFAULT_MODEL}"), "vx:overload-me");
    models["stream_error_type"] = json!("overloaded_error");
    run_check(
        "vertex_sdk_check.py",
        with(json!({
            "label": "AnthropicVertex → vx (service account)", "models": models,
            "beta_model": format!("vx:{VERTEX_DEFAULT_MODEL}"),
            "count_tokens": {"model": format!("vx:{VERTEX_DEFAULT_MODEL}"), "expect": 110},
            "vertex_mock": rig.vertex.url, "expect_auth": "issued", "expect_version": "2026-10-21",
        })),
    );
    run_check(
        "vertex_sdk_check.py",
        with(json!({
            "label": "AnthropicVertex → default provider", "models": cloud_models(VERTEX_DEFAULT_MODEL, "overload-2"),
            "vertex_mock": rig.vertex.url, "expect_auth": "issued",
        })),
    );
    run_check(
        "vertex_sdk_check.py",
        with(json!({
            "label": "AnthropicVertex → vxs (static token)", "models": {"text": "vxs:claude-haiku-4-5@20251001"},
            "vertex_mock": rig.vertex.url, "expect_auth": "static", "expect_model": "claude-haiku-4-5@20251001",
        })),
    );
    let id = format!("br:{BEDROCK_DEFAULT_ID}");
    let mut models = cloud_models(&id, "br:throttle-me");
    models["stream_error_type"] = json!("rate_limit_error");
    run_check(
        "vertex_sdk_check.py",
        with(json!({"label": "AnthropicVertex → br (bedrock)", "models": models})),
    );
    let bedrock_side = rig.bedrock.requests();
    assert!(
        bedrock_side.iter().all(|r| r["error"].is_null() || r["model_id"] == "throttle-me"),
        "every Bedrock request passed the mock: {bedrock_side:?}"
    );
    assert!(
        bedrock_side.iter().filter(|r| r["body"].is_object()).all(|r| r["body"]["anthropic_version"]
            == "bedrock-2023-05-31"
            || r["body"]["anthropic_version"] == "2026-10-21"),
        "Bedrock got a Bedrock anthropic_version"
    );
    for p in ["mock", "oai"] {
        run_check(
            "vertex_sdk_check.py",
            with(json!({
                "label": format!("AnthropicVertex → {p}"), "models": rust_mock_models(p),
                "count_tokens": if p == "mock" { json!({"model": "mock:fixture-text", "expect": 42}) } else { Value::Null },
            })),
        );
    }
    assert!(
        rig.rust_mock.requests().iter().filter(|r| r.path.ends_with("/v1/messages")).all(|r| {
            let body = r.json();
            body.get("anthropic_version").is_none() && body["model"].is_string()
        }),
        "anthropic_version removed and the model set for the Anthropic-format upstream"
    );
}

/// The plain Anthropic SDK (/v1/messages) through gatehouse to bedrock-format providers (SigV4 verified by botocore;
/// Bedrock API key) and a vertex-format provider (service account: exchange, reuse, refresh before expiry, refresh
/// after a 401), with the error paths: expired AWS credentials and a mid-stream exception frame.
#[test]
#[ignore = "needs the anthropic Python package (and the mocks' boto3, pyjwt); run by .ci/suites/cloud.sh"]
fn anthropic_sdk_through_gatehouse_to_bedrock_and_vertex_upstreams() {
    let rig = Rig::new("upstreams", 63);
    let id = format!("br:{BEDROCK_DEFAULT_ID}");
    let mut models = cloud_models(&id, "br:throttle-me");
    models["stream_error_type"] = json!("rate_limit_error");
    run_check(
        "upstream_sdk_check.py",
        json!({
            "label": "Anthropic SDK → br (SigV4)", "gateway": rig.gateway.url, "api_key": GW_KEY,
            "upstream": "bedrock", "mock": rig.bedrock.url, "models": models, "beta_model": id,
            "expect_model": BEDROCK_DEFAULT_ID, "expect_auth": "sigv4",
            "count_tokens": {"model": id, "expect": 110},
            "expired": {"model": id, "provider": "br"},
        }),
    );
    run_check(
        "upstream_sdk_check.py",
        json!({
            "label": "Anthropic SDK → brk (Bedrock API key)", "gateway": rig.gateway.url, "api_key": GW_KEY,
            "upstream": "bedrock", "mock": rig.bedrock.url,
            "models": {"text": "brk:anthropic.claude-3-haiku", "script": "brk:anthropic.claude-3-haiku"},
            "expect_model": "anthropic.claude-3-haiku", "expect_auth": "bearer",
        }),
    );
    let model = format!("vx:{VERTEX_DEFAULT_MODEL}");
    let mut models = cloud_models(&model, "vx:overload-me");
    models["stream_error_type"] = json!("overloaded_error");
    run_check(
        "upstream_sdk_check.py",
        json!({
            "label": "Anthropic SDK → vx (service account)", "gateway": rig.gateway.url, "api_key": GW_KEY,
            "upstream": "vertex", "mock": rig.vertex.url, "models": models, "beta_model": model,
            "expect_model": VERTEX_DEFAULT_MODEL, "expect_auth": "issued",
            "count_tokens": {"model": model, "expect": 110},
            "refresh": {"model": model, "expires_in": 63},
        }),
    );
    let tokens: Vec<Value> = rig.vertex.requests().into_iter().filter(|r| r["action"] == "token").collect();
    assert!(tokens.iter().all(|t| t["error"].is_null()), "every JWT the gateway sent was valid: {tokens:?}");
    assert!(rig.vertex.stats()["exchanges"].as_u64().unwrap_or(0) >= 1);
}

/// The Claude Code binary: `$CLAUDE_BIN`, else the npm install that `.ci/suites/cloud.sh` makes.
fn claude_binary() -> PathBuf {
    std::env::var_os("CLAUDE_BIN").map(Into::into).unwrap_or_else(|| "/opt/claude-code/node_modules/.bin/claude".into())
}

/// The prompt that makes every scripted mock call the Bash tool (`echo tool-ran-ok`) and then report its result.
const TOOL_PROMPT: &str = "Please use the tool to print a marker.";
const TOOL_ANSWER: &str = "The tool said: tool-ran-ok";

/// Runs `claude -p TOOL_PROMPT` offline with a fresh HOME, the mode's `env`, and `--model` when given.
fn run_claude(label: &str, model: Option<&str>, env: &[(&str, &str)]) -> String {
    let home = TempDir::new(&format!("claude-{}", label.replace([' ', ':', '/'], "-")));
    let mut cmd = Command::new(claude_binary());
    cmd.args(["-p", TOOL_PROMPT, "--allowedTools", "Bash(echo:*)"]);
    if let Some(model) = model {
        cmd.args(["--model", model]);
    }
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home.0)
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_BUG_COMMAND", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .envs(env.iter().copied())
        .current_dir(&home.0);
    let out = cmd.output().expect("claude runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("claude [{label}] --model {model:?}:\n{text}");
    assert!(out.status.success(), "claude [{label}] failed: {text}");
    assert!(text.contains(TOOL_ANSWER), "claude [{label}] printed the final answer: {text}");
    text
}

/// Whether a recorded body (Python mock record) carries the tool's result back.
fn record_has_tool_result(r: &Value) -> bool {
    let body = r["body_text"].as_str().unwrap_or("");
    body.contains("tool_result") && body.contains("tool-ran-ok")
}

fn rust_mock_saw_tool_result(mock: &MockUpstream, since: usize) -> bool {
    mock.requests()[since..].iter().any(|r| {
        let body = String::from_utf8_lossy(&r.body);
        body.contains("tool-ran-ok") && (body.contains("tool_result") || body.contains("\"tool\""))
    })
}

fn bedrock_mode(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CLAUDE_CODE_USE_BEDROCK", "1".into()),
        ("ANTHROPIC_BEDROCK_BASE_URL", base.into()),
        ("AWS_REGION", REGION.into()),
    ]
}

fn vertex_mode(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CLAUDE_CODE_USE_VERTEX", "1".into()),
        ("ANTHROPIC_VERTEX_BASE_URL", base.into()),
        ("ANTHROPIC_VERTEX_PROJECT_ID", VERTEX_PROJECT.into()),
        ("CLOUD_ML_REGION", VERTEX_REGION.into()),
        ("CLAUDE_CODE_SKIP_VERTEX_AUTH", "1".into()),
    ]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Claude Code pointed straight at the mocks (no gatehouse): proves the mocks speak what Claude Code expects, so a
/// failure through gatehouse is gatehouse's.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_against_the_cloud_mocks_directly() {
    let dir = TempDir::new("cc-direct");
    let bedrock = PyMock::bedrock();
    let vertex = PyMock::vertex(&dir.0.join("sa.json"), 3599);
    let mut env = bedrock_mode(&bedrock.url);
    env.push(("AWS_ACCESS_KEY_ID", GW_AKID.into()));
    env.push(("AWS_SECRET_ACCESS_KEY", GW_SECRET.into()));
    run_claude("bedrock mode → mock_bedrock", None, &as_refs(&env));
    let records = bedrock.requests();
    assert!(records.iter().all(|r| r["verified"] == true), "Claude Code's SigV4 verified: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the mock");
    let mut env = vertex_mode(&format!("{}/v1", vertex.url));
    env.push(("ANTHROPIC_AUTH_TOKEN", VERTEX_STATIC.into()));
    run_claude("vertex mode → mock_vertex", None, &as_refs(&env));
    assert!(vertex.requests().iter().any(record_has_tool_result), "the tool result reached the mock");
}

/// Claude Code in Bedrock mode through gatehouse, a tool call round trip each: (a) the bedrock mock (default model
/// id, default provider; Claude Code signs with its own AWS keys, gatehouse re-signs with its own), (b) the
/// Anthropic-format and (c) the OpenAI-format mock (the gateway key as AWS_BEARER_TOKEN_BEDROCK), (d) the vertex
/// mock (no client auth but x-gatehouse-key via ANTHROPIC_CUSTOM_HEADERS, CLAUDE_CODE_SKIP_BEDROCK_AUTH).
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_bedrock_mode_through_gatehouse() {
    let rig = Rig::new("cc-bedrock", 3599);
    let base = rig.bedrock_base();

    let mut env = bedrock_mode(&base);
    env.push(("AWS_ACCESS_KEY_ID", CLIENT_AKID.into()));
    env.push(("AWS_SECRET_ACCESS_KEY", CLIENT_SECRET.into()));
    env.push(("ANTHROPIC_CUSTOM_HEADERS", format!("x-gatehouse-key: {GW_KEY}")));
    run_claude("bedrock mode → br (default)", None, &as_refs(&env));
    let records = rig.bedrock.requests();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Bedrock mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Bedrock mock");
    assert!(
        records.iter().filter(|r| r["action"].is_string()).all(|r| r["model_id"] == BEDROCK_DEFAULT_ID
            && r["body"]["anthropic_version"] == "bedrock-2023-05-31"),
        "Claude Code's id and anthropic_version reached Bedrock: {records:?}"
    );
    assert!(
        records.iter().filter(|r| r["action"] == "invoke-with-response-stream").any(|r| {
            let betas = r["body"]["anthropic_beta"].to_string();
            betas.contains("interleaved-thinking-2025-05-14")
        }),
        "Claude Code's anthropic_beta body array reached Bedrock"
    );

    for p in ["mock", "oai"] {
        let before = rig.rust_mock.hits();
        let mut env = bedrock_mode(&base);
        env.push(("AWS_BEARER_TOKEN_BEDROCK", GW_KEY.into()));
        run_claude(&format!("bedrock mode → {p}"), Some(&format!("{p}:script")), &as_refs(&env));
        assert!(rust_mock_saw_tool_result(&rig.rust_mock, before), "{p}: the tool result reached the provider");
    }
    if let Some(r) = rig.rust_mock.requests().iter().find(|r| r.path.ends_with("/v1/messages")) {
        let beta = r.header("anthropic-beta").unwrap_or("");
        assert!(
            beta.contains("claude-code-20250219") && beta.contains("interleaved-thinking-2025-05-14"),
            "the header and body betas merged for the Anthropic-format upstream: {beta}"
        );
    }

    rig.vertex.reset();
    let mut env = bedrock_mode(&base);
    env.push(("CLAUDE_CODE_SKIP_BEDROCK_AUTH", "1".into()));
    env.push(("ANTHROPIC_CUSTOM_HEADERS", format!("x-gatehouse-key: {GW_KEY}")));
    run_claude("bedrock mode → vx", Some(&format!("vx:{VERTEX_DEFAULT_MODEL}")), &as_refs(&env));
    assert!(rig.vertex.requests().iter().any(record_has_tool_result), "the tool result reached the Vertex mock");
}

/// Claude Code in Vertex mode (CLAUDE_CODE_SKIP_VERTEX_AUTH + ANTHROPIC_AUTH_TOKEN = the gateway key) through
/// gatehouse, a tool call round trip each: (a) the vertex mock (default model, default provider, service account),
/// (b) the bedrock mock, (c) the Anthropic-format and (d) the OpenAI-format mock.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_vertex_mode_through_gatehouse() {
    let rig = Rig::new("cc-vertex", 3599);
    let mut env = vertex_mode(&rig.vertex_base());
    env.push(("ANTHROPIC_AUTH_TOKEN", GW_KEY.into()));
    let env = as_refs(&env);

    run_claude("vertex mode → vx (default)", None, &env);
    let records: Vec<Value> = rig.vertex.requests().into_iter().filter(|r| r["action"] != "token").collect();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Vertex mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Vertex mock");
    assert!(
        records.iter().all(|r| r["model"] == VERTEX_DEFAULT_MODEL && r["auth"] == "issued"),
        "the default model, with a token gatehouse got from the service account: {records:?}"
    );
    assert!(
        records.iter().flat_map(|r| r["headers"].as_array().unwrap()).all(|h| h[1] != format!("Bearer {GW_KEY}")),
        "the client's bearer (the gateway key) never reached Vertex"
    );

    run_claude("vertex mode → br", Some(&format!("br:{BEDROCK_DEFAULT_ID}")), &env);
    let records = rig.bedrock.requests();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Bedrock mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Bedrock mock");

    for p in ["mock", "oai"] {
        let before = rig.rust_mock.hits();
        run_claude(&format!("vertex mode → {p}"), Some(&format!("{p}:script")), &env);
        assert!(rust_mock_saw_tool_result(&rig.rust_mock, before), "{p}: the tool result reached the provider");
    }
}
