//! The upstream connections under awc, and two repairs to how awc's HTTP/1.1 client reads a response head.
//!
//! awc (3.x) returns the first response head it reads as the answer, and reads an HTTP/1.1 body that has neither
//! `Content-Length` nor chunked framing as empty. RFC 9110 §15.2 says a client skips interim (1xx) responses it
//! did not ask for — `103 Early Hints`, an unsolicited `100 Continue` — and RFC 9112 §6.3 says a body without
//! framing is read until the server closes the connection. So the TCP connection awc reads from is wrapped
//! ([`HeadFilter`]): before awc's parser sees a response head, the wrapper drops interim heads, and for a
//! close-delimited final head it rewrites `HTTP/1.1` to `HTTP/1.0`, the version for which awc already reads a
//! body until the connection closes (and never reuses the connection).
//!
//! The wrapper sits between TCP and awc's TLS layer, so it can only read plain-HTTP (`http://`) exchanges; it
//! leaves TLS connections alone. HTTP/2 (what TLS upstreams normally negotiate) has no such problem: its frames
//! carry the length, and the h2 crate drops interim heads itself. For HTTP/1.1 over TLS, the sender checks the head
//! awc returns ([`unreadable_head`]) and fails loudly — a 502 naming the upstream's framing — instead of relaying a
//! 1xx as the answer or an empty body as a success. `docs/resilience.md` has the report for actix.
//!
//! Cost on the common path: the first read of each response is inspected in place (status line, then header
//! names up to the first `Content-Length` or `Transfer-Encoding`); nothing is copied or allocated unless a head
//! arrives in pieces or is interim.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use actix_rt::net::{ActixStream, Ready, TcpStream};
use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection};
use actix_web::http::header::{HeaderMap, CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::http::{StatusCode, Uri, Version};
use bytes::{Buf, BytesMut};
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest response head the filter waits for; past it the bytes go to awc, whose own limit (128 KiB) refuses it.
const MAX_HEAD: usize = 128 * 1024;

/// A TCP connector (`inner`, e.g. actix-tls' with the default resolver) whose connections are wrapped in a
/// [`HeadFilter`], active for plain-HTTP requests. Give it to `awc::Connector::connector`.
#[derive(Clone)]
pub struct FilteringConnector<S> {
    inner: S,
}

impl<S> FilteringConnector<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S> Service<ConnectInfo<Uri>> for FilteringConnector<S>
where
    S: Service<ConnectInfo<Uri>, Response = Connection<Uri, TcpStream>, Error = ConnectError>,
    S::Future: 'static,
{
    type Response = Connection<Uri, HeadFilter>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, ConnectError>>;

    actix_service::forward_ready!(inner);

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        // awc puts TLS on top of this connection for https: the filter would see ciphertext, so it stays off.
        let plain = matches!(req.request().scheme_str(), Some("http") | Some("ws"));
        let connecting = self.inner.call(req);
        Box::pin(async move {
            let (io, connection) = connecting.await?.replace_io(());
            Ok(connection.replace_io(HeadFilter::new(io, plain)).1)
        })
    }
}

/// Where a connection is in its current exchange, as the reading side sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The next bytes read start a response head.
    Head,
    /// The final head went by: bytes pass through untouched until the next request is written.
    Body,
}

/// A TCP stream that drops interim response heads and marks close-delimited HTTP/1.1 bodies as such before the
/// HTTP client reads them (see the module documentation). awc never reads a response before it has written the
/// whole request (the gateway never sends `Expect`), so a write marks the start of the next exchange.
#[derive(Debug)]
pub struct HeadFilter {
    io: TcpStream,
    /// Off for connections under TLS: a plain pass-through.
    active: bool,
    phase: Phase,
    /// The request being answered is a `HEAD` (its answer has no body, whatever its head says).
    head_request: bool,
    /// Bytes read ahead while a head was incomplete or interim; handed to the reader first.
    held: BytesMut,
}

impl HeadFilter {
    fn new(io: TcpStream, active: bool) -> Self {
        Self { io, active, phase: Phase::Body, head_request: false, held: BytesMut::new() }
    }

    /// The client writes: a new request, whose answer starts with a head.
    fn on_write(&mut self, buf: &[u8]) {
        if self.active && self.phase == Phase::Body && !buf.is_empty() {
            self.phase = Phase::Head;
            self.head_request = buf.starts_with(b"HEAD ");
        }
    }

    /// Hands held bytes to the reader.
    fn serve_held(&mut self, buf: &mut ReadBuf<'_>) {
        let n = self.held.len().min(buf.remaining());
        buf.put_slice(&self.held[..n]);
        self.held.advance(n);
    }
}

