//! `system` and `messages`: turn by turn into OpenAI messages.

use std::borrow::Cow;

use serde_json_borrow::{Map, Value as Json};

use super::chat::{ChatMessage, Content, FunctionCall, Part, ToolCall};
use super::content::{
    block_type, image_part, join_cows, join_texts, required_str, text_part, tool_message, unsupported_block,
    TEXT_JOINER,
};
use super::documents::{document_parts, search_result_text};
use super::history::{history_text, is_history};
use super::{field, invalid, member};
use crate::convert::errors::ConvertError;
use crate::convert::options::ConvertOptions;
use crate::convert::tool_names::ToolNames;

/// The OpenAI `messages`: the top-level `system` first, then every turn.
pub(super) fn convert<'a>(
    body: &'a Map<'a>,
    names: &ToolNames,
    opts: &ConvertOptions,
) -> Result<Vec<ChatMessage<'a>>, ConvertError> {
    let messages = body
        .get("messages")
        .and_then(Json::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages", "must be a non-empty array"));
    let mut out = Vec::with_capacity(messages.as_ref().map_or(0, |m| m.len()) + 1);
    if let Some(system) = field(body, "system") {
        push_system(system, "system", &mut out)?;
    }
    for (i, message) in messages?.iter().enumerate() {
        convert_message(message, i, names, opts, &mut out)?;
    }
    if out.iter().all(|m| m.role == "system") {
        return Err(invalid("messages", "nothing to send: no turn has content an OpenAI-format provider can take"));
    }
    Ok(out)
}

fn convert_message<'a>(
    message: &'a Json<'a>,
    i: usize,
    names: &ToolNames,
    opts: &ConvertOptions,
    out: &mut Vec<ChatMessage<'a>>,
) -> Result<(), ConvertError> {
    let path = || format!("messages[{i}]");
    if !message.is_object() {
        return Err(invalid(path(), "must be an object"));
    }
    let role = required_str(message, "role", &path())?;
    let content = member(message, "content")
        .filter(|c| c.is_string() || c.is_array())
        .ok_or_else(|| invalid(format!("{}.content", path()), "must be a string or an array of content blocks"))?;
    if let Json::Str(text) = content {
        let role = match role {
            "user" => "user",
            "assistant" => "assistant",
            "system" => return push_system(content, "", out),
            other => return Err(unknown_role(path(), other)),
        };
        out.push(ChatMessage::new(role, Content::Text(Cow::Borrowed(text))));
        return Ok(());
    }
    let content_path = format!("{}.content", path());
    match role {
        "user" => user_turn(content, &content_path, out),
        "assistant" => assistant_turn(content, &content_path, names, opts, out),
        // Claude Code's mid-conversation system messages keep their position.
        "system" => push_system(content, &content_path, out),
        other => Err(unknown_role(path(), other)),
    }
}

fn unknown_role(path: String, role: &str) -> ConvertError {
    invalid(format!("{path}.role"), format!("unknown role {role:?}; expected user, assistant or system"))
}

/// A system prompt (string or text blocks, joined) as a `system` message;
/// an empty one is left out.
fn push_system<'a>(system: &'a Json<'a>, path: &str, out: &mut Vec<ChatMessage<'a>>) -> Result<(), ConvertError> {
    let text = match system {
        Json::Str(s) => Cow::Borrowed(s.as_ref()),
        Json::Array(blocks) => {
            for (j, block) in blocks.iter().enumerate() {
                let block_path = format!("{path}[{j}]");
                match block_type(block, &block_path)? {
                    "text" => required_str(block, "text", &block_path).map(drop)?,
                    other => return Err(unsupported_block(&block_path, other, "a system prompt")),
                }
            }
            join_texts(blocks)
        }
        _ => return Err(invalid(path, "must be a string or an array of text blocks")),
    };
    if !text.is_empty() {
        out.push(ChatMessage::new("system", Content::Text(text)));
    }
    Ok(())
}

