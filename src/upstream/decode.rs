//! Content codings on upstream answers. Every upstream is asked for `accept-encoding: identity`
//! ([`super::headers::upstream_base_headers`]), because the gateway reads what it relays (usage, stream
//! completeness) and converts some of it. An upstream that encodes its answer anyway is decoded here, before the
//! request path sees a byte: the client gets the identity body and no `content-encoding` (it may not have asked
//! for any coding; its own `accept-encoding` never reached the upstream), usage is read from real JSON, and an
//! error frame closing a cut stream is written into a plain event stream, never into a compressed one.
//!
//! `gzip` (`x-gzip`) and `deflate` (zlib-wrapped as RFC 9110 says, or raw, as some servers send it) are decoded.
//! Any other coding — `br`, `zstd`, `compress`, or several codings stacked — is refused: the answer becomes a 502
//! naming the coding, before anything reaches the client.
//!
//! Decoding is bounded: input is fed in small steps, so one step yields at most about a megabyte whatever the
//! compression ratio, and a body read whole is held to the same limit decoded as encoded.

use std::io::Write;

use actix_web::http::header::{HeaderMap, CONTENT_ENCODING};
use bytes::{Bytes, BytesMut};
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// Encoded input decoded per step: deflate expands at most ~1032:1, so one step yields at most ~1 MiB.
const STEP: usize = 1024;

/// A content coding the gateway decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    /// The coding's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
        }
    }
}

/// The content coding of an answer from its `content-encoding` header(s): `None` for identity (or no header),
/// an error naming the coding when the gateway cannot decode it.
pub fn coding(headers: &HeaderMap) -> Result<Option<Coding>, String> {
    let mut found = None;
    for value in headers.get_all(CONTENT_ENCODING) {
        for member in value.as_bytes().split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            let coding = match member.to_ascii_lowercase().as_slice() {
                b"" | b"identity" => continue,
                b"gzip" | b"x-gzip" => Coding::Gzip,
                b"deflate" => Coding::Deflate,
                _ => return Err(unsupported(value.as_bytes())),
            };
            if found.replace(coding).is_some() {
                return Err(unsupported(value.as_bytes()));
            }
        }
    }
    Ok(found)
}

fn unsupported(value: &[u8]) -> String {
    let value: String = String::from_utf8_lossy(value).chars().take(64).flat_map(char::escape_debug).collect();
    format!(
        "it answered with content-encoding '{value}' although gatehouse asks upstreams for identity, and gatehouse \
         decodes only gzip and deflate"
    )
}

/// A push decoder for one body: [`push`](Decoder::push) encoded bytes, take decoded pieces with
/// [`next_piece`](Decoder::next_piece) until it gives `None`, and [`finish`](Decoder::finish) at the end.
pub struct Decoder {
    state: State,
    /// Encoded bytes not decoded yet.
    input: Bytes,
}

enum State {
    Gzip(MultiGzDecoder<Vec<u8>>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
    /// `deflate` before its first two bytes say whether it is zlib-wrapped.
    Sniffing(Vec<u8>),
}

impl Decoder {
    pub fn new(coding: Coding) -> Self {
        let state = match coding {
            Coding::Gzip => State::Gzip(MultiGzDecoder::new(Vec::new())),
            Coding::Deflate => State::Sniffing(Vec::new()),
        };
        Self { state, input: Bytes::new() }
    }

    /// More encoded input, decoded by the following calls to [`next_piece`](Self::next_piece).
    pub fn push(&mut self, input: Bytes) {
        if self.input.is_empty() {
            self.input = input;
        } else {
            let mut joined = BytesMut::with_capacity(self.input.len() + input.len());
            joined.extend_from_slice(&self.input);
            joined.extend_from_slice(&input);
            self.input = joined.freeze();
        }
    }

    /// The next piece of decoded output; `None` once every pushed byte is decoded. An error means the encoded
    /// body is corrupt.
    pub fn next_piece(&mut self) -> std::io::Result<Option<Bytes>> {
        while !self.input.is_empty() {
            let step = self.input.split_to(self.input.len().min(STEP));
            let piece = self.decode(&step)?;
            if !piece.is_empty() {
                return Ok(Some(piece));
            }
        }
        Ok(None)
    }

    /// The end of the encoded body: the last decoded bytes, or an error if the body was cut short (gzip: its
    /// trailer is checked; deflate streams carry no length, so a cut one ends where it was cut).
    pub fn finish(&mut self) -> std::io::Result<Bytes> {
        let out = match &mut self.state {
            State::Gzip(d) => {
                d.try_finish()?;
                std::mem::take(d.get_mut())
            }
            State::Zlib(d) => {
                d.try_finish()?;
                std::mem::take(d.get_mut())
            }
            State::Raw(d) => {
                d.try_finish()?;
                std::mem::take(d.get_mut())
            }
            State::Sniffing(held) if held.is_empty() => Vec::new(),
            State::Sniffing(_) => return Err(std::io::Error::other("deflate body of a single byte")),
        };
        Ok(Bytes::from(out))
    }