/// Readies a final head (`bytes` starts with it) for awc: a close-delimited HTTP/1.1 head becomes HTTP/1.0, the
/// version for which awc reads a body without framing until the close. `false` for any other verdict.
fn pass_final(verdict: Verdict, bytes: &mut [u8]) -> bool {
    match verdict {
        Verdict::Final { until_close } => {
            if until_close {
                bytes[7] = b'0';
            }
            true
        }
        Verdict::Interim { .. } | Verdict::Incomplete => false,
    }
}

impl AsyncRead for HeadFilter {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.phase == Phase::Body || !this.active {
                if this.held.is_empty() || buf.remaining() == 0 {
                    return Pin::new(&mut this.io).poll_read(cx, buf);
                }
                this.serve_held(buf);
                return Poll::Ready(Ok(()));
            }
            if this.held.is_empty() {
                // The common case: the head arrives whole in the caller's buffer and is final; it is judged there.
                let start = buf.filled().len();
                ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                let new = &mut buf.filled_mut()[start..];
                if new.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                if pass_final(inspect(new, this.head_request), new) {
                    this.phase = Phase::Body;
                    return Poll::Ready(Ok(()));
                }
                this.held.extend_from_slice(new);
                buf.set_filled(start);
            }
            match inspect(&this.held, this.head_request) {
                Verdict::Interim { len, status } => {
                    log::debug!("upstream sent an interim {status} response; skipped");
                    this.held.advance(len);
                }
                Verdict::Incomplete => {
                    let mut scratch = [0u8; 4096];
                    let mut more = ReadBuf::new(&mut scratch);
                    ready!(Pin::new(&mut this.io).poll_read(cx, &mut more))?;
                    if more.filled().is_empty() {
                        // The connection closed inside a head: awc reports what it gets.
                        this.phase = Phase::Body;
                    }
                    this.held.extend_from_slice(more.filled());
                }
                verdict => {
                    pass_final(verdict, &mut this.held);
                    this.phase = Phase::Body;
                }
            }
        }
    }
}

impl AsyncWrite for HeadFilter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.on_write(buf);
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            this.on_write(first);
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl ActixStream for HeadFilter {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        if !self.held.is_empty() {
            return Poll::Ready(Ok(Ready::READABLE));
        }
        ActixStream::poll_read_ready(&self.io, cx)
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        ActixStream::poll_write_ready(&self.io, cx)
    }
}

/// What the start of a response head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not enough bytes to tell.
    Incomplete,
    /// An interim head (1xx other than 101) of `len` bytes, to be dropped.
    Interim { len: usize, status: u16 },
    /// The final head. `until_close`: an HTTP/1.1 answer with a body but no framing, read until the close.
    Final { until_close: bool },
}

/// Judges the start of a response head (`data` begins where the head does). Anything that is not an HTTP/1.x
/// head is `Final` without a change: awc's parser gives the error.
pub(crate) fn inspect(data: &[u8], head_request: bool) -> Verdict {
    const PREFIX: &[u8] = b"HTTP/1.";
    const AS_IS: Verdict = Verdict::Final { until_close: false };
    let n = data.len().min(PREFIX.len());
    if data[..n] != PREFIX[..n] {
        return AS_IS;
    }
    let [_, _, _, _, _, _, _, minor, b' ', a, b, c, ..] = *data else {
        return if data.len() < 12 { Verdict::Incomplete } else { AS_IS };
    };
    if ![a, b, c].iter().all(u8::is_ascii_digit) {
        return AS_IS;
    }
    let status = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    let interim = (100..200).contains(&status) && status != 101;
    let has_body = status >= 200 && status != 204 && status != 304 && !head_request;
    let check_framing = !interim && minor == b'1' && has_body;
    if !interim && !check_framing {
        return AS_IS;
    }
    let incomplete = || if data.len() > MAX_HEAD { AS_IS } else { Verdict::Incomplete };
    let Some(status_line) = memchr::memchr(b'\n', data) else { return incomplete() };
    let mut at = status_line + 1;
    loop {
        let Some(eol) = memchr::memchr(b'\n', &data[at..]) else { return incomplete() };
        let line = &data[at..at + eol];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at += eol + 1;
        if line.is_empty() {
            return match interim {
                true => Verdict::Interim { len: at, status },
                false => Verdict::Final { until_close: true },
            };
        }
        if check_framing && frames_the_body(line) {
            return AS_IS;
        }
    }
}

