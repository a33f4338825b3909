//! Non-streaming OpenAI chat completion → Anthropic message (wire-formats §7),
//! plus the small readers of OpenAI message fields that the stream shares.

use std::borrow::Cow;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::completion::{Completion, ToolCall};
use super::errors::ConvertError;
use super::ids;
use super::tool_names::ToolNames;
use super::usage::Usage;

/// Key under which tool arguments that are not a JSON object are kept, so a
/// malformed call reaches the client (and its error handling) instead of
/// silently turning into an empty input.
pub const RAW_ARGUMENTS_KEY: &str = "_raw_arguments";

/// Converts an OpenAI chat completion ([`Completion::parse`]) into the JSON
/// of an Anthropic message; `Usage` is returned separately for metrics.
///
/// The id is the upstream id prefixed with `msg_`; the model is the one the
/// client asked for. Written straight from the borrowed completion: no tree
/// is built on either side.
pub fn to_anthropic(
    completion: &Completion<'_>,
    requested_model: &str,
    names: &ToolNames,
) -> Result<(Vec<u8>, Usage), ConvertError> {
    let choice = completion
        .choices
        .get()
        .and_then(|first| first.0.as_ref())
        .ok_or_else(|| ConvertError::invalid_upstream("choices", "upstream response has no choices"))?;
    let message = choice
        .message
        .get()
        .ok_or_else(|| ConvertError::invalid_upstream("choices[0].message", "missing message object"))?;

    let id = ids::message_id_from_upstream(completion.id.as_str());
    let mut content = Vec::with_capacity(2);
    if let Some(thinking) = message.reasoning_text() {
        content.push(Block::Thinking { thinking, signature: "" });
    }
    let text = message.text();
    if !text.is_empty() {
        content.push(Block::Text { text });
    }
    let refusal = message.refusal();
    if let Some(refusal) = refusal {
        content.push(Block::Text { text: Cow::Borrowed(refusal) });
    }
    for call in message.tool_calls() {
        if let Some(block) = tool_use_block(call, &id, content.len(), names) {
            content.push(block);
        }
    }
    let has_tool_use = content.iter().any(|b| matches!(b, Block::ToolUse { .. }));
    let usage = completion.usage.get().map(Usage::from).unwrap_or_default();
    let anthropic = AnthropicMessage {
        id: &id,
        kind: "message",
        role: "assistant",
        model: requested_model,
        content,
        stop_reason: stop_reason(choice.finish_reason.as_str(), has_tool_use, refusal.is_some()),
        stop_sequence: None,
        usage,
    };
    let bytes = serde_json::to_vec(&anthropic)
        .map_err(|e| ConvertError::invalid_upstream("body", format!("cannot write the converted message: {e}")))?;
    Ok((bytes, usage))
}

/// An Anthropic message, in the member order Anthropic writes.
#[derive(Serialize)]
struct AnthropicMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: Usage,
}

/// One content block: thinking → text → tool_use, the order Anthropic itself uses.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Thinking { thinking: &'a str, signature: &'static str },
    Text { text: Cow<'a, str> },
    ToolUse { id: Cow<'a, str>, name: &'a str, input: ToolInput<'a> },
}

/// A call without a function name cannot be represented and is skipped.
fn tool_use_block<'a>(
    call: &'a ToolCall<'_>,
    message_id: &str,
    index: usize,
    names: &'a ToolNames,
) -> Option<Block<'a>> {
    let function = call.function.get()?;
    let name = function.name.as_str().filter(|n| !n.is_empty())?;
    let id = match call.id.as_str() {
        Some(id) if !id.is_empty() => Cow::Borrowed(id),
        _ => Cow::Owned(ids::tool_use_id(message_id, index)),
    };
    Some(Block::ToolUse { id, name: names.restore(name), input: ToolInput::read(function.arguments) })
}

/// A tool call's `input` object, from its `arguments`.
enum ToolInput<'a> {
    /// `""`, `"null"`, `null` or absent.
    Empty,
    /// An object the provider sent as one.
    Object(&'a RawValue),
    /// The object in an arguments string, as the model wrote it.
    Text(Box<RawValue>),
    /// Arguments that are not a JSON object, kept under [`RAW_ARGUMENTS_KEY`].
    Raw(String),
}

