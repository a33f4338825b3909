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
/// Temporary AWS credentials in the standard variables (AWS_ACCESS_KEY_ID, …, AWS_SESSION_TOKEN), which provider
/// `brg` falls back to; the Bedrock mock knows them.
const GLOBAL_AKID: &str = "ASIAGLOBALTEMP";
const GLOBAL_SECRET: &str = "global-temp-secret";
const GLOBAL_TOKEN: &str = "global-session-token";
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
        let temp = format!("{GLOBAL_AKID}:{GLOBAL_SECRET}:{GLOBAL_TOKEN}");
        Self::start(
            "mock_bedrock.py",
            &["--credentials", &creds, "--credentials", &temp, "--api-key", BEDROCK_API_KEY, "--region", REGION],
        )
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
/// format, Bedrock API key), `brp` (bedrock format, the client's own bearer passed through), `brs` (as `br`, pings after 1 s of upstream silence), `brg` (bedrock format, temporary credentials from the standard AWS variables), `vx` (vertex format, service-account file), `vxs` (vertex, static token), `vxc`
/// (vertex, a token command fetching a token from the mock's `/_mock/issue`), `vxp` (vertex, the client's own token
/// passed through), `mock`
/// (Anthropic format) and `oai` (OpenAI format), both on the Rust mock; clients need the gateway key.
fn cloud_gateway(bedrock: &PyMock, vertex: &PyMock, sa_file: &Path, rust_mock: &MockUpstream) -> Gateway {
    let vertex_base = format!("{}/v1", vertex.url);
    let oai_base = format!("{}/v1", rust_mock.url);
    let token_command = format!(
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('{}/_mock/issue', data=b'').read().decode())\"",
        vertex.url
    );
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
        ("BRS_API_FORMAT", "bedrock"),
        ("BRS_BASE_URL", &bedrock.url),
        ("BRS_AWS_REGION", REGION),
        ("BRS_AWS_ACCESS_KEY_ID", GW_AKID),
        ("BRS_AWS_SECRET_ACCESS_KEY", GW_SECRET),
        ("BRS_PING_INTERVAL_SECS", "1"),
        ("BRP_API_FORMAT", "bedrock"),
        ("BRP_BASE_URL", &bedrock.url),
        ("BRP_AWS_REGION", REGION),
        ("BRP_API_KEY", "!PASSTHRU"),
        ("BRG_API_FORMAT", "bedrock"),
        ("BRG_BASE_URL", &bedrock.url),
        ("BRG_AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", GLOBAL_AKID),
        ("AWS_SECRET_ACCESS_KEY", GLOBAL_SECRET),
        ("AWS_SESSION_TOKEN", GLOBAL_TOKEN),
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
        ("VXP_API_FORMAT", "vertex"),
        ("VXP_BASE_URL", &vertex_base),
        ("VXP_VERTEX_PROJECT", VERTEX_PROJECT),
        ("VXP_VERTEX_REGION", VERTEX_REGION),
        ("VXP_API_KEY", "!PASSTHRU"),
        ("VXC_API_FORMAT", "vertex"),
        ("VXC_BASE_URL", &vertex_base),
        ("VXC_VERTEX_PROJECT", VERTEX_PROJECT),
        ("VXC_VERTEX_REGION", VERTEX_REGION),
        ("VXC_TOKEN_COMMAND", &token_command),
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

/// A check config with the fields of `extra` added to (or replacing) those of `base`.
fn with(base: &Value, extra: Value) -> Value {
    let mut config = base.clone();
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    config
}

/// AnthropicBedrock's connection to gatehouse's /bedrock route, signing with AWS keys the Bedrock mock does not
/// know (gatehouse must drop that signature and sign with its own) and the gateway key in x-gatehouse-key.
fn bedrock_signing_client(rig: &Rig) -> Value {
    json!({"base_url": rig.bedrock_base(), "region": REGION, "aws": format!("{CLIENT_AKID}:{CLIENT_SECRET}"),
           "gateway_key": GW_KEY})
}

/// AnthropicBedrock with the gateway key as its Bedrock API key (`Authorization: Bearer`).
fn bedrock_bearer_client(rig: &Rig) -> Value {
    json!({"base_url": rig.bedrock_base(), "region": REGION, "api_key": GW_KEY})
}

/// AnthropicVertex on gatehouse's /vertex/v1 route with the gateway key as its access token.
fn vertex_client(rig: &Rig) -> Value {
    json!({"base_url": rig.vertex_base(), "region": VERTEX_REGION, "project": VERTEX_PROJECT, "access_token": GW_KEY})
}

