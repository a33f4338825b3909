//! Virtual keys with real clients (issue 17): the official `anthropic` Python SDK in every header style, over its
//! rpm and with its budget spent; Claude Code with a key as `ANTHROPIC_API_KEY` and in `x-gatehouse-key` beside its
//! own key, over its rpm (it waits per `retry-after`, then completes) and with its budget spent (402: it stops at
//! once and shows the message). Ignored by default; `.ci/suites/sdk.sh` installs the clients and runs them.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::admin::ADMIN_KEY;
use common::claude::claude_command;
use common::keys::*;
use common::*;
use serde_json::json;

fn keyed_gateway(mock: &MockUpstream) -> Gateway {
    start_gateway(&[
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("PASS_API_KEY", "!PASSTHRU"),
        ("PASS_BASE_URL", &mock.url),
        ("PASS_API_FORMAT", "anthropic"),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("WORKERS", "2"),
    ])
}

/// Sends requests with `secret` until one is refused with `status`; returns how many were admitted.
async fn use_up(url: &str, secret: &str, model: &str, status: u16) -> usize {
    for admitted in 0..50 {
        let answer = keyed(url, secret, model).await;
        if answer.status == status {
            return admitted;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    panic!("never refused with {status}");
}

/// `gatehouse_key_refusals_total` for key `name` and `reason`, from `/metrics`.
async fn refusals(url: &str, name: &str, reason: &str) -> u64 {
    let mut res = client().get(format!("{url}/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().limit(1 << 22).await.unwrap().to_vec()).unwrap();
    let labels = [format!("key=\"{name}\""), format!("reason=\"{reason}\"")];
    text.lines()
        .filter(|l| l.starts_with("gatehouse_key_refusals_total{") && labels.iter().all(|p| l.contains(p.as_str())))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

fn home(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("gatehouse-claude-keys-{}-{name}", std::process::id()))
}

/// Runs Claude Code with `env` on top of [`claude_command`]'s; its exit status, output and duration.
fn claude(url: &str, model: &str, prompt: &str, name: &str, env: &[(&str, &str)]) -> (bool, String, Duration) {
    let mut command: Command = claude_command(url, model, prompt, &home(name));
    for (k, v) in env {
        command.env(k, v);
    }
    let started = Instant::now();
    let out = command.output().expect("claude runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("claude ({name}, {:?}):\n{text}", started.elapsed());
    (out.status.success(), text, started.elapsed())
}

#[actix_rt::test]
#[ignore = "needs the anthropic Python SDK (pip install anthropic); run by .ci/suites/sdk.sh"]
async fn anthropic_python_sdk_with_virtual_keys() {
    let mock = start_mock();
    let gw = keyed_gateway(&mock);
    let url = gw.url.as_str();
    let (_, open) = create_key(url, json!({"name": "sdk-open"})).await;
    let (_, rpm_one) = create_key(url, json!({"name": "sdk-rpm", "rpm": 1})).await;
    let (_, spent) = create_key(url, json!({"name": "sdk-budget", "budget_usd": 0.0015, "budget_period": "day"})).await;
    assert!(use_up(url, &spent, "mock:claude-sonnet-4-5", 402).await >= 1);

    let script = format!("{}/tests/sdk/keys_sdk_check.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3").args([&script, url, &open, &rpm_one, &spent]).output().expect("python3 runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "keys_sdk_check.py failed:\n{text}");
    for request in mock.requests() {
        assert_eq!(request.header("x-api-key"), Some("provider-key"), "no virtual key goes upstream");
        assert!(request.header("authorization").is_none() && request.header("x-gatehouse-key").is_none());
    }
    assert_eq!(refusals(url, "sdk-budget", "budget").await, 2, "one refusal while spending, one for the SDK");
}

#[actix_rt::test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/sdk.sh"]
async fn claude_code_with_a_virtual_key_in_either_header() {
    let mock = start_mock();
    let gw = keyed_gateway(&mock);
    let url = gw.url.as_str();
    let (_, secret) = create_key(url, json!({"name": "cc-team-member", "models": ["mock:*", "pass:script"]})).await;

    let (ok, text, _) = claude(url, "mock:script", "Say the magic word.", "api-key", &[("ANTHROPIC_API_KEY", &secret)]);
    assert!(ok && text.contains("MAGIC-42"), "the key as ANTHROPIC_API_KEY: {text}");
    let custom = format!("x-gatehouse-key: {secret}");
    let env = [("ANTHROPIC_API_KEY", "sk-ant-own-key"), ("ANTHROPIC_CUSTOM_HEADERS", custom.as_str())];
    let (ok, text, _) = claude(url, "pass:script", "Please use the tool to print a marker.", "custom-header", &env);
    assert!(ok && text.contains("The tool said: tool-ran-ok"), "the key in x-gatehouse-key: {text}");

    let requests = mock.requests();
    let own: Vec<_> =
        requests.iter().filter(|r| r.json()["model"] == "script").map(|r| r.header("x-api-key")).collect();
    assert!(own.contains(&Some("provider-key")) && own.contains(&Some("sk-ant-own-key")), "{own:?}");
    assert!(requests.iter().all(|r| !format!("{:?}", r.headers).contains("gh_")), "no virtual key went upstream");

    let (ok, text, _) =
        claude(url, "pass:other-model", "Say the magic word.", "forbidden", &[("ANTHROPIC_API_KEY", &secret)]);
    assert!(!ok || text.contains("may not use model"), "a model outside the key's list is refused: {text}");
    assert!(text.contains("may not use model"), "{text}");
}

#[actix_rt::test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/sdk.sh"]
async fn claude_code_waits_out_its_rpm_and_stops_at_once_on_a_spent_budget() {
    let mock = start_mock();
    let gw = keyed_gateway(&mock);
    let url = gw.url.as_str();

    let (_, limited) = create_key(url, json!({"name": "cc-rpm", "rpm": 4})).await;
    assert_eq!(use_up(url, &limited, "mock:script", 429).await, 4);
    let env = [("ANTHROPIC_API_KEY", limited.as_str())];
    let (ok, text, took) = claude(url, "mock:script", "Say the magic word.", "rpm", &env);
    assert!(ok && text.contains("MAGIC-42"), "Claude Code carried on once the minute freed: {text}");
    assert!(took > Duration::from_secs(30), "it waited per retry-after ({took:?})");
    let refused = refusals(url, "cc-rpm", "rpm").await;
    assert!((2..=6).contains(&refused), "no tight retry loop: {refused} refusals (1 while filling the window)");

    let (_, spent) = create_key(url, json!({"name": "cc-budget", "budget_usd": 0.0015})).await;
    use_up(url, &spent, "mock:claude-sonnet-4-5", 402).await;
    let env = [("ANTHROPIC_API_KEY", spent.as_str())];
    let (_, text, took) = claude(url, "mock:claude-sonnet-4-5", "Say the magic word.", "budget", &env);
    assert!(text.contains("budget of virtual key 'cc-budget' is spent"), "the message is shown: {text}");
    assert!(took < Duration::from_secs(30), "it stopped at once ({took:?})");
    let refused = refusals(url, "cc-budget", "budget").await;
    assert!(refused <= 3, "no retries after a 402 with x-should-retry: false: {refused} refusals");
}
