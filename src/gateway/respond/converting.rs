//! The stream filter of converted exchanges: a stream converter of `crate::convert` (OpenAI chunks → Anthropic
//! events, or the reverse) behind the [`StreamTransform`] interface, with one reused output buffer.

use bytes::{Bytes, BytesMut};

use super::relay::StreamTransform;
use crate::convert::inbound::anthropic_type;
use crate::convert::{StreamConvert, Usage};
use crate::error::GatewayError;

/// A converter with its output buffer.
pub struct Converting<C: StreamConvert + Unpin + 'static> {
    converter: C,
    out: BytesMut,
}

impl<C: StreamConvert + Unpin + 'static> Converting<C> {
    pub fn new(converter: C) -> Self {
        Self { converter, out: BytesMut::new() }
    }

    fn flush(&mut self) -> Option<Bytes> {
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }
}

impl<C: StreamConvert + Unpin + 'static> StreamTransform for Converting<C> {
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
