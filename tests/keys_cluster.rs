//! Virtual keys across replicas: three gatehouse processes sharing one real `redis-server`. Limits are exact
//! across them (rpm, max_parallel, tpm, budget to the nano-dollar), a revocation on one replica is refused on all
//! three within a second, and a Redis outage is answered by the configured policy without any request waiting
//! more than 500 ms on the store, with recovery within 5 s of Redis returning (empty: the replicas write their
//! key catalog back).
//!
//! Ignored by default (they need `redis-server`); `.ci/suites/keys.sh` installs Redis and runs them:
//! `cargo test --test keys_cluster -- --ignored --test-threads 1`.

mod common;

use std::time::{Duration, Instant};

use common::admin::ADMIN_KEY;
use common::keys::*;
use common::redis::RedisServer;
use common::*;
use futures_util::future::join_all;
use serde_json::json;

/// Priced (shipped price table), answered at once with a known usage.
const PRICED: &str = "mock:claude-sonnet-4-5";

/// `n` replicas on `redis`, routing `mock:*` to `mock`.
fn replicas(n: usize, mock: &MockUpstream, redis: &RedisServer, extra: &[(&str, &str)]) -> Vec<Binary> {
    let url = redis.url();
    let mut env = vec![
        ("MOCK_API_KEY", "base-key"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("REDIS_URL", url.as_str()),
    ];
    env.extend_from_slice(extra);
    (0..n).map(|_| start_binary(&env)).collect()
}

/// Waits until every replica knows key `id`.
async fn known_everywhere(replicas: &[Binary], id: &str) {
    let urls: Vec<&str> = replicas.iter().map(|r| r.url.as_str()).collect();
    listed_everywhere(&urls, id).await;
}

/// `count` requests at once, spread round-robin over `replicas`.
async fn burst(replicas: &[Binary], secret: &str, model: &str, count: usize) -> Vec<Answer> {
    let calls = (0..count).map(|i| {
        let url = replicas[i % replicas.len()].url.clone();
        let secret = secret.to_string();
        let model = model.to_string();
        async move { keyed(&url, &secret, &model).await }
    });
    join_all(calls).await
}

fn count(answers: &[Answer], status: u16) -> usize {
    answers.iter().filter(|a| a.status == status).count()
}

fn nanos(usd: &serde_json::Value) -> u64 {
    (usd.as_f64().unwrap() * 1e9).round() as u64
}

#[actix_rt::test]
#[ignore = "needs redis-server; run by .ci/suites/keys.sh"]
async fn a_revocation_on_one_replica_is_refused_on_all_three_within_a_second() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let fleet = replicas(3, &mock, &redis, &[]);
    let (id, secret) = create_key(&fleet[0].url, json!({"name": "alice"})).await;
    known_everywhere(&fleet, &id).await;
    for replica in &fleet {
        assert_eq!(keyed(&replica.url, &secret, "mock:m").await.status, 200);
    }
    let (status, _) = admin_at(&fleet[1].url, "PATCH", &format!("/admin/keys/{id}"), Some(json!({"rpm": 1000}))).await;
    assert_eq!(status, 200, "a key created on one replica is changed on another");

    let started = Instant::now();
    assert_eq!(admin_at(&fleet[2].url, "DELETE", &format!("/admin/keys/{id}"), None).await.0, 200);
    for replica in &fleet {
        let took = within(Duration::from_secs(1), "the revoked key is refused", || async {
            let answer = keyed(&replica.url, &secret, "mock:m").await;
            answer.status == 401 && answer.message().contains("revoked")
        })
        .await;
        eprintln!("{}: refused {took:?} after the poll began ({:?} after the DELETE)", replica.url, started.elapsed());
    }
    assert!(started.elapsed() < Duration::from_millis(1_500), "all three within a second of the DELETE");
}