/// The Rust mock's requests to the Anthropic Messages endpoint carry no Bedrock/Vertex-only fields and a model.
fn assert_clean_anthropic_requests(mock: &MockUpstream) {
    let requests: Vec<Recorded> = mock.requests().into_iter().filter(|r| r.path.ends_with("/v1/messages")).collect();
    assert!(!requests.is_empty(), "the Anthropic-format mock was called");
    for r in &requests {
        let body = r.json();
        assert!(
            body.get("anthropic_version").is_none()
                && body.get("anthropic_beta").is_none()
                && body["model"].is_string(),
            "Bedrock/Vertex-only fields removed and the model set for the Anthropic-format upstream: {body}"
        );
        assert!(
            r.header("authorization").is_none_or(|a| !a.starts_with("AWS4-"))
                && r.headers.iter().all(|(k, _)| !k.starts_with("x-amz-"))
                && r.header("x-gatehouse-key").is_none(),
            "no client SigV4 material or gateway key reached the Anthropic-format upstream: {:?}",
            r.headers
        );
    }
}

/// AnthropicBedrock → /bedrock → a bedrock-format provider, relayed: the client signing with its own keys (explicit
/// `br:` id; AnthropicBedrock's own anthropic_version relayed), the client with a bearer key (an id naming no
/// provider → BEDROCK_DEFAULT_PROVIDER), provider `brk` that uses a Bedrock API key upstream, and provider `brp`
/// that passes the client's own Bedrock API key through (`!PASSTHRU`; the gateway key in x-gatehouse-key).
#[test]
#[ignore = "needs the anthropic and boto3 Python packages; run by .ci/suites/cloud.sh"]
fn bedrock_dialect_anthropic_bedrock_sdk_to_bedrock_upstream() {
    let rig = Rig::new("bd-br", 3599);
    let id = format!("br:{BEDROCK_DEFAULT_ID}");
    run_check(
        "bedrock_sdk_check.py",
        with(
            &bedrock_signing_client(&rig),
            json!({
                "label": "AnthropicBedrock (SigV4) → br",
                "models": {"text": id, "thinking": id, "tools": id, "script": id, "stream_error": "br:throttle-me",
                           "stream_error_type": "throttlingException"},
                "beta_model": id,
                "bedrock_mock": rig.bedrock.url, "expect_auth": "sigv4", "expect_version": "2026-10-21",
                "expect_encoded": true,
                "count_tokens": {"model": id, "expect": 110, "bearer": GW_KEY},
                "profiles": {"bearer": GW_KEY},
                "raw_stream": {"model": id, "bearer": GW_KEY},
                "raw_error_stream": {"model": "br:throttle-me", "bearer": GW_KEY, "exception_type": "throttlingException"},
                "byte_exact": {"model": id, "upstream_id": BEDROCK_DEFAULT_ID, "direct": rig.bedrock.url,
                               "direct_bearer": BEDROCK_API_KEY, "bearer": GW_KEY},
                "auth_error": true,
            }),
        ),
    );
    let ids: Vec<Value> = rig
        .bedrock
        .requests()
        .into_iter()
        .filter_map(|r| r["action"].is_string().then(|| r["model_id"].clone()))
        .collect();
    assert!(
        ids.iter().all(|id| id == BEDROCK_DEFAULT_ID || id == "throttle-me"),
        "the provider prefix is stripped: {ids:?}"
    );
    run_check(
        "bedrock_sdk_check.py",
        with(
            &bedrock_bearer_client(&rig),
            json!({
                "label": "AnthropicBedrock (bearer) → default provider br",
                "models": cloud_models(BEDROCK_DEFAULT_ID, "throttle-again"),
                "bedrock_mock": rig.bedrock.url, "expect_auth": "sigv4", "expect_model_id": BEDROCK_DEFAULT_ID,
            }),
        ),
    );
    run_check(
        "bedrock_sdk_check.py",
        with(
            &bedrock_bearer_client(&rig),
            json!({
                "label": "AnthropicBedrock → brk (gatehouse uses a Bedrock API key)",
                "models": {"text": "brk:anthropic.claude-3-haiku", "script": "brk:anthropic.claude-3-haiku"},
                "bedrock_mock": rig.bedrock.url, "expect_auth": "bearer", "expect_model_id": "anthropic.claude-3-haiku",
                "expect_version": "2026-10-21",
            }),
        ),
    );
    run_check(
        "bedrock_sdk_check.py",
        json!({
            "label": "AnthropicBedrock (its own Bedrock API key) → brp (!PASSTHRU)",
            "base_url": rig.bedrock_base(), "region": REGION, "api_key": BEDROCK_API_KEY, "gateway_key": GW_KEY,
            "models": {"text": "brp:anthropic.claude-3-haiku", "script": "brp:anthropic.claude-3-haiku"},
            "bedrock_mock": rig.bedrock.url, "expect_auth": "bearer", "expect_model_id": "anthropic.claude-3-haiku",
        }),
    );
}

