//! OpenAI `messages` → Anthropic `system` and `messages`.
//!
//! - `system` and `developer` messages before the first turn join the top-level `system` (in order, `\n\n`);
//!   later ones stay where they are, as `system` turns (Anthropic takes system messages mid-conversation, which
//!   is how their position, and what they say about the turns around them, is kept).
//! - `user` content parts become blocks (see `content`).
//! - `assistant` text becomes a text block and each of `tool_calls` a `tool_use` block (arguments parsed; text
//!   that is not a JSON object is kept under `_raw_arguments`, as in the other direction); a legacy
//!   `function_call` becomes a `tool_use` with a generated id.
//! - `tool` messages (and legacy `function` messages) become `tool_result` blocks of a user turn.
//! - Consecutive turns of the same role are merged into one, and in a user turn the `tool_result` blocks come
//!   first (Anthropic requires it). Turns left without any block are dropped.

use serde_json::{json, Value};

use super::content::{text_block, text_parts, user_blocks};
use crate::convert::errors::ConvertError;
use crate::convert::response::parse_arguments;

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request(path, message)
}

/// Joins system texts.
const SYSTEM_JOINER: &str = "\n\n";

/// The converted conversation.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Conversation {
    /// Text blocks of the top-level `system` (empty: no system prompt).
    pub system: Vec<Value>,
    /// `{role, content: [blocks]}` turns, roles alternating.
    pub messages: Vec<Value>,
}

impl Conversation {
    /// Adds `text` at the end of the top-level system prompt.
    pub fn append_system(&mut self, text: &str) {
        match self.system.last_mut().and_then(|b| b.get_mut("text")) {
            Some(Value::String(existing)) => {
                existing.push_str(SYSTEM_JOINER);
                existing.push_str(text);
            }
            _ => self.system.push(text_block(text, None)),
        }
    }

    /// Whether the last assistant turn called tools (a tool-use loop is being continued).
    pub fn last_assistant_called_tools(&self) -> bool {
        let last = self.messages.iter().rev().find(|m| m["role"] == "assistant");
        last.and_then(|m| m["content"].as_array()).is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_use"))
    }
}

/// Converts `messages` (a non-empty array, checked by the caller).
pub(super) fn convert(messages: &[Value]) -> Result<Conversation, ConvertError> {
    let mut builder = Builder::default();
    for (i, message) in messages.iter().enumerate() {
        builder.message(message, &format!("messages[{i}]"))?;
    }
    let mut conversation = builder.finish();
    if conversation.messages.is_empty() {
        return Err(invalid("messages", "must contain at least one user or assistant message with content"));
    }
    if conversation.system.len() > 1 {
        let text: Vec<&str> = conversation.system.iter().filter_map(|b| b["text"].as_str()).collect();
        let cached = conversation.system.iter().rev().find_map(|b| b.get("cache_control").cloned());
        let mut block = json!({"type": "text", "text": text.join(SYSTEM_JOINER)});
        if let Some(cache_control) = cached {
            block["cache_control"] = cache_control;
        }
        conversation.system = vec![block];
    }
    Ok(conversation)
}

#[derive(Default)]
struct Builder {
    system: Vec<Value>,
    turns: Vec<(Role, Vec<Value>)>,
    /// Ids generated for legacy `function_call`s, by function name, for the `function` messages that answer them.
    legacy_calls: Vec<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
    /// A system message after the conversation began.
    System,
}

