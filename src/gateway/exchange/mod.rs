//! Exchanges: how a request in one client dialect is carried to a provider of one upstream format, and how its
//! answer comes back. The pipeline plans one exchange per target from (endpoint, provider format):
//!
//! | endpoint \ provider format | `anthropic` | `openai` | `bedrock` | `vertex` |
//! |---|---|---|---|---|
//! | `/v1/messages` | [`Passthrough`] (Anthropic) | [`MessagesViaOpenAi`] | [`ViaBedrock`]`<Passthrough>` | [`ViaVertex`]`<Passthrough>` |
//! | `/v1/messages/count_tokens` | [`Passthrough`] (Anthropic) | local estimate ([`count_tokens_locally`]) | [`CountTokensViaBedrock`] | [`ViaVertex`]`<Passthrough>` |
//! | `/v1/chat/completions` | [`ChatViaAnthropic`] | [`Passthrough`] (OpenAI) | [`ViaBedrock`]`<ChatViaAnthropic>` | [`ViaVertex`]`<ChatViaAnthropic>` |
//! | Bedrock's `/bedrock/model/{id}/…` | [`ForBedrock`] over the `/v1/messages` exchange | [`ForBedrock`] over it | relayed ([`cloud_relay`]) | [`ForBedrock`] over it |
//! | Vertex's `/vertex/…/models/{m}:…` | the `/v1/messages` exchange | the same | the same | relayed ([`cloud_relay`]) |
//!
//! The cloud dialects' rows ([`cloud_dialects`]): admission reads a Bedrock or Vertex request into the Anthropic
//! request it means, so a provider of another format gets it through the exchange `/v1/messages` (or
//! `count_tokens`) would use; a Bedrock client reads the Anthropic answer back through [`ForBedrock`]
//! (event-stream frames, `{"message"}` errors, `inputTokens`). A provider of the dialect's own format gets the
//! client's request as it was, and the client its answer as it came.
//!
//! Each exchange is one file: a `prepare` function (the upstream request) and a
//! [`ReadBack`](super::respond::ReadBack) implementation
//! (how the answer is read back). A new format or dialect is a new variant here and its file.

pub mod chat_via_anthropic;
pub mod cloud_dialects;
pub mod cloud_relay;
pub mod count_tokens_locally;
pub mod count_tokens_via_bedrock;
pub mod for_bedrock;
pub mod messages_via_openai;
pub mod passthrough;
pub mod via_bedrock;
pub mod via_vertex;
pub mod wire_readers;

use actix_web::http::header::HeaderMap;
use actix_web::HttpResponse;
use futures_util::future::LocalBoxFuture;

use super::admission::Admitted;
use super::endpoint::Endpoint;
use super::recorder::Recorder;
use super::respond::answer;
use crate::config::{ApiFormat, Target};
use crate::error::GatewayError;
use crate::upstream::{UpstreamReply, UpstreamRequest};
pub use chat_via_anthropic::ChatViaAnthropic;
pub use count_tokens_via_bedrock::CountTokensViaBedrock;
use for_bedrock::ForBedrock;
pub use messages_via_openai::MessagesViaOpenAi;
pub use passthrough::Passthrough;
pub use via_bedrock::ViaBedrock;
pub use via_vertex::ViaVertex;
use wire_readers::{AnthropicReader, OpenAiReader};

/// One exchange, with what reading its answer needs.
pub enum Exchange {
    AnthropicPassthrough(Passthrough<AnthropicReader>),
    OpenAiPassthrough(Passthrough<OpenAiReader>),
    MessagesViaOpenAi(MessagesViaOpenAi),
    ChatViaAnthropic(ChatViaAnthropic),
    MessagesViaBedrock(ViaBedrock<Passthrough<AnthropicReader>>),
    ChatViaBedrock(ViaBedrock<ChatViaAnthropic>),
    CountTokensViaBedrock(CountTokensViaBedrock),
    /// Messages and count_tokens.
    MessagesViaVertex(ViaVertex<Passthrough<AnthropicReader>>),
    ChatViaVertex(ViaVertex<ChatViaAnthropic>),
    /// A Bedrock-dialect client of an Anthropic-format provider (or of the local token count).
    BedrockViaAnthropic(ForBedrock<Passthrough<AnthropicReader>>),
    /// A Bedrock-dialect client of an OpenAI-format provider.
    BedrockViaOpenAi(ForBedrock<MessagesViaOpenAi>),
    /// A Bedrock-dialect client of a Bedrock-format provider: relayed both ways.
    BedrockRelay(cloud_relay::BedrockRelay),
    /// A Bedrock-dialect client of a Vertex-format provider.
    BedrockViaVertex(ForBedrock<ViaVertex<Passthrough<AnthropicReader>>>),
}

/// One attempt of a request at one target: what an exchange prepares its upstream request from.
pub struct Attempt<'a> {
    pub endpoint: Endpoint,
    pub request: &'a Admitted,
    pub target: &'a Target,
    /// The client's headers, from which the upstream's are derived.
    pub client_headers: &'a HeaderMap,
}