/// An application inference profile ARN: a Bedrock model id with `:` and `/` (sent as `%3A` and `%2F`).
const PROFILE_ARN: &str = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6";

/// boto3's bedrock-runtime client → /bedrock (ids `%3A`/`%2F`-encoded by botocore; botocore's strict frame parser;
/// Bedrock's CountTokens shape) → the bedrock mock (ids with colons, an inference profile ARN), and → the
/// Anthropic- and OpenAI-format mocks (converted frames).
#[test]
#[ignore = "needs the boto3 Python package; run by .ci/suites/cloud.sh"]
fn bedrock_dialect_boto3_to_bedrock_anthropic_and_openai_upstreams() {
    let rig = Rig::new("bd-boto3", 3599);
    let arn = format!("br:{PROFILE_ARN}");
    let id = format!("br:{BEDROCK_DEFAULT_ID}");
    let mut strip = serde_json::Map::new();
    strip.insert(arn.clone(), json!(PROFILE_ARN));
    strip.insert(id.clone(), json!(BEDROCK_DEFAULT_ID));
    strip.insert("br:throttle-me".into(), json!("throttle-me"));
    run_check(
        "boto3_check.py",
        json!({
            "label": "boto3 → br", "base_url": rig.bedrock_base(), "region": REGION, "gateway_key": GW_KEY,
            "models": [id, arn, BEDROCK_DEFAULT_ID], "count_tokens": 110, "throttle": "br:throttle-me",
            "bedrock_mock": rig.bedrock.url, "strip": strip,
        }),
    );
    run_check(
        "boto3_check.py",
        json!({
            "label": "boto3 → mock", "base_url": rig.bedrock_base(), "region": REGION, "gateway_key": GW_KEY,
            "models": ["mock:fixture-text"], "count_tokens": 42,
            "errors": {"mock:error-400": [400, "ValidationException"], "mock:error-404": [404, "ResourceNotFoundException"],
                       "mock:error-500": [500, "InternalServerException"]},
        }),
    );
    run_check(
        "boto3_check.py",
        json!({
            "label": "boto3 → oai", "base_url": rig.bedrock_base(), "region": REGION, "gateway_key": GW_KEY,
            "models": ["oai:fixture-text"], "count_tokens": "positive",
            "errors": {"oai:error-400": [400, "ValidationException"]},
        }),
    ); // Last, as it is the one known to fail: AWS's examples omit contentType, so botocore sends no Content-Type.
    run_check(
        "boto3_check.py",
        json!({
            "label": "boto3 without contentType → br", "base_url": rig.bedrock_base(), "region": REGION,
            "gateway_key": GW_KEY, "models": [format!("br:{BEDROCK_DEFAULT_ID}")], "no_content_type": true,
        }),
    );
}

/// AnthropicBedrock → /bedrock → the Anthropic-format mock: the answer converted into event-stream frames (an
/// `error` event into an exception frame), count-tokens answered in Bedrock's shape, betas merged into the header,
/// gatehouse's own ping chunk while the upstream stalls (15 s: this test takes about 20 s).
#[test]
#[ignore = "needs the anthropic and boto3 Python packages; run by .ci/suites/cloud.sh"]
fn bedrock_dialect_anthropic_bedrock_sdk_to_anthropic_upstream() {
    let rig = Rig::new("bd-an", 3599);
    let mut models = rust_mock_models("mock");
    models["stream_error"] = json!("mock:fixture-mid_stream_error");
    run_check(
        "bedrock_sdk_check.py",
        with(
            &bedrock_signing_client(&rig),
            json!({
                "label": "AnthropicBedrock → mock (Anthropic format)", "models": models, "beta_model": "mock:script",
                "count_tokens": {"model": "mock:fixture-text", "expect": 42, "bearer": GW_KEY},
                "raw_stream": {"model": "mock:fixture-text", "bearer": GW_KEY},
                "raw_error_stream": {"model": "mock:fixture-mid_stream_error", "bearer": GW_KEY,
                                     "exception_type": "serviceUnavailableException"},
                "keepalive": {"model": "mock:stall-stream", "bearer": GW_KEY, "seconds": 18},
                "auth_error": true,
            }),
        ),
    );
    assert_clean_anthropic_requests(&rig.rust_mock);
    assert!(
        rig.rust_mock
            .requests()
            .iter()
            .any(|r| r.header("anthropic-beta").is_some_and(|b| b.contains("context-1m-2025-08-07"))),
        "the body's anthropic_beta reached the Anthropic-format upstream as the anthropic-beta header"
    );
}

