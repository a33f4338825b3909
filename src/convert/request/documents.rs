//! `document` and `search_result` blocks as OpenAI content parts: PDFs become `file` parts (base64 data URLs),
//! text and content documents become text that keeps their title and context, search results become text with
//! their source and title. Sources an OpenAI request cannot carry (a URL, an uploaded file) are refused.

use std::borrow::Cow;

use serde_json_borrow::Value as Json;

use super::chat::{FileData, Part, Url};
use super::content::{block_type, image_part, join, required_str, text_part, TEXT_JOINER};
use super::{invalid, member};
use crate::convert::errors::ConvertError;

/// The file name given to a PDF without a title.
const DEFAULT_PDF_NAME: &str = "document.pdf";

/// The parts of one `document` block, appended to `out` in reading order.
pub(super) fn document_parts<'a>(block: &'a Json<'a>, path: &str, out: &mut Vec<Part<'a>>) -> Result<(), ConvertError> {
    let source_path = format!("{path}.source");
    let source =
        member(block, "source").filter(|s| s.is_object()).ok_or_else(|| invalid(&source_path, "must be an object"))?;
    let title = optional_str(block, "title", path)?;
    let context = optional_str(block, "context", path)?;
    match required_str(source, "type", &source_path)? {
        "base64" => {
            let media_type = required_str(source, "media_type", &source_path)?;
            if media_type != "application/pdf" {
                return Err(invalid(
                    format!("{source_path}.media_type"),
                    format!("base64 documents must be application/pdf, not {media_type:?}"),
                ));
            }
            let data = required_str(source, "data", &source_path)?;
            if let Some(context) = context {
                out.push(text_part(header(title, Some(context))));
            }
            let filename = match title {
                None => Cow::Borrowed(DEFAULT_PDF_NAME),
                Some(t) if t.to_ascii_lowercase().ends_with(".pdf") => Cow::Borrowed(t),
                Some(t) => Cow::Owned(format!("{t}.pdf")),
            };
            out.push(Part::File { file: FileData { filename, file_data: Url::Data { media_type, data } } });
        }
        "text" => {
            let text = required_str(source, "data", &source_path)?;
            out.push(text_part(with_header(title, context, Cow::Borrowed(text))));
        }
        "content" => content_document(source, &source_path, title, context, out)?,
        other @ ("url" | "file") => {
            return Err(invalid(
                format!("{source_path}.type"),
                format!(
                    "document source type {other:?} cannot be sent to an OpenAI-format provider (it takes files \
                     inline only); send the document as base64 (PDF) or text"
                ),
            ))
        }
        other => {
            return Err(invalid(
                format!("{source_path}.type"),
                format!("unknown document source type {other:?}; expected base64, text, content, url or file"),
            ))
        }
    }
    Ok(())
}

/// A `content` source: a string, or text and image blocks.
fn content_document<'a>(
    source: &'a Json<'a>,
    path: &str,
    title: Option<&'a str>,
    context: Option<&'a str>,
    out: &mut Vec<Part<'a>>,
) -> Result<(), ConvertError> {
    let content_path = format!("{path}.content");
    let blocks = match member(source, "content") {
        Some(Json::Str(s)) => {
            out.push(text_part(with_header(title, context, Cow::Borrowed(s))));
            return Ok(());
        }
        Some(Json::Array(blocks)) => blocks,
        _ => return Err(invalid(content_path, "must be a string or an array of text and image blocks")),
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for (k, inner) in blocks.iter().enumerate() {
        let inner_path = format!("{content_path}[{k}]");
        match block_type(inner, &inner_path)? {
            "text" => texts.push(required_str(inner, "text", &inner_path)?),
            "image" => images.push(image_part(inner, &inner_path)?),
            other => {
                return Err(invalid(
                    format!("{inner_path}.type"),
                    format!("document content blocks must be text or image, not {other:?}"),
                ))
            }
        }
    }
    out.push(text_part(with_header(title, context, join(texts.into_iter()))));
    out.append(&mut images);
    Ok(())
}

/// A `search_result` block as text: title, source, then its text blocks.
pub(super) fn search_result_text<'a>(block: &'a Json<'a>, path: &str) -> Result<Cow<'a, str>, ConvertError> {
    let title = required_str(block, "title", path)?;
    let source = required_str(block, "source", path)?;
    let content_path = format!("{path}.content");
    let blocks = member(block, "content")
        .and_then(Json::as_array)
        .ok_or_else(|| invalid(&content_path, "must be an array of text blocks"))?;
    let mut text = format!("Search result: {title}\nSource: {source}");
    for (k, inner) in blocks.iter().enumerate() {
        let inner_path = format!("{content_path}[{k}]");
        if block_type(inner, &inner_path)? != "text" {
            return Err(invalid(format!("{inner_path}.type"), "search result content must be text blocks"));
        }
        text.push_str(TEXT_JOINER);
        text.push_str(required_str(inner, "text", &inner_path)?);
    }
    Ok(Cow::Owned(text))
}

/// An optional string member (`null` counts as absent).
fn optional_str<'a>(block: &'a Json<'a>, key: &str, path: &str) -> Result<Option<&'a str>, ConvertError> {
    match member(block, key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{path}.{key}"), "must be a string")),
    }
}

/// `Document: <title>` and `Context: <context>` lines.
fn header(title: Option<&str>, context: Option<&str>) -> String {
    let mut lines = Vec::with_capacity(2);
    if let Some(title) = title {
        lines.push(format!("Document: {title}"));
    }
    if let Some(context) = context {
        lines.push(format!("Context: {context}"));
    }
    lines.join("\n")
}

/// The text of a document, after its title and context when it has them (borrowed as it is otherwise).
fn with_header<'a>(title: Option<&str>, context: Option<&str>, text: Cow<'a, str>) -> Cow<'a, str> {
    if title.is_none() && context.is_none() {
        return text;
    }
    Cow::Owned(format!("{}{TEXT_JOINER}{text}", header(title, context)))
}