#[actix_rt::test]
#[ignore = "needs redis-server; run by .ci/suites/keys.sh"]
async fn rpm_and_max_parallel_are_exact_across_three_replicas() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let fleet = replicas(3, &mock, &redis, &[]);

    let (id, secret) = create_key(&fleet[0].url, json!({"name": "rpm50", "rpm": 50})).await;
    known_everywhere(&fleet, &id).await;
    let answers = burst(&fleet, &secret, "mock:m", 300).await;
    assert_eq!(count(&answers, 200), 50, "exactly rpm admitted");
    assert_eq!(count(&answers, 429), 250);
    for refused in answers.iter().filter(|a| a.status == 429) {
        let retry: u64 = refused.header("retry-after").expect("retry-after on every 429").parse().unwrap();
        assert!((1..=60).contains(&retry), "retry-after {retry}");
        assert_eq!(refused.body["error"]["type"], "rate_limit_error");
        assert!(refused.message().contains("rpm"), "{}", refused.message());
    }

    let (id, secret) = create_key(&fleet[0].url, json!({"name": "par3", "max_parallel": 3})).await;
    known_everywhere(&fleet, &id).await;
    let answers = burst(&fleet, &secret, "mock:delay-2000", 30).await;
    assert_eq!(count(&answers, 200), 3, "never more than max_parallel in flight");
    assert_eq!(count(&answers, 429), 27);
    assert!(answers.iter().filter(|a| a.status == 429).all(|a| a.header("retry-after") == Some("1")));
    assert!(answers.iter().filter(|a| a.status == 429).all(|a| a.message().contains("max_parallel")));
}

#[actix_rt::test]
#[ignore = "needs redis-server; run by .ci/suites/keys.sh"]
async fn tpm_and_budgets_are_exact_across_three_replicas() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let fleet = replicas(3, &mock, &redis, &[]);

    // What one request reserves (the tokenizer's input estimate plus max_tokens) and what it costs.
    let (probe, probe_secret) = create_key(&fleet[0].url, json!({"name": "probe", "tpm": 1_000_000})).await;
    let first = keyed(&fleet[0].url, &probe_secret, PRICED).await;
    assert_eq!(first.status, 200);
    let remaining =
        first.header("anthropic-ratelimit-tokens-remaining").or(first.header("x-gatehouse-ratelimit-tokens-remaining"));
    let remaining: u64 = remaining.unwrap_or_else(|| panic!("tokens headers: {:?}", first.headers)).parse().unwrap();
    let reserve = 1_000_000 - remaining;
    // The settlement reaches Redis moments after the answer (with the thread's next call, or within 5 ms).
    within(Duration::from_secs(2), "the probe's settlement reaches Redis", || async {
        usage(&fleet[0].url, &probe).await["in_flight"] == 0
    })
    .await;
    let price = nanos(&usage(&fleet[0].url, &probe).await["spend_usd"]);
    let used = usage(&fleet[0].url, &probe).await["tokens_in_window"].as_u64().unwrap();
    assert!(reserve > 64 && price > 0 && used > 0, "reserve {reserve}, price {price}, used {used}");

    // tpm: ten reservations fit, the eleventh does not, while all are in flight.
    let tpm = 10 * reserve + reserve / 2;
    let (key, secret) = create_key(&fleet[0].url, json!({"name": "tpm", "tpm": tpm})).await;
    known_everywhere(&fleet, &key).await;
    let answers = burst(&fleet, &secret, "mock:delay-2000", 60).await;
    assert_eq!(count(&answers, 200), 10, "exactly as many reservations as fit in tpm");
    assert_eq!(count(&answers, 429), 50);
    within(Duration::from_secs(3), "settlements reach Redis", || async {
        let u = usage(&fleet[1].url, &key).await;
        u["in_flight"] == 0 && u["tokens_in_window"].as_u64() == Some(10 * used)
    })
    .await;

    // Budget: never above it, and the spend is exactly the sum of the admitted requests' prices.
    let budget = 20 * price + price / 3;
    let (key, secret) = create_key(
        &fleet[0].url,
        json!({"name": "budget", "budget_usd": budget as f64 / 1e9, "budget_period": "total"}),
    )
    .await;
    known_everywhere(&fleet, &key).await;
    let mut admitted = 0;
    for _ in 0..5 {
        let answers = burst(&fleet, &secret, PRICED, 60).await;
        admitted += count(&answers, 200);
        for refused in answers.iter().filter(|a| a.status == 402) {
            assert_eq!(refused.body["error"]["type"], "billing_error");
            assert_eq!(refused.header("x-should-retry"), Some("false"));
        }
        assert_eq!(count(&answers, 200) + count(&answers, 402), 60);
        within(Duration::from_secs(3), "settlements reach Redis", || async {
            usage(&fleet[2].url, &key).await["in_flight"] == 0
        })
        .await;
    }
    // Then one at a time until the budget refuses: what is left is less than one request's reservation.
    for i in 0..40 {
        let answer = keyed(&fleet[i % 3].url, &secret, PRICED).await;
        if answer.status == 402 {
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        admitted += 1;
    }
    within(Duration::from_secs(3), "settlements reach Redis", || async {
        usage(&fleet[2].url, &key).await["in_flight"] == 0
    })
    .await;
    let spend = nanos(&usage(&fleet[2].url, &key).await["spend_usd"]);
    assert_eq!(spend, admitted as u64 * price, "spend is the sum of the admitted requests' prices");
    assert!(spend <= budget, "spend {spend} within the budget {budget}");
    // A reservation: the input estimate (a few tokens at $3/M) plus max_tokens (64 at $15/M).
    assert!(budget - spend < 64 * 15_000 + 1_000 * 3_000, "the budget was used up to less than one reservation");
}