/// AnthropicBedrock → /bedrock → the OpenAI-format mock (converted twice: Bedrock → Messages → Chat Completions).
#[test]
#[ignore = "needs the anthropic and boto3 Python packages; run by .ci/suites/cloud.sh"]
fn bedrock_dialect_anthropic_bedrock_sdk_to_openai_upstream() {
    let rig = Rig::new("bd-oai", 3599);
    run_check(
        "bedrock_sdk_check.py",
        with(
            &bedrock_bearer_client(&rig),
            json!({"label": "AnthropicBedrock → oai", "models": rust_mock_models("oai"),
                   "raw_stream": {"model": "oai:fixture-text", "bearer": GW_KEY}}),
        ),
    );
    let chat = rig.rust_mock.requests().into_iter().filter(|r| r.path.ends_with("/chat/completions")).count();
    assert!(chat > 0, "the OpenAI-format mock was called");
}

/// AnthropicVertex → /vertex/v1 → vertex-format providers, relayed: `vx` (service account; count tokens; betas),
/// an unprefixed model (→ VERTEX_DEFAULT_PROVIDER), `vxs` (static token), `vxp` (the client's own token passed
/// through, the gateway key in x-gatehouse-key).
#[test]
#[ignore = "needs the anthropic Python package; run by .ci/suites/cloud.sh"]
fn vertex_dialect_anthropic_vertex_sdk_to_vertex_upstream() {
    let rig = Rig::new("vd-vx", 3599);
    let client = vertex_client(&rig);
    let model = format!("vx:{VERTEX_DEFAULT_MODEL}");
    let mut models = cloud_models(&model, "vx:overload-me");
    models["stream_error_type"] = json!("overloaded_error");
    run_check(
        "vertex_sdk_check.py",
        with(
            &client,
            json!({
                "label": "AnthropicVertex → vx (service account)", "models": models, "beta_model": model,
                "count_tokens": {"model": model, "expect": 110},
                "vertex_mock": rig.vertex.url, "expect_auth": "issued", "expect_version": "2026-10-21",
                "byte_exact": {"model": model, "upstream_model": VERTEX_DEFAULT_MODEL,
                               "direct": format!("{}/v1", rig.vertex.url), "direct_token": VERTEX_STATIC},
                "auth_error": true,
            }),
        ),
    );
    run_check(
        "vertex_sdk_check.py",
        with(
            &client,
            json!({
                "label": "AnthropicVertex → default provider vx",
                "models": cloud_models(VERTEX_DEFAULT_MODEL, "overload-2"),
                "vertex_mock": rig.vertex.url, "expect_auth": "issued", "expect_model": null,
            }),
        ),
    );
    run_check(
        "vertex_sdk_check.py",
        with(
            &client,
            json!({
                "label": "AnthropicVertex → vxs (static token)", "models": {"text": "vxs:claude-haiku-4-5@20251001"},
                "vertex_mock": rig.vertex.url, "expect_auth": "static", "expect_model": "claude-haiku-4-5@20251001",
            }),
        ),
    );
    run_check(
        "vertex_sdk_check.py",
        json!({
            "label": "AnthropicVertex (its own Google token) → vxp (!PASSTHRU)",
            "base_url": rig.vertex_base(), "region": VERTEX_REGION, "project": VERTEX_PROJECT,
            "access_token": VERTEX_STATIC, "gateway_key": GW_KEY,
            "models": {"text": "vxp:claude-haiku-4-5@20251001", "script": "vxp:claude-haiku-4-5@20251001"},
            "vertex_mock": rig.vertex.url, "expect_auth": "static", "expect_model": "claude-haiku-4-5@20251001",
        }),
    );
}

/// AnthropicVertex → /vertex/v1 → the bedrock mock: Vertex body to a signed Bedrock request, frames back to SSE.
#[test]
#[ignore = "needs the anthropic Python package (and the mock's boto3); run by .ci/suites/cloud.sh"]
fn vertex_dialect_anthropic_vertex_sdk_to_bedrock_upstream() {
    let rig = Rig::new("vd-br", 3599);
    let id = format!("br:{BEDROCK_DEFAULT_ID}");
    let mut models = cloud_models(&id, "br:throttle-me");
    models["stream_error_type"] = json!("rate_limit_error");
    run_check(
        "vertex_sdk_check.py",
        with(
            &vertex_client(&rig),
            json!({"label": "AnthropicVertex → br", "models": models,
                   "count_tokens": {"model": format!("br:{BEDROCK_DEFAULT_ID}"), "expect": 110}}),
        ),
    );
    let records = rig.bedrock.requests();
    assert!(
        records.iter().all(|r| r["error"].is_null() || r["model_id"] == "throttle-me"),
        "every Bedrock request passed the mock: {records:?}"
    );
    assert!(
        records
            .iter()
            .filter(|r| r["action"] == "invoke" || r["action"] == "invoke-with-response-stream")
            .all(|r| r["body"]["anthropic_version"] == "bedrock-2023-05-31"
                && r["model_id"].as_str().is_some_and(|m| m == BEDROCK_DEFAULT_ID || m == "throttle-me")),
        "Bedrock got Bedrock's anthropic_version and the id without the provider: {records:?}"
    );
}

