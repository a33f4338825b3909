//! Server-tool history as text. A conversation that used Anthropic's server tools (web search, web fetch, code
//! execution, MCP connectors) carries their calls (`server_tool_use`, `mcp_tool_use`) and results
//! (`web_search_tool_result`, `mcp_tool_result`, any `*_tool_result`) in its assistant turns. An OpenAI provider
//! has no such blocks, and dropping them would make the model forget what it found; so each becomes a text
//! paragraph with what it holds that a reader can use: titles, URLs, text, program output, error codes.
//! Opaque members (`encrypted_content`, signatures, file ids) are left out.

use serde_json_borrow::Value as Json;

use super::content::required_str;
use super::member;
use crate::convert::errors::ConvertError;

/// Members whose values are written out, in this order, when an object has them.
const SHOWN: [&str; 9] =
    ["title", "url", "source", "page_age", "text", "stdout", "stderr", "return_code", "error_code"];
/// Members descended into.
const NESTED: [&str; 2] = ["content", "source"];
/// Bound on nesting, against hostile depth.
const MAX_DEPTH: usize = 8;

/// Whether a block type is server-tool history.
pub(super) fn is_history(kind: &str) -> bool {
    kind == "server_tool_use" || kind == "mcp_tool_use" || kind.ends_with("_tool_result")
}

/// The text of one history block.
pub(super) fn history_text(block: &Json<'_>, kind: &str, path: &str) -> Result<String, ConvertError> {
    if kind.ends_with("_tool_use") {
        let name = required_str(block, "name", path)?;
        let input = match member(block, "input") {
            Some(input) => serde_json::to_string(input).unwrap_or_default(),
            None => "{}".to_string(),
        };
        let server = member(block, "server_name").and_then(Json::as_str);
        let on = server.map(|s| format!(" on {s}")).unwrap_or_default();
        return Ok(format!("[{kind}: called {name}{on} with {input}]"));
    }
    let id = member(block, "tool_use_id").and_then(Json::as_str).unwrap_or("?");
    let mut out = format!("[{kind} for {id}]");
    if matches!(member(block, "is_error"), Some(Json::Bool(true))) {
        out.push_str("\nerror");
    }
    if let Some(content) = member(block, "content") {
        write_value(content, 0, &mut out);
    }
    Ok(out)
}

fn write_value(value: &Json<'_>, depth: usize, out: &mut String) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Json::Str(s) => push_line(out, s),
        Json::Array(items) => items.iter().for_each(|item| write_value(item, depth + 1, out)),
        Json::Object(_) => {
            let mut first = true;
            for key in SHOWN {
                let shown = match member(value, key) {
                    Some(Json::Str(s)) => Some(s.to_string()),
                    Some(n @ Json::Number(_)) => Some(n.to_string()),
                    _ => None,
                };
                if let Some(shown) = shown.filter(|s| !s.is_empty()) {
                    if first {
                        out.push('\n');
                        first = false;
                    }
                    push_line(out, &format!("{key}: {shown}"));
                }
            }
            for key in NESTED {
                if let Some(nested) = member(value, key).filter(|v| v.is_array() || v.is_object()) {
                    write_value(nested, depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

fn push_line(out: &mut String, line: &str) {
    out.push('\n');
    out.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(block: serde_json::Value) -> String {
        let bytes = serde_json::to_vec(&block).unwrap();
        let tree: Json = serde_json::from_slice(&bytes).unwrap();
        let kind = member(&tree, "type").and_then(Json::as_str).unwrap().to_string();
        history_text(&tree, &kind, "p").unwrap()
    }

    #[test]
    fn calls_and_search_results_read_as_text() {
        let call = serde_json::json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
            "input": {"query": "rust"}});
        assert_eq!(text(call), r#"[server_tool_use: called web_search with {"query":"rust"}]"#);
        let results = serde_json::json!({"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
            {"type": "web_search_result", "title": "Rust", "url": "https://rust-lang.org",
             "encrypted_content": "SECRET", "page_age": "2 days"},
            {"type": "web_search_result", "title": "Book", "url": "https://doc.rust-lang.org/book"}
        ]});
        let out = text(results);
        assert_eq!(
            out,
            "[web_search_tool_result for srvtoolu_1]\n\ntitle: Rust\nurl: https://rust-lang.org\npage_age: 2 days\
             \n\ntitle: Book\nurl: https://doc.rust-lang.org/book"
        );
        assert!(!out.contains("SECRET"));
    }

    #[test]
    fn code_execution_errors_and_mcp_results() {
        let run = serde_json::json!({"type": "code_execution_tool_result", "tool_use_id": "s2", "content":
            {"type": "code_execution_result", "stdout": "4\n", "stderr": "", "return_code": 0}});
        assert_eq!(text(run), "[code_execution_tool_result for s2]\n\nstdout: 4\n\nreturn_code: 0");
        let error = serde_json::json!({"type": "web_fetch_tool_result", "tool_use_id": "s3",
            "content": {"type": "web_fetch_tool_error", "error_code": "url_not_accessible"}});
        assert!(text(error).ends_with("error_code: url_not_accessible"));
        let mcp = serde_json::json!({"type": "mcp_tool_result", "tool_use_id": "m1", "is_error": true,
            "content": [{"type": "text", "text": "denied"}]});
        assert_eq!(text(mcp), "[mcp_tool_result for m1]\nerror\n\ntext: denied");
        let use_ =
            serde_json::json!({"type": "mcp_tool_use", "id": "m1", "name": "read", "server_name": "fs", "input": {}});
        assert_eq!(text(use_), "[mcp_tool_use: called read on fs with {}]");
        assert!(is_history("web_search_tool_result") && is_history("server_tool_use") && !is_history("tool_result"));
    }
}
