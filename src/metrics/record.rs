//! The record of one finished request: what the metrics actor receives and the request log line shows.

use std::borrow::Cow;
use std::time::Duration;

use crate::convert::Usage;
use crate::log_safe::Escaped;

/// One finished request. Sent once, fire-and-forget, when the response (or stream) ends.
#[derive(Debug, Clone, Default)]
pub struct RequestRecord {
    pub request_id: String,
    /// Provider name; `-` when the request failed before routing (borrowed until then: no allocation).
    pub provider: Cow<'static, str>,
    /// The upstream model as resolved; `-` when unknown.
    pub model: Cow<'static, str>,
    /// Inbound route, e.g. `messages`.
    pub route: &'static str,
    pub streamed: bool,
    /// HTTP status sent to the client (a stream that failed after its 200 keeps 200 and has an `error_kind`).
    pub status: u16,
    pub error_kind: Option<&'static str>,
    pub duration: Duration,
    /// Until the first body byte left for the client.
    pub time_to_first_byte: Option<Duration>,
    /// Time spent waiting for the upstream: until its response head for streams, until the whole body for
    /// answers read in one piece. `None` when the request never reached an upstream.
    pub upstream_time: Option<Duration>,
    pub usage: Usage,
}

impl RequestRecord {
    /// Whether this request counts as an error: an HTTP error status, or a failure after a 200 (a stream cut
    /// short, a client that left).
    pub fn is_error(&self) -> bool {
        self.status >= 400 || self.error_kind.is_some()
    }

    /// The time the gateway itself added: total minus upstream time for answers read whole; for streams, whose
    /// total is paced by the upstream, time to first byte minus the upstream's head time. `None` when the request
    /// never reached an upstream (there is nothing to compare with).
    pub fn overhead(&self) -> Option<Duration> {
        let upstream = self.upstream_time?;
        let until = if self.streamed { self.time_to_first_byte? } else { self.duration };
        Some(until.saturating_sub(upstream))
    }

    /// The one log line per request. Never contains a key; the model (the client's text) is escaped, so a
    /// control character in it cannot end the line or forge another.
    pub fn log_line(&self) -> String {
        let ms =
            |d: Option<Duration>| d.map_or_else(|| "-".to_string(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0));
        format!(
            "{} {} {}:{} status={} dur_ms={} ttfb_ms={} upstream_ms={} stream={} in={} out={} cache_read={} cache_write={}{}",
            self.request_id,
            self.route,
            self.provider,
            Escaped(&self.model),
            self.status,
            ms(Some(self.duration)),
            ms(self.time_to_first_byte),
            ms(self.upstream_time),
            self.streamed,
            self.usage.input_tokens,
            self.usage.output_tokens,
            self.usage.cache_read_input_tokens,
            self.usage.cache_creation_input_tokens,
            self.error_kind.map(|k| format!(" error={k}")).unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_is_one_line_whatever_the_model() {
        let record = RequestRecord {
            request_id: "gh-1".into(),
            provider: "mock".into(),
            model: "x\r\n[INFO] forged status=200\u{1b}[2K".to_string().into(),
            route: "messages",
            ..RequestRecord::default()
        };
        let line = record.log_line();
        assert!(!line.contains(['\r', '\n', '\u{1b}']), "{line}");
        assert!(line.contains("mock:x\\r\\n[INFO] forged status=200\\u{1b}[2K status=0"), "{line}");
    }
}