impl<'a> ToolInput<'a> {
    fn read(arguments: Option<&'a RawValue>) -> Self {
        let Some(raw) = arguments else { return ToolInput::Empty };
        match raw.get().as_bytes().first() {
            Some(b'{') => return ToolInput::Object(raw),
            Some(b'"') => {}
            _ if raw.get() == "null" => return ToolInput::Empty,
            // A number, boolean or array: its text as the provider wrote it.
            _ => return ToolInput::Raw(raw.get().to_string()),
        }
        let Ok(text) = serde_json::from_str::<Cow<str>>(raw.get()) else { return ToolInput::Empty };
        match arguments_text(&text) {
            ArgumentsText::Empty => ToolInput::Empty,
            ArgumentsText::Object(object) => ToolInput::Text(object.to_owned()),
            ArgumentsText::Other => ToolInput::Raw(text.into_owned()),
        }
    }
}

impl Serialize for ToolInput<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolInput::Empty => serializer.serialize_map(Some(0))?.end(),
            ToolInput::Object(raw) => raw.serialize(serializer),
            ToolInput::Text(raw) => raw.serialize(serializer),
            ToolInput::Raw(text) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(RAW_ARGUMENTS_KEY, text)?;
                map.end()
            }
        }
    }
}

/// How an `arguments` string reads.
enum ArgumentsText<'s> {
    /// Blank, or `null`: no arguments.
    Empty,
    /// A JSON object.
    Object(&'s RawValue),
    /// Anything else: kept as text.
    Other,
}

fn arguments_text(text: &str) -> ArgumentsText<'_> {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(raw) if raw.get().starts_with('{') => ArgumentsText::Object(raw),
        Ok(raw) if raw.get() == "null" => ArgumentsText::Empty,
        _ if text.trim().is_empty() => ArgumentsText::Empty,
        _ => ArgumentsText::Other,
    }
}

/// Tool arguments from a parsed tree (the OpenAI-client direction) as an
/// input object, by the same rules as the Anthropic answer's: `""`, `"null"`
/// and absent mean `{}`; a string that is not a JSON object is kept under
/// [`RAW_ARGUMENTS_KEY`].
pub fn parse_arguments(arguments: Option<&Value>) -> Value {
    let raw = match arguments {
        None | Some(Value::Null) => return Value::Object(Map::new()),
        Some(Value::Object(obj)) => return Value::Object(obj.clone()),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return raw_arguments(other.to_string()),
    };
    match arguments_text(raw) {
        ArgumentsText::Empty => Value::Object(Map::new()),
        ArgumentsText::Object(object) => serde_json::from_str(object.get()).unwrap_or_default(),
        ArgumentsText::Other => raw_arguments(raw.to_string()),
    }
}

fn raw_arguments(raw: String) -> Value {
    let mut obj = Map::new();
    obj.insert(RAW_ARGUMENTS_KEY.to_string(), Value::String(raw));
    Value::Object(obj)
}

/// The reasoning text of a message or delta: `reasoning_content` (DeepSeek,
/// vLLM, SGLang) or `reasoning` (OpenRouter-style); empty counts as absent.
pub(crate) fn reasoning_text(message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .filter_map(|key| message.get(*key).and_then(Value::as_str))
        .find(|s| !s.is_empty())
}