/// AnthropicVertex → /vertex/v1 → the Anthropic-format mock (relayed SSE), count tokens included.
#[test]
#[ignore = "needs the anthropic Python package; run by .ci/suites/cloud.sh"]
fn vertex_dialect_anthropic_vertex_sdk_to_anthropic_upstream() {
    let rig = Rig::new("vd-an", 3599);
    let mut models = rust_mock_models("mock");
    models["stream_error"] = json!("mock:fixture-mid_stream_error");
    run_check(
        "vertex_sdk_check.py",
        with(
            &vertex_client(&rig),
            json!({"label": "AnthropicVertex → mock", "models": models,
                   "count_tokens": {"model": "mock:fixture-text", "expect": 42}}),
        ),
    );
    assert_clean_anthropic_requests(&rig.rust_mock);
}

/// AnthropicVertex → /vertex/v1 → the OpenAI-format mock.
#[test]
#[ignore = "needs the anthropic Python package; run by .ci/suites/cloud.sh"]
fn vertex_dialect_anthropic_vertex_sdk_to_openai_upstream() {
    let rig = Rig::new("vd-oai", 3599);
    run_check(
        "vertex_sdk_check.py",
        with(&vertex_client(&rig), json!({"label": "AnthropicVertex → oai", "models": rust_mock_models("oai")})),
    );
}

/// The plain Anthropic SDK (/v1/messages) through gatehouse to bedrock-format providers: SigV4 verified by botocore
/// (`br`), a Bedrock API key (`brk`), temporary credentials from AWS_* (`brg`); count tokens; betas into the body; expired AWS credentials → a 401/403
/// naming the provider; a mid-stream throttling exception frame → one `rate_limit_error` event; pings from
/// gatehouse while Bedrock is silent (`brs`, 1 s interval).
#[test]
#[ignore = "needs the anthropic Python package (and the mock's boto3); run by .ci/suites/cloud.sh"]
fn anthropic_sdk_to_bedrock_upstream() {
    let rig = Rig::new("up-br", 3599);
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
            "raw_error_stream": {"model": "br:throttle-me", "error_type": "rate_limit_error"},
            "keepalive": {"model": "brs:slow-model"},
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
    run_check(
        "upstream_sdk_check.py",
        json!({
            "label": "Anthropic SDK → brg (AWS_* temporary credentials)", "gateway": rig.gateway.url, "api_key": GW_KEY,
            "upstream": "bedrock", "mock": rig.bedrock.url,
            "models": {"text": "brg:anthropic.claude-3-haiku", "script": "brg:anthropic.claude-3-haiku"},
            "expect_model": "anthropic.claude-3-haiku", "expect_auth": "sigv4",
        }),
    );
    let who: std::collections::BTreeSet<String> =
        rig.bedrock.requests().iter().filter_map(|r| r["who"].as_str().map(str::to_string)).collect();
    assert_eq!(who, [GLOBAL_AKID.to_string()].into(), "brg signed with the session credentials from AWS_*");
}

/// The plain Anthropic SDK through gatehouse to a vertex-format provider with a service account: one exchange, the
/// token reused while more than 60 s remain, refreshed after (the mock issues 63 s tokens), refreshed and the
/// request retried after a 401; then every round, count tokens, betas as a header, a mid-stream error event. And a
/// provider whose token comes from a token command: run once, reused, run again after a 401.
#[test]
#[ignore = "needs the anthropic Python package (and the mock's pyjwt, cryptography); run by .ci/suites/cloud.sh"]
fn anthropic_sdk_to_vertex_upstream_service_account_and_token_command() {
    let rig = Rig::new("up-vx", 63);
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
            "raw_error_stream": {"model": "vx:overload-me", "error_type": "overloaded_error"},
        }),
    );
    let tokens: Vec<Value> = rig.vertex.requests().into_iter().filter(|r| r["action"] == "token").collect();
    assert!(tokens.iter().all(|t| t["error"].is_null()), "every JWT gatehouse sent was valid: {tokens:?}");
    run_check(
        "upstream_sdk_check.py",
        json!({
            "label": "Anthropic SDK → vxc (token command)", "gateway": rig.gateway.url, "api_key": GW_KEY,
            "upstream": "vertex", "mock": rig.vertex.url,
            "models": {"text": format!("vxc:{VERTEX_DEFAULT_MODEL}"), "script": format!("vxc:{VERTEX_DEFAULT_MODEL}")},
            "expect_model": VERTEX_DEFAULT_MODEL, "expect_auth": "command",
            "token_command": {"model": format!("vxc:{VERTEX_DEFAULT_MODEL}")},
        }),
    );
}