impl Builder {
    fn message(&mut self, message: &Value, path: &str) -> Result<(), ConvertError> {
        if !message.is_object() {
            return Err(invalid(path, "must be an object"));
        }
        let role = message.get("role").and_then(Value::as_str);
        let role = role.ok_or_else(|| invalid(format!("{path}.role"), "must be a string"))?;
        let content = message.get("content").unwrap_or(&Value::Null);
        let content_path = format!("{path}.content");
        match role {
            "system" | "developer" => {
                let blocks: Vec<Value> = text_parts(content, &content_path)?
                    .into_iter()
                    .filter(|(text, _)| !text.is_empty())
                    .map(|(text, part)| text_block(&text, part.as_ref()))
                    .collect();
                if self.turns.is_empty() {
                    self.system.extend(blocks);
                } else {
                    self.push(Role::System, blocks);
                }
            }
            "user" => {
                let blocks = user_blocks(content, &content_path)?;
                self.push(Role::User, blocks);
            }
            "assistant" => {
                let blocks = self.assistant(message, content, path)?;
                self.push(Role::Assistant, blocks);
            }
            "tool" => {
                let id = message.get("tool_call_id").and_then(Value::as_str);
                let id = id.ok_or_else(|| invalid(format!("{path}.tool_call_id"), "must be a string"))?;
                let result = tool_result(id, content, &content_path)?;
                self.push(Role::User, vec![result]);
            }
            "function" => {
                let name = message.get("name").and_then(Value::as_str).unwrap_or_default();
                let id = self.legacy_calls.iter().rev().find(|(n, _)| n == name).map(|(_, id)| id.clone());
                let id =
                    id.ok_or_else(|| invalid(format!("{path}.name"), "names no earlier assistant function_call"))?;
                let result = tool_result(&id, content, &content_path)?;
                self.push(Role::User, vec![result]);
            }
            other => {
                return Err(invalid(
                    format!("{path}.role"),
                    format!("unknown role {other:?}; expected system, developer, user, assistant or tool"),
                ))
            }
        }
        Ok(())
    }

    fn assistant(&mut self, message: &Value, content: &Value, path: &str) -> Result<Vec<Value>, ConvertError> {
        let mut blocks = Vec::new();
        let text: String = text_parts(content, &format!("{path}.content"))?.into_iter().map(|(t, _)| t).collect();
        if !text.is_empty() {
            blocks.push(text_block(&text, None));
        }
        match message.get("tool_calls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(calls)) => {
                for (j, call) in calls.iter().enumerate() {
                    blocks.push(tool_use(call, &format!("{path}.tool_calls[{j}]"))?);
                }
            }
            Some(_) => return Err(invalid(format!("{path}.tool_calls"), "must be an array")),
        }
        if let Some(call) = message.get("function_call").filter(|c| !c.is_null()) {
            let call_path = format!("{path}.function_call");
            let name = call.get("name").and_then(Value::as_str);
            let name = name.ok_or_else(|| invalid(format!("{call_path}.name"), "must be a string"))?;
            let id = format!("toolu_legacy_{}", self.legacy_calls.len());
            self.legacy_calls.push((name.to_string(), id.clone()));
            blocks.push(
                json!({"type": "tool_use", "id": id, "name": name, "input": parse_arguments(call.get("arguments"))}),
            );
        }
        Ok(blocks)
    }

    fn push(&mut self, role: Role, blocks: Vec<Value>) {
        if blocks.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => self.turns.push((role, blocks)),
        }
    }

    fn finish(self) -> Conversation {
        let messages = self
            .turns
            .into_iter()
            .map(|(role, mut blocks)| {
                let role = match role {
                    Role::User => {
                        // Stable: tool results first, everything else after, each in its order.
                        blocks.sort_by_key(|b| b["type"] != "tool_result");
                        "user"
                    }
                    Role::Assistant => "assistant",
                    Role::System => "system",
                };
                json!({"role": role, "content": blocks})
            })
            .collect();
        Conversation { system: self.system, messages }
    }
}

/// `{id, type:"function", function:{name, arguments}}` → `tool_use`.
fn tool_use(call: &Value, path: &str) -> Result<Value, ConvertError> {
    let id = call.get("id").and_then(Value::as_str).filter(|id| !id.is_empty());
    let id = id.ok_or_else(|| invalid(format!("{path}.id"), "must be a non-empty string"))?;
    let function = call.get("function").filter(|f| f.is_object());
    let function = function.ok_or_else(|| invalid(format!("{path}.function"), "must be an object"))?;
    let name = function.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
    let name = name.ok_or_else(|| invalid(format!("{path}.function.name"), "must be a non-empty string"))?;
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": parse_arguments(function.get("arguments"))}))
}

