//! `system` and `messages`: turn by turn into OpenAI messages.

use serde_json::{json, Map, Value};

use super::content::{
    block_type, document_text, image_part, join_texts, required_str, text_part, tool_message, TEXT_JOINER,
};
use super::{field, invalid};
use crate::convert::errors::ConvertError;
use crate::convert::options::ConvertOptions;
use crate::convert::tool_names::ToolNames;

/// The OpenAI `messages`: the top-level `system` first, then every turn.
pub(super) fn convert(
    body: &Map<String, Value>,
    names: &ToolNames,
    opts: &ConvertOptions,
) -> Result<Vec<Value>, ConvertError> {
    let mut out = Vec::new();
    if let Some(system) = field(body, "system") {
        push_system(system, "system", &mut out)?;
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages", "must be a non-empty array"))?;
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        convert_message(message, &path, names, opts, &mut out)?;
    }
    Ok(out)
}

fn convert_message(
    message: &Value,
    path: &str,
    names: &ToolNames,
    opts: &ConvertOptions,
    out: &mut Vec<Value>,
) -> Result<(), ConvertError> {
    if !message.is_object() {
        return Err(invalid(path, "must be an object"));
    }
    let role = required_str(message, "role", path)?;
    let content_path = format!("{path}.content");
    let content = message
        .get("content")
        .filter(|c| c.is_string() || c.is_array())
        .ok_or_else(|| invalid(&content_path, "must be a string or an array of content blocks"))?;
    match role {
        "user" => user_turn(content, &content_path, out),
        "assistant" => assistant_turn(content, &content_path, names, opts, out),
        // Claude Code's mid-conversation system messages keep their position.
        "system" => push_system(content, &content_path, out),
        other => {
            Err(invalid(format!("{path}.role"), format!("unknown role {other:?}; expected user, assistant or system")))
        }
    }
}

/// A system prompt (string or text blocks, joined) as a `system` message;
/// an empty one is left out.
fn push_system(system: &Value, path: &str, out: &mut Vec<Value>) -> Result<(), ConvertError> {
    let text = match system {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => {
            for (j, block) in blocks.iter().enumerate() {
                let block_path = format!("{path}[{j}]");
                if block_type(block, &block_path)? == "text" {
                    required_str(block, "text", &block_path)?;
                }
            }
            join_texts(blocks)
        }
        _ => return Err(invalid(path, "must be a string or an array of text blocks")),
    };
    if !text.is_empty() {
        out.push(json!({"role": "system", "content": text}));
    }
    Ok(())
}

/// Tool results first (OpenAI wants `tool` messages right after the
/// assistant's calls), then one user message with the rest of the turn.
/// A turn of text only becomes a plain string, which every provider accepts.
fn user_turn(content: &Value, path: &str, out: &mut Vec<Value>) -> Result<(), ConvertError> {
    let blocks = match content {
        Value::Array(blocks) => blocks,
        _ => {
            out.push(json!({"role": "user", "content": content}));
            return Ok(());
        }
    };
    let mut parts = Vec::new();
    let mut tool_images = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = format!("{path}[{j}]");
        match block_type(block, &block_path)? {
            "text" => parts.push(text_part(required_str(block, "text", &block_path)?)),
            "image" => parts.push(image_part(block, &block_path)?),
            "document" => {
                if let Some(text) = document_text(block, &block_path)? {
                    parts.push(text_part(&text));
                }
            }
            "tool_result" => out.push(tool_message(block, &block_path, &mut tool_images)?),
            _ => {} // thinking in a user turn, server-tool results, future types
        }
    }
    tool_images.append(&mut parts);
    if !tool_images.is_empty() {
        out.push(json!({"role": "user", "content": user_content(tool_images)}));
    }
    Ok(())
}

fn user_content(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        json!(texts.join(TEXT_JOINER))
    } else {
        Value::Array(parts)
    }
}

/// Text and tool calls of one assistant turn in one message. `content` is
/// null when the turn only called tools. Thinking is dropped unless the
/// provider wants it back as `reasoning_content`; redacted thinking always is.
fn assistant_turn(
    content: &Value,
    path: &str,
    names: &ToolNames,
    opts: &ConvertOptions,
    out: &mut Vec<Value>,
) -> Result<(), ConvertError> {
    let blocks = match content {
        Value::Array(blocks) => blocks,
        _ => {
            out.push(json!({"role": "assistant", "content": content}));
            return Ok(());
        }
    };
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = format!("{path}[{j}]");
        match block_type(block, &block_path)? {
            "text" => texts.push(required_str(block, "text", &block_path)?),
            "tool_use" => tool_calls.push(tool_call(block, &block_path, names)?),
            "thinking" if opts.send_reasoning_back => {
                reasoning.push(required_str(block, "thinking", &block_path)?);
            }
            _ => {}
        }
    }
    if texts.is_empty() && tool_calls.is_empty() && reasoning.is_empty() {
        return Ok(());
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let text = if texts.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(texts.join(TEXT_JOINER)) };
    message.insert("content".into(), text);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning.join(TEXT_JOINER)));
    }
    out.push(Value::Object(message));
    Ok(())
}

fn tool_call(block: &Value, path: &str, names: &ToolNames) -> Result<Value, ConvertError> {
    let id = required_str(block, "id", path)?;
    let name = required_str(block, "name", path)?;
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(input) => input.to_string(),
    };
    Ok(json!({
        "id": id,
        "type": "function",
        "function": {"name": names.to_upstream(name), "arguments": arguments},
    }))
}