/// The Claude Code binary: `$CLAUDE_BIN`, else the npm install that `.ci/suites/cloud.sh` makes.
fn claude_binary() -> PathBuf {
    std::env::var_os("CLAUDE_BIN").map(Into::into).unwrap_or_else(|| "/opt/claude-code/node_modules/.bin/claude".into())
}

/// The prompt that makes every scripted mock call the Bash tool (`echo tool-ran-ok`) and then report its result.
const TOOL_PROMPT: &str = "Please use the tool to print a marker.";
const TOOL_ANSWER: &str = "The tool said: tool-ran-ok";
/// How long one Claude Code run may take (it needs a few seconds; failing requests are retried for minutes).
const CLAUDE_DEADLINE: Duration = Duration::from_secs(90);

/// Runs `claude -p TOOL_PROMPT` offline with a fresh HOME, the mode's `env`, and `--model` when given.
fn run_claude(label: &str, model: Option<&str>, env: &[(&str, &str)]) -> String {
    let home = TempDir::new(&format!("claude-{}", label.replace([' ', ':', '/'], "-")));
    let mut cmd = Command::new(claude_binary());
    cmd.args(["-p", TOOL_PROMPT, "--allowedTools", "Bash(echo:*)", "--debug"]);
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
    let log = home.0.join("claude-output.txt");
    let file = std::fs::File::create(&log).unwrap();
    cmd.stdout(file.try_clone().unwrap()).stderr(file);
    let mut child = cmd.spawn().expect("claude runs");
    // Claude Code retries failed requests for a long time; a run that has not finished in CLAUDE_DEADLINE failed.
    let deadline = std::time::Instant::now() + CLAUDE_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut text = std::fs::read_to_string(&log).unwrap_or_default();
    println!("claude [{label}] --model {model:?}:\n{text}");
    if !status.is_some_and(|s| s.success()) || !text.contains(TOOL_ANSWER) {
        text.push_str(&format!("\n--- Claude Code's debug log, errors ---\n{}", debug_errors(&home.0)));
    }
    let status = status.unwrap_or_else(|| panic!("claude [{label}] did not finish in {CLAUDE_DEADLINE:?}: {text}"));
    assert!(status.success(), "claude [{label}] failed ({status}): {text}");
    assert!(text.contains(TOOL_ANSWER), "claude [{label}] printed the final answer: {text}");
    text
}

/// The `[ERROR]` and `[WARN]` lines of Claude Code's `--debug` logs (under `<home>/.claude/debug/`): why requests
/// failed, which print mode does not say on stdout.
fn debug_errors(home: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(home.join(".claude/debug")) else { return "(no debug log)".into() };
    let lines: Vec<String> = entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| (l.contains("[ERROR]") || l.contains("[WARN]")) && !l.contains("Failed to save config"))
        .collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
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

/// Claude Code in Bedrock mode, signing with its own AWS keys (unknown to the Bedrock mock) plus x-gatehouse-key
/// in ANTHROPIC_CUSTOM_HEADERS, default model id → BEDROCK_DEFAULT_PROVIDER → the bedrock mock (SigV4 re-done by
/// gatehouse, verified by botocore); a tool call round trip.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_bedrock_mode_to_bedrock_upstream() {
    let rig = Rig::new("cc-bd-br", 3599);
    let mut env = bedrock_mode(&rig.bedrock_base());
    env.push(("AWS_ACCESS_KEY_ID", CLIENT_AKID.into()));
    env.push(("AWS_SECRET_ACCESS_KEY", CLIENT_SECRET.into()));
    env.push(("ANTHROPIC_CUSTOM_HEADERS", format!("x-gatehouse-key: {GW_KEY}")));
    run_claude("bedrock mode → br (default)", None, &as_refs(&env));
    let records = rig.bedrock.requests();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Bedrock mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Bedrock mock");
    assert!(
        records
            .iter()
            .filter(|r| r["action"].is_string())
            .all(|r| r["body"]["anthropic_version"] == "bedrock-2023-05-31"),
        "Claude Code's anthropic_version reached Bedrock: {records:?}"
    );
    // Claude Code may probe other models with 1-token /invoke requests; its conversation uses the default id.
    assert!(
        records
            .iter()
            .filter(|r| r["action"] == "invoke-with-response-stream")
            .all(|r| r["model_id"] == BEDROCK_DEFAULT_ID),
        "Claude Code's default id reached Bedrock: {records:?}"
    );
    assert!(
        records
            .iter()
            .filter(|r| r["action"] == "invoke-with-response-stream")
            .any(|r| { r["body"]["anthropic_beta"].to_string().contains("interleaved-thinking-2025-05-14") }),
        "Claude Code's anthropic_beta body array reached Bedrock"
    );
}