    fn decode(&mut self, input: &[u8]) -> std::io::Result<Bytes> {
        if let State::Sniffing(held) = &mut self.state {
            held.extend_from_slice(input);
            let [first, second, ..] = held[..] else { return Ok(Bytes::new()) };
            let held = std::mem::take(held);
            self.state = match is_zlib_header(first, second) {
                true => State::Zlib(ZlibDecoder::new(Vec::new())),
                false => State::Raw(DeflateDecoder::new(Vec::new())),
            };
            return self.decode(&held);
        }
        let out = match &mut self.state {
            State::Gzip(d) => write_out(d, input, |d| d.get_mut())?,
            State::Zlib(d) => write_out(d, input, |d| d.get_mut())?,
            State::Raw(d) => write_out(d, input, |d| d.get_mut())?,
            State::Sniffing(_) => Vec::new(),
        };
        Ok(Bytes::from(out))
    }
}

/// Writes `input` into a write-side decoder, flushes it, and takes what it decoded.
fn write_out<D: Write>(d: &mut D, input: &[u8], out: impl Fn(&mut D) -> &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    d.write_all(input)?;
    d.flush()?;
    Ok(std::mem::take(out(d)))
}

/// RFC 1950: compression method 8 (deflate), window ≤ 32 KiB, and the header's check bits.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// Decodes a whole body, refusing output larger than `limit`.
pub fn decode_whole(coding: Coding, body: Bytes, limit: usize) -> Result<Bytes, String> {
    let mut decoder = Decoder::new(coding);
    decoder.push(body);
    let mut out = BytesMut::new();
    let corrupt = |e: std::io::Error| format!("its {}-encoded body could not be decoded: {e}", coding.name());
    let too_large = || format!("its {}-encoded body decodes to more than {limit} bytes", coding.name());
    while let Some(piece) = decoder.next_piece().map_err(corrupt)? {
        if out.len() + piece.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&piece);
    }
    let last = decoder.finish().map_err(corrupt)?;
    if out.len() + last.len() > limit {
        return Err(too_large());
    }
    out.extend_from_slice(&last);
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    use proptest::prelude::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CONTENT_ENCODING, HeaderValue::from_static(v));
        }
        h
    }

    /// Decodes `encoded` pushed in chunks of `split` bytes, joining every piece.
    fn decode_in_chunks(coding: Coding, encoded: &[u8], split: usize) -> std::io::Result<Vec<u8>> {
        let mut d = Decoder::new(coding);
        let mut out = Vec::new();
        for chunk in encoded.chunks(split.max(1)) {
            d.push(Bytes::copy_from_slice(chunk));
            while let Some(piece) = d.next_piece()? {
                out.extend_from_slice(&piece);
            }
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    #[test]
    fn codings_from_headers() {
        assert_eq!(coding(&headers(&[])), Ok(None));
        assert_eq!(coding(&headers(&["identity"])), Ok(None));
        assert_eq!(coding(&headers(&["GZip"])), Ok(Some(Coding::Gzip)));
        assert_eq!(coding(&headers(&["x-gzip"])), Ok(Some(Coding::Gzip)));
        assert_eq!(coding(&headers(&["identity, deflate"])), Ok(Some(Coding::Deflate)));
        for refused in [&["br"][..], &["gzip, gzip"], &["gzip", "deflate"], &["zstd"]] {
            let error = coding(&headers(refused)).unwrap_err();
            assert!(error.contains("content-encoding"), "{error}");
        }
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode() {
        let text = b"event: ping\ndata: {}\n\n".repeat(50);
        assert_eq!(decode_in_chunks(Coding::Gzip, &gzip(&text), 7).unwrap(), text);
        assert_eq!(decode_in_chunks(Coding::Deflate, &zlib(&text), 1).unwrap(), text);
        assert_eq!(decode_in_chunks(Coding::Deflate, &raw(&text), 3).unwrap(), text);
        let two_members = [gzip(b"first "), gzip(b"second")].concat();
        assert_eq!(decode_in_chunks(Coding::Gzip, &two_members, 5).unwrap(), b"first second");
    }

    #[test]
    fn a_cut_or_corrupt_gzip_body_is_an_error() {
        let encoded = gzip(&b"{\"usage\":{}}".repeat(20));
        assert!(decode_in_chunks(Coding::Gzip, &encoded[..encoded.len() - 4], 16).is_err(), "no trailer");
        assert!(decode_in_chunks(Coding::Gzip, b"{\"plain\":\"json\"}", 16).is_err(), "not gzip at all");
    }

    #[test]
    fn whole_bodies_are_held_to_the_limit_decoded() {
        let bomb = gzip(&vec![b'a'; 4 << 20]);
        assert!(bomb.len() < 10_000);
        let error = decode_whole(Coding::Gzip, Bytes::from(bomb.clone()), 1 << 20).unwrap_err();
        assert!(error.contains("more than 1048576 bytes"), "{error}");
        assert_eq!(decode_whole(Coding::Gzip, Bytes::from(bomb), 8 << 20).unwrap().len(), 4 << 20);
    }

    #[test]
    fn one_step_never_yields_more_than_about_a_megabyte() {
        let mut d = Decoder::new(Coding::Gzip);
        d.push(Bytes::from(gzip(&vec![0u8; 64 << 20])));
        let mut total = 0;
        while let Some(piece) = d.next_piece().unwrap() {
            assert!(piece.len() <= 1100 * STEP, "{}", piece.len());
            total += piece.len();
        }
        total += d.finish().unwrap().len();
        assert_eq!(total, 64 << 20);
    }

    proptest! {
        #[test]
        fn decoding_inverts_encoding_at_every_split(data in proptest::collection::vec(any::<u8>(), 0..3000), split in 1usize..300) {
            prop_assert_eq!(decode_in_chunks(Coding::Gzip, &gzip(&data), split).unwrap(), data.clone());
            prop_assert_eq!(decode_in_chunks(Coding::Deflate, &zlib(&data), split).unwrap(), data.clone());
            prop_assert_eq!(decode_in_chunks(Coding::Deflate, &raw(&data), split).unwrap(), data);
        }
    }
}
