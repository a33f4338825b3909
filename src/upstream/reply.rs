//! The upstream's answer as the request path receives it: the head at once, the body as it arrives — read whole
//! by the sender (JSON answers and errors: no channel, no extra task), or fed in chunks by a pump task (event
//! streams) that stops, dropping the upstream connection, as soon as the client side goes away. The pump decodes
//! a content-coded stream on the way ([`super::decode`]), so what it hands on is always the plain body.

use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::decode::Decoder;
use crate::error::GatewayError;

/// Largest upstream body read whole (JSON answers, errors).
pub const MAX_WHOLE_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Chunks buffered between the upstream pump and the client before the pump waits (backpressure).
pub(super) const BODY_CHANNEL_CAPACITY: usize = 32;

/// The upstream's answer: head now, body as it arrives.
pub struct UpstreamReply {
    pub status: StatusCode,
    /// The upstream headers worth relaying to a client ([`super::headers::is_relayed_response_header`]: content
    /// type, request ids, rate limits, retry hints); hop-by-hop and server headers are left behind.
    pub headers: HeaderMap,
    pub body: UpstreamBody,
    /// Time from sending to the response head (to the whole body, for bodies read whole).
    pub upstream_time: Duration,
}

/// The upstream's body: whole, or chunks from a pump task. Either way the same `recv` / `poll_recv` interface;
/// an `Err` is the last item.
pub struct UpstreamBody(Source);

enum Source {
    Whole(Option<Bytes>),
    Chunks(mpsc::Receiver<Result<Bytes, GatewayError>>),
}

impl UpstreamBody {
    /// A body already read whole.
    pub fn whole(bytes: Bytes) -> Self {
        Self(Source::Whole(Some(bytes)))
    }

    /// A body arriving through a pump task's channel.
    pub(super) fn chunks(rx: mpsc::Receiver<Result<Bytes, GatewayError>>) -> Self {
        Self(Source::Chunks(rx))
    }

    /// The next chunk, `None` at the end.
    pub async fn recv(&mut self) -> Option<Result<Bytes, GatewayError>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next chunk.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, GatewayError>>> {
        match &mut self.0 {
            Source::Whole(bytes) => Poll::Ready(bytes.take().map(Ok)),
            Source::Chunks(rx) => rx.poll_recv(cx),
        }
    }

    /// Reads the rest of the body into one buffer, within [`MAX_WHOLE_BODY_BYTES`]. A body that arrives in one
    /// piece is handed on as it is, not copied.
    pub async fn collect(&mut self, provider: &str) -> Result<Bytes, GatewayError> {
        let mut first: Option<Bytes> = None;
        let mut joined = BytesMut::new();
        while let Some(chunk) = self.recv().await {
            let chunk = chunk?;
            let held = first.as_ref().map_or(0, Bytes::len) + joined.len();
            if held + chunk.len() > MAX_WHOLE_BODY_BYTES {
                return Err(GatewayError::UpstreamProtocol {
                    provider: provider.to_string(),
                    detail: format!("response body larger than {MAX_WHOLE_BODY_BYTES} bytes"),
                });
            }
            match first.take() {
                None if joined.is_empty() => first = Some(chunk),
                earlier => {
                    if let Some(earlier) = earlier {
                        joined.extend_from_slice(&earlier);
                    }
                    joined.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| joined.freeze()))
    }
}

/// Moves upstream body chunks into the channel until the upstream ends, fails or goes silent for `idle`, or the
/// client side of the channel is dropped; through `decoder` when the body has a content coding (a body that does
/// not decode ends with an error). Returning drops the upstream response, which closes its connection.
pub(super) async fn pump<S, E>(
    upstream: S,
    tx: mpsc::Sender<Result<Bytes, GatewayError>>,
    idle: Duration,
    provider: String,
    mut decoder: Option<Decoder>,
) where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut upstream = pin!(upstream);
    let deadline = tokio::time::sleep(idle);
    let mut deadline = pin!(deadline);
    loop {
        let item = tokio::select! {
            biased;
            _ = tx.closed() => return,
            item = upstream.next() => item,
            _ = &mut deadline => {
                let secs = idle.as_secs();
                let _ = tx.send(Err(GatewayError::UpstreamTimeout { provider, secs })).await;
                return;
            }
        };
        match item {
            None => {
                if let Some(decoder) = decoder.as_mut() {
                    let last = decoder.finish().map_err(|e| undecodable(&provider, e));
                    if !matches!(&last, Ok(bytes) if bytes.is_empty()) {
                        let _ = tx.send(last).await;
                    }
                }
                return;
            }
            Some(Ok(chunk)) => {
                let sent = match decoder.as_mut() {
                    None => tx.send(Ok(chunk)).await.is_ok(),
                    Some(decoder) => send_decoded(decoder, chunk, &tx, &provider).await,
                };
                if !sent {
                    return;
                }
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
            }
            Some(Err(e)) => {
                let detail = format!("connection lost while reading the response: {e}");
                let _ = tx.send(Err(GatewayError::UpstreamUnreachable { provider, detail })).await;
                return;
            }
        }
    }
}

/// Decodes `chunk` and sends every decoded piece; `false` when the pump should stop (the client side is gone, or
/// the body does not decode: then the error went out as the last item).
async fn send_decoded(
    decoder: &mut Decoder,
    chunk: Bytes,
    tx: &mpsc::Sender<Result<Bytes, GatewayError>>,
    provider: &str,
) -> bool {
    decoder.push(chunk);
    loop {
        match decoder.next_piece() {
            Ok(None) => return true,
            Ok(Some(piece)) => {
                if tx.send(Ok(piece)).await.is_err() {
                    return false;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(undecodable(provider, e))).await;
                return false;
            }
        }
    }
}

fn undecodable(provider: &str, error: std::io::Error) -> GatewayError {
    let detail = format!("its content-encoded body could not be decoded: {error}");
    GatewayError::UpstreamProtocol { provider: provider.to_string(), detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_whole_body_is_collected_without_a_copy() {
        let bytes = Bytes::from_static(b"{\"ok\":true}");
        let mut body = UpstreamBody::whole(bytes.clone());
        let collected = body.collect("p").await.unwrap();
        assert_eq!(collected.as_ptr(), bytes.as_ptr());
        assert!(body.recv().await.is_none());
    }

    #[actix_rt::test]
    async fn chunks_are_joined_and_a_late_error_wins() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Bytes::from_static(b"ab"))).await.unwrap();
        tx.send(Ok(Bytes::from_static(b"cd"))).await.unwrap();
        drop(tx);
        assert_eq!(UpstreamBody::chunks(rx).collect("p").await.unwrap(), Bytes::from_static(b"abcd"));
        let (tx, rx) = mpsc::channel(4);
        tx.send(Ok(Bytes::from_static(b"ab"))).await.unwrap();
        tx.send(Err(GatewayError::UpstreamTimeout { provider: "p".into(), secs: 1 })).await.unwrap();
        drop(tx);
        assert_eq!(UpstreamBody::chunks(rx).collect("p").await.unwrap_err().kind(), "upstream_timeout");
    }
}