/// Claude Code in Bedrock mode (the gateway key as AWS_BEARER_TOKEN_BEDROCK), `--model mock:script` → the
/// Anthropic-format mock; the header and body betas merged.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/cloud.sh"]
fn claude_code_bedrock_mode_to_anthropic_upstream() {
    let rig = Rig::new("cc-bd-an", 3599);
    let mut env = bedrock_mode(&rig.bedrock_base());
    env.push(("AWS_BEARER_TOKEN_BEDROCK", GW_KEY.into()));
    run_claude("bedrock mode → mock", Some("mock:script"), &as_refs(&env));
    assert!(rust_mock_saw_tool_result(&rig.rust_mock, 0), "the tool result reached the provider");
    assert_clean_anthropic_requests(&rig.rust_mock);
    let main = rig.rust_mock.requests().into_iter().filter(|r| r.path.ends_with("/v1/messages")).last().unwrap();
    let beta = main.header("anthropic-beta").unwrap_or("").to_string();
    assert!(
        beta.contains("claude-code-20250219") && beta.contains("interleaved-thinking-2025-05-14"),
        "the header and body betas merged for the Anthropic-format upstream: {beta}"
    );
}

/// Claude Code in Bedrock mode (AWS_BEARER_TOKEN_BEDROCK = the gateway key), `--model oai:script` → the
/// OpenAI-format mock.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/cloud.sh"]
fn claude_code_bedrock_mode_to_openai_upstream() {
    let rig = Rig::new("cc-bd-oai", 3599);
    let mut env = bedrock_mode(&rig.bedrock_base());
    env.push(("AWS_BEARER_TOKEN_BEDROCK", GW_KEY.into()));
    run_claude("bedrock mode → oai", Some("oai:script"), &as_refs(&env));
    assert!(rust_mock_saw_tool_result(&rig.rust_mock, 0), "the tool result reached the provider");
}

/// Claude Code in Bedrock mode with CLAUDE_CODE_SKIP_BEDROCK_AUTH (no client auth; the gateway key via
/// ANTHROPIC_CUSTOM_HEADERS), `--model vx:…` → the vertex mock (service account).
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_bedrock_mode_to_vertex_upstream() {
    let rig = Rig::new("cc-bd-vx", 3599);
    let mut env = bedrock_mode(&rig.bedrock_base());
    env.push(("CLAUDE_CODE_SKIP_BEDROCK_AUTH", "1".into()));
    env.push(("ANTHROPIC_CUSTOM_HEADERS", format!("x-gatehouse-key: {GW_KEY}")));
    run_claude("bedrock mode → vx", Some(&format!("vx:{VERTEX_DEFAULT_MODEL}")), &as_refs(&env));
    let records: Vec<Value> = rig.vertex.requests().into_iter().filter(|r| r["action"] != "token").collect();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Vertex mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Vertex mock");
    assert!(
        records.iter().all(|r| r["body"]["anthropic_version"] == "vertex-2023-10-16"),
        "Vertex got Vertex's anthropic_version: {records:?}"
    );
}

/// Claude Code's Vertex-mode environment with the gateway key as ANTHROPIC_AUTH_TOKEN.
fn vertex_mode_env(rig: &Rig) -> Vec<(&'static str, String)> {
    let mut env = vertex_mode(&rig.vertex_base());
    env.push(("ANTHROPIC_AUTH_TOKEN", GW_KEY.into()));
    env
}

/// Claude Code in Vertex mode, default model → VERTEX_DEFAULT_PROVIDER → the vertex mock, with a token gatehouse
/// got from the service account (the client's bearer, the gateway key, never forwarded).
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_vertex_mode_to_vertex_upstream() {
    let rig = Rig::new("cc-vd-vx", 3599);
    run_claude("vertex mode → vx (default)", None, &as_refs(&vertex_mode_env(&rig)));
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
    assert_eq!(rig.vertex.stats()["exchanges"], 1, "one service-account exchange served the whole session");
}

/// Claude Code in Vertex mode, `--model br:<Bedrock id>` → the bedrock mock (SigV4 by gatehouse).
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_vertex_mode_to_bedrock_upstream() {
    let rig = Rig::new("cc-vd-br", 3599);
    run_claude("vertex mode → br", Some(&format!("br:{BEDROCK_DEFAULT_ID}")), &as_refs(&vertex_mode_env(&rig)));
    let records = rig.bedrock.requests();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Bedrock mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Bedrock mock");
    assert!(
        records.iter().filter(|r| r["action"].is_string()).all(|r| r["model_id"] == BEDROCK_DEFAULT_ID
            && r["body"]["anthropic_version"] == "bedrock-2023-05-31"
            && r["body"].get("stream").is_none()),
        "a Bedrock body for the Bedrock id: {records:?}"
    );
}

