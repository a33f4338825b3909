//! The model endpoints the pipeline serves: each speaks one client dialect, requires some body fields and makes
//! one kind of upstream call. A handler names its endpoint and hands the request to the pipeline; everything
//! that differs between endpoints afterwards follows from this table (and the exchange planned per target).

use super::admission::body::Required;
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
}

impl Endpoint {
    /// The route label in metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::CountTokens => "count_tokens",
            Self::ChatCompletions => "chat_completions",
        }
    }

    /// The API the client speaks here (its errors are written in it).
    pub fn dialect(self) -> Dialect {
        match self {
            Self::Messages | Self::CountTokens => Dialect::Anthropic,
            Self::ChatCompletions => Dialect::OpenAi,
        }
    }

    /// The fields the body must have.
    pub fn required(self) -> Required {
        match self {
            Self::Messages => Required::Messages,
            Self::CountTokens => Required::CountTokens,
            Self::ChatCompletions => Required::ChatCompletions,
        }
    }

    /// The upstream call it makes.
    pub fn call(self) -> UpstreamCall {
        match self {
            Self::Messages | Self::ChatCompletions => UpstreamCall::Messages,
            Self::CountTokens => UpstreamCall::CountTokens,
        }
    }
}
