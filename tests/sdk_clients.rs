//! The official client SDKs against a real gatehouse. Ignored by default (they need Python packages);
//! `.ci/suites/sdk.sh` installs the SDKs and runs them with `--ignored`.

mod common;

use std::process::Command;

use common::claude::claude_command;
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

/// Runs `claude -p` against the gateway, offline, and returns its output.
fn run_claude(gateway: &Gateway, model: &str, prompt: &str) -> String {
    let home =
        std::env::temp_dir().join(format!("gatehouse-claude-home-{}-{}", std::process::id(), model.replace(':', "-")));
    run_claude_in(gateway, model, prompt, &home)
}

/// [`run_claude`] with `home` as its home and working directory.
fn run_claude_in(gateway: &Gateway, model: &str, prompt: &str, home: &std::path::Path) -> String {
    let out = claude_command(&gateway.url, model, prompt, home).output().expect("claude runs");
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

/// The base64 the conversion check script sends as its PDF (tests/sdk/conversion_sdk_check.py).
const SDK_PDF_PREFIX: &str = "data:application/pdf;base64,JVBERi0xLjQK";

/// Issue 20 end to end: a PDF document and `output_config` from the anthropic SDK reach an OpenAI-format provider
/// as a `file` part and a `response_format`; the openai SDK's `.parse()` reaches an Anthropic-format provider as
/// `output_config.format` and gets its Pydantic model back; what cannot be converted is a 400 naming the field.
#[test]
#[ignore = "needs the anthropic and openai Python SDKs (pip install anthropic openai); run by .ci/suites/sdk.sh"]
fn sdks_documents_and_structured_outputs_through_both_conversions() {
    let mock = start_mock();
    let gw = two_format_gateway(&mock);
    run_python("conversion_sdk_check.py", &gw);
    let requests = mock.requests();
    let chat = |model: &str| {
        requests
            .iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .map(|r| r.json())
            .find(|b| b["model"] == model)
    };
    let pdf = chat("fixture-text").expect("the PDF request reached the OpenAI-format mock");
    let parts = pdf["messages"][0]["content"].as_array().expect("content parts");
    assert_eq!(parts[0]["type"], "file", "{pdf}");
    assert_eq!(parts[0]["file"]["filename"], "invoice.pdf");
    assert!(parts[0]["file"]["file_data"].as_str().unwrap().starts_with(SDK_PDF_PREFIX));
    let structured = chat("fixture-i04_structured_output").expect("the output_config request reached the mock");
    assert_eq!(structured["response_format"]["type"], "json_schema");
    assert_eq!(structured["response_format"]["json_schema"]["strict"], true);
    assert_eq!(structured["response_format"]["json_schema"]["schema"]["required"], serde_json::json!(["title"]));
    let parsed = requests
        .iter()
        .filter(|r| r.path.ends_with("/v1/messages"))
        .map(|r| r.json())
        .find(|b| b["model"] == "fixture-i11_structured_output")
        .expect("the .parse() request reached the Anthropic-format mock");
    let format = &parsed["output_config"]["format"];
    assert_eq!(format["type"], "json_schema", "{parsed}");
    assert_eq!(format["schema"]["required"], serde_json::json!(["name", "date", "participants"]));
    assert!(parsed.get("response_format").is_none());
    assert!(
        chat("fixture-text").is_some()
            && requests.iter().all(|r| !String::from_utf8_lossy(&r.body).contains("web_fetch"))
    );
}

/// A minimal one-page PDF for Claude Code to read.
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// Claude Code reads a PDF with its Read tool (print mode) through an OpenAI-format provider: the tool result
/// and the PDF Claude Code attaches to it reach the provider, the PDF as a `file` part.
#[test]
#[ignore = "needs Claude Code (npm @anthropic-ai/claude-code); run by .ci/suites/sdk.sh"]
fn claude_code_reads_a_pdf_through_an_openai_format_provider() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("OAI_API_KEY", "sk-provider"),
        ("OAI_BASE_URL", &format!("{}/v1", mock.url)),
        ("DEFAULT_PROVIDER", "oai"),
        ("WORKERS", "2"),
    ]);
    let home = std::env::temp_dir().join(format!("gatehouse-claude-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let pdf_path = home.join("report.pdf");
    std::fs::write(&pdf_path, PDF).unwrap();
    let prompt = format!("{}{} and tell me what it says.", common::READ_PDF_MARKER, pdf_path.display());
    let answer = run_claude_in(&gw, "oai:script", &prompt, &home);
    let sent: Vec<serde_json::Value> =
        mock.requests().iter().filter(|r| r.path.ends_with("/chat/completions")).map(|r| r.json()).collect();
    let file_parts: Vec<&serde_json::Value> = sent
        .iter()
        .flat_map(|b| b["messages"].as_array().into_iter().flatten())
        .flat_map(|m| m["content"].as_array().into_iter().flatten())
        .filter(|p| p["type"] == "file")
        .collect();
    assert!(!file_parts.is_empty(), "the PDF reached the provider as a file part; answer: {answer}");
    assert!(file_parts[0]["file"]["file_data"]
        .as_str()
        .unwrap()
        .starts_with("data:application/pdf;base64,JVBERi0xLjQK"));
    let tool_message = sent
        .iter()
        .flat_map(|b| b["messages"].as_array().into_iter().flatten())
        .any(|m| m["role"] == "tool" && m["tool_call_id"] == "call_mock_read");
    assert!(tool_message, "the Read result came back as a tool message");
    assert!(answer.contains("PDF-RECEIVED"), "{answer}");
}
