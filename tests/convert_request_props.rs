//! Property tests of the request conversion (Anthropic → OpenAI): generated conversations mixing text, images,
//! PDFs, text and content documents, search results, tool loops whose results hold all of those, server-tool
//! history, mid-conversation system messages, Anthropic-defined and server tools, structured outputs and stop
//! sequences. Every request either converts losslessly — every text present, every image and PDF exactly once
//! and in a user message, every tool result answering its call right after it — or is refused with a 400 whose
//! path names one of the things that cannot be sent.

use std::collections::BTreeSet;

use gatehouse::convert::{parse_request, to_openai, ConvertOptions, WebSearch};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Block {
    Text(String),
    Image,
    Pdf {
        title: Option<String>,
        context: Option<String>,
    },
    TextDocument {
        title: Option<String>,
        context: Option<String>,
        text: String,
    },
    ContentDocument(Vec<String>),
    Search {
        title: String,
        texts: Vec<String>,
    },
    /// Refused: a document the provider would have to fetch.
    UrlDocument,
    /// Refused: a block type the converter does not know.
    Unknown,
}

#[derive(Debug, Clone)]
enum Turn {
    User(Vec<Block>),
    /// An assistant turn calling tools (with text and server-tool history before), and the user turn answering
    /// each call with the given result blocks, followed by more blocks.
    ToolLoop {
        text: Option<String>,
        history: bool,
        results: Vec<Vec<Block>>,
        extra: Vec<Block>,
    },
    System(String),
}

#[derive(Debug, Clone, Copy)]
enum ToolDef {
    Client,
    Bash,
    Editor,
    /// A server tool (web search when `true`, which a provider option may map).
    Server(bool),
}

#[derive(Debug, Clone)]
struct Request {
    turns: Vec<Turn>,
    tools: Vec<ToolDef>,
    stops: usize,
    format: bool,
    map_web_search: bool,
}

fn text() -> impl Strategy<Value = String> + Clone {
    "[a-zé]{1,6}( [a-z]{1,6}){0,2}"
}

fn block(in_tool_result: bool) -> impl Strategy<Value = Block> {
    let title = || prop::option::of(text());
    let mut options = vec![
        (6, text().prop_map(Block::Text).boxed()),
        (2, Just(Block::Image).boxed()),
        (2, (title(), prop::option::of(text())).prop_map(|(title, context)| Block::Pdf { title, context }).boxed()),
        (2, (text(), vec(text(), 1..3)).prop_map(|(title, texts)| Block::Search { title, texts }).boxed()),
    ];
    if !in_tool_result {
        options.push((
            1,
            (title(), prop::option::of(text()), text())
                .prop_map(|(title, context, text)| Block::TextDocument { title, context, text })
                .boxed(),
        ));
        options.push((1, vec(text(), 1..3).prop_map(Block::ContentDocument).boxed()));
        options.push((1, Just(Block::UrlDocument).boxed()));
        options.push((1, Just(Block::Unknown).boxed()));
    }
    prop::strategy::Union::new_weighted(options)
}