#[actix_rt::test]
#[ignore = "needs redis-server; run by .ci/suites/keys.sh"]
async fn a_redis_outage_is_answered_by_the_policy_and_recovered_from_within_five_seconds() {
    let mut redis = RedisServer::start();
    let mock = start_mock();
    let closed = replicas(2, &mock, &redis, &[]);
    let open = replicas(1, &mock, &redis, &[("LIMITS_ON_STORE_FAILURE", "open")]);
    let (id, secret) = create_key(&closed[0].url, json!({"name": "alice", "rpm": 100000})).await;
    known_everywhere(&closed, &id).await;
    known_everywhere(&open, &id).await;

    redis.kill();
    let outage = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut refused = 0;
    while outage.elapsed() < Duration::from_secs(2) {
        for replica in &closed {
            let answer = keyed(&replica.url, &secret, "mock:m").await;
            slowest = slowest.max(answer.took);
            if answer.status == 503 {
                refused += 1;
                assert_eq!(answer.body["error"]["type"], "api_error");
                assert!(answer.message().contains("limits store"), "{}", answer.message());
            } else {
                assert_eq!(answer.status, 200, "before the replica noticed: {}", answer.body);
            }
        }
        let answer = keyed(&open[0].url, &secret, "mock:m").await;
        assert_eq!(answer.status, 200, "policy open admits on cached keys: {}", answer.body);
        slowest = slowest.max(answer.took);
    }
    assert!(refused > 10, "policy closed refuses keyed requests while Redis is down ({refused})");
    assert!(slowest < Duration::from_millis(900), "a request waited {slowest:?} on a dead store");
    let health = health_at(&closed[0].url).await;
    assert_eq!((health["status"].as_str(), health["limits_store"]["up"].as_bool()), (Some("ok"), Some(false)));
    assert_eq!(health["limits_store"]["policy"], "closed");
    let mut metrics = client().get(format!("{}/metrics", closed[1].url)).send().await.unwrap();
    let text = String::from_utf8(metrics.body().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("gatehouse_limits_store_up 0"), "{text}");

    redis.restart(); // empty: the replicas write their key catalog back
    let back = Instant::now();
    for replica in closed.iter().chain(&open) {
        // The open replica admitted all along, so its recovery is the store being seen up again.
        within(Duration::from_secs(5), "the store is seen up and keyed requests are admitted again", || async {
            health_at(&replica.url).await["limits_store"]["up"] == true
                && keyed(&replica.url, &secret, "mock:m").await.status == 200
        })
        .await;
    }
    eprintln!("recovered {:?} after Redis returned; slowest request during the outage {slowest:?}", back.elapsed());
    assert!(back.elapsed() < Duration::from_secs(5));
    // Redis came back empty: the replicas wrote their key catalog back, so a replica started now knows the key.
    let late = replicas(1, &mock, &redis, &[]);
    within(Duration::from_secs(3), "a new replica loads the written-back key", || async {
        keyed(&late[0].url, &secret, "mock:m").await.status == 200
    })
    .await;
}

