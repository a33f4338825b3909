//! Browser pages must not spend the gateway's keys (issue 19, item 4), and headers have a documented limit
//! (item 15). The README's local setup — static keys, no proxy key, listening on 127.0.0.1 — is the one at risk:
//! any page can POST `text/plain` there without a CORS preflight, and DNS rebinding lets it read the answer.

mod common;

use common::admin::ADMIN_KEY;
use common::raw::exchange;
use common::*;
use serde_json::Value;

fn local_setup(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("MOCK_API_KEY", "the-gateways-static-key"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("ADMIN_API_KEY", ADMIN_KEY),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

/// POSTs `body` to `path` with exactly `headers` (no default content type): status, headers and JSON body.
async fn post(
    gw: &Gateway,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, awc::http::header::HeaderMap, Value) {
    gatehouse::install_crypto_provider();
    let mut request = awc::Client::default().post(format!("{}{path}", gw.url));
    for (k, v) in headers {
        request = request.insert_header((*k, *v));
    }
    let mut res = request.send_body(body).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, serde_json::from_slice(&res.body().await.unwrap()).unwrap_or(Value::Null))
}

async fn get(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = client().get(format!("{}{path}", gw.url));
    for (k, v) in headers {
        request = request.insert_header((*k, *v));
    }
    let mut res = request.send().await.unwrap();
    let status = res.status().as_u16();
    (status, serde_json::from_slice(&res.body().await.unwrap()).unwrap_or(Value::Null))
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[actix_rt::test]
async fn bodies_not_declared_as_json_are_refused_with_415() {
    let mock = start_mock();
    let gw = local_setup(&mock, &[]);
    for content_type in [Some("text/plain;charset=UTF-8"), Some("application/x-www-form-urlencoded"), None] {
        let headers: Vec<(&str, &str)> = content_type.map(|c| ("content-type", c)).into_iter().collect();
        let (status, _, answer) = post(&gw, "/v1/messages", &headers, body("mock:claude", false)).await;
        assert_eq!(status, 415, "{content_type:?}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error", "Anthropic envelope: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("application/json"), "{answer}");
        let (status, _, answer) = post(&gw, "/v1/messages/count_tokens", &headers, body("mock:claude", false)).await;
        assert_eq!(status, 415, "{answer}");
        let chat = r#"{"model":"mock:claude","messages":[{"role":"user","content":"Hi"}]}"#.to_string();
        let (status, _, answer) = post(&gw, "/v1/chat/completions", &headers, chat).await;
        assert_eq!(status, 415, "{answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error", "OpenAI shape: {answer}");
        assert!(answer.get("type").is_none(), "not the Anthropic envelope: {answer}");
    }
    assert_eq!(mock.hits(), 0, "nothing reached the upstream");

    // Admin writes too.
    let auth = format!("Bearer {ADMIN_KEY}");
    let provider = format!(r#"{{"base_url":"{}","api_format":"anthropic","api_keys":["k"]}}"#, mock.url);
    let headers = [("authorization", auth.as_str()), ("content-type", "text/plain")];
    let (status, _, answer) = post(&gw, "/admin/providers/sneaky", &headers, provider.clone()).await;
    assert_eq!(status, 415, "{answer}");

    // What every client sends still works.
    let (status, _, _) =
        post(&gw, "/v1/messages", &[("content-type", "application/json; charset=utf-8")], body("mock:claude", false))
            .await;
    assert_eq!(status, 200);
    let (status, _, _) = post(&gw, "/admin/reload", &[("authorization", auth.as_str())], String::new()).await;
    assert_eq!(status, 200, "a POST without a body needs no content type");
}

#[actix_rt::test]
async fn requests_from_other_origins_are_refused_with_403() {
    let mock = start_mock();
    let gw = local_setup(&mock, &[]);
    let evil = ("origin", "https://evil.example");
    let (status, _, answer) = post(&gw, "/v1/messages", &[JSON, evil], body("mock:claude", false)).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["type"], "permission_error");
    assert!(answer["error"]["message"].as_str().unwrap().contains("ALLOWED_ORIGINS"), "{answer}");
    let (status, answer) = get(&gw, "/v1/models", &[evil]).await;
    assert_eq!(status, 403, "{answer}");
    let auth = format!("Bearer {ADMIN_KEY}");
    let (status, _) = get(&gw, "/admin/providers", &[evil, ("authorization", &auth)]).await;
    assert_eq!(status, 403);
    assert_eq!(mock.hits(), 0);
    // The dashboard's reads are not model or admin routes.
    let (status, _) = get(&gw, "/metrics/summary", &[evil]).await;
    assert_eq!(status, 200);
}

#[actix_rt::test]
async fn an_allowed_origin_is_served_with_cors_headers() {
    let mock = start_mock();
    let gw = local_setup(&mock, &[("ALLOWED_ORIGINS", "https://app.example, http://localhost:3000")]);
    let origin = ("origin", "https://app.example");
    let (status, headers, _) = post(&gw, "/v1/messages", &[JSON, origin], body("mock:claude", false)).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), "https://app.example");
    assert!(mock.last().header("origin").is_none(), "the page's origin is not the provider's business");
    let mut res = client()
        .request(awc::http::Method::OPTIONS, format!("{}/v1/messages", gw.url))
        .insert_header(("origin", "http://localhost:3000"))
        .insert_header(("access-control-request-method", "POST"))
        .insert_header(("access-control-request-headers", "content-type,x-api-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "{:?}", res.body().await);
    assert_eq!(res.headers().get("access-control-allow-origin").unwrap(), "http://localhost:3000");
    assert_eq!(res.headers().get("access-control-allow-headers").unwrap(), "content-type,x-api-key");
    let (status, _, _) =
        post(&gw, "/v1/messages", &[JSON, ("origin", "https://other.example")], body("mock:claude", false)).await;
    assert_eq!(status, 403);
}

#[actix_rt::test]
async fn a_loopback_gateway_answers_only_to_loopback_host_names() {
    let mock = start_mock();
    let gw = local_setup(&mock, &[("ALLOWED_HOSTS", "gw.internal")]);
    let port = gw.url.rsplit(':').next().unwrap().to_string();
    let rebound = format!("evil.example:{port}");
    let (status, _, answer) = post(&gw, "/v1/messages", &[JSON, ("host", &rebound)], body("mock:claude", false)).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["type"], "permission_error");
    assert!(answer["error"]["message"].as_str().unwrap().contains("DNS rebinding"), "{answer}");
    for path in ["/v1/models", "/health", "/metrics/summary"] {
        assert_eq!(get(&gw, path, &[("host", &rebound)]).await.0, 403, "{path}");
    }
    assert_eq!(mock.hits(), 0);
    for host in
        [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "gw.internal".into()]
    {
        let (status, _, answer) = post(&gw, "/v1/messages", &[JSON, ("host", &host)], body("mock:claude", false)).await;
        assert_eq!(status, 200, "{host}: {answer}");
    }
    // The dashboard, addressed as a browser on this machine addresses it.
    let (status, _) = get(&gw, "/metrics/summary", &[("host", &format!("localhost:{port}"))]).await;
    assert_eq!(status, 200);
    let answer = exchange(
        &gw.url,
        format!("GET /dashboard HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\r\n").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[actix_rt::test]
async fn request_headers_over_32_kib_are_refused_with_431() {
    let mock = start_mock();
    let gw = local_setup(&mock, &[]);
    let big = "a".repeat(20 * 1024);
    let headers = [JSON, ("x-big-one", big.as_str()), ("x-big-two", big.as_str())];
    let (status, _, answer) = post(&gw, "/v1/messages", &headers, body("mock:claude", false)).await;
    assert_eq!(status, 431, "{answer}");
    assert_eq!(answer["error"]["type"], "request_too_large");
    let chat = r#"{"model":"mock:claude","messages":[{"role":"user","content":"Hi"}]}"#.to_string();
    let (status, _, answer) = post(&gw, "/v1/chat/completions", &headers, chat).await;
    assert_eq!(status, 431);
    assert_eq!(answer["error"]["code"], "request_too_large", "OpenAI shape: {answer}");
    assert_eq!(mock.hits(), 0, "nothing forwarded");
    let (status, _, _) = post(&gw, "/v1/messages", &[JSON, ("x-big-one", &big)], body("mock:claude", false)).await;
    assert_eq!(status, 200, "20 KiB of headers are fine");
}