/// A `tool_result` block: text content as a string (parts joined), empty content left out.
fn tool_result(id: &str, content: &Value, path: &str) -> Result<Value, ConvertError> {
    let text: String = text_parts(content, path)?.into_iter().map(|(t, _)| t).collect::<Vec<_>>().join("\n");
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    if !text.is_empty() {
        block["content"] = json!(text);
    }
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(messages: Value) -> Conversation {
        convert(messages.as_array().unwrap()).unwrap()
    }

    #[test]
    fn leading_system_messages_join_the_system_prompt_and_later_ones_keep_their_place() {
        let mut c = conv(json!([
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": "use metric units"},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "developer", "content": [{"type": "text", "text": "now answer in French"}]},
            {"role": "user", "content": "weather?"},
        ]));
        assert_eq!(c.system, vec![json!({"type": "text", "text": "be brief\n\nuse metric units"})]);
        assert_eq!(
            c.messages,
            vec![
                json!({"role": "user", "content": [{"type": "text", "text": "hi"}]}),
                json!({"role": "assistant", "content": [{"type": "text", "text": "hello"}]}),
                json!({"role": "system", "content": [{"type": "text", "text": "now answer in French"}]}),
                json!({"role": "user", "content": [{"type": "text", "text": "weather?"}]}),
            ]
        );
        c.append_system("JSON only.");
        assert_eq!(c.system[0]["text"], "be brief\n\nuse metric units\n\nJSON only.");
        let mut bare = conv(json!([{"role": "user", "content": "x"}]));
        bare.append_system("JSON only.");
        assert_eq!(bare.system, vec![json!({"type": "text", "text": "JSON only."})]);
    }

    #[test]
    fn tool_calls_and_results_round_trip_with_merging() {
        let c = conv(json!([
            {"role": "user", "content": "weather in Paris and Tokyo?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "25C"}]},
            {"role": "user", "content": "thanks"},
        ]));
        assert_eq!(c.messages.len(), 3);
        assert_eq!(
            c.messages[1]["content"],
            json!([
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
            ])
        );
        assert_eq!(
            c.messages[2]["content"],
            json!([
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "25C"},
                {"type": "text", "text": "thanks"},
            ])
        );
        assert!(c.last_assistant_called_tools());
    }

    #[test]
    fn legacy_function_messages_pair_by_name() {
        let c = conv(json!([
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": "{\"a\":1}"}},
            {"role": "function", "name": "f", "content": "done"},
        ]));
        assert_eq!(c.messages[1]["content"][0]["id"], "toolu_legacy_0");
        assert_eq!(c.messages[2]["content"][0]["tool_use_id"], "toolu_legacy_0");
    }

    #[test]
    fn empty_turns_are_dropped_and_errors_name_the_path() {
        let c = conv(
            json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}, {"role": "user", "content": "b"}]),
        );
        assert_eq!(c.messages.len(), 1, "the empty assistant turn is dropped and the user turns merge");
        let err = |m: Value| convert(m.as_array().unwrap()).unwrap_err().to_string();
        assert!(err(json!([{"role": "system", "content": "only"}])).starts_with("messages:"));
        assert!(err(json!([{"role": "narrator", "content": "x"}])).starts_with("messages[0].role"));
        assert!(err(json!([{"role": "tool", "content": "x"}])).starts_with("messages[0].tool_call_id"));
        assert!(err(json!([{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]))
            .starts_with("messages[0].tool_calls[0].id"));
        assert!(err(json!([{"role": "function", "name": "f", "content": "x"}])).starts_with("messages[0].name"));
        assert!(err(json!([5])).starts_with("messages[0]"));
    }
}
