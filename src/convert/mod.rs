//! Anthropic Messages ⇄ OpenAI Chat Completions conversion (wire-formats §5–7):
//! pure functions and state machines over bytes and JSON values, no I/O, so
//! every case is testable without a server.
//!
//! - [`parse_request`] and [`to_openai`]: an Anthropic request body, read into a
//!   borrowed tree, → the structs of an OpenAI request ([`ChatRequest`]), plus
//!   the [`ToolNames`] map needed to read the answer.
//! - [`Completion`] and [`to_anthropic`]: a non-streaming OpenAI response, read without a tree, → the JSON of an
//!   Anthropic message.
//! - [`StreamConverter`]: OpenAI SSE bytes → Anthropic SSE bytes, incrementally.
//! - [`openai_error_to_anthropic`]: an OpenAI-format upstream's error, read in Anthropic terms.
//! - [`hooks`]: the middleware interface a provider's hooks implement (they see converted requests and answers).
//! - [`inbound`]: the other direction, for OpenAI clients of Anthropic-format providers.
//! - [`options`] and [`models`]: per-provider and per-model settings, and what model names say.
//! - [`lax`]: lenient readers that let typed structures read upstream JSON without a tree.

pub mod completion;
pub mod errors;
pub mod hooks;
pub mod ids;
pub mod inbound;
pub mod lax;
pub mod models;
pub mod options;
pub mod request;
pub mod response;
pub mod stream;
pub mod stream_convert;
pub mod tool_names;
pub mod usage;

pub use completion::Completion;
pub use errors::{openai_error_to_anthropic, ConvertError};
pub use hooks::{HookChain, OpenAiHook};
pub use ids::generate_message_id;
pub use options::{ConvertOptions, MaxTokensField, ModelOptions, ThinkingStyle, UserIdField, WebSearch};
pub use request::{parse as parse_request, to_openai, to_openai_with, ChatRequest, RequestContext};
pub use response::to_anthropic;
pub use stream::StreamConverter;
pub use stream_convert::StreamConvert;
pub use tool_names::ToolNames;
pub use usage::Usage;
