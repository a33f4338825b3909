//! Golden tests of the inbound conversion (OpenAI clients ⇄ Anthropic-format providers): real-shaped bodies in
//! `tests/fixtures/{anthropic_streams,anthropic_responses,chat_requests}/`, each with the exact expected
//! conversion beside it. `UPDATE_GOLDEN=1 cargo test --test inbound_golden` rewrites the expected files (review
//! the diff!). A request fixture may have a `<name>.options.json` (`{"model"}`); fixtures named `iNN_…` are the
//! cases of issue 20's item NN.

#[path = "support/openai_invariants.rs"]
mod openai_invariants;

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use gatehouse::convert::inbound::{to_anthropic_request, to_chat_completion, ChatStreamConverter};
use gatehouse::convert::StreamConvert;
use serde_json::{json, Value};

/// Fixed so the output is deterministic.
pub const CREATED: u64 = 1_700_000_000;
pub const REQUESTED_MODEL: &str = "anthropic:claude-sonnet-4-5";

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn inputs(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(fixture_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(ext) && !name.contains(".expected.") && !name.contains(".options.")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {dir}");
    files
}

fn expected_path(input: &Path, suffix: &str) -> PathBuf {
    let stem = input.file_name().unwrap().to_string_lossy();
    let stem = stem.split('.').next().unwrap();
    input.with_file_name(format!("{stem}{suffix}"))
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some()
}

fn check_text(expected: &Path, actual: &str) -> Result<(), String> {
    if updating() {
        fs::write(expected, actual).unwrap();
        return Ok(());
    }
    let want = fs::read_to_string(expected).map_err(|e| format!("{}: {e}", expected.display()))?;
    if want == actual {
        Ok(())
    } else {
        Err(format!("{} differs:\n--- expected\n{want}\n--- actual\n{actual}", expected.display()))
    }
}

fn check_json(expected: &Path, actual: &Value) -> Result<(), String> {
    if updating() {
        fs::write(expected, serde_json::to_string_pretty(actual).unwrap() + "\n").unwrap();
        return Ok(());
    }
    let text = fs::read_to_string(expected).map_err(|e| format!("{}: {e}", expected.display()))?;
    let want: Value = serde_json::from_str(&text).unwrap();
    if want == *actual {
        Ok(())
    } else {
        Err(format!("{} differs:\n--- expected\n{want:#}\n--- actual\n{actual:#}", expected.display()))
    }
}

/// Converts `input` pushed in chunks of `chunk_size` bytes (0: all at once).
pub fn convert_stream(input: &[u8], chunk_size: usize, include_usage: bool) -> Vec<u8> {
    let mut converter = ChatStreamConverter::new(REQUESTED_MODEL.into(), CREATED, include_usage);
    let mut out = BytesMut::new();
    if chunk_size == 0 {
        converter.push(input, &mut out);
    } else {
        for chunk in input.chunks(chunk_size) {
            converter.push(chunk, &mut out);
        }
    }
    converter.finish(&mut out);
    assert!(converter.is_finished());
    out.to_vec()
}

fn run_all(cases: Vec<PathBuf>, check: impl Fn(&Path) -> Result<(), String>) {
    let failures: Vec<String> = cases.iter().filter_map(|p| check(p).err()).collect();
    assert!(failures.is_empty(), "{} golden case(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn stream_fixtures() {
    run_all(inputs("anthropic_streams", ".sse"), |input| {
        let bytes = fs::read(input).unwrap();
        let whole = convert_stream(&bytes, 0, true);
        for size in [1, 2, 7, 64] {
            if convert_stream(&bytes, size, true) != whole {
                return Err(format!("{}: output depends on chunking ({size})", input.display()));
            }
        }
        for (out, label) in [(&whole, "with usage"), (&convert_stream(&bytes, 0, false), "without usage")] {
            let collected = openai_invariants::check_openai_stream(out)
                .map_err(|e| format!("{} ({label}): {e}", input.display()))?;
            if collected.error.is_none() && (label == "without usage") == collected.usage.is_some() {
                return Err(format!("{} ({label}): usage chunk presence is wrong", input.display()));
            }
        }
        check_text(&expected_path(input, ".expected.openai.sse"), &String::from_utf8(whole).unwrap())
    });
}

#[test]
fn response_fixtures() {
    run_all(inputs("anthropic_responses", ".json"), |input| {
        let body: Value = serde_json::from_slice(&fs::read(input).unwrap()).unwrap();
        let actual = match to_chat_completion(&body, REQUESTED_MODEL, CREATED) {
            Ok((completion, usage)) => {
                assert_eq!(completion["usage"]["completion_tokens"], usage.output_tokens);
                completion
            }
            Err(e) => json!({"convert_error": {"type": e.error_type(), "path": e.path(), "message": e.message()}}),
        };
        check_json(&expected_path(input, ".expected.openai.json"), &actual)
    });
}

#[test]
fn request_fixtures() {
    run_all(inputs("chat_requests", ".json"), |input| {
        let body: Value = serde_json::from_slice(&fs::read(input).unwrap()).unwrap();
        // `<name>.options.json` may name the upstream model (the thinking style depends on it).
        let options =
            fs::read(expected_path(input, ".options.json")).map_or(json!({}), |b| serde_json::from_slice(&b).unwrap());
        let model = options["model"].as_str().unwrap_or("claude-upstream");
        let actual = match to_anthropic_request(&body, model) {
            Ok(request) => {
                json!({"stream": request.stream, "include_usage": request.include_usage, "body": request.body})
            }
            Err(e) => json!({"convert_error": {"type": e.error_type(), "path": e.path(), "message": e.message()}}),
        };
        check_json(&expected_path(input, ".expected.anthropic.json"), &actual)
    });
}

/// The converted tool stream carries exactly the inputs the non-streaming fixture has.
#[test]
fn streamed_tool_arguments_equal_the_message_inputs() {
    let stream = fs::read(fixture_dir("anthropic_streams").join("tool_use.sse")).unwrap();
    let collected = openai_invariants::check_openai_stream(&convert_stream(&stream, 3, false)).unwrap();
    let args: Vec<Value> = collected.tool_calls.iter().map(|(_, _, a)| serde_json::from_str(a).unwrap()).collect();
    assert_eq!(args, [json!({"location": "Paris, France"}), json!({"location": "Tokyo, Japan", "unit": "celsius"})]);
    assert_eq!(collected.content, "Let me check the weather:");
    assert_eq!(collected.finish_reason.as_deref(), Some("tool_calls"));
}
