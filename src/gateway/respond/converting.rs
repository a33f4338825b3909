//! The stream filter of converted exchanges: a stream converter of `crate::convert` (OpenAI chunks → Anthropic
//! events, or the reverse) behind the [`StreamTransform`] interface, with one reused output buffer.

use bytes::{Bytes, BytesMut};

use super::relay::StreamTransform;
use crate::convert::inbound::{anthropic_type, ChatStreamConverter};
use crate::convert::{StreamConverter, Usage};
use crate::error::GatewayError;

/// What the pipeline needs of a stream converter.
pub trait Converter: Unpin + 'static {
    /// Upstream bytes in (any chunking); converted bytes appended to `out`.
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut);
    /// The upstream ended; closing bytes appended to `out`.
    fn finish(&mut self, out: &mut BytesMut);
    /// A transport failure: one error frame appended to `out`.
    fn fail(&mut self, error_type: &str, message: &str, out: &mut BytesMut);
    /// The error type of the frame that ended the stream, if one did.
    fn failed_with(&self) -> Option<&str>;
    fn usage(&self) -> Usage;
    /// Whether the converter has written its last bytes.
    fn is_finished(&self) -> bool;
    /// The stream failed before any output: (Anthropic type, message).
    fn failed_before_start(&self) -> Option<(&str, &str)> {
        None
    }
}

impl Converter for StreamConverter {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) {
        StreamConverter::push(self, chunk, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        StreamConverter::finish(self, out)
    }
    fn fail(&mut self, error_type: &str, message: &str, out: &mut BytesMut) {
        StreamConverter::fail(self, error_type, message, out)
    }
    fn failed_with(&self) -> Option<&str> {
        StreamConverter::failed_with(self)
    }
    fn usage(&self) -> Usage {
        StreamConverter::usage(self)
    }
    fn is_finished(&self) -> bool {
        StreamConverter::is_finished(self)
    }
}

impl Converter for ChatStreamConverter {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) {
        ChatStreamConverter::push(self, chunk, out)
    }
    fn finish(&mut self, out: &mut BytesMut) {
        ChatStreamConverter::finish(self, out)
    }
    fn fail(&mut self, error_type: &str, message: &str, out: &mut BytesMut) {
        ChatStreamConverter::fail(self, error_type, message, out)
    }
    fn failed_with(&self) -> Option<&str> {
        ChatStreamConverter::failed_with(self)
    }
    fn usage(&self) -> Usage {
        ChatStreamConverter::usage(self)
    }
    fn is_finished(&self) -> bool {
        ChatStreamConverter::is_finished(self)
    }
    fn failed_before_start(&self) -> Option<(&str, &str)> {
        ChatStreamConverter::failed_before_start(self)
    }
}

/// A converter with its output buffer.
pub struct Converting<C: Converter> {
    converter: C,
    out: BytesMut,
}

impl<C: Converter> Converting<C> {
    pub fn new(converter: C) -> Self {
        Self { converter, out: BytesMut::new() }
    }

    fn flush(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }
}

impl<C: Converter> StreamTransform for Converting<C> {
    fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        self.converter.push(&chunk, &mut self.out);
        self.flush()
    }

    fn on_end(&mut self) -> Option<Bytes> {
        self.converter.finish(&mut self.out);
        self.flush()
    }

    fn on_error(&mut self, error: &GatewayError) -> Bytes {
        self.converter.fail(error.error_type(), &error.to_string(), &mut self.out);
        self.out.split().freeze()
    }

    fn error_kind(&mut self) -> Option<&'static str> {
        self.converter.failed_with().map(|_| "upstream_stream_error")
    }

    fn usage(&mut self) -> Usage {
        self.converter.usage()
    }

    fn is_finished(&self) -> bool {
        self.converter.is_finished()
    }

    fn failed_before_start(&self) -> Option<GatewayError> {
        let (error_type, message) = self.converter.failed_before_start()?;
        Some(GatewayError::upstream(anthropic_type(error_type), message.to_string(), None))
    }
}
