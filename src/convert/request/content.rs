//! Single content blocks: text, images and tool results, each turned into OpenAI content parts or plain text
//! (documents and search results: see `documents`).

use std::borrow::Cow;

use serde_json_borrow::Value as Json;

use super::chat::{ChatMessage, Content, ImageUrl, Part, Url};
use super::documents::{document_parts, search_result_text};
use super::{invalid, member};
use crate::convert::errors::ConvertError;

/// Separator between text blocks merged into one OpenAI string.
pub(super) const TEXT_JOINER: &str = "\n\n";

/// Prefix that keeps a failed tool result recognisable: OpenAI's `tool`
/// message has no `is_error` field.
pub(super) const TOOL_ERROR_PREFIX: &str = "Error: ";

/// A content block's `type`; blocks must be objects that name their type.
pub(super) fn block_type<'a>(block: &'a Json<'a>, path: &str) -> Result<&'a str, ConvertError> {
    member(block, "type")
        .and_then(Json::as_str)
        .ok_or_else(|| invalid(format!("{path}.type"), "content blocks must be objects with a string type"))
}

/// A block's required string field.
pub(super) fn required_str<'a>(block: &'a Json<'a>, key: &str, path: &str) -> Result<&'a str, ConvertError> {
    member(block, key).and_then(Json::as_str).ok_or_else(|| invalid(format!("{path}.{key}"), "must be a string"))
}

pub(super) fn text_part<'a>(text: impl Into<Cow<'a, str>>) -> Part<'a> {
    Part::Text { text: text.into() }
}

/// `{type:"image_url"}` part: base64 sources become data URLs.
pub(super) fn image_part<'a>(block: &'a Json<'a>, path: &str) -> Result<Part<'a>, ConvertError> {
    let source_path = format!("{path}.source");
    let source =
        member(block, "source").filter(|s| s.is_object()).ok_or_else(|| invalid(&source_path, "must be an object"))?;
    let url = match required_str(source, "type", &source_path)? {
        "base64" => {
            let media_type = required_str(source, "media_type", &source_path)?;
            let data = required_str(source, "data", &source_path)?;
            Url::Data { media_type, data }
        }
        "url" => Url::Plain(required_str(source, "url", &source_path)?),
        other => {
            return Err(invalid(
                format!("{source_path}.type"),
                format!("image source type {other:?} is not supported for this provider; use base64 or url"),
            ))
        }
    };
    Ok(Part::ImageUrl { image_url: ImageUrl { url } })
}

/// The `text` of every text block in `blocks`, joined.
pub(super) fn join_texts<'a>(blocks: &'a [Json<'a>]) -> Cow<'a, str> {
    let texts = blocks
        .iter()
        .filter(|b| member(b, "type").and_then(Json::as_str) == Some("text"))
        .filter_map(|b| member(b, "text").and_then(Json::as_str));
    join(texts)
}

/// Texts joined with [`TEXT_JOINER`]; a single text is borrowed as it is.
pub(super) fn join<'a>(mut texts: impl Iterator<Item = &'a str>) -> Cow<'a, str> {
    let Some(first) = texts.next() else { return Cow::Borrowed("") };
    let Some(second) = texts.next() else { return Cow::Borrowed(first) };
    let mut joined = [first, second].join(TEXT_JOINER);
    for text in texts {
        joined.push_str(TEXT_JOINER);
        joined.push_str(text);
    }
    Cow::Owned(joined)
}

/// Texts joined with [`TEXT_JOINER`]; a single one is kept as it is (borrowed if it was).
pub(super) fn join_cows(mut texts: Vec<Cow<'_, str>>) -> Cow<'_, str> {
    match texts.len() {
        0 => Cow::Borrowed(""),
        1 => texts.swap_remove(0),
        _ => Cow::Owned(texts.join(TEXT_JOINER)),
    }
}

/// A `tool_result` as an OpenAI `tool` message. Images and PDFs in the result cannot go into a `tool` message
/// (its content is text for most providers), so they are appended to `attachments` for the user message that
/// follows the tool messages, and the tool text says so. Text documents and search results stay in the text.
pub(super) fn tool_message<'a>(
    block: &'a Json<'a>,
    path: &str,
    attachments: &mut Vec<Part<'a>>,
) -> Result<ChatMessage<'a>, ConvertError> {
    let tool_use_id = required_str(block, "tool_use_id", path)?;
    let content_path = format!("{path}.content");
    let mut texts: Vec<Cow<'a, str>> = Vec::new();
    let mut media = Vec::new();
    match member(block, "content") {
        None | Some(Json::Null) => {}
        Some(Json::Str(s)) => texts.push(Cow::Borrowed(s)),
        Some(Json::Array(blocks)) => {
            let mut parts = Vec::new();
            for (k, inner) in blocks.iter().enumerate() {
                let inner_path = format!("{content_path}[{k}]");
                match block_type(inner, &inner_path)? {
                    "text" => parts.push(text_part(required_str(inner, "text", &inner_path)?)),
                    "image" => parts.push(image_part(inner, &inner_path)?),
                    "document" => document_parts(inner, &inner_path, &mut parts)?,
                    "search_result" => parts.push(text_part(search_result_text(inner, &inner_path)?)),
                    other => return Err(unsupported_block(&inner_path, other, "a tool result")),
                }
            }
            for part in parts {
                match part {
                    Part::Text { text } => texts.push(text),
                    media_part => media.push(media_part),
                }
            }
        }
        Some(_) => return Err(invalid(content_path, "must be a string or an array of blocks")),
    }
    if !media.is_empty() {
        let images = media.iter().filter(|p| matches!(p, Part::ImageUrl { .. })).count();
        let files = media.len() - images;
        let header = if files == 0 { "Image output" } else { "Output" };
        attachments.push(text_part(format!("{header} of tool call {tool_use_id}:")));
        attachments.append(&mut media);
        let counted = match (images, files) {
            (i, 0) => format!("{i} image(s)"),
            (0, f) => format!("{f} document(s)"),
            (i, f) => format!("{i} image(s) and {f} document(s)"),
        };
        texts.push(Cow::Owned(format!("[{counted} attached in the next user message]")));
    }
    let mut content = join_cows(texts);
    if matches!(member(block, "is_error"), Some(Json::Bool(true))) {
        content = Cow::Owned(format!("{TOOL_ERROR_PREFIX}{content}"));
    }
    let content = Content::Text(content);
    Ok(ChatMessage { tool_call_id: Some(tool_use_id), ..ChatMessage::new("tool", content) })
}

/// A content block this conversion cannot carry: refused, so nothing of the conversation is lost unnoticed.
pub(super) fn unsupported_block(path: &str, kind: &str, place: &str) -> ConvertError {
    invalid(
        format!("{path}.type"),
        format!("content block type {kind:?} in {place} cannot be converted for an OpenAI-format provider"),
    )
}
