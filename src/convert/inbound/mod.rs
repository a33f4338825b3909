//! OpenAI Chat Completions ⇄ Anthropic Messages for *inbound* OpenAI clients (`POST /v1/chat/completions`)
//! routed to Anthropic-format providers: the mirror image of the rest of `convert`. Pure functions and a state
//! machine over bytes and JSON values, no I/O.
//!
//! - [`to_anthropic_request`]: a Chat Completions request → a Messages request.
//! - [`to_chat_completion`]: a Messages response → a `chat.completion`.
//! - [`ChatStreamConverter`]: Anthropic SSE bytes → `chat.completion.chunk` frames, incrementally.
//! - [`read_anthropic_error`]: an Anthropic-format upstream's error, read for an OpenAI client.

mod chunks;
mod content;
pub mod errors;
mod messages;
mod output;
mod reasoning;
pub mod request;
pub mod response;
pub mod stream;
mod tools;

use serde_json::{Map, Value};

pub use errors::{anthropic_type, read_anthropic_error};
pub use output::JSON_OBJECT_INSTRUCTION;
pub use request::{to_anthropic_request, to_anthropic_request_with, InboundRequest, DEFAULT_MAX_TOKENS};
pub use response::{openai_usage, to_chat_completion};
pub use stream::ChatStreamConverter;

/// A present, non-null field.
fn field<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}