/// Where a prepared request goes.
pub enum Outbound {
    /// To the provider.
    Upstream(UpstreamRequest),
    /// Answered by the gateway itself, as if by the provider (a local token count).
    Local(LocalBoxFuture<'static, Result<UpstreamReply, GatewayError>>),
}

/// An exchange ready to send.
pub struct Prepared<E> {
    pub exchange: E,
    pub outbound: Outbound,
}

impl<E> Prepared<E> {
    fn upstream(exchange: E, request: UpstreamRequest) -> Self {
        Self { exchange, outbound: Outbound::Upstream(request) }
    }

    fn local(exchange: E, answer: LocalBoxFuture<'static, Result<UpstreamReply, GatewayError>>) -> Self {
        Self { exchange, outbound: Outbound::Local(answer) }
    }

    fn map(self, variant: fn(E) -> Exchange) -> Prepared<Exchange> {
        Prepared { exchange: variant(self.exchange), outbound: self.outbound }
    }
}

impl Exchange {
    /// Plans the exchange for the attempt's (endpoint, provider format) and prepares its request.
    pub fn prepare(attempt: &Attempt<'_>) -> Result<Prepared<Exchange>, GatewayError> {
        Ok(match (attempt.endpoint, attempt.target.provider.format) {
            (Endpoint::Messages | Endpoint::CountTokens, ApiFormat::Anthropic) => {
                passthrough::prepare(attempt).map(Self::AnthropicPassthrough)
            }
            (Endpoint::Messages, ApiFormat::OpenAi) => {
                messages_via_openai::prepare(attempt)?.map(Self::MessagesViaOpenAi)
            }
            (Endpoint::CountTokens, ApiFormat::OpenAi) => {
                count_tokens_locally::prepare(attempt)?.map(Self::AnthropicPassthrough)
            }
            (Endpoint::ChatCompletions, ApiFormat::OpenAi) => {
                passthrough::prepare(attempt).map(Self::OpenAiPassthrough)
            }
            (Endpoint::ChatCompletions, ApiFormat::Anthropic) => {
                chat_via_anthropic::prepare(attempt)?.map(Self::ChatViaAnthropic)
            }
            (
                Endpoint::BedrockInvoke
                | Endpoint::BedrockStream
                | Endpoint::BedrockCountTokens
                | Endpoint::VertexPredict
                | Endpoint::VertexStreamPredict
                | Endpoint::VertexCountTokens,
                _,
            ) => return cloud_dialects::prepare(attempt),
            (Endpoint::Messages, ApiFormat::Bedrock) => {
                via_bedrock::prepare_messages(attempt)?.map(Self::MessagesViaBedrock)
            }
            (Endpoint::CountTokens, ApiFormat::Bedrock) => {
                count_tokens_via_bedrock::prepare(attempt)?.map(Self::CountTokensViaBedrock)
            }
            (Endpoint::ChatCompletions, ApiFormat::Bedrock) => {
                via_bedrock::prepare_chat(attempt)?.map(Self::ChatViaBedrock)
            }
            (Endpoint::Messages, ApiFormat::Vertex) => {
                via_vertex::prepare_messages(attempt)?.map(Self::MessagesViaVertex)
            }
            (Endpoint::CountTokens, ApiFormat::Vertex) => {
                via_vertex::prepare_count_tokens(attempt)?.map(Self::MessagesViaVertex)
            }
            (Endpoint::ChatCompletions, ApiFormat::Vertex) => {
                via_vertex::prepare_chat(attempt)?.map(Self::ChatViaVertex)
            }
        })
    }

    /// Answers the client with `reply`, read back as this exchange does. Records the request.
    pub async fn respond(self, reply: UpstreamReply, recorder: Recorder) -> HttpResponse {
        match self {
            Self::AnthropicPassthrough(e) => answer(e, reply, recorder).await,
            Self::OpenAiPassthrough(e) => answer(e, reply, recorder).await,
            Self::MessagesViaOpenAi(e) => answer(e, reply, recorder).await,
            Self::ChatViaAnthropic(e) => answer(e, reply, recorder).await,
            Self::MessagesViaBedrock(e) => answer(e, reply, recorder).await,
            Self::ChatViaBedrock(e) => answer(e, reply, recorder).await,
            Self::CountTokensViaBedrock(e) => answer(e, reply, recorder).await,
            Self::MessagesViaVertex(e) => answer(e, reply, recorder).await,
            Self::ChatViaVertex(e) => answer(e, reply, recorder).await,
            Self::BedrockViaAnthropic(e) => answer(e, reply, recorder).await,
            Self::BedrockViaOpenAi(e) => answer(e, reply, recorder).await,
            Self::BedrockRelay(e) => answer(e, reply, recorder).await,
            Self::BedrockViaVertex(e) => answer(e, reply, recorder).await,
        }
    }
}
