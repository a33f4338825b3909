//! Cloud-dialect requests (Bedrock's InvokeModel, Vertex AI's rawPredict) at a provider of any format. Admission
//! read the request into the Anthropic request it means ([`crate::gateway::admission::cloud`]); here:
//!
//! - a provider of the dialect's own format gets the client's request as it was, and its answer goes back as it
//!   came (byte for byte: Bedrock's event-stream frames, Vertex's SSE);
//! - any other provider gets the Anthropic request through the exchange `/v1/messages` (or `count_tokens`) would
//!   use for it — passthrough to Anthropic, conversion to OpenAI, the other cloud's format — with the client's
//!   headers as [`CloudRequest::headers`](crate::gateway::admission::cloud::CloudRequest) has them. The answer is
//!   Anthropic's, which is already Vertex's; a Bedrock client gets it through [`ForBedrock`].

use super::cloud_relay;
use super::for_bedrock::ForBedrock;
use super::{Attempt, Exchange, Prepared};
use crate::config::dialects::CloudDialect;
use crate::config::UpstreamCall;
use crate::error::GatewayError;

/// Plans and prepares a cloud-dialect attempt.
pub fn prepare(attempt: &Attempt<'_>) -> Result<Prepared<Exchange>, GatewayError> {
    let Attempt { endpoint, request, target, .. } = *attempt;
    let (Some(dialect), Some(cloud)) = (endpoint.cloud(), request.cloud.as_ref()) else {
        return Err(GatewayError::Internal(format!("{} request without its cloud dialect", endpoint.label())));
    };
    if dialect.is_native(target.provider.format) {
        return cloud_relay::prepare(attempt);
    }
    let inner = Attempt { endpoint: endpoint.anthropic_equivalent(), client_headers: &cloud.headers, ..*attempt };
    let Prepared { exchange, outbound } = Exchange::prepare(&inner)?;
    let counting = endpoint.call() == UpstreamCall::CountTokens;
    let name = target.provider.name.as_str();
    let exchange = match (dialect, exchange) {
        (CloudDialect::Vertex, exchange) => exchange,
        (CloudDialect::Bedrock, Exchange::AnthropicPassthrough(e)) => {
            Exchange::BedrockViaAnthropic(ForBedrock::new(e, counting, name))
        }
        (CloudDialect::Bedrock, Exchange::MessagesViaOpenAi(e)) => {
            Exchange::BedrockViaOpenAi(ForBedrock::new(e, counting, name))
        }
        (CloudDialect::Bedrock, Exchange::MessagesViaVertex(e)) => {
            Exchange::BedrockViaVertex(ForBedrock::new(e, counting, name))
        }
        (CloudDialect::Bedrock, _) => {
            return Err(GatewayError::Internal(format!(
                "no Bedrock-dialect exchange for provider '{}' ({})",
                target.provider.name, target.provider.format
            )))
        }
    };
    Ok(Prepared { exchange, outbound })
}
