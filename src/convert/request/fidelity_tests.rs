//! Unit tests of the conversions issue 20 added: documents, search results, Anthropic-defined tools, history
//! blocks, structured outputs, identity and cache hints, and the refusals (the golden tests in
//! `tests/convert_golden.rs` show whole requests).

use serde_json::{json, Value};

use super::{parse, to_openai_with, ConvertError, RequestContext};
use crate::convert::options::{ConvertOptions, UserIdField, WebSearch};

fn run(body: &Value, opts: &ConvertOptions, session: Option<&str>) -> Result<Value, ConvertError> {
    let bytes = serde_json::to_vec(body).unwrap();
    let tree = parse(&bytes)?;
    let ctx = RequestContext { session_id: session };
    let (request, _) = to_openai_with(&tree, "gpt-4o", opts, &ctx)?;
    Ok(serde_json::to_value(&request).unwrap())
}

fn convert(body: Value) -> Value {
    run(&body, &ConvertOptions::default(), None).unwrap()
}

fn error_of(body: Value) -> String {
    run(&body, &ConvertOptions::default(), None).unwrap_err().to_string()
}

fn with_messages(messages: Value) -> Value {
    json!({"model": "m", "max_tokens": 10, "messages": messages})
}

fn pdf(data: &str) -> Value {
    json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data},
           "cache_control": {"type": "ephemeral"}})
}

#[test]
fn claude_code_pdf_read_reaches_the_provider_as_a_file() {
    let out = convert(with_messages(json!([
        {"role": "user", "content": "summarise a.pdf"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "/w/a.pdf"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "PDF file read: /w/a.pdf (1.2KB)"},
            pdf("JVBERi0x")
        ]}
    ])));
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(
        messages[2],
        json!({"role": "tool", "tool_call_id": "t1", "content": "PDF file read: /w/a.pdf (1.2KB)"})
    );
    assert_eq!(
        messages[3],
        json!({"role": "user", "content": [{"type": "file", "file": {"filename": "document.pdf",
            "file_data": "data:application/pdf;base64,JVBERi0x"}}]})
    );
}

#[test]
fn a_pdf_inside_a_tool_result_moves_to_the_next_user_message() {
    let out = convert(with_messages(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "text", "text": "here"},
            {"type": "document", "title": "Q3 report", "source": {"type": "base64", "media_type": "application/pdf", "data": "AA=="}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "BB"}}
        ]}]}
    ])));
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(messages[2]["content"], "here\n\n[1 image(s) and 1 document(s) attached in the next user message]");
    assert_eq!(
        messages[3]["content"],
        json!([
            {"type": "text", "text": "Output of tool call t1:"},
            {"type": "file", "file": {"filename": "Q3 report.pdf", "file_data": "data:application/pdf;base64,AA=="}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,BB"}}
        ])
    );
}

#[test]
fn text_documents_keep_title_and_context_and_search_results_read_as_text() {
    let out = convert(with_messages(json!([{"role": "user", "content": [
        {"type": "document", "title": "Notes", "context": "from the wiki",
         "source": {"type": "text", "media_type": "text/plain", "data": "body"}},
        {"type": "document", "context": "scan", "source": {"type": "base64", "media_type": "application/pdf", "data": "P"}},
        {"type": "search_result", "source": "https://x.dev/a", "title": "A", "content": [
            {"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}
    ]}])));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Document: Notes\nContext: from the wiki\n\nbody"},
            {"type": "text", "text": "Context: scan"},
            {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,P"}},
            {"type": "text", "text": "Search result: A\nSource: https://x.dev/a\n\none\n\ntwo"}
        ])
    );
}

#[test]
fn documents_the_provider_cannot_take_are_refused() {
    let doc =
        |source: Value| with_messages(json!([{"role": "user", "content": [{"type": "document", "source": source}]}]));
    let url = error_of(doc(json!({"type": "url", "url": "https://x/a.pdf"})));
    assert!(
        url.starts_with("messages[0].content[0].source.type: document source type \"url\" cannot be sent"),
        "{url}"
    );
    assert!(error_of(doc(json!({"type": "file", "file_id": "f"}))).contains("\"file\" cannot be sent"));
    let word = error_of(doc(json!({"type": "base64", "media_type": "application/msword", "data": "x"})));
    assert!(word.starts_with("messages[0].content[0].source.media_type:"), "{word}");
    assert!(
        error_of(with_messages(json!([{"role": "user", "content": []}]))).starts_with("messages[0].content: must not")
    );
}

#[test]
fn client_tools_expand_and_server_tools_are_refused_naming_the_field() {
    let mut body = with_messages(json!([{"role": "user", "content": "x"}]));
    body["tools"] = json!([
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool", "max_characters": 1000},
        {"name": "get", "input_schema": {"type": "object"}, "strict": true}
    ]);
    let out = convert(body.clone());
    assert_eq!(out["tools"][0]["function"]["name"], "bash");
    assert_eq!(out["tools"][0]["function"]["parameters"]["properties"]["command"]["type"], "string");
    assert_eq!(out["tools"][1]["function"]["parameters"]["required"], json!(["command", "path"]));
    assert_eq!(out["tools"][2]["function"]["strict"], true);
    assert!(out["tools"][0]["function"].get("strict").is_none());
    for server in ["web_search_20250305", "web_fetch_20250910", "code_execution_20250825", "memory_20250818"] {
        body["tools"] = json!([{"type": server, "name": "s"}]);
        let e = error_of(body.clone());
        assert!(e.starts_with("tools[0].type:"), "{server}: {e}");
    }
}

#[test]
fn web_search_maps_to_web_search_options_when_the_provider_says_so() {
    let opts = ConvertOptions { web_search: WebSearch::WebSearchOptions, ..ConvertOptions::default() };
    let mut body = with_messages(json!([{"role": "user", "content": "news?"}]));
    body["tools"] = json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 3,
        "user_location": {"type": "approximate", "city": "Paris", "country": "FR"}}]);
    body["tool_choice"] = json!({"type": "auto"});
    let out = run(&body, &opts, None).unwrap();
    assert_eq!(
        out["web_search_options"],
        json!({"user_location": {"type": "approximate",
        "approximate": {"city": "Paris", "country": "FR"}}})
    );
    assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
    body["tool_choice"] = json!({"type": "tool", "name": "web_search"});
    assert!(run(&body, &opts, None).unwrap_err().to_string().starts_with("tool_choice.name:"));
    body["tool_choice"] = json!({"type": "any"});
    assert!(run(&body, &opts, None).unwrap_err().to_string().starts_with("tool_choice.type:"));
    body["tool_choice"] = Value::Null;
    body["tools"][0]["allowed_domains"] = json!(["x.org"]);
    assert!(run(&body, &opts, None).unwrap_err().to_string().starts_with("tools[0].allowed_domains:"));
}

