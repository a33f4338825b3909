//! End-to-end: the admin API changes routing without a restart, refuses invalid changes without changing
//! anything, keeps streams in flight alive across changes, and reloads the file with admin changes kept.

mod common;

use std::time::{Duration, Instant};

use common::admin::*;
use common::*;
use serde_json::json;

/// A gateway whose default provider `mock` points at `mock_url`, with the admin API enabled.
fn gateway(mock_url: &str) -> Gateway {
    start_gateway(&[
        ("MOCK_API_KEY", "base-key"),
        ("MOCK_BASE_URL", mock_url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("ADMIN_API_KEY", ADMIN_KEY),
    ])
}

#[actix_rt::test]
async fn admin_api_is_absent_without_a_key_and_needs_the_right_bearer_token() {
    let mock = start_mock();
    let closed = start_gateway(&[("MOCK_API_KEY", "k"), ("MOCK_BASE_URL", &mock.url)]);
    for (method, path) in [("GET", "/admin/providers"), ("PUT", "/admin/providers/x"), ("POST", "/admin/reload")] {
        let (status, body) = admin(&closed, method, path, Some(json!({})), Some(ADMIN_KEY)).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(body["error"]["type"], "not_found_error");
    }

    let gw = gateway(&mock.url);
    let (status, body) = admin(&gw, "GET", "/admin/providers", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
    let (status, _) = admin(&gw, "GET", "/admin/config", None, Some("not-the-key")).await;
    assert_eq!(status, 401);
    let (status, _) = admin(&gw, "DELETE", "/admin/providers/mock", None, Some("not-the-key")).await;
    assert_eq!(status, 401, "authentication comes before anything else");
    let (status, _) = admin(&gw, "GET", "/admin/providers", None, Some(ADMIN_KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(config_version(&gw).await, 1, "nothing was changed");
}

#[actix_rt::test]
async fn add_route_rotate_key_and_remove_a_provider() {
    let mock = start_mock();
    let gw = gateway(&mock.url);
    assert_eq!(config_version(&gw).await, 1);

    let (status, body) = put_provider(&gw, "extra", anthropic_provider(&mock.url, &["key-one"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config_version"], 2);
    assert_eq!(body["provider"]["origin"], "admin");
    let (status, _) = ask(&gw, "extra:claude-x").await;
    assert_eq!(status, 200);
    assert_eq!(mock.last().header("x-api-key"), Some("key-one"));
    assert_eq!(mock.last().json()["model"], "claude-x");

    let (status, _) = put_provider(&gw, "extra", anthropic_provider(&mock.url, &["key-two"])).await;
    assert_eq!(status, 200);
    ask(&gw, "extra:claude-x").await;
    assert_eq!(mock.last().header("x-api-key"), Some("key-two"), "the upstream receives the new key");
    assert_eq!(config_version(&gw).await, 3);

    let (status, listed) = admin(&gw, "GET", "/admin/providers", None, Some(ADMIN_KEY)).await;
    assert_eq!(status, 200);
    let text = listed.to_string();
    assert!(!text.contains("key-two") && !text.contains("base-key"), "no key is shown: {text}");
    let extra = listed["providers"].as_array().unwrap().iter().find(|p| p["name"] == "extra").unwrap().clone();
    assert_eq!(extra["key_hashes"], json!([gatehouse::secret::fingerprint("key-two")]));
    assert_eq!(extra["format"], "anthropic");
    assert_eq!(extra["auth"], "static");
    assert_eq!(extra["aliases"], json!({}));
    let mock_entry = listed["providers"].as_array().unwrap().iter().find(|p| p["name"] == "mock").unwrap().clone();
    assert_eq!(mock_entry["origin"], "env");

    let (status, body) = delete_provider(&gw, "extra").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config_version"], 4);
    let (status, res) = ask(&gw, "extra:claude-x").await;
    assert_eq!(status, 400);
    assert_eq!(error_type(&res), "invalid_request_error");
    assert!(String::from_utf8_lossy(&res).contains("unknown provider 'extra'"));

    let (status, body) = delete_provider(&gw, "extra").await;
    assert_eq!((status, body["error"]["type"].as_str()), (404, Some("not_found_error")));
    let (status, body) = delete_provider(&gw, "mock").await;
    assert_eq!(status, 409, "the default provider cannot be removed: {body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(config_version(&gw).await, 4, "refusals do not count");
    let (status, _) = ask(&gw, "mock:claude-x").await;
    assert_eq!(status, 200);
}

#[actix_rt::test]
async fn aliases_come_and_go_with_their_provider() {
    let mock = start_mock();
    let gw = gateway(&mock.url);
    let mut provider = anthropic_provider(&mock.url, &["alias-key"]);
    provider["aliases"] = json!({"quick": "claude-fast", "careful": ["mock:claude-slow"]});
    let (status, body) = put_provider(&gw, "extra", provider).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["provider"]["aliases"], json!({"careful": ["mock:claude-slow"], "quick": ["claude-fast"]}));

    assert_eq!(ask(&gw, "quick").await.0, 200);
    assert_eq!(mock.last().json()["model"], "claude-fast");
    assert_eq!(mock.last().header("x-api-key"), Some("alias-key"), "the alias's provider serves it");
    assert_eq!(ask(&gw, "careful").await.0, 200);
    assert_eq!(
        (mock.last().json()["model"].as_str(), mock.last().header("x-api-key")),
        (Some("claude-slow"), Some("base-key"))
    );

    assert_eq!(delete_provider(&gw, "extra").await.0, 200);
    assert_eq!(ask(&gw, "quick").await.0, 200);
    assert_eq!(mock.last().json()["model"], "quick", "without its alias the model goes to the default provider as is");
}

#[actix_rt::test]
async fn invalid_changes_are_refused_naming_the_field_and_change_nothing() {
    let mock = start_mock();
    let gw = gateway(&mock.url);
    put_provider(&gw, "extra", anthropic_provider(&mock.url, &["good-key"])).await;
    let before = config_version(&gw).await;

    let cases = [
        (json!({"base_url": mock.url, "api_format": "gemini", "api_keys": ["k"]}), "api_format"),
        (json!({"base_url": mock.url, "api_format": "anthropic", "api_keys": ["k", "!PASSTHRU"]}), "!PASSTHRU"),
        (json!({"base_url": "not a url", "api_format": "anthropic", "api_keys": ["k"]}), "base_url"),
        (json!({"base_url": "ftp://host", "api_format": "anthropic", "api_keys": ["k"]}), "base_url"),
        (json!({"base_url": mock.url, "api_keys": ["k"], "colour": "red", "api_key": "x"}), "'colour'"),
        (json!({"base_url": mock.url, "api_keys": "k"}), "api_keys"),
        (json!({"base_url": mock.url, "api_format": "anthropic"}), "api key is missing"),
        (
            json!({"base_url": mock.url, "api_format": "anthropic", "api_keys": ["k"], "aliases": {"x": "nosuch:m"}}),
            "alias 'x'",
        ),
    ];
    for (body, needle) in cases {
        let (status, res) = put_provider(&gw, "extra", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(res["error"]["type"], "invalid_request_error");
        let message = res["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body} -> {message}");
    }
    let (status, _) = put_provider(&gw, "bad!name", anthropic_provider(&mock.url, &["k"])).await;
    assert_eq!(status, 400);

    assert_eq!(config_version(&gw).await, before, "no refused change is published");
    let (status, _) = ask(&gw, "extra:m").await;
    assert_eq!(status, 200);
    assert_eq!(mock.last().header("x-api-key"), Some("good-key"), "routing is unchanged");
}

/// Reads a streamed response to its end.
async fn finish(mut res: awc::ClientResponse) -> String {
    String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap()
}

#[actix_rt::test]
async fn streams_in_flight_survive_removal_repointing_and_reload() {
    let mock = start_mock();
    let gw = gateway(&mock.url);
    put_provider(&gw, "slow", anthropic_provider(&mock.url, &["slow-key"])).await;
    put_provider(&gw, "moved", anthropic_provider(&mock.url, &["moved-key"])).await;

    let started = Instant::now();
    let open = |model: &'static str| {
        let url = format!("{}/v1/messages", gw.url);
        async move { client().post(url).send_body(body(model, true)).await.unwrap() }
    };
    let removed = open("slow:slow-stream").await;
    let repointed = open("moved:slow-stream").await;
    let default = open("mock:slow-stream").await;
    assert_eq!([removed.status(), repointed.status(), default.status()].map(|s| s.as_u16()), [200; 3]);

    assert_eq!(delete_provider(&gw, "slow").await.0, 200);
    assert_eq!(put_provider(&gw, "moved", anthropic_provider(&dead_url(), &["moved-key"])).await.0, 200);
    let (status, _) = admin(&gw, "POST", "/admin/reload", None, Some(ADMIN_KEY)).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(2), "the changes happened while the streams were running");

    for (name, res) in [("removed", removed), ("repointed", repointed), ("default", default)] {
        assert_eq!(finish(res).await, stream_body(), "{name}: the stream completes unchanged");
    }
    assert!(started.elapsed() >= Duration::from_secs(2), "the streams really were slow");
    assert_eq!(mock.state.streams_completed.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(mock.state.streams_cancelled.load(std::sync::atomic::Ordering::SeqCst), 0);

    let (status, _) = ask(&gw, "slow:m").await;
    assert_eq!(status, 400, "new requests see the removal");
    let (status, _) = ask(&gw, "moved:m").await;
    assert_eq!(status, 502, "new requests see the new base URL");
}

fn file_config(mock_url: &str, key: &str) -> String {
    format!(
        "[server]\nadmin_api_key = \"{ADMIN_KEY}\"\n\n[providers.mock]\napi_format = \"anthropic\"\n\
         base_url = \"{mock_url}\"\napi_key = \"{key}\"\n"
    )
}

#[actix_rt::test]
async fn reload_rereads_the_file_and_keeps_admin_changes() {
    let mock = start_mock();
    let file = TempConfig::new(&file_config(&mock.url, "file-key-1"));
    let gw = start_gateway_with_file(&file.path, &[]);
    put_provider(&gw, "extra", anthropic_provider(&mock.url, &["extra-key"])).await;
    assert_eq!(config_version(&gw).await, 2);

    file.write(&file_config(&mock.url, "file-key-2"));
    let (status, body) = admin(&gw, "POST", "/admin/reload", None, Some(ADMIN_KEY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["previous_config_version"].as_u64(), body["config_version"].as_u64()), (Some(2), Some(3)));
    ask(&gw, "mock:m").await;
    assert_eq!(mock.last().header("x-api-key"), Some("file-key-2"), "the file's new key is used");
    ask(&gw, "extra:m").await;
    assert_eq!(mock.last().header("x-api-key"), Some("extra-key"), "the admin change survived the reload");

    file.write(&file_config(&mock.url, "file-key-3").replace("\"anthropic\"", "\"gemini\""));
    let (status, body) = admin(&gw, "POST", "/admin/reload", None, Some(ADMIN_KEY)).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("api_format"), "{body}");
    assert_eq!(config_version(&gw).await, 3, "an invalid file changes nothing");
    ask(&gw, "mock:m").await;
    assert_eq!(mock.last().header("x-api-key"), Some("file-key-2"));
}

#[actix_rt::test]
async fn config_shows_versions_origins_and_no_secret() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("MOCK_API_KEY", "base-key"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("MOCK_CUSTOM_HEADER_X_SECRET_TOKEN", "header-value"),
        ("PROXY_API_KEY", "proxy-key"),
        ("ADMIN_API_KEY", ADMIN_KEY),
    ]);
    put_provider(&gw, "extra", anthropic_provider(&mock.url, &["extra-key"])).await;
    delete_provider(&gw, "extra").await;
    let (status, config) = admin(&gw, "GET", "/admin/config", None, Some(ADMIN_KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(config["version"], 3);
    assert_eq!(config["overlay_version"], 2);
    assert_eq!(config["overlay"]["changes"], json!([{"provider": "extra", "op": "remove"}]));
    assert_eq!(config["replication"]["mode"], "process");
    assert_eq!(config["proxy_key_hash"], gatehouse::secret::fingerprint("proxy-key"));
    assert_eq!(config["providers"][0]["custom_headers"], json!(["x-secret-token"]));
    let text = config.to_string();
    for secret in ["base-key", "extra-key", "header-value", "proxy-key", ADMIN_KEY] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
}

/// A TCP server that accepts connections and never answers (a hung Redis); returns its `redis://` URL.
fn silent_redis() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    url
}

#[actix_rt::test]
async fn without_a_working_redis_traffic_flows_and_admin_writes_are_503() {
    let mock = start_mock();
    let refused = dead_url().replace("http://", "redis://");
    for redis_url in [refused, silent_redis()] {
        let gw = start_gateway(&[
            ("MOCK_API_KEY", "base-key"),
            ("MOCK_BASE_URL", &mock.url),
            ("MOCK_API_FORMAT", "anthropic"),
            ("ADMIN_API_KEY", ADMIN_KEY),
            ("REDIS_URL", &redis_url),
            // Without Redis since startup, a replica cannot know whether virtual keys exist: under the default
            // policy (closed) it then requires a credential (docs/keys-and-budgets.md); `open` lets traffic flow.
            ("LIMITS_ON_STORE_FAILURE", "open"),
        ]);
        assert_eq!(ask(&gw, "mock:m").await.0, 200, "{redis_url}: traffic does not need Redis");
        let started = Instant::now();
        let (status, body) = put_provider(&gw, "extra", anthropic_provider(&mock.url, &["k"])).await;
        assert_eq!(status, 503, "{redis_url}: {body}");
        assert_eq!(body["error"]["type"], "api_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("Redis"), "{body}");
        assert!(started.elapsed() < Duration::from_secs(8), "{redis_url}: answered in {:?}", started.elapsed());
        assert_eq!(ask(&gw, "extra:m").await.0, 400, "nothing changed");
        let (status, _) = admin(&gw, "POST", "/admin/reload", None, Some(ADMIN_KEY)).await;
        assert_eq!(status, 200, "reloads are local and still work");
        let (_, config) = admin(&gw, "GET", "/admin/config", None, Some(ADMIN_KEY)).await;
        assert_eq!(config["replication"]["mode"], "redis");
        assert_eq!(config["replication"]["connected"], false);
    }
}
