//! Passthrough: the client speaks the provider's own format, so the request goes up with only `model`
//! rewritten and the answer — JSON, event stream or error — comes back byte for byte, with its status and
//! headers. The [`WireReader`] of the format reads usage on the side.

use std::marker::PhantomData;

use bytes::Bytes;

use super::{Attempt, Prepared};
use crate::error::GatewayError;
use crate::gateway::admission::body::with_model;
use crate::gateway::respond::sse_relay::{SseRelay, WireReader};
use crate::gateway::respond::{Peek, ReadBack, StreamPlan, Whole};
use crate::upstream::headers::is_event_stream;
use crate::upstream::{UpstreamReply, UpstreamRequest};

/// A passthrough exchange reading its answer with `R`.
pub struct Passthrough<R: WireReader> {
    streamed: bool,
    reader: PhantomData<R>,
}

impl<R: WireReader> Passthrough<R> {
    /// Reads back an answer that is streamed when the client asked for a stream.
    pub fn new(streamed: bool) -> Self {
        Self { streamed, reader: PhantomData }
    }
}

/// The request for `target`: the client's body with the upstream model, and the client's headers by the
/// provider's header policy.
pub fn prepare<R: WireReader>(attempt: &Attempt<'_>) -> Prepared<Passthrough<R>> {
    let Attempt { endpoint, request, target, client_headers } = *attempt;
    let body = with_model(&request.body, &request.inspected, &target.model);
    let upstream =
        UpstreamRequest::new(&target.provider, endpoint.call(), body, client_headers, request.client_key.clone());
    Prepared::upstream(Passthrough::new(request.inspected.stream), upstream)
}

impl<R: WireReader> ReadBack for Passthrough<R> {
    type Stream = SseRelay<R>;

    fn streams(&self, reply: &UpstreamReply) -> bool {
        self.streamed && is_event_stream(&reply.headers)
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        let usage = R::usage_of_body(&body);
        Ok(Whole::relayed(body, usage))
    }

    fn upstream_error(&mut self, _: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        Ok(Whole::relayed(body, Default::default()))
    }

    fn into_stream(self) -> StreamPlan<Self::Stream> {
        StreamPlan { transform: SseRelay::default(), peek: Peek::Nothing, relayed: true }
    }
}
