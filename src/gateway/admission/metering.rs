//! The limits stage of admission, for a virtual key's holder: which targets the key may use, then — on the
//! routes that count (`/v1/messages`, `/v1/chat/completions`) — the reservation its limits need, checked and
//! reserved in one step by the limits store. The reservation is the request's estimate: its input tokens by the
//! local tokenizer `count_tokens` uses, plus `max_tokens`, priced at the dearest target it may go to.

use actix_web::web;

use super::keys::{permitted, reserve, KeyRefusal};
use super::Admitted;
use crate::config::Snapshot;
use crate::error::GatewayError;
use crate::gateway::charge::Charge;
use crate::gateway::endpoint::Endpoint;
use crate::json::member::top_level_member;
use crate::limits::{Amount, Store};
use crate::prices::Price;
use crate::resilience::runtime::now_millis;
use crate::tokens::estimate_located_tokens;

/// Bodies larger than this are tokenised on the blocking pool rather than on the worker's event loop.
const INLINE_ESTIMATE_BYTES: usize = 64 * 1024;

/// Applies the caller's key to `request`: narrows its targets, and reserves what its limits need. `None` for a
/// caller without a key, or a route that does not count.
pub async fn meter(
    endpoint: Endpoint,
    request: &mut Admitted,
    snapshot: &Snapshot,
    store: &Store,
    lease_id: &str,
) -> Result<Option<Charge>, KeyRefusal> {
    let Some(holder) = request.caller.holder().cloned() else { return Ok(None) };
    let prices = permitted(&holder, &mut request.route, &snapshot.prices)?;
    if !endpoint.generates() {
        return Ok(None);
    }
    let want = match holder.meters_tokens() {
        true => {
            let (want, input) = estimate(request, &prices).await?;
            request.input_estimate = Some(input);
            want
        }
        false => Amount::default(),
    };
    let reserved = reserve(store, &holder, want, lease_id.into(), now_millis()).await?;
    Ok(Some(Charge::new(store.clone(), reserved, prices)))
}

/// The reservation of a request: its input tokens plus `max_tokens`, and their cost at the dearest price among
/// the targets.
/// Returns the reservation and the input estimate.
async fn estimate(request: &Admitted, prices: &[Option<Price>]) -> Result<(Amount, u64), KeyRefusal> {
    let max_output =
        request.inspected.max_tokens.or_else(|| max_completion_tokens(&request.body)).ok_or_else(|| {
            GatewayError::InvalidRequest(
                "max_tokens: required with a virtual key that has a token or money limit (the reservation is the \
                 input plus max_tokens); set max_tokens or max_completion_tokens"
                    .into(),
            )
        })?;
    let model = &request.route.primary().model;
    let input = if request.body.len() > INLINE_ESTIMATE_BYTES {
        let (body, parts, model) = (request.body.clone(), request.inspected.parts.clone(), model.clone());
        web::block(move || estimate_located_tokens(&body, &parts, &model))
            .await
            .map_err(|e| GatewayError::Internal(format!("token estimate failed: {e}")))?
    } else {
        estimate_located_tokens(&request.body, &request.inspected.parts, model)
    };
    let nanos = prices.iter().flatten().map(|p| p.reservation_nanos(input, max_output)).max().unwrap_or(0);
    Ok((Amount { tokens: input.saturating_add(max_output), nanos }, input))
}

/// `max_completion_tokens` of a chat completions body (OpenAI's name for `max_tokens`), read without a parse.
fn max_completion_tokens(body: &[u8]) -> Option<u64> {
    let value = top_level_member(body, b"max_completion_tokens")?;
    serde_json::Deserializer::from_slice(value).into_iter::<u64>().next()?.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_completion_tokens_is_read_from_the_top_level_only() {
        assert_eq!(max_completion_tokens(br#"{"model":"m","max_completion_tokens":100}"#), Some(100));
        assert_eq!(max_completion_tokens(br#"{"max_completion_tokens": 7 , "x": 1}"#), Some(7));
        assert_eq!(max_completion_tokens(br#"{"metadata":{"max_completion_tokens":5}}"#), None);
        assert_eq!(max_completion_tokens(br#"{"max_completion_tokens":"lots"}"#), None);
        assert_eq!(max_completion_tokens(br#"{"max_completion_tokens":-1}"#), None);
    }
}
