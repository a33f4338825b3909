//! A cloud-dialect client and a provider of that cloud's own format: the client's request goes up as it came —
//! its body byte for byte (a Vertex count-tokens body gets the routed model), to the provider's URL for the
//! routed model id — signed or authorised with the gateway's credentials ([`crate::upstream`]), and the answer
//! comes back as it came: Bedrock's JSON, event-stream frames ([`FrameRelay`]) and errors (with their
//! `x-amzn-ErrorType`); Vertex's JSON, SSE and errors.

use bytes::Bytes;

use super::passthrough::Passthrough;
use super::wire_readers::AnthropicReader;
use super::{via_bedrock, via_vertex, Attempt, Exchange, Prepared};
use crate::config::Provider;
use crate::error::GatewayError;
use crate::gateway::endpoint::Endpoint;
use crate::gateway::respond::frame_relay::FrameRelay;
use crate::gateway::respond::sse_relay::WireReader;
use crate::gateway::respond::{Peek, ReadBack, StreamPlan, Whole};
use crate::json::member::top_level_members;
use crate::upstream::headers::is_aws_event_stream;
use crate::upstream::{OutgoingBody, UpstreamReply, UpstreamRequest};

/// A Bedrock answer relayed to a Bedrock client.
pub struct BedrockRelay {
    streamed: bool,
}

/// The relayed request for the attempt's Bedrock- or Vertex-format target.
pub fn prepare(attempt: &Attempt<'_>) -> Result<Prepared<Exchange>, GatewayError> {
    let Attempt { endpoint, request, target, client_headers } = *attempt;
    let Some(cloud) = request.cloud.as_ref() else {
        return Err(GatewayError::Internal(format!("{} request without its cloud dialect", endpoint.label())));
    };
    let provider = &target.provider;
    let url = url(provider, endpoint, &target.model)?;
    let body = match endpoint {
        Endpoint::VertexCountTokens => with_model(&cloud.original, &target.model),
        _ => OutgoingBody::from(cloud.original.clone()),
    };
    let upstream =
        UpstreamRequest::new(provider, endpoint.call(), Bytes::new(), client_headers, request.client_key.clone())
            .redirected(url, body);
    let exchange = match endpoint {
        Endpoint::BedrockInvoke | Endpoint::BedrockStream | Endpoint::BedrockCountTokens => {
            Exchange::BedrockRelay(BedrockRelay { streamed: endpoint == Endpoint::BedrockStream })
        }
        _ => Exchange::AnthropicPassthrough(Passthrough::new(request.inspected.stream)),
    };
    Ok(Prepared::upstream(exchange, upstream))
}

/// The provider's URL for the endpoint and model: `{base}/model/{id}/{operation}` (Bedrock, the id encoded as
/// boto3 does), `{base}/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:{method}` (Vertex).
fn url(provider: &Provider, endpoint: Endpoint, model: &str) -> Result<String, GatewayError> {
    let vertex = |model: &str, method: &str| {
        via_vertex::settings(provider).map(|settings| via_vertex::model_url(provider, settings, model, method))
    };
    match endpoint {
        Endpoint::BedrockInvoke => Ok(via_bedrock::model_url(provider, model, "invoke")),
        Endpoint::BedrockStream => Ok(via_bedrock::model_url(provider, model, "invoke-with-response-stream")),
        Endpoint::BedrockCountTokens => Ok(via_bedrock::model_url(provider, model, "count-tokens")),
        Endpoint::VertexPredict => vertex(model, "rawPredict"),
        Endpoint::VertexStreamPredict => vertex(model, "streamRawPredict"),
        // The model is in the body; the path names the method's own "model".
        Endpoint::VertexCountTokens => vertex("count-tokens", "rawPredict"),
        Endpoint::Messages | Endpoint::CountTokens | Endpoint::ChatCompletions => {
            Err(GatewayError::Internal(format!("{} is not a cloud dialect", endpoint.label())))
        }
    }
}

/// A Vertex count-tokens body with its `model` set to the routed one (the rest as the client wrote it).
fn with_model(body: &Bytes, model: &str) -> OutgoingBody {
    let literal = Bytes::from(serde_json::to_vec(model).unwrap_or_default());
    let members = top_level_members(body).unwrap_or_default();
    match members.iter().find(|m| m.name_in(body).as_ref() == b"model") {
        Some(member) => OutgoingBody::spliced(body, member.value.clone(), literal),
        None => OutgoingBody::from(body.clone()),
    }
}

impl ReadBack for BedrockRelay {
    type Stream = FrameRelay;

    fn streams(&self, reply: &UpstreamReply) -> bool {
        self.streamed && is_aws_event_stream(&reply.headers)
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        let usage = AnthropicReader::usage_of_body(&body);
        Ok(Whole::relayed(body, usage))
    }

    fn upstream_error(&mut self, _: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        Ok(Whole::relayed(body, Default::default()))
    }

    fn into_stream(self) -> StreamPlan<Self::Stream> {
        StreamPlan { transform: FrameRelay::new(), peek: Peek::Nothing, relayed: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_tokens_body_gets_the_routed_model() {
        let body = Bytes::from_static(br#"{"anthropic_version":"vertex-2023-10-16","model":"alias-x","messages":[1]}"#);
        let out = with_model(&body, "claude-x@1").to_bytes();
        assert_eq!(
            out,
            Bytes::from_static(br#"{"anthropic_version":"vertex-2023-10-16","model":"claude-x@1","messages":[1]}"#)
        );
    }
}
