//! The model endpoints the pipeline serves: each speaks one client dialect, requires some body fields and makes
//! one kind of upstream call. A handler names its endpoint and hands the request to the pipeline; everything
//! that differs between endpoints afterwards follows from this table (and the exchange planned per target).
//!
//! | endpoint | dialect | the model comes from | body |
//! |---|---|---|---|
//! | `Messages`, `CountTokens` | Anthropic | the body | Messages |
//! | `ChatCompletions` | OpenAI | the body | Chat Completions |
//! | `BedrockInvoke`, `BedrockStream` | Bedrock | the path | InvokeModel (Messages without `model`, `stream`) |
//! | `BedrockCountTokens` | Bedrock | the path | `{"input":{"invokeModel":{"body":"<base64>"}}}` |
//! | `VertexPredict`, `VertexStreamPredict` | Vertex | the path | rawPredict (Messages without `model`) |
//! | `VertexCountTokens` | Vertex | the body | count_tokens |

use super::admission::body::Required;
use crate::config::dialects::CloudDialect;
use crate::config::UpstreamCall;
use crate::error::Dialect;

/// A model endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/messages`.
    Messages,
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
    /// `POST /v1/chat/completions`, for applications built on the OpenAI SDKs.
    ChatCompletions,
    /// `POST /bedrock/model/{id}/invoke`: Bedrock's InvokeModel, for Claude Code in Bedrock mode.
    BedrockInvoke,
    /// `POST /bedrock/model/{id}/invoke-with-response-stream`: its answer is an AWS event stream.
    BedrockStream,
    /// `POST /bedrock/model/{id}/count-tokens`.
    BedrockCountTokens,
    /// `POST /vertex/v1/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict`.
    VertexPredict,
    /// `…/models/{model}:streamRawPredict`: its answer is an Anthropic event stream.
    VertexStreamPredict,
    /// `…/models/count-tokens:rawPredict` (the model is in the body).
    VertexCountTokens,
}

impl Endpoint {
    /// The route label in metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::CountTokens => "count_tokens",
            Self::ChatCompletions => "chat_completions",
            Self::BedrockInvoke => "bedrock_invoke",
            Self::BedrockStream => "bedrock_invoke_stream",
            Self::BedrockCountTokens => "bedrock_count_tokens",
            Self::VertexPredict => "vertex_raw_predict",
            Self::VertexStreamPredict => "vertex_stream_raw_predict",
            Self::VertexCountTokens => "vertex_count_tokens",
        }
    }

    /// The API the client speaks here (its errors are written in it).
    pub fn dialect(self) -> Dialect {
        match self {
            Self::Messages | Self::CountTokens => Dialect::Anthropic,
            Self::ChatCompletions => Dialect::OpenAi,
            Self::BedrockInvoke | Self::BedrockStream | Self::BedrockCountTokens => Dialect::Bedrock,
            Self::VertexPredict | Self::VertexStreamPredict | Self::VertexCountTokens => Dialect::Vertex,
        }
    }

    /// The cloud platform whose client dialect this is, if any.
    pub fn cloud(self) -> Option<CloudDialect> {
        match self.dialect() {
            Dialect::Bedrock => Some(CloudDialect::Bedrock),
            Dialect::Vertex => Some(CloudDialect::Vertex),
            Dialect::Anthropic | Dialect::OpenAi => None,
        }
    }

    /// The fields the body must have (for a cloud dialect: the body as an Anthropic request, once the gateway has
    /// put the model from the path into it).
    pub fn required(self) -> Required {
        match self {
            Self::Messages | Self::BedrockInvoke | Self::BedrockStream => Required::Messages,
            Self::VertexPredict | Self::VertexStreamPredict => Required::Messages,
            Self::CountTokens | Self::BedrockCountTokens | Self::VertexCountTokens => Required::CountTokens,
            Self::ChatCompletions => Required::ChatCompletions,
        }
    }

    /// The upstream call it makes.
    pub fn call(self) -> UpstreamCall {
        match self {
            Self::CountTokens | Self::BedrockCountTokens | Self::VertexCountTokens => UpstreamCall::CountTokens,
            _ => UpstreamCall::Messages,
        }
    }

    /// The Anthropic endpoint that means the same: a cloud dialect's request is carried as this one to providers
    /// of other formats.
    pub fn anthropic_equivalent(self) -> Endpoint {
        match self.call() {
            UpstreamCall::CountTokens => Self::CountTokens,
            _ if self == Self::ChatCompletions => Self::ChatCompletions,
            _ => Self::Messages,
        }
    }

    /// Whether the request generates (and so counts against a virtual key's limits), rather than counting tokens.
    pub fn generates(self) -> bool {
        self.call() == UpstreamCall::Messages
    }
}
