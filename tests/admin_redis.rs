//! End-to-end with a real Redis: admin changes made on one replica reach the others within a second, a replica
//! started later loads them, and a Redis outage stops neither traffic nor (once Redis is back) propagation.
//!
//! Ignored by default (they need `redis-server` on the PATH); run them with
//! `cargo test --test admin_redis -- --ignored` (the CI suite `.ci/suites/admin.sh` installs Redis and does).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::admin::*;
use common::redis::RedisServer;
use common::*;
use serde_json::{json, Value};

/// A replica: default provider `mock`, admin API on, sharing `redis`.
fn replica(mock: &MockUpstream, redis: &RedisServer) -> Gateway {
    start_gateway(&[
        ("MOCK_API_KEY", "base-key"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("REDIS_URL", &redis.url()),
    ])
}

async fn admin_config(gw: &Gateway) -> Value {
    admin(gw, "GET", "/admin/config", None, Some(ADMIN_KEY)).await.1
}

async fn wait_connected(gw: &Gateway, connected: bool) {
    let what = format!("replication.connected == {connected}");
    eventually(Duration::from_secs(10), &what, || async {
        admin_config(gw).await["replication"]["connected"] == connected
    })
    .await;
}

/// Whether `gw` routes `provider:m` to the mock with `key`.
async fn routes_with(gw: &Gateway, mock: &MockUpstream, provider: &str, key: &str) -> bool {
    let (status, _) = ask(gw, &format!("{provider}:m")).await;
    status == 200 && mock.last().header("x-api-key") == Some(key)
}

#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored"]
async fn changes_reach_every_replica_within_a_second_and_late_replicas_load_them() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let a = replica(&mock, &redis);
    let b = replica(&mock, &redis);
    wait_connected(&a, true).await;
    wait_connected(&b, true).await;

    let (status, body) = put_provider(&a, "extra", anthropic_provider(&mock.url, &["key-one"])).await;
    assert_eq!(status, 200, "{body}");
    let took = eventually(Duration::from_secs(1), "B routes the provider added on A", || {
        routes_with(&b, &mock, "extra", "key-one")
    })
    .await;
    eprintln!("propagation A -> B: {took:?}");

    let (status, _) = put_provider(&b, "extra", anthropic_provider(&mock.url, &["key-two"])).await;
    assert_eq!(status, 200);
    eventually(Duration::from_secs(1), "A uses the key rotated on B", || routes_with(&a, &mock, "extra", "key-two"))
        .await;

    let (status, _) = delete_provider(&a, "extra").await;
    assert_eq!(status, 200);
    eventually(Duration::from_secs(1), "B forgets the provider removed on A", || async {
        ask(&b, "extra:m").await.0 == 400
    })
    .await;
    let (status, _) = put_provider(&b, "late", anthropic_provider(&mock.url, &["late-key"])).await;
    assert_eq!(status, 200);

    let c = replica(&mock, &redis);
    eventually(Duration::from_secs(2), "a replica started later loads the overlay", || {
        routes_with(&c, &mock, "late", "late-key")
    })
    .await;
    assert_eq!(ask(&c, "extra:m").await.0, 400, "and its removals");
    let (ca, cc) = (admin_config(&a).await, admin_config(&c).await);
    assert_eq!(ca["overlay_version"], 4);
    assert_eq!(cc["overlay_version"], 4, "every replica holds the same overlay version");
    assert_eq!(cc["replication"]["mode"], "redis");
    assert_eq!(cc["replication"]["redis"], format!("127.0.0.1:{}", redis.port));
}

