//! Single content blocks: text, images, documents and tool results, each
//! turned into OpenAI content parts or plain text.

use serde_json::{json, Value};

use super::invalid;
use crate::convert::errors::ConvertError;

/// Separator between text blocks merged into one OpenAI string.
pub(super) const TEXT_JOINER: &str = "\n\n";

/// Prefix that keeps a failed tool result recognisable: OpenAI's `tool`
/// message has no `is_error` field.
pub(super) const TOOL_ERROR_PREFIX: &str = "Error: ";

/// A content block's `type`; blocks must be objects that name their type.
pub(super) fn block_type<'a>(block: &'a Value, path: &str) -> Result<&'a str, ConvertError> {
    block
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{path}.type"), "content blocks must be objects with a string type"))
}

/// A block's required string field.
pub(super) fn required_str<'a>(block: &'a Value, key: &str, path: &str) -> Result<&'a str, ConvertError> {
    block.get(key).and_then(Value::as_str).ok_or_else(|| invalid(format!("{path}.{key}"), "must be a string"))
}

pub(super) fn text_part(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// `{type:"image_url"}` part: base64 sources become data URLs.
pub(super) fn image_part(block: &Value, path: &str) -> Result<Value, ConvertError> {
    let source_path = format!("{path}.source");
    let source =
        block.get("source").filter(|s| s.is_object()).ok_or_else(|| invalid(&source_path, "must be an object"))?;
    let url = match required_str(source, "type", &source_path)? {
        "base64" => {
            let media_type = required_str(source, "media_type", &source_path)?;
            let data = required_str(source, "data", &source_path)?;
            format!("data:{media_type};base64,{data}")
        }
        "url" => required_str(source, "url", &source_path)?.to_string(),
        other => {
            return Err(invalid(
                format!("{source_path}.type"),
                format!("image source type {other:?} is not supported for this provider; use base64 or url"),
            ))
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// The text of a document with a text source (`text`, or `content` blocks).
/// PDF, URL and file documents cannot be expressed as OpenAI content and are
/// dropped (`None`).
pub(super) fn document_text(block: &Value, path: &str) -> Result<Option<String>, ConvertError> {
    let source_path = format!("{path}.source");
    let Some(source) = block.get("source").filter(|s| s.is_object()) else {
        return Err(invalid(source_path, "must be an object"));
    };
    match source.get("type").and_then(Value::as_str) {
        Some("text") => Ok(Some(required_str(source, "data", &source_path)?.to_string())),
        Some("content") => match source.get("content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(blocks)) => Ok(Some(join_texts(blocks))),
            _ => Err(invalid(format!("{source_path}.content"), "must be a string or an array")),
        },
        _ => Ok(None),
    }
}

/// The `text` of every text block in `blocks`, joined.
pub(super) fn join_texts(blocks: &[Value]) -> String {
    let texts: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    texts.join(TEXT_JOINER)
}

/// A `tool_result` as an OpenAI `tool` message. Images in the result cannot
/// go into a `tool` message (its content is text for most providers), so they
/// are appended to `images` for the user message that follows the tool
/// messages, and the tool text says so.
pub(super) fn tool_message(block: &Value, path: &str, images: &mut Vec<Value>) -> Result<Value, ConvertError> {
    let tool_use_id = required_str(block, "tool_use_id", path)?;
    let content_path = format!("{path}.content");
    let mut texts: Vec<String> = Vec::new();
    let images_before = images.len();
    match block.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => texts.push(s.clone()),
        Some(Value::Array(blocks)) => {
            for (k, inner) in blocks.iter().enumerate() {
                let inner_path = format!("{content_path}[{k}]");
                match block_type(inner, &inner_path)? {
                    "text" => texts.push(required_str(inner, "text", &inner_path)?.to_string()),
                    "image" => images.push(image_part(inner, &inner_path)?),
                    "document" => texts.extend(document_text(inner, &inner_path)?),
                    _ => {}
                }
            }
        }
        Some(_) => return Err(invalid(content_path, "must be a string or an array of blocks")),
    }
    let moved = images.len() - images_before;
    if moved > 0 {
        images.insert(images_before, text_part(&format!("Image output of tool call {tool_use_id}:")));
        texts.push(format!("[{moved} image(s) attached in the next user message]"));
    }
    let mut content = texts.join(TEXT_JOINER);
    if block.get("is_error") == Some(&Value::Bool(true)) {
        content = format!("{TOOL_ERROR_PREFIX}{content}");
    }
    Ok(json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}))
}