#[actix_rt::test]
#[ignore = "needs redis-server; run by .ci/suites/keys.sh"]
async fn a_replica_killed_mid_request_has_its_reservation_charged_when_the_lease_lapses() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let mut fleet = replicas(2, &mock, &redis, &[("LEASE_TTL_SECS", "2")]);
    let (id, secret) = create_key(&fleet[0].url, json!({"name": "alice", "tpm": 1_000_000, "max_parallel": 1})).await;
    known_everywhere(&fleet, &id).await;

    // A long request outlives several lease times: the replica renews its lease, so it is not charged early.
    let survivor = fleet[1].url.clone();
    let long = keyed(&survivor, &secret, "mock:delay-5000").await;
    assert_eq!(long.status, 200);
    within(Duration::from_secs(2), "the settlement reaches Redis", || async {
        usage(&survivor, &id).await["in_flight"] == 0
    })
    .await;
    let u = usage(&survivor, &id).await;
    assert_eq!(u["tokens_in_window"].as_u64(), Some(37), "settled with the real usage: {u}");

    let victim = fleet[0].url.clone();
    let (victim_secret, victim_url) = (secret.clone(), victim.clone());
    let request = actix_rt::spawn(async move { keyed(&victim_url, &victim_secret, "mock:delay-10000").await.status });
    within(Duration::from_secs(3), "admitted", || async { usage(&survivor, &id).await["in_flight"] == 1 }).await;
    let reserved = usage(&survivor, &id).await["reserved_tokens"].as_u64().unwrap();
    let killed = Instant::now();
    let _ = fleet[0].child.kill();
    let _ = fleet[0].child.wait();
    request.abort();
    assert_eq!(
        keyed(&survivor, &secret, "mock:m").await.status,
        429,
        "max_parallel: the dead request still holds its slot"
    );
    within(Duration::from_secs(4), "the dead replica's reservation is charged in full", || async {
        let u = usage(&survivor, &id).await;
        u["in_flight"] == 0 && u["tokens_in_window"].as_u64() == Some(37 + reserved)
    })
    .await;
    eprintln!("charged {:?} after the replica was killed", killed.elapsed());
    fleet.truncate(1);
}

/// The `standby_admissions` count of a replica's limits store (`/health`).
async fn standby_admissions(url: &str) -> u64 {
    health_at(url).await["limits_store"]["standby_admissions"].as_u64().unwrap()
}

