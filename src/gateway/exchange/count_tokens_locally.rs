//! Counting tokens for a provider that has no counting endpoint (OpenAI format): a local estimate with a real
//! tokenizer, never a billable generation call. The tokenizer plays the upstream's part — it answers the way an
//! Anthropic `count_tokens` endpoint would — so the answer goes back like a passthrough's.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::web;
use bytes::Bytes;

use super::passthrough::Passthrough;
use super::wire_readers::AnthropicReader;
use super::{Attempt, Prepared};
use crate::error::GatewayError;
use crate::tokens::estimate_located_tokens;
use crate::upstream::{UpstreamBody, UpstreamReply};

/// Says the count is the gateway's estimate, not the provider's.
const TOKEN_COUNT: HeaderName = HeaderName::from_static("x-gatehouse-token-count");

/// The local count for `target`.
pub fn prepare(attempt: &Attempt<'_>) -> Result<Prepared<Passthrough<AnthropicReader>>, GatewayError> {
    let Attempt { request, target, .. } = *attempt;
    let (body, parts) = (request.body.clone(), request.inspected.parts.clone());
    let model = target.model.clone();
    let count = async move {
        // Tokenising a long conversation takes milliseconds: keep it off the worker's event loop.
        let tokens = web::block(move || estimate_located_tokens(&body, &parts, &model))
            .await
            .map_err(|e| GatewayError::Internal(format!("token counting failed: {e}")))?;
        let body = serde_json::to_vec(&serde_json::json!({ "input_tokens": tokens }))
            .map_err(|e| GatewayError::Internal(format!("serialising the count: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(TOKEN_COUNT, HeaderValue::from_static("estimate"));
        let body = UpstreamBody::whole(Bytes::from(body));
        Ok(UpstreamReply { status: StatusCode::OK, headers, body, upstream_time: Default::default() })
    };
    Ok(Prepared::local(Passthrough::new(false), Box::pin(count)))
}
