//! Configuration that must not be accepted, and where upstream requests may go (issue 19, items 11–13 and the
//! smaller points): loops back into the gateway, base URLs with a query string or fragment, the outbound address
//! policy, keys with whitespace, custom headers that would override `host`, browser headers forwarded upstream,
//! and `HEAD /health`.

mod common;

use common::admin::{put_provider, ADMIN_KEY};
use common::raw::check_config;
use common::*;
use serde_json::{json, Value};

async fn ask(gw: &Gateway, model: &str) -> (u16, Value) {
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body(model, false)).await.unwrap();
    let status = res.status().as_u16();
    (status, serde_json::from_slice(&res.body().await.unwrap()).unwrap_or(Value::Null))
}

fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[test]
fn a_base_url_naming_gatehouse_itself_is_refused_however_it_is_spelled() {
    for host in
        ["LOCALHOST", "localhost.", "127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]", "[::1]", "0177.0.0.1"]
    {
        let url = format!("http://{host}:8082");
        let (ok, text) = check_config(&[("PORT", "8082"), ("LOOP_API_KEY", "k"), ("LOOP_BASE_URL", &url)], None);
        assert!(!ok, "{url} accepted: {text}");
        assert!(text.contains("points at gatehouse itself"), "{url}: {text}");
    }
    let (ok, text) =
        check_config(&[("PORT", "8082"), ("LOOP_API_KEY", "k"), ("LOOP_BASE_URL", "http://127.0.0.1:8083")], None);
    assert!(ok, "another port is another server: {text}");
}

#[actix_rt::test]
async fn a_request_that_keeps_coming_back_is_refused_with_508() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("MOCK_API_KEY", "k"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("MAX_RETRIES", "0"),
    ]);
    // The self-loop check compares with the configured port; the test server's real port is another, as a base
    // URL through a name or another gateway would be.
    let (status, answer) =
        put_provider(&gw, "loop", json!({"base_url": gw.url, "api_format": "anthropic", "api_keys": ["k"]})).await;
    assert_eq!(status, 200, "{answer}");

    // Two passes through the gateway, then the upstream: allowed, and the upstream sees the count.
    let (status, answer) = ask(&gw, "loop:loop:mock:claude").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(mock.last().header("x-gatehouse-hops"), Some("3"));

    // Eight passes: stopped at the sixth.
    let hits = mock.hits();
    let (status, answer) = ask(&gw, &format!("{}mock:claude", "loop:".repeat(8))).await;
    assert_eq!(status, 508, "{answer}");
    assert_eq!(answer["error"]["type"], "api_error");
    assert!(message(&answer).contains("x-gatehouse-hops"), "{answer}");
    assert_eq!(mock.hits(), hits, "never reached the upstream");

    // The count arriving from a client counts too.
    let mut res = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("x-gatehouse-hops", "5"))
        .send_body(body("mock:claude", false))
        .await
        .unwrap();
    assert_eq!(res.status(), 508, "{:?}", res.body().await);
}

