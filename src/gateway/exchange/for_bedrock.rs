//! A Bedrock-dialect client of a provider that is not Bedrock: the request went up as the Anthropic request it
//! means (through that provider's own Messages exchange, `E`), and this reads `E`'s answer back the way Bedrock
//! answers:
//!
//! - `invoke`: the Anthropic message JSON, which is what Bedrock's InvokeModel returns for Claude;
//! - `invoke-with-response-stream`: `E`'s Anthropic events re-framed as AWS event-stream frames
//!   ([`EventFrames`]);
//! - `count-tokens`: `{"inputTokens": n}` from Anthropic's `{"input_tokens": n}`;
//! - an upstream error: typed from Anthropic's envelope, and rendered in Bedrock's shape (`{"message"}`,
//!   `x-amzn-ErrorType`) by the one failure point.

use bytes::Bytes;

use crate::convert::inbound::read_anthropic_error;
use crate::error::GatewayError;
use crate::gateway::respond::event_frames::EventFrames;
use crate::gateway::respond::{upstream_failure, ReadBack, StreamPlan, Whole};
use crate::upstream::UpstreamReply;

/// `E`'s answer, read back for a Bedrock client.
pub struct ForBedrock<E: ReadBack> {
    inner: E,
    /// A count-tokens request: the answer's one number is renamed.
    counting: bool,
    /// The provider answering, named in errors.
    provider: String,
}

impl<E: ReadBack> ForBedrock<E> {
    pub fn new(inner: E, counting: bool, provider: &str) -> Self {
        Self { inner, counting, provider: provider.to_string() }
    }
}

impl<E: ReadBack> ReadBack for ForBedrock<E> {
    type Stream = EventFrames<E::Stream>;

    fn streams(&self, reply: &UpstreamReply) -> bool {
        self.inner.streams(reply)
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        let whole = self.inner.whole(body)?;
        if !self.counting {
            return Ok(whole);
        }
        let count = bedrock_token_count(&whole.body)
            .map_err(|detail| GatewayError::UpstreamProtocol { provider: self.provider.clone(), detail })?;
        Ok(Whole::converted(count, whole.usage))
    }

    fn upstream_error(&mut self, reply: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        // `E` relays Anthropic's error body as it was, or has typed it already; typed here so it can be written in
        // Bedrock's shape.
        let relayed = self.inner.upstream_error(reply, body)?;
        Err(upstream_failure(reply, read_anthropic_error(reply.status.as_u16(), &relayed.body)))
    }

    async fn ready_to_stream(&mut self) {
        self.inner.ready_to_stream().await;
    }

    fn into_stream(self) -> StreamPlan<Self::Stream> {
        let StreamPlan { transform, peek, relayed: _ } = self.inner.into_stream();
        StreamPlan { transform: EventFrames::new(transform), peek, relayed: false }
    }
}

/// Bedrock's count-tokens answer `{"inputTokens": n}` from Anthropic's `{"input_tokens": n}`.
fn bedrock_token_count(anthropic: &[u8]) -> Result<Bytes, String> {
    #[derive(serde::Deserialize)]
    struct Count {
        input_tokens: u64,
    }
    let count: Count = serde_json::from_slice(anthropic)
        .map_err(|e| format!("the token count is not {{\"input_tokens\": n}}: {e}"))?;
    Ok(Bytes::from(format!("{{\"inputTokens\":{}}}", count.input_tokens)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_are_renamed() {
        assert_eq!(
            bedrock_token_count(br#"{"input_tokens": 42}"#).unwrap(),
            Bytes::from_static(br#"{"inputTokens":42}"#)
        );
        assert!(bedrock_token_count(b"{}").unwrap_err().contains("input_tokens"));
    }
}
