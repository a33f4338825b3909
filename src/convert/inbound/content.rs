//! OpenAI message content (a string or an array of parts) → Anthropic content blocks: text, images (data URLs
//! become base64 sources, http(s) URLs url sources) and PDF files given as data URLs.

use serde_json::{json, Map, Value};

use crate::convert::errors::ConvertError;

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request(path, message)
}

/// A text block; `cache_control` on the part (as OpenRouter clients send it for Anthropic models) is kept.
pub(super) fn text_block(text: &str, part: Option<&Value>) -> Value {
    let mut block = Map::new();
    block.insert("type".into(), json!("text"));
    block.insert("text".into(), json!(text));
    if let Some(cache_control) = part.and_then(|p| p.get("cache_control")).filter(|c| c.is_object()) {
        block.insert("cache_control".into(), cache_control.clone());
    }
    Value::Object(block)
}

/// The blocks of a `user` message's content. Empty text is left out (Anthropic refuses empty text blocks).
pub(super) fn user_blocks(content: &Value, path: &str) -> Result<Vec<Value>, ConvertError> {
    match content {
        Value::String(s) => Ok(non_empty_text(s, None).into_iter().collect()),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (i, part) in parts.iter().enumerate() {
                let part_path = format!("{path}[{i}]");
                if let Some(block) = user_part(part, &part_path)? {
                    blocks.push(block);
                }
            }
            Ok(blocks)
        }
        Value::Null => Ok(Vec::new()),
        _ => Err(invalid(path, "must be a string or an array of content parts")),
    }
}

fn non_empty_text(text: &str, part: Option<&Value>) -> Option<Value> {
    (!text.is_empty()).then(|| text_block(text, part))
}

fn part_type<'a>(part: &'a Value, path: &str) -> Result<&'a str, ConvertError> {
    part.get("type").and_then(Value::as_str).ok_or_else(|| invalid(format!("{path}.type"), "must be a string"))
}

fn user_part(part: &Value, path: &str) -> Result<Option<Value>, ConvertError> {
    match part_type(part, path)? {
        "text" => {
            let text = part.get("text").and_then(Value::as_str);
            let text = text.ok_or_else(|| invalid(format!("{path}.text"), "must be a string"))?;
            Ok(non_empty_text(text, Some(part)))
        }
        "image_url" => image_block(part, path).map(Some),
        "file" => file_block(part, path).map(Some),
        other => Err(invalid(
            format!("{path}.type"),
            format!("content part type {other:?} is not supported for this provider; use text, image_url or file"),
        )),
    }
}

/// `{type:"image_url", image_url:{url}}` (or `image_url` as a bare string, as some clients send it).
fn image_block(part: &Value, path: &str) -> Result<Value, ConvertError> {
    let url_path = format!("{path}.image_url.url");
    let url = match part.get("image_url") {
        Some(Value::String(url)) => url.as_str(),
        Some(Value::Object(image)) => {
            image.get("url").and_then(Value::as_str).ok_or_else(|| invalid(&url_path, "must be a string"))?
        }
        _ => return Err(invalid(format!("{path}.image_url"), "must be an object with a url")),
    };
    let source = if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = parse_data_url(rest)
            .ok_or_else(|| invalid(&url_path, "a data URL must look like data:<media type>;base64,<data>"))?;
        json!({"type": "base64", "media_type": media_type, "data": data})
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({"type": "url", "url": url})
    } else {
        return Err(invalid(&url_path, "must be an http(s) URL or a base64 data URL"));
    };
    Ok(json!({"type": "image", "source": source}))
}

