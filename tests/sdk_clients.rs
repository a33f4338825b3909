//! The official client SDKs against a real gatehouse. Ignored by default (they need Python packages);
//! `.ci/suites/sdk.sh` installs the SDKs and runs them with `--ignored`.

mod common;

use std::process::Command;

use common::*;

fn run_python(script: &str, gateway: &Gateway) {
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3").arg(&path).arg(&gateway.url).output().expect("python3 runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "{script} failed:\n{text}");
}

fn two_format_gateway(mock: &MockUpstream) -> Gateway {
    let base = format!("{}/v1", mock.url);
    start_gateway(&[
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "sk-provider"),
        ("OAI_BASE_URL", &base),
        ("WORKERS", "2"),
    ])
}

#[test]
#[ignore = "needs the anthropic Python SDK (pip install anthropic); run by .ci/suites/sdk.sh"]
fn anthropic_python_sdk_create_stream_tools_errors() {
    let mock = start_mock();
    let gw = two_format_gateway(&mock);
    run_python("anthropic_sdk_check.py", &gw);
}

/// The Claude Code binary: `$CLAUDE_BIN`, else the npm install that `.ci/suites/sdk.sh` makes.
fn claude_binary() -> std::path::PathBuf {
    std::env::var_os("CLAUDE_BIN").map(Into::into).unwrap_or_else(|| "/opt/claude-code/node_modules/.bin/claude".into())
}

/// Runs `claude -p` against the gateway, offline, and returns its output.
fn run_claude(gateway: &Gateway, model: &str, prompt: &str) -> String {
    let home =
        std::env::temp_dir().join(format!("gatehouse-claude-home-{}-{}", std::process::id(), model.replace(':', "-")));
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(claude_binary())
        .args(["-p", prompt, "--model", model, "--allowedTools", "Bash(echo:*)"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("ANTHROPIC_BASE_URL", &gateway.url)
        .env("ANTHROPIC_API_KEY", "sk-ant-test-client")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .current_dir(&home)
        .output()
        .expect("claude runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("claude --model {model} -p {prompt:?}:\n{text}");
    assert!(out.status.success(), "claude failed: {text}");
    text
}

#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/sdk.sh"]
fn claude_code_plain_prompt_and_tool_turn_through_both_formats() {
    let mock = start_mock();
    let base = format!("{}/v1", mock.url);
    let gw = start_gateway(&[
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "sk-provider"),
        ("OAI_BASE_URL", &base),
        ("DEFAULT_PROVIDER", "mock"),
        ("WORKERS", "2"),
    ]);
    for model in ["mock:script", "oai:script"] {
        let answer = run_claude(&gw, model, "Say the magic word.");
        assert!(answer.contains("MAGIC-42"), "{model}: {answer}");
        let answer = run_claude(&gw, model, "Please use the tool to print a marker.");
        assert!(answer.contains("The tool said: tool-ran-ok"), "{model}: {answer}");
    }
    let saw_tool_result = mock.requests().iter().any(|r| {
        let body = String::from_utf8_lossy(&r.body);
        body.contains("tool-ran-ok") && body.contains("tool_result")
    });
    assert!(saw_tool_result, "Claude Code ran the tool and sent its result back through the gateway");
}

#[test]
#[ignore = "needs the openai Python SDK (pip install openai); run by .ci/suites/sdk.sh"]
fn openai_python_sdk_chat_completions_both_provider_formats() {
    let mock = start_mock();
    let gw = two_format_gateway(&mock);
    run_python("openai_sdk_check.py", &gw);
}