/// Claude Code in Vertex mode, `--model mock:script` → the Anthropic-format mock.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/cloud.sh"]
fn claude_code_vertex_mode_to_anthropic_upstream() {
    let rig = Rig::new("cc-vd-an", 3599);
    run_claude("vertex mode → mock", Some("mock:script"), &as_refs(&vertex_mode_env(&rig)));
    assert!(rust_mock_saw_tool_result(&rig.rust_mock, 0), "the tool result reached the provider");
    assert_clean_anthropic_requests(&rig.rust_mock);
}

/// Claude Code in Vertex mode, `--model oai:script` → the OpenAI-format mock.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/cloud.sh"]
fn claude_code_vertex_mode_to_openai_upstream() {
    let rig = Rig::new("cc-vd-oai", 3599);
    run_claude("vertex mode → oai", Some("oai:script"), &as_refs(&vertex_mode_env(&rig)));
    assert!(rust_mock_saw_tool_result(&rig.rust_mock, 0), "the tool result reached the provider");
}

/// Claude Code in its Anthropic mode (ANTHROPIC_BASE_URL = gatehouse, the gateway key as ANTHROPIC_API_KEY),
/// `--model br:<Bedrock id>` → the bedrock mock: the third mode in front of a Bedrock provider.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_anthropic_mode_to_bedrock_upstream() {
    let rig = Rig::new("cc-an-br", 3599);
    let env = [("ANTHROPIC_BASE_URL", rig.gateway.url.as_str()), ("ANTHROPIC_API_KEY", GW_KEY)];
    run_claude("anthropic mode → br", Some(&format!("br:{BEDROCK_DEFAULT_ID}")), &env);
    let records = rig.bedrock.requests();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Bedrock mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Bedrock mock");
    assert!(
        records.iter().filter(|r| r["action"].is_string()).all(|r| r["model_id"] == BEDROCK_DEFAULT_ID
            && r["body"]["anthropic_version"] == "bedrock-2023-05-31"
            && r["body"].get("model").is_none()
            && r["body"].get("stream").is_none()),
        "Bedrock bodies for the Bedrock id: {records:?}"
    );
    assert!(
        records.iter().any(|r| r["body"]["anthropic_beta"].to_string().contains("claude-code-20250219")),
        "Claude Code's anthropic-beta header reached Bedrock as the body's anthropic_beta"
    );
}

/// Claude Code in its Anthropic mode, `--model vx:<model>` → the vertex mock (service account).
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code) and the mocks' Python packages; run by .ci/suites/cloud.sh"]
fn claude_code_anthropic_mode_to_vertex_upstream() {
    let rig = Rig::new("cc-an-vx", 3599);
    let env = [("ANTHROPIC_BASE_URL", rig.gateway.url.as_str()), ("ANTHROPIC_API_KEY", GW_KEY)];
    run_claude("anthropic mode → vx", Some(&format!("vx:{VERTEX_DEFAULT_MODEL}")), &env);
    let records: Vec<Value> = rig.vertex.requests().into_iter().filter(|r| r["action"] != "token").collect();
    assert!(records.iter().all(|r| r["error"].is_null()), "every request passed the Vertex mock: {records:?}");
    assert!(records.iter().any(record_has_tool_result), "the tool result reached the Vertex mock");
    assert!(
        records.iter().all(|r| r["model"] == VERTEX_DEFAULT_MODEL
            && r["auth"] == "issued"
            && r["body"]["anthropic_version"] == "vertex-2023-10-16"),
        "Vertex requests with gatehouse's token: {records:?}"
    );
}

/// Many requests at once (three client kinds × bedrock, vertex, Anthropic- and OpenAI-format providers × streamed or
/// not): every answer whole and right, every signature and token accepted by the mocks.
#[test]
#[ignore = "needs the anthropic and boto3 Python packages; run by .ci/suites/cloud.sh"]
fn concurrent_clients_across_dialects_and_formats() {
    let rig = Rig::new("concurrency", 3599);
    run_check(
        "concurrency_check.py",
        json!({
            "gateway": rig.gateway.url, "api_key": GW_KEY, "region": REGION, "project": VERTEX_PROJECT,
            "vertex_region": VERTEX_REGION, "rounds": 3,
            "models": {
                format!("br:{BEDROCK_DEFAULT_ID}"): "Hello from the bedrock mock",
                "brk:anthropic.claude-3-haiku": "Hello from the bedrock mock",
                format!("vx:{VERTEX_DEFAULT_MODEL}"): "Hello from the vertex mock",
                "mock:fixture-text": "",
                "oai:fixture-text": "",
            },
            "bedrock_mock": rig.bedrock.url, "vertex_mock": rig.vertex.url,
        }),
    );
}
