//! The client-facing response body of a proxied request: pulls upstream chunks from the forwarder's channel,
//! passes them through a [`BodyTransform`], turns a late failure into one SSE error frame, and records the
//! request exactly once when the body ends or the client goes away.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::openai_errors::{openai_error_frame, openai_error_frame_for};
use super::openai_sse_passthrough::OpenAiSsePassthrough;
use super::recorder::Recorder;
use super::sse_passthrough::SsePassthrough;
use crate::actors::forwarder::UpstreamBody;
use crate::convert::inbound::ChatStreamConverter;
use crate::convert::{StreamConverter, Usage};
use crate::error::{sse_error_frame, GatewayError};

/// What happens to upstream bytes on their way to the client.
pub enum BodyTransform {
    /// An Anthropic SSE stream, relayed byte for byte.
    AnthropicSse(SsePassthrough),
    /// An OpenAI SSE stream converted to Anthropic events, with a reused output buffer.
    OpenAiSse(Box<StreamConverter>, BytesMut),
    /// An OpenAI SSE stream relayed byte for byte to an OpenAI client (`/v1/chat/completions`).
    OpenAiPassthrough(OpenAiSsePassthrough),
    /// An Anthropic SSE stream converted to `chat.completion.chunk`s for an OpenAI client; the buffer may hold
    /// output converted before the response was committed.
    ChatFromAnthropic(Box<ChatStreamConverter>, BytesMut),
}

impl BodyTransform {
    fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        match self {
            Self::AnthropicSse(p) => p.on_chunk(chunk),
            Self::OpenAiSse(converter, out) => {
                converter.push(&chunk, out);
                (!out.is_empty()).then(|| out.split().freeze())
            }
            Self::OpenAiPassthrough(p) => p.on_chunk(chunk),
            Self::ChatFromAnthropic(converter, out) => {
                converter.push(&chunk, out);
                (!out.is_empty()).then(|| out.split().freeze())
            }
        }
    }

    /// The upstream ended; returns closing bytes, if any.
    fn on_end(&mut self) -> Option<Bytes> {
        match self {
            Self::AnthropicSse(p) => {
                (!p.on_end()).then(|| sse_error_frame("api_error", "upstream stream ended before message_stop"))
            }
            Self::OpenAiSse(converter, out) => {
                converter.finish(out);
                (!out.is_empty()).then(|| out.split().freeze())
            }
            Self::OpenAiPassthrough(p) => match p.on_end() {
                // A complete stream's last event may lack its blank line (`data: [DONE]` at EOF): relay it.
                (tail, true) => tail,
                // A cut stream's unfinished event is dropped so the error chunk parses on its own.
                (_, false) => Some(openai_error_frame_for("api_error", "upstream stream ended before completion")),
            },
            Self::ChatFromAnthropic(converter, out) => {
                converter.finish(out);
                (!out.is_empty()).then(|| out.split().freeze())
            }
        }
    }

    /// A transport failure after the stream began: the closing error frame.
    fn on_error(&mut self, error: &GatewayError) -> Bytes {
        match self {
            Self::AnthropicSse(p) => {
                p.on_end();
                error.sse_frame()
            }
            Self::OpenAiSse(converter, out) => {
                converter.fail(error.error_type(), &error.to_string(), out);
                out.split().freeze()
            }
            Self::OpenAiPassthrough(p) => {
                p.on_end();
                openai_error_frame(error)
            }
            Self::ChatFromAnthropic(converter, out) => {
                converter.fail(error.error_type(), &error.to_string(), out);
                out.split().freeze()
            }
        }
    }

    /// Why the stream ended badly, judged from what was relayed (for metrics and logs).
    fn error_kind(&mut self) -> Option<&'static str> {
        match self {
            Self::AnthropicSse(p) => p.ended_badly().then_some("upstream_stream_error"),
            Self::OpenAiSse(converter, _) => converter.failed_with().map(|_| "upstream_stream_error"),
            Self::OpenAiPassthrough(p) => p.ended_badly().then_some("upstream_stream_error"),
            Self::ChatFromAnthropic(converter, _) => converter.failed_with().map(|_| "upstream_stream_error"),
        }
    }

    fn usage(&mut self) -> Usage {
        match self {
            Self::AnthropicSse(p) => p.usage(),
            Self::OpenAiSse(converter, _) => converter.usage(),
            Self::OpenAiPassthrough(p) => p.usage(),
            Self::ChatFromAnthropic(converter, _) => converter.usage(),
        }
    }
}

/// The streamed response body.
pub struct Relay {
    upstream: UpstreamBody,
    transform: BodyTransform,
    recorder: Option<Recorder>,
    status: u16,
    /// A chunk read before the response was committed (peeked), relayed first.
    prefetched: Option<Bytes>,
    first_byte: Option<Duration>,
    error_kind: Option<&'static str>,
    done: bool,
}

impl Relay {
    pub fn new(
        upstream: UpstreamBody,
        transform: BodyTransform,
        recorder: Recorder,
        status: u16,
        prefetched: Option<Bytes>,
    ) -> Self {
        Self {
            upstream,
            transform,
            recorder: Some(recorder),
            status,
            prefetched,
            first_byte: None,
            error_kind: None,
            done: false,
        }
    }

    fn emit(&mut self, bytes: Bytes) -> Poll<Option<Result<Bytes, Infallible>>> {
        if self.first_byte.is_none() {
            self.first_byte = self.recorder.as_ref().map(Recorder::elapsed);
        }
        Poll::Ready(Some(Ok(bytes)))
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(recorder) = self.recorder.take() {
            let usage = self.transform.usage();
            self.error_kind = self.error_kind.or_else(|| self.transform.error_kind());
            recorder.finish(self.status, self.error_kind, usage, self.first_byte);
        }
    }
}

impl Stream for Relay {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(chunk) = this.prefetched.take() {
            if let Some(out) = this.transform.on_chunk(chunk) {
                return this.emit(out);
            }
        }
        loop {
            match this.upstream.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(out) = this.transform.on_chunk(chunk) {
                        return this.emit(out);
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    this.error_kind = Some(error.kind());
                    let frame = this.transform.on_error(&error);
                    this.finish();
                    return this.emit(frame);
                }
                Poll::Ready(None) => {
                    let tail = this.transform.on_end();
                    this.finish();
                    return match tail {
                        Some(bytes) => this.emit(bytes),
                        None => Poll::Ready(None),
                    };
                }
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if !self.done {
            // The client went away mid-stream; dropping `upstream` stops the pump and closes the upstream connection.
            self.error_kind = Some("client_disconnected");
            self.finish();
        }
    }
}
