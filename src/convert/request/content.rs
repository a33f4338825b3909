//! Single content blocks: text, images, documents and tool results, each
//! turned into OpenAI content parts or plain text.

use std::borrow::Cow;

use serde_json_borrow::Value as Json;

use super::chat::{ChatMessage, Content, ImageUrl, Part};
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
            Cow::Owned(format!("data:{media_type};base64,{data}"))
        }
        "url" => Cow::Borrowed(required_str(source, "url", &source_path)?),
        other => {
            return Err(invalid(
                format!("{source_path}.type"),
                format!("image source type {other:?} is not supported for this provider; use base64 or url"),
            ))
        }
    };
    Ok(Part::ImageUrl { image_url: ImageUrl { url } })
}

/// The text of a document with a text source (`text`, or `content` blocks).
/// PDF, URL and file documents cannot be expressed as OpenAI content and are
/// dropped (`None`).
pub(super) fn document_text<'a>(block: &'a Json<'a>, path: &str) -> Result<Option<Cow<'a, str>>, ConvertError> {
    let source_path = format!("{path}.source");
    let Some(source) = member(block, "source").filter(|s| s.is_object()) else {
        return Err(invalid(source_path, "must be an object"));
    };
    match member(source, "type").and_then(Json::as_str) {
        Some("text") => Ok(Some(Cow::Borrowed(required_str(source, "data", &source_path)?))),
        Some("content") => match member(source, "content") {
            Some(Json::Str(s)) => Ok(Some(Cow::Borrowed(s))),
            Some(Json::Array(blocks)) => Ok(Some(join_texts(blocks))),
            _ => Err(invalid(format!("{source_path}.content"), "must be a string or an array")),
        },
        _ => Ok(None),
    }
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

/// A `tool_result` as an OpenAI `tool` message. Images in the result cannot
/// go into a `tool` message (its content is text for most providers), so they
/// are appended to `images` for the user message that follows the tool
/// messages, and the tool text says so.
pub(super) fn tool_message<'a>(
    block: &'a Json<'a>,
    path: &str,
    images: &mut Vec<Part<'a>>,
) -> Result<ChatMessage<'a>, ConvertError> {
    let tool_use_id = required_str(block, "tool_use_id", path)?;
    let content_path = format!("{path}.content");
    let mut texts: Vec<Cow<'a, str>> = Vec::new();
    let images_before = images.len();
    match member(block, "content") {
        None | Some(Json::Null) => {}
        Some(Json::Str(s)) => texts.push(Cow::Borrowed(s)),
        Some(Json::Array(blocks)) => {
            for (k, inner) in blocks.iter().enumerate() {
                let inner_path = format!("{content_path}[{k}]");
                match block_type(inner, &inner_path)? {
                    "text" => texts.push(Cow::Borrowed(required_str(inner, "text", &inner_path)?)),
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
        images.insert(images_before, text_part(format!("Image output of tool call {tool_use_id}:")));
        texts.push(Cow::Owned(format!("[{moved} image(s) attached in the next user message]")));
    }
    let mut content = join_cows(texts);
    if matches!(member(block, "is_error"), Some(Json::Bool(true))) {
        content = Cow::Owned(format!("{TOOL_ERROR_PREFIX}{content}"));
    }
    let content = Content::Text(content);
    Ok(ChatMessage { tool_call_id: Some(tool_use_id), ..ChatMessage::new("tool", content) })
}
