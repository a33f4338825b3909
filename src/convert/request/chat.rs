//! The OpenAI Chat Completions request as gatehouse writes it: plain structs that borrow from the client's
//! parsed body and serialise straight to the upstream's bytes. Every member is one the converter chose to write
//! (the allow-list of the module above), in the order OpenAI documents them.

use std::borrow::Cow;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json_borrow::Value as Json;

/// A Chat Completions request body.
#[derive(Serialize, Debug)]
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<ChatMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Newer OpenAI models' name for `max_tokens` (provider option).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<&'a Json<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<&'a Json<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<&'a [Json<'a>]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// `output_config.format` (structured outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'static str>,
    /// A web search server tool, where the provider option maps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_search_options: Option<WebSearchOptions<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<&'static str>,
    /// Derived from the session, so a conversation's requests share OpenAI's prefix cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    /// `metadata.user_id` (hashed when longer than OpenAI's 64 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<Cow<'a, str>>,
    /// `metadata.user_id` for servers that only know the deprecated field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

/// `response_format: {type: "json_schema", json_schema: {…}}`.
#[derive(Serialize, Debug)]
pub struct ResponseFormat<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub json_schema: JsonSchema<'a>,
}

/// `response_format.json_schema`: Anthropic's structured outputs always hold to the schema, so `strict`.
#[derive(Serialize, Debug)]
pub struct JsonSchema<'a> {
    pub name: &'static str,
    pub schema: &'a Json<'a>,
    pub strict: bool,
}

/// `web_search_options`.
#[derive(Serialize, Debug, Default)]
pub struct WebSearchOptions<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_location: Option<UserLocation<'a>>,
}

/// `web_search_options.user_location`.
#[derive(Serialize, Debug)]
pub struct UserLocation<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub approximate: Approximate<'a>,
}

/// The approximate location, as Anthropic's web search tool takes it.
#[derive(Serialize, Debug, Default)]
pub struct Approximate<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<&'a str>,
}

/// `stream_options`: streaming also asks for usage, or an OpenAI stream reports no token counts at all.
#[derive(Serialize, Debug)]
pub struct StreamOptions {
    pub include_usage: bool,
}

/// One message of `messages`.
#[derive(Serialize, Debug)]
pub struct ChatMessage<'a> {
    pub role: &'static str,
    pub content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Put back by the thought-signature hook (OpenRouter-style reasoning state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<serde_json::Value>,
}

impl<'a> ChatMessage<'a> {
    /// A message of `role` with `content` and nothing else.
    pub fn new(role: &'static str, content: Content<'a>) -> Self {
        ChatMessage {
            role,
            content,
            tool_call_id: None,
            tool_calls: Vec::new(),
            reasoning_content: None,
            reasoning_details: None,
        }
    }
}

/// A message's `content`.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum Content<'a> {
    /// `null`: an assistant turn that only calls tools.
    Null,
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

/// One content part of a user message.
#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part<'a> {
    Text {
        text: Cow<'a, str>,
    },
    ImageUrl {
        image_url: ImageUrl<'a>,
    },
    /// A PDF.
    File {
        file: FileData<'a>,
    },
}

/// `image_url` of an image part: a URL or a data URL.
#[derive(Serialize, Debug)]
pub struct ImageUrl<'a> {
    pub url: Url<'a>,
}

/// `file` of a file part: the PDF inline, as a data URL.
#[derive(Serialize, Debug)]
pub struct FileData<'a> {
    pub filename: Cow<'a, str>,
    pub file_data: Url<'a>,
}

/// A URL as the client gave it, or a base64 data URL written straight from the client's media type and data
/// (so megabytes of base64 are not copied into a new string first).
#[derive(Debug, PartialEq, Eq)]
pub enum Url<'a> {
    Plain(&'a str),
    Data { media_type: &'a str, data: &'a str },
}

impl Serialize for Url<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Url::Plain(url) => serializer.serialize_str(url),
            Url::Data { media_type, data } => serializer.collect_str(&format_args!("data:{media_type};base64,{data}")),
        }
    }
}

/// One entry of an assistant message's `tool_calls`.
#[derive(Serialize, Debug)]
pub struct ToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall<'a>,
    /// Put back by the thought-signature hook (Gemini's `extra_content.google.thought_signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_content: Option<serde_json::Value>,
}

/// `tool_calls[].function`: arguments are JSON text.
#[derive(Serialize, Debug)]
pub struct FunctionCall<'a> {
    pub name: Cow<'a, str>,
    pub arguments: String,
}

/// One entry of `tools`.
#[derive(Serialize, Debug)]
pub struct Tool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionTool<'a>,
}

/// `tools[].function`.
#[derive(Serialize, Debug)]
pub struct FunctionTool<'a> {
    pub name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub parameters: Parameters<'a>,
    /// The client asked for the tool's input to follow its schema exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A tool's JSON schema, as the client sent it; a tool without one takes no arguments.
#[derive(Debug)]
pub enum Parameters<'a> {
    Schema(&'a Json<'a>),
    /// The schema of an Anthropic-defined client tool (`bash`, the text editor).
    Builtin(&'static serde_json::Value),
    NoArguments,
}

impl Serialize for Parameters<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Parameters::Schema(schema) => schema.serialize(serializer),
            Parameters::Builtin(schema) => schema.serialize(serializer),
            Parameters::NoArguments => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "object")?;
                map.serialize_entry("properties", &serde_json::Map::new())?;
                map.end()
            }
        }
    }
}

/// `tool_choice`: a mode (`auto`, `required`, `none`) or one named function.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum ToolChoice<'a> {
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: FunctionName<'a>,
    },
}

/// `tool_choice.function`.
#[derive(Serialize, Debug)]
pub struct FunctionName<'a> {
    pub name: Cow<'a, str>,
}
