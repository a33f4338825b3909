//! Count tokens via Bedrock: `/v1/messages/count_tokens` to a `bedrock` provider's CountTokens
//! (`/model/{id}/count-tokens`). The request is the InvokeModel body the count is for, base64-wrapped
//! (`{"input":{"invokeModel":{"body":…}}}`); the answer `{"inputTokens": n}` goes back as `{"input_tokens": n}`.

use bytes::Bytes;

use super::via_bedrock::{bedrock_failure, header_betas, model_url, settings, upstream_request};
use super::wire_readers::AnthropicReader;
use super::{Attempt, Prepared};
use crate::cloud::bodies::{anthropic_count_answer, bedrock_count_body, bedrock_count_invoke_body};
use crate::config::Auth;
use crate::error::GatewayError;
use crate::gateway::respond::sse_relay::SseRelay;
use crate::gateway::respond::{Peek, ReadBack, StreamPlan, Whole};
use crate::upstream::UpstreamReply;

/// Reads Bedrock's count back.
pub struct CountTokensViaBedrock {
    provider: String,
    client_credentials: bool,
}

/// The CountTokens request for the attempt's target.
pub fn prepare(attempt: &Attempt<'_>) -> Result<Prepared<CountTokensViaBedrock>, GatewayError> {
    let Attempt { request, target, client_headers, .. } = *attempt;
    settings(&target.provider)?;
    let invoke = bedrock_count_invoke_body(&request.body, &header_betas(client_headers))
        .map_err(GatewayError::InvalidRequest)?;
    let url = model_url(&target.provider, &target.model, "count-tokens");
    let upstream = request_for(attempt, url, bedrock_count_body(&invoke));
    let exchange = CountTokensViaBedrock {
        provider: target.provider.name.clone(),
        client_credentials: target.provider.auth == Auth::Passthrough,
    };
    Ok(Prepared::upstream(exchange, upstream))
}

fn request_for(attempt: &Attempt<'_>, url: String, body: Vec<u8>) -> crate::upstream::UpstreamRequest {
    upstream_request(attempt, url, body, "application/json")
}

impl ReadBack for CountTokensViaBedrock {
    type Stream = SseRelay<AnthropicReader>;

    fn streams(&self, _: &UpstreamReply) -> bool {
        false
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        let (answer, _) = anthropic_count_answer(&body)
            .map_err(|detail| GatewayError::UpstreamProtocol { provider: self.provider.clone(), detail })?;
        Ok(Whole::converted(Bytes::from(answer), Default::default()))
    }

    fn upstream_error(&mut self, reply: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        Err(bedrock_failure(&self.provider, self.client_credentials, reply, &body))
    }

    /// Never used: a count is never streamed.
    fn into_stream(self) -> StreamPlan<Self::Stream> {
        StreamPlan { transform: SseRelay::default(), peek: Peek::Nothing, relayed: true }
    }
}
