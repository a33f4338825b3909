//! Helpers of the virtual-key suites: admin calls and keyed requests against any gatehouse by URL (in-process
//! gateways and binaries alike).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::admin::ADMIN_KEY;
use super::client;

/// An admin call with the test admin key: status and JSON body.
pub async fn admin_at(url: &str, method: &str, path: &str, json: Option<Value>) -> (u16, Value) {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    let request = client()
        .request(method, format!("{url}{path}"))
        .insert_header(("authorization", format!("Bearer {ADMIN_KEY}")));
    let mut res = match json {
        Some(json) => request.send_json(&json).await.unwrap(),
        None => request.send().await.unwrap(),
    };
    let status = res.status().as_u16();
    let bytes = res.body().limit(1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Creates a key (asserting 201); returns its id and secret.
pub async fn create_key(url: &str, body: Value) -> (String, String) {
    let (status, created) = admin_at(url, "POST", "/admin/keys", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    (created["id"].as_str().unwrap().to_string(), created["key"].as_str().unwrap().to_string())
}

/// The answer to one keyed request.
pub struct Answer {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Value,
    pub took: Duration,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn message(&self) -> String {
        self.body["error"]["message"].as_str().unwrap_or_default().to_string()
    }
}

/// A non-streaming `/v1/messages` request for `model` presenting `key` in `x-gatehouse-key`.
pub async fn keyed(url: &str, key: &str, model: &str) -> Answer {
    let started = Instant::now();
    let mut res = client()
        .post(format!("{url}/v1/messages"))
        .insert_header(("x-gatehouse-key", key))
        .send_body(super::body(model, false))
        .await
        .unwrap();
    let bytes = res.body().await.unwrap();
    Answer {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        took: started.elapsed(),
    }
}

/// `GET /admin/keys/{id}`'s usage.
pub async fn usage(url: &str, id: &str) -> Value {
    let (status, body) = admin_at(url, "GET", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    body["usage"].clone()
}

/// Polls `check` every 25 ms until it holds or `within` passes; returns how long it took.
pub async fn within<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
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
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends SIGTERM (a graceful stop) and waits for the process to exit.
pub fn terminate(child: &mut std::process::Child) {
    let sent = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "gatehouse did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET /health` of the gatehouse at `url`.
pub async fn health_at(url: &str) -> Value {
    let mut res = client().get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "/health stays 200");
    serde_json::from_slice(&res.body().await.unwrap()).unwrap()
}

/// Waits until the admin API of every gatehouse in `urls` shows key `id` (it propagated), without using it.
pub async fn listed_everywhere(urls: &[&str], id: &str) {
    for url in urls {
        within(Duration::from_secs(3), "the key reaches every replica", || async {
            admin_at(url, "GET", &format!("/admin/keys/{id}"), None).await.0 == 200
        })
        .await;
    }
}
