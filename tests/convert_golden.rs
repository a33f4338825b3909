//! Golden tests: real-shaped upstream bodies in `tests/fixtures/`, each with
//! the exact expected conversion beside it. `UPDATE_GOLDEN=1 cargo test
//! --test convert_golden` rewrites the expected files (review the diff!).
//!
//! A fixture may have a `<name>.options.json` beside it: `{"model", "options"
//! (ConvertOptions), "session_id"}` for requests, `{"input_estimate"}` for
//! streams. Fixtures named `iNN_…` are the cases of issue 20's item NN.

#[path = "support/invariants.rs"]
mod invariants;

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use gatehouse::convert::StreamConvert;
use gatehouse::convert::{
    parse_request, to_anthropic, to_openai_with, Completion, ConvertOptions, RequestContext, StreamConverter, ToolNames,
};
use serde_json::{json, Value};

/// Fixed so the output is deterministic.
pub const MESSAGE_ID: &str = "msg_golden";
pub const REQUESTED_MODEL: &str = "claude-sonnet-4-5";
/// Client tool names whose upstream names the fixtures use (rewritten ones
/// included), as `to_openai` would have registered them for the request.
pub const CLIENT_TOOL_NAMES: &[&str] = &[
    "get_weather",
    "Read",
    "Bash",
    "mcp__filesystem.read_file",
    "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_that_exceeds_limits",
];

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Input fixtures of a directory: files ending in `ext` but not `.expected.*`.
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
    check_json_with(expected, actual, |v| v)
}

/// Compares `normalize`d values; writes the actual value as it is.
fn check_json_with(expected: &Path, actual: &Value, normalize: fn(Value) -> Value) -> Result<(), String> {
    if updating() {
        fs::write(expected, serde_json::to_string_pretty(actual).unwrap() + "\n").unwrap();
        return Ok(());
    }
    let text = fs::read_to_string(expected).map_err(|e| format!("{}: {e}", expected.display()))?;
    let want: Value = serde_json::from_str(&text).unwrap();
    if normalize(want.clone()) == normalize(actual.clone()) {
        Ok(())
    } else {
        Err(format!("{} differs:\n--- expected\n{want:#}\n--- actual\n{actual:#}", expected.display()))
    }
}

pub fn tool_names() -> ToolNames {
    let mut names = ToolNames::new(true);
    for name in CLIENT_TOOL_NAMES {
        names.register(name).unwrap();
    }
    names
}

/// The fixture's `.options.json`, or `{}`.
fn sidecar(input: &Path) -> Value {
    let path = expected_path(input, ".options.json");
    fs::read(&path).map_or(json!({}), |bytes| serde_json::from_slice(&bytes).unwrap())
}

/// Converts `input` pushed in chunks of `chunk_size` bytes (0: all at once).
pub fn convert_stream(input: &[u8], chunk_size: usize) -> Vec<u8> {
    convert_stream_with(input, chunk_size, 0)
}

/// [`convert_stream`] with an input estimate for `message_start` (0: none).
pub fn convert_stream_with(input: &[u8], chunk_size: usize, input_estimate: u64) -> Vec<u8> {
    let mut converter = StreamConverter::new(REQUESTED_MODEL.into(), MESSAGE_ID.into(), tool_names())
        .with_input_estimate(input_estimate);
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
    run_all(inputs("openai_streams", ".sse"), |input| {
        let bytes = fs::read(input).unwrap();
        let estimate = sidecar(input)["input_estimate"].as_u64().unwrap_or(0);
        let whole = convert_stream_with(&bytes, 0, estimate);
        for size in [1, 2, 7, 64] {
            if convert_stream_with(&bytes, size, estimate) != whole {
                return Err(format!("{}: output depends on chunking ({size})", input.display()));
            }
        }
        invariants::check_anthropic_stream(&whole).map_err(|e| format!("{}: {e}", input.display()))?;
        check_text(&expected_path(input, ".expected.sse"), &String::from_utf8(whole).unwrap())
    });
}

#[test]
fn response_fixtures() {
    run_all(inputs("openai_responses", ".json"), |input| {
        let body = fs::read(input).unwrap();
        let converted = Completion::parse(&body).and_then(|c| to_anthropic(&c, REQUESTED_MODEL, &tool_names()));
        let actual = match converted {
            Ok((message, usage)) => {
                let message: Value = serde_json::from_slice(&message).unwrap();
                assert_eq!(message["usage"]["output_tokens"], usage.output_tokens);
                message
            }
            Err(e) => {
                json!({"convert_error": {"type": e.error_type(), "path": e.path(), "message": e.message()}})
            }
        };
        check_json(&expected_path(input, ".expected.json"), &actual)
    });
}

/// Request fixtures are converted for model `upstream-model` on a provider that accepts `reasoning_effort`,
/// unless their `.options.json` says otherwise.
#[test]
fn request_fixtures() {
    run_all(inputs("requests", ".json"), |input| {
        let body = fs::read(input).unwrap();
        let settings = sidecar(input);
        let opts: ConvertOptions = match settings.get("options") {
            Some(options) => serde_json::from_value(options.clone()).unwrap(),
            None => ConvertOptions { reasoning_effort: Some(true), ..ConvertOptions::default() },
        };
        let model = settings["model"].as_str().unwrap_or("upstream-model");
        let ctx = RequestContext { session_id: settings["session_id"].as_str() };
        let converted = parse_request(&body).and_then(|tree| {
            let (openai, _names) = to_openai_with(&tree, model, &opts, &ctx)?;
            Ok(serde_json::from_slice::<Value>(&serde_json::to_vec(&openai).unwrap()).unwrap())
        });
        let actual = match converted {
            Ok(openai) => openai,
            Err(e) => {
                json!({"convert_error": {"type": e.error_type(), "path": e.path(), "message": e.message()}})
            }
        };
        check_json_with(&expected_path(input, ".expected.openai.json"), &actual, parse_tool_arguments)
    });
}

/// Tool-call arguments are JSON text whose key order depends on serde_json's
/// `preserve_order` feature; compare them as values.
fn parse_tool_arguments(mut openai: Value) -> Value {
    let messages = openai.get_mut("messages").and_then(Value::as_array_mut);
    let calls = messages.into_iter().flatten().filter_map(|m| m.get_mut("tool_calls"));
    for call in calls.filter_map(Value::as_array_mut).flatten() {
        let arguments = &mut call["function"]["arguments"];
        if let Some(text) = arguments.as_str() {
            *arguments = serde_json::from_str(text).unwrap();
        }
    }
    openai
}