/// Anthropic `stop_reason` for an OpenAI `finish_reason`. A refusal (OpenAI's
/// `refusal` member) is `refusal`, as is a content filter. Some providers
/// (vLLM, Ollama) say `stop` after tool calls; clients decide whether to run
/// tools on `tool_use`, so a response with tool calls ends in `tool_use`
/// unless it was cut by the token limit or refused.
pub(crate) fn stop_reason(finish_reason: Option<&str>, has_tool_use: bool, refused: bool) -> &'static str {
    match finish_reason {
        _ if refused => "refusal",
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        Some("tool_calls") | Some("function_call") => "tool_use",
        _ if has_tool_use => "tool_use",
        _ => "end_turn",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// serde_json's default float parser can land one unit in the last place off; a converted body read into a
    /// tree and written out again would then change a number on the wire. The `float_roundtrip` feature reads
    /// every float exactly.
    #[test]
    fn floats_read_into_a_tree_are_written_out_unchanged() {
        for text in ["-1.6901088462779225e289", "2.2421637447784514e-128", "0.1", "1e308"] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(value.to_string().parse::<f64>().unwrap(), text.parse::<f64>().unwrap(), "{text}");
        }
    }

    fn try_convert(body: &Value) -> Result<Value, ConvertError> {
        let bytes = serde_json::to_vec(body).unwrap();
        let completion = Completion::parse(&bytes)?;
        let (out, usage) = to_anthropic(&completion, "claude-x", &ToolNames::default())?;
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["usage"]["input_tokens"], usage.input_tokens);
        Ok(out)
    }

    fn convert(body: Value) -> Value {
        try_convert(&body).unwrap()
    }

    /// The input of the one tool call of a converted answer whose `arguments` member is `arguments`.
    fn input(arguments: Value) -> Value {
        let out = convert(json!({"choices": [{"message": {"tool_calls": [
            {"id": "t", "function": {"name": "f", "arguments": arguments}}]}}]}));
        out["content"][0]["input"].clone()
    }

    #[test]
    fn arguments_edge_cases() {
        let cases = [
            (json!(""), json!({})),
            (json!("  "), json!({})),
            (json!("null"), json!({})),
            (json!(null), json!({})),
            (json!("{\"a\":1}"), json!({"a": 1})),
            (json!(" {\"a\": [1, {\"b\": null}]}\n"), json!({"a": [1, {"b": null}]})),
            (json!({"a": 1}), json!({"a": 1})),
            (json!("{\"a\":"), json!({"_raw_arguments": "{\"a\":"})),
            (json!("[1]"), json!({"_raw_arguments": "[1]"})),
            (json!(5), json!({"_raw_arguments": "5"})),
            (json!([1, 2]), json!({"_raw_arguments": "[1,2]"})),
        ];
        for (arguments, expected) in cases {
            assert_eq!(parse_arguments(Some(&arguments)), expected, "tree: {arguments}");
            assert_eq!(input(arguments.clone()), expected, "answer: {arguments}");
        }
        assert_eq!(parse_arguments(None), json!({}));
        let absent = convert(json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "f"}}]}}]}));
        assert_eq!(absent["content"][0]["input"], json!({}));
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(stop_reason(Some("stop"), false, false), "end_turn");
        assert_eq!(stop_reason(Some("stop"), true, false), "tool_use");
        assert_eq!(stop_reason(Some("length"), true, false), "max_tokens");
        assert_eq!(stop_reason(Some("tool_calls"), false, false), "tool_use");
        assert_eq!(stop_reason(Some("function_call"), false, false), "tool_use");
        assert_eq!(stop_reason(Some("content_filter"), false, false), "refusal");
        assert_eq!(stop_reason(Some("eos"), false, false), "end_turn");
        assert_eq!(stop_reason(None, false, false), "end_turn");
        assert_eq!(stop_reason(Some("stop"), false, true), "refusal");
        assert_eq!(stop_reason(Some("length"), true, true), "refusal");
    }

    #[test]
    fn error_in_200_body_is_an_error() {
        let err = try_convert(&json!({"error": {"message": "quota", "code": 429}})).unwrap_err();
        assert_eq!(err.error_type(), "rate_limit_error");
        assert_eq!(err.message(), "quota");
    }

    #[test]
    fn missing_choices_or_message_are_upstream_errors() {
        let bodies = [json!({}), json!({"choices": []}), json!({"choices": [{}]}), json!([1]), json!({"choices": 3})];
        for body in bodies {
            let err = try_convert(&body).unwrap_err();
            assert_eq!(err.error_type(), "api_error", "{body}");
        }
    }

    #[test]
    fn members_come_in_anthropic_order() {
        let bytes = br#"{"id":"x","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]}"#;
        let (out, _) = to_anthropic(&Completion::parse(bytes).unwrap(), "m", &ToolNames::default()).unwrap();
        let expected = concat!(
            r#"{"id":"msg_x","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],"#,
            r#""stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0,"#,
            r#""cache_creation_input_tokens":0,"cache_read_input_tokens":0}}"#
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn content_parts_refusal_and_generated_tool_ids() {
        let out = convert(json!({
            "id": "x1",
            "choices": [{"message": {"content": null, "tool_calls": [
                {"function": {"name": "f", "arguments": "{}"}}, {"id": "c2"}]}, "finish_reason": "stop"}]
        }));
        assert_eq!(out["content"][0]["id"], "toolu_x1_0");
        assert_eq!(out["content"].as_array().unwrap().len(), 1);
        assert_eq!(out["stop_reason"], "tool_use");
        let parts = convert(
            json!({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}),
        );
        assert_eq!(parts["content"][0]["text"], "ab");
        assert!(parts["id"].as_str().unwrap().starts_with("msg_"));
    }

    #[test]
    fn refusals_are_text_with_stop_reason_refusal() {
        let out = convert(json!({"choices": [{"message": {"content": null, "refusal": "I can't help with that"},
            "finish_reason": "stop"}]}));
        assert_eq!(out["content"], json!([{"type": "text", "text": "I can't help with that"}]));
        assert_eq!(out["stop_reason"], "refusal");
        let both = convert(json!({"choices": [{"message": {"content": "Partly: ", "refusal": "no more"},
            "finish_reason": "stop"}]}));
        assert_eq!(both["content"], json!([{"type": "text", "text": "Partly: "}, {"type": "text", "text": "no more"}]));
        assert_eq!(both["stop_reason"], "refusal");
    }
}
