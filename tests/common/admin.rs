//! Admin API helpers shared by the admin end-to-end suites.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{body, client, Gateway};

/// The admin key the admin suites configure.
pub const ADMIN_KEY: &str = "admin-key-for-tests";

/// An admin call: method, path, optional JSON body, with `key` as the bearer token (`None`: no header).
pub async fn admin(gw: &Gateway, method: &str, path: &str, json: Option<Value>, key: Option<&str>) -> (u16, Value) {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client().request(method, format!("{}{path}", gw.url));
    if let Some(key) = key {
        request = request.insert_header(("authorization", format!("Bearer {key}")));
    }
    let mut res = match json {
        Some(json) => request.send_json(&json).await.unwrap(),
        None => request.send().await.unwrap(),
    };
    let status = res.status().as_u16();
    let bytes = res.body().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// `PUT /admin/providers/{name}` with the test admin key.
pub async fn put_provider(gw: &Gateway, name: &str, json: Value) -> (u16, Value) {
    admin(gw, "PUT", &format!("/admin/providers/{name}"), Some(json), Some(ADMIN_KEY)).await
}

/// `DELETE /admin/providers/{name}` with the test admin key.
pub async fn delete_provider(gw: &Gateway, name: &str) -> (u16, Value) {
    admin(gw, "DELETE", &format!("/admin/providers/{name}"), None, Some(ADMIN_KEY)).await
}

/// An Anthropic-format provider body pointing at `url` with `keys`.
pub fn anthropic_provider(url: &str, keys: &[&str]) -> Value {
    serde_json::json!({ "base_url": url, "api_format": "anthropic", "api_keys": keys })
}

/// `GET /health` as JSON.
pub async fn health(gw: &Gateway) -> Value {
    let mut res = client().get(format!("{}/health", gw.url)).send().await.unwrap();
    serde_json::from_slice(&res.body().await.unwrap()).unwrap()
}

/// The config version `/health` reports.
pub async fn config_version(gw: &Gateway) -> u64 {
    health(gw).await["config_version"].as_u64().unwrap()
}

/// A non-streaming `/v1/messages` call for `model`: status and body.
pub async fn ask(gw: &Gateway, model: &str) -> (u16, bytes::Bytes) {
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body(model, false)).await.unwrap();
    (res.status().as_u16(), res.body().await.unwrap())
}

/// Polls `check` every 50 ms until it holds or `within` passes; returns how long it took.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}
