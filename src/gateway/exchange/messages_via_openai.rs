//! Messages via OpenAI: an Anthropic client (`/v1/messages`) and an OpenAI-format provider. The request is
//! converted to Chat Completions (the provider's hooks see it), the answer — JSON, stream or error — back to
//! Anthropic's shapes (the hooks see it too).

use bytes::Bytes;

use super::{Attempt, Prepared};
use crate::config::Provider;
use crate::convert::{
    generate_message_id, openai_error_to_anthropic, parse_request, to_anthropic, to_openai_with, Completion,
    ConvertError, HookChain, RequestContext, StreamConverter, ToolNames,
};
use crate::error::GatewayError;
use crate::gateway::respond::converting::Converting;
use crate::gateway::respond::{upstream_failure, Peek, ReadBack, StreamPlan, Whole};
use crate::hooks::ThoughtSignatures;
use crate::tokens::estimate_located_tokens;
use crate::upstream::{UpstreamReply, UpstreamRequest};

/// Claude Code's session id: the stable value a converted request's `prompt_cache_key` is derived from.
const SESSION_ID: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-claude-code-session-id");

/// What reading the answer needs: the client's names for things, and the request's hooks.
pub struct MessagesViaOpenAi {
    /// The model the client asked for (echoed in the answer).
    requested_model: String,
    streamed: bool,
    names: ToolNames,
    /// The provider's hooks for this request; they have seen the request and must see the answer.
    hooks: HookChain,
    provider: String,
    /// The request's input tokens for the stream's `message_start`, worked out while the upstream answers.
    input_estimate: Estimate,
}

/// The input estimate of a streamed answer.
enum Estimate {
    Known(u64),
    /// Being counted on the blocking pool (a long conversation takes milliseconds).
    Counting(tokio::task::JoinHandle<u64>),
    /// Not needed: the answer is not streamed.
    Unneeded,
}

/// Bodies up to this size are counted at once; larger ones on the blocking pool while the upstream answers.
const INLINE_ESTIMATE_BYTES: usize = 16 * 1024;

fn input_estimate(request: &crate::gateway::admission::Admitted, model: &str) -> Estimate {
    match (request.inspected.stream, request.input_estimate) {
        (false, _) => Estimate::Unneeded,
        (true, Some(known)) => Estimate::Known(known),
        (true, None) if request.body.len() <= INLINE_ESTIMATE_BYTES => {
            Estimate::Known(estimate_located_tokens(&request.body, &request.inspected.parts, model))
        }
        (true, None) => {
            let (body, parts, model) = (request.body.clone(), request.inspected.parts.clone(), model.to_string());
            Estimate::Counting(actix_rt::task::spawn_blocking(move || estimate_located_tokens(&body, &parts, &model)))
        }
    }
}

/// Converts the client's body for `target`; a body the converter cannot read is the client's mistake (400 naming
/// the field).
pub fn prepare(attempt: &Attempt<'_>) -> Result<Prepared<MessagesViaOpenAi>, GatewayError> {
    let Attempt { endpoint, request, target, client_headers } = *attempt;
    let provider = &target.provider;
    let tree = parse_request(&request.body).map_err(client_error)?;
    let session_id = client_headers.get(SESSION_ID).and_then(|v| v.to_str().ok());
    let context = RequestContext { session_id };
    let (mut openai, names) =
        to_openai_with(&tree, &target.model, &provider.options, &context).map_err(client_error)?;
    let mut hooks = hooks_of(provider);
    hooks.on_request(&mut openai);
    let body = serde_json::to_vec(&openai).map_err(|e| GatewayError::Internal(format!("serialising request: {e}")))?;
    let upstream =
        UpstreamRequest::new(provider, endpoint.call(), Bytes::from(body), client_headers, request.client_key.clone());
    let exchange = MessagesViaOpenAi {
        requested_model: request.inspected.model.clone(),
        streamed: request.inspected.stream,
        names,
        hooks,
        provider: provider.name.clone(),
        input_estimate: input_estimate(request, &target.model),
    };
    Ok(Prepared::upstream(exchange, upstream))
}

/// The hooks `provider` has enabled: thought signatures unless `thought_signatures = false`.
fn hooks_of(provider: &Provider) -> HookChain {
    let mut chain = HookChain::default();
    if provider.options.thought_signatures {
        chain.push(Box::new(ThoughtSignatures::new(provider.runtime.signatures.clone())));
    }
    chain
}

fn client_error(e: ConvertError) -> GatewayError {
    match e.error_type() {
        "invalid_request_error" => GatewayError::InvalidRequest(e.to_string()),
        _ => GatewayError::Internal(e.to_string()),
    }
}

impl ReadBack for MessagesViaOpenAi {
    type Stream = Converting<StreamConverter>;

    fn streams(&self, _: &UpstreamReply) -> bool {
        self.streamed
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        // A 200 that carried an error object keeps its type; any other unusable answer is a protocol error.
        let provider = &self.provider;
        let answer_error = |e: ConvertError| match e.error_type() {
            "api_error" if e.path() != "error" => {
                GatewayError::UpstreamProtocol { provider: provider.clone(), detail: e.to_string() }
            }
            error_type => GatewayError::upstream(error_type, e.message().to_string(), None),
        };
        let completion = Completion::parse(&body).map_err(answer_error)?;
        self.hooks.on_response(&completion);
        let (bytes, usage) = to_anthropic(&completion, &self.requested_model, &self.names).map_err(answer_error)?;
        Ok(Whole::converted(Bytes::from(bytes), usage))
    }

    /// The upstream's error body becomes the Anthropic envelope; status and `retry-after` are kept.
    fn upstream_error(&mut self, reply: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        Err(upstream_failure(reply, openai_error_to_anthropic(reply.status.as_u16(), &body)))
    }

    async fn ready_to_stream(&mut self) {
        if let Estimate::Counting(counting) = &mut self.input_estimate {
            self.input_estimate = Estimate::Known(counting.await.unwrap_or(0));
        }
    }

    /// The first upstream chunk is awaited before the 200, so a stream that dies at once is a real HTTP error.
    fn into_stream(self) -> StreamPlan<Self::Stream> {
        let estimate = match self.input_estimate {
            Estimate::Known(n) => n,
            Estimate::Counting(_) | Estimate::Unneeded => 0,
        };
        let converter = StreamConverter::new(self.requested_model, generate_message_id(), self.names)
            .with_hooks(self.hooks)
            .with_input_estimate(estimate);
        StreamPlan { transform: Converting::new(converter), peek: Peek::FirstChunk, relayed: false }
    }
}
