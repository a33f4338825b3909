//! End-to-end: which key reaches the upstream (static round-robin, client passthrough) and proxy authentication.

mod common;

use common::*;

async fn send(gw: &Gateway, headers: &[(&str, &str)]) -> (u16, bytes::Bytes) {
    let mut req = client().post(format!("{}/v1/messages", gw.url));
    for h in headers {
        req = req.insert_header(*h);
    }
    let mut res = req.send_body(body("mock:m", false)).await.unwrap();
    (res.status().as_u16(), res.body().await.unwrap())
}

#[actix_rt::test]
async fn static_keys_rotate_round_robin_and_replace_the_client_key() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("MOCK_API_KEY", "key-a key-b  key-c"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
    ]);
    for _ in 0..6 {
        assert_eq!(send(&gw, &[("x-api-key", "client-own")]).await.0, 200);
    }
    let keys: Vec<String> = mock.requests().iter().map(|r| r.header("x-api-key").unwrap().to_string()).collect();
    assert_eq!(keys, ["key-a", "key-b", "key-c", "key-a", "key-b", "key-c"]);
    assert!(mock.requests().iter().all(|r| r.header("authorization").is_none()));
}

#[actix_rt::test]
async fn passthrough_forwards_the_clients_key_in_its_own_style() {
    let mock = start_mock();
    let gw =
        start_gateway(&[("MOCK_API_KEY", "!PASSTHRU"), ("MOCK_BASE_URL", &mock.url), ("MOCK_API_FORMAT", "anthropic")]);
    assert_eq!(send(&gw, &[("x-api-key", "sk-client-1")]).await.0, 200);
    assert_eq!(mock.last().header("x-api-key"), Some("sk-client-1"));
    assert_eq!(send(&gw, &[("authorization", "Bearer oauth-token-2")]).await.0, 200);
    assert_eq!(mock.last().header("authorization"), Some("Bearer oauth-token-2"));
    assert_eq!(mock.last().header("x-api-key"), None);
}

#[actix_rt::test]
async fn passthrough_without_a_client_key_is_401_naming_the_provider() {
    let mock = start_mock();
    let gw =
        start_gateway(&[("MOCK_API_KEY", "!PASSTHRU"), ("MOCK_BASE_URL", &mock.url), ("MOCK_API_FORMAT", "anthropic")]);
    let (status, body) = send(&gw, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(error_type(&body), "authentication_error");
    assert!(String::from_utf8_lossy(&body).contains("'mock'"));
    assert_eq!(mock.hits(), 0);
}

#[actix_rt::test]
async fn proxy_key_is_required_when_set() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("PROXY_API_KEY", "gw-secret"),
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
    ]);
    for headers in
        [vec![], vec![("x-api-key", "wrong")], vec![("x-gatehouse-key", "wrong"), ("x-api-key", "gw-secret")]]
    {
        let (status, body) = send(&gw, &headers).await;
        assert_eq!(status, 401, "{headers:?}");
        assert_eq!(error_type(&body), "authentication_error");
    }
    assert_eq!(mock.hits(), 0);
    assert_eq!(send(&gw, &[("x-api-key", "gw-secret")]).await.0, 200);
    assert_eq!(send(&gw, &[("authorization", "Bearer gw-secret")]).await.0, 200);
    assert_eq!(send(&gw, &[("x-gatehouse-key", "gw-secret")]).await.0, 200);
    assert!(
        mock.requests().iter().all(|r| r.header("x-api-key") == Some("provider-key")),
        "the proxy key never goes upstream"
    );
}

#[actix_rt::test]
async fn proxy_key_and_passthrough_work_together() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("PROXY_API_KEY", "gw-secret"),
        ("MOCK_API_KEY", "!PASSTHRU"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
    ]);
    assert_eq!(send(&gw, &[("x-gatehouse-key", "gw-secret"), ("x-api-key", "sk-client")]).await.0, 200);
    assert_eq!(mock.last().header("x-api-key"), Some("sk-client"));
    assert_eq!(mock.last().header("x-gatehouse-key"), None);
    // The proxy key alone authenticates to the gateway but is not a provider key.
    let (status, body) = send(&gw, &[("x-api-key", "gw-secret")]).await;
    assert_eq!(status, 401);
    assert!(String::from_utf8_lossy(&body).contains("passthrough"));
    assert_eq!(mock.hits(), 1);
}