#[actix_rt::test]
async fn a_base_url_with_a_query_or_fragment_is_refused() {
    for url in ["http://127.0.0.1:9/pfx?tenant=t1", "http://127.0.0.1:9/v1#frag", "http://127.0.0.1:9?x"] {
        let (ok, text) = check_config(&[("X_API_KEY", "k"), ("X_BASE_URL", url)], None);
        assert!(!ok, "{url} accepted: {text}");
        assert!(text.contains("query string or fragment") && text.contains("provider 'x'"), "{url}: {text}");
    }
    let mock = start_mock();
    let gw = start_gateway(&[("ADMIN_API_KEY", ADMIN_KEY), ("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url)]);
    let url = format!("{}/pfx?tenant=t1", mock.url);
    let (status, answer) = put_provider(&gw, "tenant", json!({"base_url": url, "api_keys": ["k"]})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).contains("query string"), "{answer}");
}

#[actix_rt::test]
async fn a_name_resolving_into_a_denied_range_is_refused_at_connect_time() {
    let mock = start_mock();
    let port = mock.url.rsplit(':').next().unwrap();
    let by_name = format!("http://localhost:{port}");
    let gw = start_gateway(&[
        ("UPSTREAM_DENY", "default, 127.0.0.0/8, ::1"),
        ("NAMED_API_KEY", "k"),
        ("NAMED_BASE_URL", &by_name),
        ("NAMED_API_FORMAT", "anthropic"),
        ("MAX_RETRIES", "0"),
    ]);
    let (status, answer) = ask(&gw, "named:claude").await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"]["type"], "api_error");
    let text = message(&answer);
    assert!(text.contains("outbound address policy") && text.contains("localhost"), "{answer}");
    assert_eq!(mock.hits(), 0, "no connection was made");
}

#[actix_rt::test]
async fn denied_literal_addresses_are_refused_when_configured() {
    // Startup: the default policy, and a configured deny list.
    let (ok, text) = check_config(&[("X_API_KEY", "k"), ("X_BASE_URL", "http://169.254.169.254/latest")], None);
    assert!(!ok && text.contains("outbound address policy") && text.contains("169.254.0.0/16"), "{text}");
    let deny = [("UPSTREAM_DENY", "10.0.0.0/8"), ("X_API_KEY", "k"), ("X_BASE_URL", "http://10.1.2.3:8080/v1")];
    let (ok, text) = check_config(&deny, None);
    assert!(!ok && text.contains("upstream_deny entry 10.0.0.0/8"), "{text}");
    let allow = [("UPSTREAM_ALLOW", "api.example.com"), ("X_API_KEY", "k"), ("X_BASE_URL", "https://other.example/v1")];
    let (ok, text) = check_config(&allow, None);
    assert!(!ok && text.contains("not in upstream_allow"), "{text}");
    let (ok, text) = check_config(&[("UPSTREAM_DENY", "10.0.0.0/99")], None);
    assert!(!ok && text.contains("UPSTREAM_DENY"), "{text}");

    // The admin API, every spelling of the metadata address.
    let mock = start_mock();
    let gw = start_gateway(&[("ADMIN_API_KEY", ADMIN_KEY), ("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url)]);
    for url in [
        "http://169.254.169.254",
        "http://[::ffff:169.254.169.254]",
        "http://0xa9fea9fe",
        "http://2852039166/",
        "http://[fd00:ec2::254]",
        "http://metadata.google.internal/computeMetadata/v1",
    ] {
        let (status, answer) = put_provider(&gw, "meta", json!({"base_url": url, "api_keys": ["k"]})).await;
        assert_eq!(status, 400, "{url}: {answer}");
        assert!(message(&answer).contains("outbound address policy"), "{url}: {answer}");
    }
    // Loopback stays allowed by default (every other suite's upstream is on loopback).
    let (status, answer) =
        put_provider(&gw, "local", json!({"base_url": mock.url, "api_format": "anthropic", "api_keys": ["k"]})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ask(&gw, "local:claude").await.0, 200);
}

#[actix_rt::test]
async fn a_key_list_holds_one_key_per_element() {
    let file = "[providers.x]\nbase_url = \"http://127.0.0.1:9\"\napi_keys = [\"sk-one sk-two\"]\n";
    let (ok, text) = check_config(&[], Some(file));
    assert!(!ok && text.contains("api_keys") && text.contains("whitespace"), "{text}");
    let mock = start_mock();
    let gw = start_gateway(&[("ADMIN_API_KEY", ADMIN_KEY), ("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url)]);
    let (status, answer) =
        put_provider(&gw, "two", json!({"base_url": mock.url, "api_keys": ["sk-one\nsk-two"]})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).contains("api_keys"), "{answer}");
    assert!(!answer.to_string().contains("sk-one"), "keys are not echoed: {answer}");
    let (status, answer) =
        put_provider(&gw, "two", json!({"base_url": mock.url, "api_keys": ["sk-one", "sk-two"]})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["provider"]["keys"], 2);
}

#[actix_rt::test]
async fn custom_headers_cannot_set_host_or_the_framing() {
    let env = [("X_API_KEY", "k"), ("X_BASE_URL", "http://127.0.0.1:9"), ("X_CUSTOM_HEADER_HOST", "evil.example")];
    let (ok, text) = check_config(&env, None);
    assert!(!ok && text.contains("custom header 'host' cannot be set"), "{text}");
    let mock = start_mock();
    let gw = start_gateway(&[("ADMIN_API_KEY", ADMIN_KEY), ("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url)]);
    let framed = json!({"base_url": mock.url, "api_keys": ["k"], "custom_headers": {"Content-Length": "1"}});
    let (status, answer) = put_provider(&gw, "framed", framed).await;
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).contains("content-length"), "{answer}");
}

#[actix_rt::test]
async fn a_browsers_cookie_and_origin_are_not_forwarded() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("MOCK_API_KEY", "k"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("ALLOWED_ORIGINS", "https://app.example"),
    ]);
    let mut res = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("cookie", "session=browser-secret"))
        .insert_header(("origin", "https://app.example"))
        .send_body(body("mock:claude", false))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.body().await);
    let sent = mock.last();
    assert_eq!((sent.header("cookie"), sent.header("origin")), (None, None), "{:?}", sent.headers);
}

#[actix_rt::test]
async fn head_health_answers_like_get() {
    let mock = start_mock();
    let gw = start_gateway(&[("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url)]);
    let mut res = client().head(format!("{}/health", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "application/json");
    assert!(res.body().await.unwrap().is_empty());
}