/// `{type:"file", file:{file_data:"data:application/pdf;base64,…"}}` → a base64 document. Uploaded files
/// (`file_id`) live at OpenAI and cannot be sent to another provider.
fn file_block(part: &Value, path: &str) -> Result<Value, ConvertError> {
    let file = part
        .get("file")
        .filter(|f| f.is_object())
        .ok_or_else(|| invalid(format!("{path}.file"), "must be an object"))?;
    let data_path = format!("{path}.file.file_data");
    let Some(data_url) = file.get("file_data").and_then(Value::as_str) else {
        return Err(invalid(data_path, "is required (file_id references cannot be resolved by this provider)"));
    };
    let (media_type, data) = data_url
        .strip_prefix("data:")
        .and_then(parse_data_url)
        .ok_or_else(|| invalid(&data_path, "must be a base64 data URL such as data:application/pdf;base64,…"))?;
    if media_type != "application/pdf" {
        return Err(invalid(&data_path, format!("media type {media_type:?} is not supported; only application/pdf")));
    }
    let mut block = json!({"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}});
    if let Some(name) = file.get("filename").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        block["title"] = json!(name);
    }
    Ok(block)
}

/// `<media type>;base64,<data>` (after `data:`) → (media type, data). Parameters before `;base64` (a charset)
/// are dropped.
fn parse_data_url(rest: &str) -> Option<(&str, &str)> {
    let (meta, data) = rest.split_once(',')?;
    let meta = meta.strip_suffix(";base64")?;
    let media_type = meta.split(';').next()?.trim();
    (!media_type.is_empty() && media_type.contains('/')).then_some((media_type, data))
}

/// The text of content that may only hold text (system, developer, assistant, tool): a string, or the `text`
/// (and assistant `refusal`) parts of an array. Other part types are refused with their path.
pub(super) fn text_parts(content: &Value, path: &str) -> Result<Vec<(String, Option<Value>)>, ConvertError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![(s.clone(), None)]),
        Value::Array(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, part) in parts.iter().enumerate() {
                let part_path = format!("{path}[{i}]");
                let key = match part_type(part, &part_path)? {
                    "text" => "text",
                    "refusal" => "refusal",
                    other => {
                        return Err(invalid(
                            format!("{part_path}.type"),
                            format!("content part type {other:?} is not allowed here; only text"),
                        ))
                    }
                };
                let text = part.get(key).and_then(Value::as_str);
                let text = text.ok_or_else(|| invalid(format!("{part_path}.{key}"), "must be a string"))?;
                out.push((text.to_string(), Some(part.clone())));
            }
            Ok(out)
        }
        _ => Err(invalid(path, "must be a string or an array of text parts")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_from_data_and_http_urls() {
        let parts = json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}},
            {"type": "image_url", "image_url": "https://example.com/cat.jpg"},
            {"type": "text", "text": ""},
        ]);
        let blocks = user_blocks(&parts, "messages[0].content").unwrap();
        assert_eq!(
            blocks,
            vec![
                json!({"type": "text", "text": "look"}),
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}),
                json!({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}),
            ]
        );
    }

    #[test]
    fn bad_parts_are_named() {
        let err = |parts: Value| user_blocks(&parts, "m").unwrap_err().to_string();
        assert!(err(json!([{"type": "image_url", "image_url": {"url": "ftp://x"}}])).starts_with("m[0].image_url.url"));
        assert!(err(json!([{"type": "image_url", "image_url": {"url": "data:image/png,AAAA"}}])).contains("base64"));
        assert!(err(json!([{"type": "input_audio", "input_audio": {}}])).starts_with("m[0].type"));
        assert!(err(json!([{"type": "file", "file": {"file_id": "f"}}])).contains("file_id"));
        assert!(err(json!([{"text": "x"}])).starts_with("m[0].type"));
        assert!(err(json!(5)).starts_with("m:"));
    }

    #[test]
    fn pdf_files_become_documents_and_cache_control_is_kept() {
        let parts = json!([
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
            {"type": "text", "text": "sum up", "cache_control": {"type": "ephemeral"}},
        ]);
        let blocks = user_blocks(&parts, "m").unwrap();
        assert_eq!(blocks[0]["source"]["media_type"], "application/pdf");
        assert_eq!(blocks[0]["title"], "a.pdf");
        assert_eq!(blocks[1]["cache_control"], json!({"type": "ephemeral"}));
    }

    #[test]
    fn text_only_content() {
        let parts =
            text_parts(&json!([{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}]), "m").unwrap();
        assert_eq!(parts.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["a", "no"]);
        assert!(text_parts(&json!([{"type": "image_url"}]), "m").is_err());
        assert_eq!(text_parts(&json!(null), "m").unwrap().len(), 0);
    }
}
