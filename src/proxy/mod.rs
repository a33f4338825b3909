//! The request path between a handler and a forwarder: reading and inspecting the body, routing by model name,
//! client authentication, header policy, and relaying the upstream body back.

pub mod admission;
pub mod anthropic_upstream;
pub mod body;
pub mod chat_from_anthropic;
pub mod client_auth;
pub mod disconnect;
pub mod headers;
pub mod json_member;
pub mod json_scan;
pub mod openai_errors;
pub mod openai_passthrough;
pub mod openai_sse_passthrough;
pub mod openai_upstream;
pub mod recorder;
pub mod relay;
pub mod response;
pub mod routing;
pub mod sse_passthrough;
