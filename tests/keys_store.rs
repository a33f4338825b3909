//! Virtual keys without Redis, end to end: the admin API of keys and teams (shapes, validation, read-only
//! declared keys), and the embedded store's durability — keys, revocations and spend survive a SIGTERM restart,
//! a SIGKILL loses at most the last second, and a request that died with its process is charged in full when its
//! lease lapses.

mod common;

use std::time::Duration;

use common::admin::ADMIN_KEY;
use common::keys::*;
use common::*;
use serde_json::json;

fn mock_env(mock: &MockUpstream) -> Vec<(&'static str, String)> {
    vec![
        ("MOCK_API_KEY", "base-key".into()),
        ("MOCK_BASE_URL", mock.url.clone()),
        ("MOCK_API_FORMAT", "anthropic".into()),
        ("ADMIN_API_KEY", ADMIN_KEY.into()),
    ]
}

fn refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[actix_rt::test]
async fn the_admin_api_manages_keys_and_teams_with_errors_naming_the_field() {
    let mock = start_mock();
    let gw = start_gateway(&refs(&mock_env(&mock)));
    let url = gw.url.as_str();

    let (status, team) = admin_at(url, "POST", "/admin/teams", Some(json!({"name": "ml", "rpm": 100}))).await;
    assert_eq!(status, 201, "{team}");
    assert_eq!((team["name"].as_str(), team["limits"]["rpm"].as_u64()), (Some("ml"), Some(100)));
    assert!(team["id"].as_str().unwrap().starts_with("team_"));

    let body = json!({"name": "alice", "team": "ml", "models": ["mock:*"], "rpm": 60, "tpm": 200000,
        "max_parallel": 4, "budget_usd": 25.0, "budget_period": "day", "expires_at": "2099-01-01T00:00:00Z",
        "metadata": {"owner": "alice@example.com"}});
    let (status, created) = admin_at(url, "POST", "/admin/keys", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("gh_") && secret.len() > 40);
    assert_eq!(created["team"], "ml");
    assert_eq!(
        created["limits"],
        json!({"rpm": 60, "tpm": 200000, "max_parallel": 4, "budget_usd": 25.0, "budget_period": "day"})
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    for (body, field) in [
        (json!({"name": "b", "expires_at": "2001-01-01T00:00:00Z"}), "expires_at:"),
        (json!({"name": "b", "team": "nope"}), "team:"),
        (json!({"name": "b", "models": ["gpt-4o"]}), "models:"),
        (json!({"name": "b", "rpm": 0}), "rpm:"),
        (json!({"name": "b", "budget_usd": "lots"}), "budget_usd:"),
        (json!({"name": "b", "colour": "red"}), "unknown field 'colour'"),
    ] {
        let (status, answer) = admin_at(url, "POST", "/admin/keys", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert!(answer["error"]["message"].as_str().unwrap().starts_with(field), "{body}: {answer}");
    }
    let (status, _) = admin_at(url, "POST", "/admin/keys", Some(json!({"name": "alice"}))).await;
    assert_eq!(status, 409, "names are unique");

    let (status, list) = admin_at(url, "GET", "/admin/keys", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["keys"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret) && list["keys"][0].get("key").is_none(), "no secret in lists");

    let model = "mock:claude-sonnet-4-5"; // priced: a key with a budget may use only priced models
    assert_eq!(keyed(url, &secret, "mock:m").await.status, 403, "unpriced, with a budget");
    assert_eq!(keyed(url, &secret, model).await.status, 200);
    let (status, shown) = admin_at(url, "GET", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, 200);
    assert!(!shown.to_string().contains(&secret));
    assert_eq!(shown["usage"]["requests_in_window"], 1);
    assert!(shown["usage"]["period_resets_at"].as_str().unwrap().ends_with("T00:00:00Z"));
    let (spend, remaining) =
        (shown["usage"]["spend_usd"].as_f64().unwrap(), shown["usage"]["remaining_usd"].as_f64().unwrap());
    assert!(spend > 0.0 && (spend + remaining - 25.0).abs() < 1e-9, "{}", shown["usage"]);
    assert_eq!(shown["team_usage"]["requests_in_window"], 1, "the team counts its keys' requests");
    assert_eq!(admin_at(url, "GET", "/admin/keys/alice", None).await.0, 200, "by name too");

    let (status, patched) =
        admin_at(url, "PATCH", &format!("/admin/keys/{id}"), Some(json!({"disabled": true, "rpm": null}))).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!((patched["disabled"].as_bool(), patched["limits"].get("rpm")), (Some(true), None));
    let refused = keyed(url, &secret, model).await;
    assert_eq!(refused.status, 401);
    assert!(refused.message().contains("disabled"), "{}", refused.message());
    admin_at(url, "PATCH", &format!("/admin/keys/{id}"), Some(json!({"disabled": false}))).await;
    assert_eq!(keyed(url, &secret, model).await.status, 200);

    let (status, conflict) = admin_at(url, "DELETE", "/admin/teams/ml", None).await;
    assert_eq!(status, 409, "{conflict}");
    assert!(conflict["error"]["message"].as_str().unwrap().contains("alice"));
    let (status, _) = admin_at(url, "DELETE", &format!("/admin/keys/{id}"), None).await;
    assert_eq!(status, 200);
    let revoked = keyed(url, &secret, model).await;
    assert_eq!(revoked.status, 401);
    assert!(revoked.message().contains("revoked"), "{}", revoked.message());
    assert_eq!(admin_at(url, "DELETE", "/admin/teams/ml", None).await.0, 200, "no keys left");
    assert_eq!(admin_at(url, "GET", "/admin/teams/ml", None).await.0, 404);
    assert_eq!(admin_at(url, "GET", &format!("/admin/keys/{id}"), None).await.0, 404);

    let health = common::admin::health(&gw).await;
    assert_eq!(health["limits_store"]["kind"], "embedded");
    assert_eq!(
        (health["limits_store"]["up"].as_bool(), health["limits_store"]["policy"].as_str()),
        (Some(true), Some("closed"))
    );
    let mut metrics = client().get(format!("{url}/metrics")).send().await.unwrap();
    let text = String::from_utf8(metrics.body().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("gatehouse_limits_store_up 1"), "{text}");
}

#[actix_rt::test]
async fn keys_declared_in_the_file_work_and_are_read_only() {
    let mock = start_mock();
    let secret = "gh_declaredKeyForTheTestsOnly0123456789abcdefgh";
    let file = TempConfig::new(&format!(
        "[teams.ops]\nrpm = 5\n\n[keys.deploy-bot]\nsecret_sha256 = \"{}\"\nteam = \"ops\"\nmodels = [\"mock:*\"]\n",
        gatehouse::keys::secret::hash(secret)
    ));
    let gw = start_gateway_with_file(&file.path, &refs(&mock_env(&mock)));
    let url = gw.url.as_str();
    assert_eq!(keyed(url, secret, "mock:m").await.status, 200);
    let (status, shown) = admin_at(url, "GET", "/admin/keys/deploy-bot", None).await;
    assert_eq!((status, shown["declared"].as_bool(), shown["team_limits"]["rpm"].as_u64()), (200, Some(true), Some(5)));
    for (method, path) in
        [("PATCH", "/admin/keys/deploy-bot"), ("DELETE", "/admin/keys/deploy-bot"), ("DELETE", "/admin/teams/ops")]
    {
        let (status, answer) = admin_at(url, method, path, Some(json!({"rpm": 1}))).await;
        assert_eq!(status, 409, "{method} {path}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("configuration file"), "{answer}");
    }
    let (status, _) = admin_at(url, "POST", "/admin/keys", Some(json!({"name": "deploy-bot"}))).await;
    assert_eq!(status, 409, "a declared name is taken");
}

/// Spend of `id` in nano-dollars, as the admin API shows it.
async fn spend_nanos(url: &str, id: &str) -> u64 {
    (usage(url, id).await["spend_usd"].as_f64().unwrap() * 1e9).round() as u64
}

#[actix_rt::test]
async fn keys_revocations_and_spend_survive_restarts() {
    let mock = start_mock();
    let data_dir = temp_data_dir();
    let mut env = mock_env(&mock);
    env.push(("DATA_DIR", data_dir.clone()));
    env.push(("LEASE_TTL_SECS", "2".into()));
    let model = "mock:claude-sonnet-4-5";

    let mut first = start_binary(&refs(&env));
    let (id, secret) =
        create_key(&first.url, json!({"name": "alice", "budget_usd": 10.0, "budget_period": "month"})).await;
    let (gone, gone_secret) = create_key(&first.url, json!({"name": "bob"})).await;
    assert_eq!(admin_at(&first.url, "DELETE", &format!("/admin/keys/{gone}"), None).await.0, 200);
    for _ in 0..3 {
        assert_eq!(keyed(&first.url, &secret, model).await.status, 200);
    }
    let spent = spend_nanos(&first.url, &id).await;
    assert!(spent > 0, "sonnet has a price");
    terminate(&mut first.child);

    // SIGTERM: nothing lost, even what was settled within the last second.
    let mut second = start_binary(&refs(&env));
    assert_eq!(spend_nanos(&second.url, &id).await, spent);
    assert!(keyed(&second.url, &gone_secret, model).await.message().contains("revoked"));
    assert_eq!(keyed(&second.url, &secret, model).await.status, 200);
    let spent = spend_nanos(&second.url, &id).await;
    std::thread::sleep(Duration::from_millis(1_500)); // past the once-a-second flush
    let _ = second.child.kill();
    let _ = second.child.wait();

    // SIGKILL after a flush: nothing lost either.
    let mut third = start_binary(&refs(&env));
    assert_eq!(spend_nanos(&third.url, &id).await, spent);
    let (slow, slow_secret) = create_key(&third.url, json!({"name": "slow", "tpm": 100000})).await;
    let url = third.url.clone();
    let in_flight = actix_rt::spawn(async move { keyed(&url, &slow_secret, "mock:delay-10000").await.status });
    within(Duration::from_secs(5), "the slow request is admitted", || async {
        usage(&third.url, &slow).await["in_flight"] == 1
    })
    .await;
    let reserved = usage(&third.url, &slow).await["reserved_tokens"].as_u64().unwrap();
    assert!(reserved >= 64, "max_tokens is reserved: {reserved}");
    std::thread::sleep(Duration::from_millis(1_500));
    let _ = third.child.kill();
    let _ = third.child.wait();
    in_flight.abort();

    // The request died with its process: its lease lapses (2 s) and the reservation is charged in full.
    let fourth = start_binary(&refs(&env));
    let charged = within(Duration::from_secs(5), "the dead request's reservation is charged", || async {
        let u = usage(&fourth.url, &slow).await;
        u["in_flight"] == 0 && u["tokens_in_window"].as_u64() == Some(reserved)
    })
    .await;
    eprintln!("lapsed lease charged {charged:?} after restart");
    let _ = std::fs::remove_dir_all(&data_dir);
}