/// Tool results first (OpenAI wants `tool` messages right after the
/// assistant's calls), then one user message with the rest of the turn: the
/// images and PDFs of the tool results, then the turn's own blocks.
/// A turn of text only becomes a plain string, which every provider accepts.
fn user_turn<'a>(content: &'a Json<'a>, path: &str, out: &mut Vec<ChatMessage<'a>>) -> Result<(), ConvertError> {
    let blocks = content.as_array().unwrap_or_default();
    if blocks.is_empty() {
        return Err(invalid(path, "must not be empty"));
    }
    let mut parts = Vec::new();
    let mut attachments = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = format!("{path}[{j}]");
        match block_type(block, &block_path)? {
            "text" => parts.push(text_part(required_str(block, "text", &block_path)?)),
            "image" => parts.push(image_part(block, &block_path)?),
            "document" => document_parts(block, &block_path, &mut parts)?,
            "search_result" => parts.push(text_part(search_result_text(block, &block_path)?)),
            "tool_result" => out.push(tool_message(block, &block_path, &mut attachments)?),
            kind if is_history(kind) => parts.push(text_part(history_text(block, kind, &block_path)?)),
            other => return Err(unsupported_block(&block_path, other, "a user turn")),
        }
    }
    attachments.append(&mut parts);
    if !attachments.is_empty() {
        out.push(ChatMessage::new("user", user_content(attachments)));
    }
    Ok(())
}

fn user_content(parts: Vec<Part<'_>>) -> Content<'_> {
    if !parts.iter().all(|p| matches!(p, Part::Text { .. })) {
        return Content::Parts(parts);
    }
    let texts = parts.into_iter().filter_map(|p| match p {
        Part::Text { text } => Some(text),
        _ => None,
    });
    Content::Text(join_cows(texts.collect()))
}

/// Text and tool calls of one assistant turn in one message. `content` is
/// null when the turn only called tools. Server-tool history becomes text in
/// its place. Thinking is dropped unless the provider wants it back as
/// `reasoning_content`; redacted thinking (encrypted for Anthropic) always is.
fn assistant_turn<'a>(
    content: &'a Json<'a>,
    path: &str,
    names: &ToolNames,
    opts: &ConvertOptions,
    out: &mut Vec<ChatMessage<'a>>,
) -> Result<(), ConvertError> {
    let blocks = content.as_array().unwrap_or_default();
    let mut texts: Vec<Cow<'a, str>> = Vec::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_path = format!("{path}[{j}]");
        match block_type(block, &block_path)? {
            "text" => texts.push(Cow::Borrowed(required_str(block, "text", &block_path)?)),
            "tool_use" => tool_calls.push(tool_call(block, &block_path, names)?),
            "thinking" => {
                let thinking = required_str(block, "thinking", &block_path)?;
                if opts.send_reasoning_back {
                    reasoning.push(thinking);
                }
            }
            "redacted_thinking" => {}
            kind if is_history(kind) => texts.push(Cow::Owned(history_text(block, kind, &block_path)?)),
            other => return Err(unsupported_block(&block_path, other, "an assistant turn")),
        }
    }
    if texts.is_empty() && tool_calls.is_empty() && reasoning.is_empty() {
        return Ok(());
    }
    let content =
        if texts.is_empty() && !tool_calls.is_empty() { Content::Null } else { Content::Text(join_cows(texts)) };
    let reasoning_content = (!reasoning.is_empty()).then(|| reasoning.join(TEXT_JOINER));
    out.push(ChatMessage { tool_calls, reasoning_content, ..ChatMessage::new("assistant", content) });
    Ok(())
}

fn tool_call<'a>(block: &'a Json<'a>, path: &str, names: &ToolNames) -> Result<ToolCall<'a>, ConvertError> {
    let id = required_str(block, "id", path)?;
    let name = required_str(block, "name", path)?;
    let arguments = match member(block, "input") {
        None | Some(Json::Null) => "{}".to_string(),
        Some(input) => serde_json::to_string(input)
            .map_err(|e| invalid(format!("{path}.input"), format!("cannot be written as JSON: {e}")))?,
    };
    let function = FunctionCall { name: names.to_upstream(name), arguments };
    Ok(ToolCall { id, kind: "function", function, extra_content: None })
}