#[actix_rt::test]
#[ignore = "needs redis-server; run by .ci/suites/keys.sh"]
async fn one_request_after_another_is_admitted_on_standbys_and_limits_stay_exact() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let fleet = replicas(2, &mock, &redis, &[]);
    let (probe, probe_secret) = create_key(&fleet[0].url, json!({"name": "probe"})).await;
    known_everywhere(&fleet, &probe).await;
    assert_eq!(keyed(&fleet[0].url, &probe_secret, PRICED).await.status, 200);
    within(Duration::from_secs(2), "the probe's settlement reaches Redis", || async {
        usage(&fleet[0].url, &probe).await["in_flight"] == 0
    })
    .await;
    let price = nanos(&usage(&fleet[0].url, &probe).await["spend_usd"]);

    // Standbys are granted while the key uses less than half of each limit: the first requests take them.
    let (id, secret) =
        create_key(&fleet[0].url, json!({"name": "steady", "rpm": 20, "tpm": 1_000_000, "budget_usd": 100.0})).await;
    known_everywhere(&fleet, &id).await;
    let before = standby_admissions(&fleet[0].url).await;
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(keyed(&fleet[0].url, &secret, PRICED).await.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 20, "exactly rpm admitted: {statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    assert!(standby_admissions(&fleet[0].url).await > before, "some requests were admitted on a standby");
    // The other replica sees the same count: the standbys' requests are in the shared window.
    let refused = keyed(&fleet[1].url, &secret, PRICED).await;
    assert_eq!(refused.status, 429, "{}", refused.body);

    // Once the standbys are taken or given back, the usage is the requests' alone, and nothing stays reserved.
    within(Duration::from_secs(3), "standbys taken or given back", || async {
        let u = usage(&fleet[1].url, &id).await;
        u["in_flight"] == 0 && u["reserved_usd"].as_f64() == Some(0.0) && u["reserved_tokens"] == 0
    })
    .await;
    let u = usage(&fleet[1].url, &id).await;
    assert_eq!(u["requests_in_window"], 20, "{u}");
    assert_eq!(nanos(&u["spend_usd"]), 20 * price, "{u}");

    // LIMITS_STANDBY=false: every request waits for its own run.
    let plain = replicas(1, &mock, &redis, &[("LIMITS_STANDBY", "false")]);
    let (id, secret) = create_key(&plain[0].url, json!({"name": "plain", "rpm": 100})).await;
    known_everywhere(&plain, &id).await;
    for _ in 0..5 {
        assert_eq!(keyed(&plain[0].url, &secret, PRICED).await.status, 200);
    }
    assert_eq!(standby_admissions(&plain[0].url).await, 0);
}

#[actix_rt::test]
#[ignore = "needs redis-server; run by .ci/suites/keys.sh"]
async fn a_standby_held_by_a_replica_that_dies_is_charged_when_its_lease_lapses() {
    let redis = RedisServer::start();
    let mock = start_mock();
    let mut fleet = replicas(2, &mock, &redis, &[("LEASE_TTL_SECS", "2")]);
    let (id, secret) = create_key(&fleet[0].url, json!({"name": "bob", "tpm": 1_000_000})).await;
    known_everywhere(&fleet, &id).await;
    let survivor = fleet[1].url.clone();

    // A lone request is admitted with a standby beside it, which the replica holds for its next request.
    let first = keyed(&fleet[0].url, &secret, PRICED).await;
    assert_eq!(first.status, 200);
    let remaining =
        first.header("anthropic-ratelimit-tokens-remaining").or(first.header("x-gatehouse-ratelimit-tokens-remaining"));
    let reserve = 1_000_000 - remaining.unwrap().parse::<u64>().unwrap();
    // Killed once the request's settlement is in (moments after the answer), well before the standby is due to
    // be given back (a quarter of the lease time).
    within(Duration::from_millis(400), "the request's settlement reaches Redis", || async {
        let u = usage(&survivor, &id).await;
        u["requests_in_window"] == 1 && u["in_flight"] == 0
    })
    .await;
    let _ = fleet[0].child.kill();
    let _ = fleet[0].child.wait();

    // Nobody gives it back: when its lease lapses it is charged in full, as a request taken on it would be.
    let settled = usage(&survivor, &id).await["tokens_in_window"].as_u64().unwrap();
    assert!(settled > 0 && settled < reserve, "settled {settled}, reserved {reserve}");
    within(Duration::from_secs(4), "the lapsed standby is charged in full", || async {
        let u = usage(&survivor, &id).await;
        u["requests_in_window"] == 2 && u["tokens_in_window"].as_u64() == Some(settled + reserve)
    })
    .await;
    fleet.truncate(1);
}
