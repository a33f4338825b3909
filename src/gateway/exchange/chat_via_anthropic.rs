//! Chat via Anthropic: an OpenAI client (`/v1/chat/completions`) and an Anthropic-format provider. The request
//! is converted to Messages, the answer back to Chat Completions: errors in the OpenAI shape, a message as a
//! `chat.completion`, a stream as `chat.completion.chunk`s.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{Attempt, Prepared};
use crate::convert::inbound::{
    read_anthropic_error, to_anthropic_request_with, to_chat_completion, ChatStreamConverter,
};
use crate::error::GatewayError;
use crate::gateway::respond::converting::Converting;
use crate::gateway::respond::{upstream_failure, Peek, ReadBack, StreamPlan, Whole};
use crate::upstream::{ClientKey, KeyStyle, UpstreamReply, UpstreamRequest};

/// What the answer must look like.
pub struct ChatViaAnthropic {
    /// The model the client asked for (echoed in every object).
    requested_model: String,
    streamed: bool,
    /// The client asked for a final usage chunk.
    include_usage: bool,
    provider: String,
}

/// Converts the client's Chat Completions body for `target`.
pub fn prepare(attempt: &Attempt<'_>) -> Result<Prepared<ChatViaAnthropic>, GatewayError> {
    let Attempt { endpoint, request, target, client_headers } = *attempt;
    let value: serde_json::Value = serde_json::from_slice(&request.body)
        .map_err(|e| GatewayError::InvalidRequest(format!("request body is not valid JSON: {e}")))?;
    let converted = to_anthropic_request_with(&value, &target.model, &target.provider.options)
        .map_err(|e| GatewayError::InvalidRequest(e.to_string()))?;
    let body =
        serde_json::to_vec(&converted.body).map_err(|e| GatewayError::Internal(format!("serialising request: {e}")))?;
    let key = request.client_key.clone().map(anthropic_style);
    let upstream = UpstreamRequest::new(&target.provider, endpoint.call(), Bytes::from(body), client_headers, key);
    let exchange = ChatViaAnthropic {
        requested_model: request.inspected.model.clone(),
        streamed: request.inspected.stream,
        include_usage: converted.include_usage,
        provider: target.provider.name.clone(),
    };
    Ok(Prepared::upstream(exchange, upstream))
}

/// OpenAI SDKs send their key as `Authorization: Bearer`; Anthropic's API takes API keys in `x-api-key` (Bearer
/// is for OAuth tokens, `sk-ant-oat…`), so a passthrough key is presented the Anthropic way.
fn anthropic_style(key: ClientKey) -> ClientKey {
    if key.key.starts_with("sk-ant-oat") {
        key
    } else {
        ClientKey { style: KeyStyle::XApiKey, ..key }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl ReadBack for ChatViaAnthropic {
    type Stream = Converting<ChatStreamConverter>;

    fn streams(&self, _: &UpstreamReply) -> bool {
        self.streamed
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        let protocol = |detail: String| GatewayError::UpstreamProtocol { provider: self.provider.clone(), detail };
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| protocol(format!("response is not JSON: {e}")))?;
        let (completion, usage) =
            to_chat_completion(&value, &self.requested_model, unix_now()).map_err(|e| match e.path() {
                "error" => GatewayError::upstream(e.error_type(), e.message().to_string(), None),
                _ => protocol(e.to_string()),
            })?;
        let bytes = serde_json::to_vec(&completion)
            .map_err(|e| GatewayError::Internal(format!("serialising response: {e}")))?;
        Ok(Whole::converted(Bytes::from(bytes), usage))
    }

    /// The upstream's error (an Anthropic envelope, or whatever it sent) with its status and `retry-after`.
    fn upstream_error(&mut self, reply: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        Err(upstream_failure(reply, read_anthropic_error(reply.status.as_u16(), &body)))
    }

    /// Upstream bytes are converted until the first chunk for the client exists (the role chunk at
    /// `message_start`) before the 200, so a stream that fails at once — an `error` event first, a cut, a body
    /// that is not SSE — becomes a real HTTP error.
    fn into_stream(self) -> StreamPlan<Self::Stream> {
        let converter = ChatStreamConverter::new(self.requested_model, unix_now(), self.include_usage);
        StreamPlan { transform: Converting::new(converter), peek: Peek::FirstOutput, relayed: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_api_keys_become_x_api_key_but_oauth_tokens_stay() {
        let key = |k: &str| ClientKey { key: k.into(), style: KeyStyle::Bearer };
        assert_eq!(anthropic_style(key("sk-ant-api03-x")).style, KeyStyle::XApiKey);
        assert_eq!(anthropic_style(key("sk-ant-oat01-x")).style, KeyStyle::Bearer);
    }
}