#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored"]
async fn concurrent_changes_on_two_replicas_are_both_kept() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let a = replica(&mock, &redis);
    let b = replica(&mock, &redis);
    wait_connected(&a, true).await;
    wait_connected(&b, true).await;
    for round in 0..5 {
        let (pa, pb) = (format!("a{round}"), format!("b{round}"));
        let (ra, rb) = futures_util::future::join(
            put_provider(&a, &pa, anthropic_provider(&mock.url, &["ka"])),
            put_provider(&b, &pb, anthropic_provider(&mock.url, &["kb"])),
        )
        .await;
        assert_eq!((ra.0, rb.0), (200, 200), "{} / {}", ra.1, rb.1);
    }
    for gw in [&a, &b] {
        eventually(Duration::from_secs(2), "both replicas hold all ten providers", || async {
            let (_, listed) = admin(gw, "GET", "/admin/providers", None, Some(ADMIN_KEY)).await;
            listed["providers"].as_array().map_or(0, Vec::len) == 11
        })
        .await;
    }
    assert_eq!(admin_config(&a).await["overlay_version"], 10);
}

#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored"]
async fn a_redis_outage_keeps_traffic_refuses_writes_and_recovers() {
    let mut redis = RedisServer::start();
    let mock = start_mock();
    let a = replica(&mock, &redis);
    let b = replica(&mock, &redis);
    wait_connected(&a, true).await;
    wait_connected(&b, true).await;
    put_provider(&a, "extra", anthropic_provider(&mock.url, &["extra-key"])).await;
    eventually(Duration::from_secs(1), "B has the change", || routes_with(&b, &mock, "extra", "extra-key")).await;

    redis.kill();
    wait_connected(&b, false).await;
    for gw in [&a, &b] {
        assert!(routes_with(gw, &mock, "extra", "extra-key").await, "traffic continues on the last snapshot");
        assert_eq!(ask(gw, "mock:m").await.0, 200);
    }
    let (status, body) = put_provider(&a, "during", anthropic_provider(&mock.url, &["k"])).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["type"], "api_error");
    assert!(body["error"]["message"].as_str().unwrap().contains("Redis"), "{body}");
    assert_eq!(ask(&a, "during:m").await.0, 400, "a refused write changes nothing");
    let config = admin_config(&b).await;
    assert!(config["replication"]["error"].is_string(), "{config}");

    redis.restart();
    wait_connected(&a, true).await;
    wait_connected(&b, true).await;
    let c = replica(&mock, &redis);
    eventually(Duration::from_secs(3), "the replicas wrote their overlay back into the empty Redis", || {
        routes_with(&c, &mock, "extra", "extra-key")
    })
    .await;

    let (status, body) = put_provider(&a, "after", anthropic_provider(&mock.url, &["after-key"])).await;
    assert_eq!(status, 200, "admin writes work again: {body}");
    eventually(Duration::from_secs(1), "propagation resumed", || routes_with(&b, &mock, "after", "after-key")).await;
    assert!(routes_with(&b, &mock, "extra", "extra-key").await, "earlier changes survived the outage");
    let versions: Vec<Value> = futures_util::future::join_all([&a, &b, &c].map(admin_config))
        .await
        .into_iter()
        .map(|c| json!(c["overlay_version"]))
        .collect();
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "same overlay everywhere: {versions:?}");
}

#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored"]
async fn a_missed_announcement_is_caught_by_the_periodic_check() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let a = replica(&mock, &redis);
    wait_connected(&a, true).await;
    // Store an overlay the way a replica would, but without publishing it.
    let overlay = json!({"version": 1, "changes": {"quiet": {"op": "upsert", "provider": anthropic_provider(&mock.url, &["quiet-key"])}}});
    let port = redis.port.to_string();
    for (key, value) in [("gatehouse:overlay", overlay.to_string()), ("gatehouse:overlay:version", "1".into())] {
        let status = Command::new("redis-cli").args(["-p", &port, "SET", key, &value]).stdout(Stdio::null()).status();
        assert!(status.expect("redis-cli is installed with redis-server").success());
    }
    let took = eventually(Duration::from_secs(4), "the periodic check finds the unannounced overlay", || {
        routes_with(&a, &mock, "quiet", "quiet-key")
    })
    .await;
    eprintln!("found by polling after {took:?}");
}