/// Whether a header line gives the body a length: `Content-Length`, or a `Transfer-Encoding` naming anything
/// but `identity` (awc refuses codings other than chunked itself). Names are compared in place (no search for the
/// colon) since this runs on every header line up to the framing one.
fn frames_the_body(line: &[u8]) -> bool {
    let named = |name: &[u8]| {
        line.len() > name.len()
            && matches!(line[name.len()], b':' | b' ' | b'\t')
            && line[..name.len()].eq_ignore_ascii_case(name)
    };
    match line.first() {
        Some(b'c' | b'C') => named(b"content-length"),
        Some(b't' | b'T') if named(b"transfer-encoding") => {
            let value = line.iter().position(|&b| b == b':').map_or(&[][..], |colon| &line[colon + 1..]);
            value
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .any(|c| !c.is_empty() && !c.eq_ignore_ascii_case(b"identity"))
        }
        _ => false,
    }
}

/// The backstop where the filter cannot act (HTTP/1.1 over TLS): why a head awc returned cannot be relayed — an
/// interim status taken for the answer, or an HTTP/1.1 body with no framing that awc read as empty.
pub fn unreadable_head(version: Version, status: StatusCode, headers: &HeaderMap) -> Option<String> {
    let code = status.as_u16();
    if status.is_informational() {
        return Some(format!(
            "its HTTP client took an interim {code} response for the answer (interim responses are skipped only on \
             plain-HTTP connections)"
        ));
    }
    // Cheapest tests first: HTTP/2 answers (TLS upstreams) and answers with a length stop before any lookup of
    // the transfer coding.
    let chunked = || {
        let mut values = headers.get_all(TRANSFER_ENCODING);
        values.any(|v| v.as_bytes().split(|&b| b == b',').any(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked")))
    };
    let has_body = code != 204 && code != 304;
    if version == Version::HTTP_11 && has_body && !headers.contains_key(CONTENT_LENGTH) && !chunked() {
        return Some(format!(
            "it answered HTTP/1.1 {code} with neither Content-Length nor chunked Transfer-Encoding (a body that ends \
             when the connection closes), which gatehouse reads only on plain-HTTP connections"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FINAL: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";

    #[test]
    fn final_heads_with_framing_pass_as_they_are() {
        assert_eq!(inspect(FINAL, false), Verdict::Final { until_close: false });
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n";
        assert_eq!(inspect(chunked, false), Verdict::Final { until_close: false });
        // Decided as soon as the framing header is seen, before the end of the head.
        assert_eq!(
            inspect(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-a", false),
            Verdict::Final { until_close: false }
        );
        for no_body in [&b"HTTP/1.1 204 No Content\r\n"[..], b"HTTP/1.1 304 Not Modified\r\n", b"HTTP/1.0 200 OK\r\n"] {
            assert_eq!(inspect(no_body, false), Verdict::Final { until_close: false }, "{no_body:?}");
        }
        assert_eq!(inspect(b"HTTP/1.1 200 OK\r\n\r\n", true), Verdict::Final { until_close: false }, "HEAD");
    }

    #[test]
    fn interim_heads_are_measured_for_dropping() {
        let hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n";
        assert_eq!(inspect(hints, false), Verdict::Interim { len: 57, status: 103 });
        assert_eq!(inspect(&hints[57..], false), Verdict::Incomplete, "the final head is not whole yet");
        assert_eq!(inspect(b"HTTP/1.1 100 Continue\n\n", false), Verdict::Interim { len: 23, status: 100 });
        assert_eq!(inspect(b"HTTP/1.1 101 Switching\r\n\r\n", false), Verdict::Final { until_close: false });
    }

    #[test]
    fn close_delimited_bodies_are_found() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: x\n\n";
        assert_eq!(inspect(head, false), Verdict::Final { until_close: true });
        let identity = b"HTTP/1.1 200 OK\r\ntransfer-encoding: identity\r\n\r\n";
        assert_eq!(inspect(identity, false), Verdict::Final { until_close: true });
        assert_eq!(inspect(b"HTTP/1.1 200 OK\r\ncontent-type: x\r\n", false), Verdict::Incomplete);
    }

    #[test]
    fn prefixes_and_garbage() {
        for short in [&b"H"[..], b"HTTP/1.", b"HTTP/1.1 10"] {
            assert_eq!(inspect(short, false), Verdict::Incomplete, "{short:?}");
        }
        for other in [&b"\x16\x03\x01"[..], b"SSH-2.0", b"HTTP/2 200 x\r\n", b"HTTP/1.1 2x0 OK\r\n\r\n"] {
            assert_eq!(inspect(other, false), Verdict::Final { until_close: false }, "{other:?}");
        }
        let endless = [&b"HTTP/1.1 103 Early\r\n"[..], &b"x-a: b\r\n".repeat(20_000)].concat();
        assert_eq!(inspect(&endless, false), Verdict::Final { until_close: false }, "too long to wait for");
    }

    #[test]
    fn the_backstop_names_what_awc_could_not_read() {
        let mut headers = HeaderMap::new();
        let early = unreadable_head(Version::HTTP_11, StatusCode::from_u16(103).unwrap(), &headers).unwrap();
        assert!(early.contains("interim 103"), "{early}");
        let unframed = unreadable_head(Version::HTTP_11, StatusCode::OK, &headers).unwrap();
        assert!(unframed.contains("neither Content-Length nor chunked"), "{unframed}");
        assert_eq!(unreadable_head(Version::HTTP_10, StatusCode::OK, &headers), None);
        assert_eq!(unreadable_head(Version::HTTP_2, StatusCode::OK, &headers), None);
        assert_eq!(unreadable_head(Version::HTTP_11, StatusCode::NO_CONTENT, &headers), None);
        headers.insert(TRANSFER_ENCODING, "chunked".parse().unwrap());
        assert_eq!(unreadable_head(Version::HTTP_11, StatusCode::OK, &headers), None);
        headers.clear();
        headers.insert(CONTENT_LENGTH, "0".parse().unwrap());
        assert_eq!(unreadable_head(Version::HTTP_11, StatusCode::OK, &headers), None);
    }

    /// Writes `request` through a filter over a real connection whose peer answers `answer` one byte at a time,
    /// and reads everything back through buffers of `read_size` bytes.
    async fn through_filter(answer: &'static [u8], request: &'static [u8], read_size: usize) -> Vec<u8> {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            socket.set_nodelay(true).unwrap();
            let mut got = vec![0u8; request.len()];
            socket.read_exact(&mut got).unwrap();
            for byte in answer {
                socket.write_all(std::slice::from_ref(byte)).unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        });
        let mut io = HeadFilter::new(TcpStream::connect(addr).await.unwrap(), true);
        let mut written = 0;
        while written < request.len() {
            written += std::future::poll_fn(|cx| Pin::new(&mut io).poll_write(cx, &request[written..])).await.unwrap();
        }
        let mut out = Vec::new();
        loop {
            let mut space = vec![0u8; read_size];
            let mut buf = ReadBuf::new(&mut space);
            std::future::poll_fn(|cx| Pin::new(&mut io).poll_read(cx, &mut buf)).await.unwrap();
            if buf.filled().is_empty() {
                break;
            }
            out.extend_from_slice(buf.filled());
        }
        peer.join().unwrap();
        out
    }

    #[actix_rt::test]
    async fn interim_heads_never_reach_the_reader_whatever_the_segments() {
        const ANSWER: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
            HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        for read_size in [1, 7, 4096] {
            let out = through_filter(ANSWER, b"POST / HTTP/1.1\r\n\r\n", read_size).await;
            assert_eq!(out, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", "reads of {read_size}");
        }
    }

    #[actix_rt::test]
    async fn a_close_delimited_head_reaches_the_reader_as_http_1_0() {
        const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n";
        let out = through_filter(ANSWER, b"POST / HTTP/1.1\r\n\r\n", 64).await;
        assert_eq!(out, b"HTTP/1.0 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n");
        // The answer to a HEAD request has no body, framing or not: left alone.
        let out = through_filter(b"HTTP/1.1 200 OK\r\n\r\n", b"HEAD / HTTP/1.1\r\n\r\n", 64).await;
        assert_eq!(out, b"HTTP/1.1 200 OK\r\n\r\n");
    }

    proptest! {
        /// Whatever the interim heads before it, and however the bytes are split, the final head is reached after
        /// dropping exactly the interim ones.
        #[test]
        fn interim_heads_are_dropped_at_every_split(interims in proptest::collection::vec(100u16..200, 0..4), split in 1usize..40) {
            let mut stream = Vec::new();
            for status in interims.iter().filter(|s| **s != 101) {
                stream.extend_from_slice(format!("HTTP/1.1 {status} Hint\r\nlink: <x>\r\n\r\n").as_bytes());
            }
            stream.extend_from_slice(FINAL);
            let mut held: Vec<u8> = Vec::new();
            let mut fed = 0;
            loop {
                match inspect(&held, false) {
                    Verdict::Interim { len, .. } => { held.drain(..len); }
                    Verdict::Incomplete => {
                        prop_assert!(fed < stream.len(), "incomplete at the end");
                        let n = split.min(stream.len() - fed);
                        held.extend_from_slice(&stream[fed..fed + n]);
                        fed += n;
                    }
                    Verdict::Final { until_close } => {
                        prop_assert!(!until_close);
                        held.extend_from_slice(&stream[fed..]);
                        prop_assert_eq!(&held[..], FINAL);
                        break;
                    }
                }
            }
        }
    }
}
