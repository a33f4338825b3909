//! The client-facing body of a streamed answer: pulls upstream chunks, passes each through the exchange's
//! [`StreamTransform`] (the per-chunk body filter), turns a late failure into one error frame, and records the
//! request exactly once when the body ends or the client goes away.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;

use crate::convert::Usage;
use crate::error::GatewayError;
use crate::gateway::recorder::Recorder;
use crate::upstream::UpstreamBody;

/// What happens to upstream bytes on their way to the client: relayed byte for byte (usage read on the side),
/// or converted to the client's dialect.
pub trait StreamTransform: Unpin + 'static {
    /// One upstream chunk in; the bytes to send now, if any.
    fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes>;
    /// The upstream ended; the closing bytes, if any (an error frame when the stream was cut short).
    fn on_end(&mut self) -> Option<Bytes>;
    /// A transport failure after the stream began: the closing error frame.
    fn on_error(&mut self, error: &GatewayError) -> Bytes;
    /// Why the stream ended badly, judged from what was relayed (for metrics and logs); valid once it is over.
    fn error_kind(&mut self) -> Option<&'static str>;
    /// Token usage seen so far.
    fn usage(&mut self) -> Usage;
    /// Whether the transform has written its last bytes (a converter that saw the end, or failed).
    fn is_finished(&self) -> bool {
        false
    }
    /// The stream failed before its first output, so the client can still get a real HTTP error.
    fn failed_before_start(&self) -> Option<GatewayError> {
        None
    }
    /// The `content-type` of the stream the gateway writes (a relayed stream keeps the upstream's).
    fn content_type(&self) -> &'static str {
        "text/event-stream; charset=utf-8"
    }
    /// How long the upstream may stay silent before [`StreamTransform::on_idle`] is asked for keep-alive bytes;
    /// `None`: never (the upstream sends its own, or the client needs none).
    fn keepalive(&self) -> Option<Duration> {
        None
    }
    /// The upstream was silent for the keep-alive interval: bytes to send meanwhile (a `ping` event), if any.
    fn on_idle(&mut self) -> Option<Bytes> {
        None
    }
}

/// The keep-alive clock of a relay whose transform asks for one: one timer, re-armed only when it fires (chunks
/// just note the time).
struct Keepalive {
    every: Duration,
    last_activity: tokio::time::Instant,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Keepalive {
    fn new(every: Duration) -> Self {
        let now = tokio::time::Instant::now();
        Self { every, last_activity: now, timer: Box::pin(tokio::time::sleep_until(now + every)) }
    }

    /// Whether the upstream has been silent for the interval; otherwise the timer is armed to wake `cx` when it
    /// may have been.
    fn due(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let deadline = self.last_activity + self.every;
            if tokio::time::Instant::now() >= deadline {
                self.last_activity = tokio::time::Instant::now();
                self.timer.as_mut().reset(self.last_activity + self.every);
                return true;
            }
            self.timer.as_mut().reset(deadline);
        }
    }
}

/// The streamed response body.
pub struct Relay<T: StreamTransform> {
    upstream: UpstreamBody,
    transform: T,
    recorder: Option<Recorder>,
    status: u16,
    /// Output produced while the answer was peeked at, sent first.
    first: Option<Bytes>,
    /// The upstream already ended while it was peeked at.
    upstream_ended: bool,
    first_byte: Option<Duration>,
    error_kind: Option<&'static str>,
    done: bool,
    keepalive: Option<Keepalive>,
}

impl<T: StreamTransform> Relay<T> {
    /// A relay of `upstream` through `transform`; `first` is output already produced, `upstream_ended` says the
    /// upstream has nothing more.
    pub fn new(
        upstream: UpstreamBody,
        transform: T,
        recorder: Recorder,
        status: u16,
        first: Option<Bytes>,
        upstream_ended: bool,
    ) -> Self {
        let keepalive = transform.keepalive().map(Keepalive::new);
        Self {
            keepalive,
            upstream,
            transform,
            recorder: Some(recorder),
            status,
            first,
            upstream_ended,
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

impl<T: StreamTransform> Stream for Relay<T> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(bytes) = this.first.take() {
            return this.emit(bytes);
        }
        if this.upstream_ended {
            this.finish();
            return Poll::Ready(None);
        }
        loop {
            match this.upstream.poll_recv(cx) {
                Poll::Pending => {
                    let Some(keepalive) = this.keepalive.as_mut() else { return Poll::Pending };
                    if !keepalive.due(cx) {
                        return Poll::Pending;
                    }
                    // Not `emit`: a keep-alive is not the answer's first byte.
                    if let Some(bytes) = this.transform.on_idle() {
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(keepalive) = this.keepalive.as_mut() {
                        keepalive.last_activity = tokio::time::Instant::now();
                    }
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

impl<T: StreamTransform> Drop for Relay<T> {
    fn drop(&mut self) {
        if !self.done {
            // The client went away mid-stream; dropping `upstream` stops the pump and closes the upstream connection.
            self.error_kind = Some("client_disconnected");
            self.finish();
        }
    }
}