fn turn() -> impl Strategy<Value = Turn> {
    prop_oneof![
        4 => vec(block(false), 1..4).prop_map(Turn::User),
        3 => (prop::option::of(text()), prop::bool::weighted(0.3), vec(vec(block(true), 0..3), 1..3), vec(block(false), 0..2))
            .prop_map(|(text, history, results, extra)| Turn::ToolLoop { text, history, results, extra }),
        1 => text().prop_map(Turn::System),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let tool = prop_oneof![
        4 => Just(ToolDef::Client),
        1 => Just(ToolDef::Bash),
        1 => Just(ToolDef::Editor),
        1 => any::<bool>().prop_map(ToolDef::Server),
    ];
    (vec(turn(), 1..5), vec(tool, 0..4), prop_oneof![6 => 0usize..=4, 1 => 5usize..7], any::<bool>(), any::<bool>())
        .prop_map(|(turns, tools, stops, format, map_web_search)| Request {
            turns,
            tools,
            stops,
            format,
            map_web_search,
        })
}

/// What rendering the request leaves to check.
#[derive(Default)]
struct Expected {
    texts: Vec<String>,
    images: Vec<String>,
    pdfs: Vec<String>,
    /// Paths of things that cannot be sent.
    refused: BTreeSet<String>,
    calls: Vec<String>,
}

impl Expected {
    fn block(&mut self, block: &Block, path: &str) -> Value {
        let n = self.images.len() + self.pdfs.len();
        match block {
            Block::Text(t) => {
                self.texts.push(t.clone());
                json!({"type": "text", "text": t, "cache_control": {"type": "ephemeral"}})
            }
            Block::Image => {
                self.images.push(format!("IMG{n}"));
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": format!("IMG{n}")}})
            }
            Block::Pdf { title, context } => {
                self.pdfs.push(format!("PDF{n}"));
                self.texts.extend(context.iter().cloned());
                json!({"type": "document", "title": title, "context": context,
                       "source": {"type": "base64", "media_type": "application/pdf", "data": format!("PDF{n}")}})
            }
            Block::TextDocument { title, context, text } => {
                self.texts.extend([title, context].into_iter().flatten().cloned().chain([text.clone()]));
                json!({"type": "document", "title": title, "context": context,
                       "source": {"type": "text", "media_type": "text/plain", "data": text}})
            }
            Block::ContentDocument(texts) => {
                self.texts.extend(texts.iter().cloned());
                let content: Vec<Value> = texts.iter().map(|t| json!({"type": "text", "text": t})).collect();
                json!({"type": "document", "source": {"type": "content", "content": content}})
            }
            Block::Search { title, texts } => {
                self.texts.extend(texts.iter().cloned().chain([title.clone()]));
                let content: Vec<Value> = texts.iter().map(|t| json!({"type": "text", "text": t})).collect();
                json!({"type": "search_result", "source": format!("https://s/{n}"), "title": title, "content": content})
            }
            Block::UrlDocument => {
                self.refused.insert(format!("{path}.source.type"));
                json!({"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}})
            }
            Block::Unknown => {
                self.refused.insert(format!("{path}.type"));
                json!({"type": "hologram", "data": "x"})
            }
        }
    }

    fn blocks(&mut self, blocks: &[Block], path: &str, offset: usize) -> Vec<Value> {
        blocks.iter().enumerate().map(|(j, b)| self.block(b, &format!("{path}[{}]", j + offset))).collect()
    }
}

fn render(request: &Request) -> (Value, Expected) {
    let mut expected = Expected::default();
    let mut messages = Vec::new();
    for turn in &request.turns {
        let i = messages.len();
        match turn {
            Turn::User(blocks) => {
                let content = expected.blocks(blocks, &format!("messages[{i}].content"), 0);
                messages.push(json!({"role": "user", "content": content}));
            }
            Turn::System(text) => {
                expected.texts.push(text.clone());
                messages.push(json!({"role": "system", "content": [{"type": "text", "text": text}]}));
            }
            Turn::ToolLoop { text, history, results, extra } => {
                let mut assistant = Vec::new();
                if let Some(text) = text {
                    expected.texts.push(text.clone());
                    assistant.push(json!({"type": "text", "text": text}));
                }
                if *history {
                    expected.texts.extend(["web_search".to_string(), "https://found".to_string()]);
                    assistant.push(
                        json!({"type": "server_tool_use", "id": format!("srv{i}"), "name": "web_search", "input": {}}),
                    );
                    assistant.push(json!({"type": "web_search_tool_result", "tool_use_id": format!("srv{i}"),
                        "content": [{"type": "web_search_result", "url": "https://found", "title": "F", "encrypted_content": "E"}]}));
                }
                let mut answers = Vec::new();
                for (k, result) in results.iter().enumerate() {
                    let id = format!("toolu_{i}_{k}");
                    expected.calls.push(id.clone());
                    assistant.push(json!({"type": "tool_use", "id": id, "name": "Read", "input": {"k": k}}));
                    let content = expected.blocks(result, &format!("messages[{}].content[{k}].content", i + 1), 0);
                    answers.push(json!({"type": "tool_result", "tool_use_id": id, "content": content}));
                }
                let offset = answers.len();
                answers.extend(expected.blocks(extra, &format!("messages[{}].content", i + 1), offset));
                messages.push(json!({"role": "assistant", "content": assistant}));
                messages.push(json!({"role": "user", "content": answers}));
            }
        }
    }
    let mut tools = Vec::new();
    for (k, tool) in request.tools.iter().enumerate() {
        tools.push(match tool {
            ToolDef::Client => json!({"name": format!("client_{k}"), "input_schema": {"type": "object"}}),
            ToolDef::Bash => json!({"type": "bash_20250124", "name": "bash"}),
            ToolDef::Editor => json!({"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}),
            ToolDef::Server(web) => {
                if !(*web && request.map_web_search) {
                    expected.refused.insert(format!("tools[{k}].type"));
                }
                let kind = if *web { "web_search_20250305" } else { "code_execution_20250825" };
                json!({"type": kind, "name": format!("server_{k}")})
            }
        });
    }
    if request.turns.iter().all(|t| matches!(t, Turn::System(_))) {
        expected.refused.insert("messages".into());
    }
    if request.stops > 4 {
        expected.refused.insert("stop_sequences".into());
    }
    let mut body = json!({"model": "m", "max_tokens": 100, "messages": messages, "tools": tools,
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "stop_sequences": (0..request.stops).map(|n| format!("STOP{n}")).collect::<Vec<_>>()});
    if request.format {
        body["output_config"] = json!({"format": {"type": "json_schema", "schema": {"type": "object"}}});
    }
    (body, expected)
}

/// Every string in the converted messages.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn check(request: &Request, body: &Value, expected: &Expected, out: &Value) -> Result<(), TestCaseError> {
    let messages = out["messages"].as_array().unwrap();
    let mut all = Vec::new();
    strings(&out["messages"], &mut all);
    for text in &expected.texts {
        prop_assert!(all.iter().any(|s| s.contains(text.as_str())), "text {:?} lost", text);
    }
    for (data, kind, prefix) in expected
        .images
        .iter()
        .map(|d| (d, "image_url", "data:image/png;base64,"))
        .chain(expected.pdfs.iter().map(|d| (d, "file", "data:application/pdf;base64,")))
    {
        let url = format!("{prefix}{data}");
        let found: Vec<&Value> = messages
            .iter()
            .flat_map(|m| m["content"].as_array().into_iter().flatten().map(move |p| (m, p)))
            .filter(|(_, p)| p["image_url"]["url"] == url.as_str() || p["file"]["file_data"] == url.as_str())
            .map(|(m, p)| {
                assert_eq!(p["type"], kind);
                m
            })
            .collect();
        prop_assert_eq!(found.len(), 1, "{} appears once", data);
        prop_assert_eq!(&found[0]["role"], "user");
    }
    for id in &expected.calls {
        let call = messages
            .iter()
            .position(|m| m["tool_calls"].as_array().is_some_and(|c| c.iter().any(|c| c["id"] == id.as_str())));
        let answer = messages.iter().position(|m| m["role"] == "tool" && m["tool_call_id"] == id.as_str());
        let (Some(call), Some(answer)) = (call, answer) else {
            return Err(TestCaseError::fail(format!("{id}: call or answer missing")));
        };
        prop_assert!(
            answer > call && messages[call + 1..answer].iter().all(|m| m["role"] == "tool"),
            "{} answered right after",
            id
        );
    }
    prop_assert!(messages.iter().all(|m| m["content"].as_array().is_none_or(|parts| !parts.is_empty())));
    let functions = request.tools.iter().filter(|t| !matches!(t, ToolDef::Server(_))).count();
    prop_assert_eq!(out["tools"].as_array().map_or(0, Vec::len), functions);
    prop_assert_eq!(
        out.get("web_search_options").is_some(),
        request.tools.iter().any(|t| matches!(t, ToolDef::Server(true)))
    );
    prop_assert_eq!(out.get("response_format").is_some(), request.format);
    prop_assert_eq!(out["stop"].as_array().map_or(0, Vec::len), request.stops);
    prop_assert_eq!(&messages[0], &json!({"role": "system", "content": "sys"}));
    let _ = body;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)))]

    #[test]
    fn requests_convert_losslessly_or_are_refused_naming_the_field(request in request()) {
        let (body, expected) = render(&request);
        let bytes = serde_json::to_vec(&body).unwrap();
        let tree = parse_request(&bytes).unwrap();
        let web_search = if request.map_web_search { WebSearch::WebSearchOptions } else { WebSearch::Refuse };
        let opts = ConvertOptions { web_search, ..ConvertOptions::default() };
        match to_openai(&tree, "gpt-4.1", &opts) {
            Ok((converted, _)) => {
                prop_assert!(expected.refused.is_empty(), "converted although {:?} cannot be sent", expected.refused);
                let out = serde_json::to_value(&converted).unwrap();
                check(&request, &body, &expected, &out)?;
            }
            Err(e) => {
                prop_assert_eq!(e.error_type(), "invalid_request_error");
                prop_assert!(expected.refused.contains(e.path()), "refused at {} ({}); expected one of {:?}", e.path(), e.message(), expected.refused);
            }
        }
    }
}
