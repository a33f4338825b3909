//! A request body as it goes upstream: the client's bytes shared, never copied, with at most one piece (the
//! model name) replaced.

use bytes::{Bytes, BytesMut};

/// A request body as sent upstream: up to three shared slices, with a known length (so it goes out with
/// `content-length`, never chunked). Cheap to clone for a retry.
#[derive(Debug, Clone, Default)]
pub struct OutgoingBody {
    parts: [Bytes; 3],
}

impl OutgoingBody {
    /// `body` with the bytes in `span` replaced by `replacement`.
    pub fn spliced(body: &Bytes, span: std::ops::Range<usize>, replacement: Bytes) -> Self {
        Self { parts: [body.slice(..span.start), replacement, body.slice(span.end..)] }
    }
}

impl OutgoingBody {
    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body in one buffer (copies when it has several parts).
    pub fn to_bytes(&self) -> Bytes {
        match self.parts.iter().filter(|p| !p.is_empty()).count() {
            0 => Bytes::new(),
            1 => self.parts.iter().find(|p| !p.is_empty()).cloned().unwrap_or_default(),
            _ => {
                let mut out = BytesMut::with_capacity(self.len());
                self.parts.iter().for_each(|p| out.extend_from_slice(p));
                out.freeze()
            }
        }
    }
}

impl From<Bytes> for OutgoingBody {
    fn from(body: Bytes) -> Self {
        Self { parts: [body, Bytes::new(), Bytes::new()] }
    }
}

impl actix_web::body::MessageBody for OutgoingBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.len() as u64)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, Self::Error>>> {
        let next = self.get_mut().parts.iter_mut().find(|p| !p.is_empty()).map(std::mem::take);
        std::task::Poll::Ready(next.map(Ok))
    }
}