#[test]
fn server_tool_history_is_text_in_the_assistant_turn() {
    let out = convert(with_messages(json!([
        {"role": "user", "content": "find it"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Searching."},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                {"type": "web_search_result", "title": "T", "url": "https://t", "encrypted_content": "E"}]},
            {"type": "text", "text": "Found T.", "citations": [{"type": "web_search_result_location", "url": "https://t"}]}
        ]},
        {"role": "user", "content": "thanks"}
    ])));
    assert_eq!(
        out["messages"][1]["content"],
        "Searching.\n\n[server_tool_use: called web_search with {\"query\":\"q\"}]\n\n\
         [web_search_tool_result for srvtoolu_1]\n\ntitle: T\nurl: https://t\n\nFound T."
    );
}

#[test]
fn structured_outputs_become_a_strict_json_schema() {
    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"],
        "additionalProperties": false});
    let mut body = with_messages(json!([{"role": "user", "content": "x"}]));
    body["output_config"] = json!({"format": {"type": "json_schema", "schema": schema}});
    let expected =
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": true}});
    assert_eq!(convert(body.clone())["response_format"], expected);
    body["output_config"] = Value::Null;
    body["output_format"] = json!({"type": "json_schema", "schema": schema});
    assert_eq!(convert(body.clone())["response_format"], expected);
    body["output_format"] = json!({"type": "yaml"});
    assert!(error_of(body).starts_with("output_format.type:"));
}

#[test]
fn identity_and_cache_key() {
    let long_user = "x".repeat(100);
    let mut body = with_messages(json!([{"role": "user", "content": "x"}]));
    body["metadata"] = json!({"user_id": long_user});
    let out = run(&body, &ConvertOptions::default(), Some("session-1")).unwrap();
    let id = out["safety_identifier"].as_str().unwrap();
    assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !id.contains('x'));
    let same_session =
        run(&with_messages(json!([{"role": "user", "content": "y"}])), &ConvertOptions::default(), Some("session-1"))
            .unwrap();
    assert_eq!(out["prompt_cache_key"], same_session["prompt_cache_key"], "the session decides the key");
    let by_user = run(&body, &ConvertOptions::default(), None).unwrap();
    assert_ne!(by_user["prompt_cache_key"], out["prompt_cache_key"]);
    assert!(convert(with_messages(json!([{"role": "user", "content": "x"}]))).get("prompt_cache_key").is_none());
    let legacy =
        ConvertOptions { user_id_field: UserIdField::User, prompt_cache_key: false, ..ConvertOptions::default() };
    let out = run(&body, &legacy, Some("s")).unwrap();
    assert_eq!(
        (out["user"].as_str(), out.get("safety_identifier"), out.get("prompt_cache_key")),
        (Some(long_user.as_str()), None, None)
    );
}

#[test]
fn features_the_provider_lacks_are_refused() {
    let base = || with_messages(json!([{"role": "user", "content": "x"}]));
    let mut stops = base();
    stops["stop_sequences"] = json!(["a", "b", "c", "d", "e"]);
    assert_eq!(error_of(stops), "stop_sequences: 5 stop sequences given; OpenAI-format providers take at most 4");
    let mut mcp = base();
    mcp["mcp_servers"] = json!([{"type": "url", "url": "https://mcp", "name": "m"}]);
    assert!(error_of(mcp).starts_with("mcp_servers: MCP servers"));
    let mut container = base();
    container["container"] = json!("c_1");
    assert!(error_of(container).starts_with("container:"));
    let mut tier = base();
    tier["service_tier"] = json!("priority");
    assert!(error_of(tier).starts_with("service_tier: unknown value"));
    let mut tier = base();
    tier["service_tier"] = json!("auto");
    assert_eq!(convert(tier)["service_tier"], "auto");
}
