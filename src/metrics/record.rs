//! The record of one finished request: what the metrics actor receives and the request log line shows.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::keys::RefusalReason;
use crate::convert::Usage;

/// Longest session id kept from a client's `x-claude-code-session-id` header (a UUID is 36 bytes).
pub const MAX_SESSION_ID_LEN: usize = 128;

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
    /// The virtual key's name when the request presented one (never its secret): the `key` label of the key
    /// metrics and the `key=` field of the log line. `None` for requests without a key (or with an unknown one).
    pub key: Option<Arc<str>>,
    /// The key's team, when it belongs to one.
    pub team: Option<Arc<str>>,
    /// Why the key was refused, when it was (the response is the refusal).
    pub refusal: Option<RefusalReason>,
    /// What the request cost, in nano-dollars (its usage at its target's price; 0 when unpriced or refused).
    pub spend_nanos: u64,
    /// Claude Code's `x-claude-code-session-id`, made safe by [`RequestRecord::session_id_from_header`].
    pub session_id: Option<String>,
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

    /// A client's session id as the record keeps it: at most [`MAX_SESSION_ID_LEN`] bytes of
    /// `[A-Za-z0-9._:-]`, anything else written as `_` (it is the client's text, and it goes into log lines);
    /// `None` when empty.
    pub fn session_id_from_header(value: &[u8]) -> Option<String> {
        let id: String = value
            .iter()
            .take(MAX_SESSION_ID_LEN)
            .map(|&b| if b.is_ascii_alphanumeric() || b"._:-".contains(&b) { char::from(b) } else { '_' })
            .collect();
        (!id.is_empty()).then_some(id)
    }

    /// The one log line per request. Never contains a secret: a virtual key appears by name (`key=`, with its
    /// `team=`), and Claude Code's session by its id (`session=`), as plain fields after the counts.
    pub fn log_line(&self) -> String {
        let ms =
            |d: Option<Duration>| d.map_or_else(|| "-".to_string(), |d| format!("{:.1}", d.as_secs_f64() * 1000.0));
        format!(
            "{} {} {}:{} status={} dur_ms={} ttfb_ms={} upstream_ms={} stream={} in={} out={} cache_read={} cache_write={}{}{}",
            self.request_id,
            self.route,
            self.provider,
            self.model,
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
            Attribution(self),
        )
    }
}

/// The key fields of the log line: ` key=… team=… spend_usd=… refused=… session=…`, each only when known.
struct Attribution<'a>(&'a RequestRecord);

impl fmt::Display for Attribution<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        if let Some(key) = &r.key {
            write!(f, " key={}", super::labels::sanitize(key))?;
            if let Some(team) = &r.team {
                write!(f, " team={}", super::labels::sanitize(team))?;
            }
        }
        if r.spend_nanos > 0 {
            write!(f, " spend_usd={}.{:09}", r.spend_nanos / 1_000_000_000, r.spend_nanos % 1_000_000_000)?;
        }
        if let Some(reason) = r.refusal {
            write!(f, " refused={}", reason.as_str())?;
        }
        if let Some(session) = &r.session_id {
            // Already safe when made by `session_id_from_header`; bounded and cleaned again in case it was not.
            let safe = RequestRecord::session_id_from_header(session.as_bytes()).unwrap_or_default();
            write!(f, " session={safe}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RequestRecord {
        RequestRecord {
            request_id: "req-1".into(),
            provider: "anthropic".into(),
            model: "claude-sonnet-4-5".into(),
            route: "messages",
            status: 200,
            usage: Usage { input_tokens: 10, output_tokens: 2, ..Usage::default() },
            ..RequestRecord::default()
        }
    }

    #[test]
    fn the_log_line_names_the_key_and_the_session() {
        let plain = record().log_line();
        assert!(plain.ends_with("in=10 out=2 cache_read=0 cache_write=0"), "{plain}");
        let keyed = RequestRecord {
            key: Some(Arc::from("alice")),
            team: Some(Arc::from("ml")),
            spend_nanos: 1_234_567_890,
            session_id: RequestRecord::session_id_from_header(b"0b7e4a52-9b1c-4c55-8f0e-2f6f1d1c9a77"),
            ..record()
        };
        assert!(
            keyed.log_line().ends_with(
                "cache_write=0 key=alice team=ml spend_usd=1.234567890 session=0b7e4a52-9b1c-4c55-8f0e-2f6f1d1c9a77"
            ),
            "{}",
            keyed.log_line()
        );
        let refused = RequestRecord { status: 429, refusal: Some(RefusalReason::Tpm), team: None, ..keyed };
        assert!(refused.log_line().contains(" key=alice spend_usd=1.234567890 refused=tpm session="));
    }

    #[test]
    fn a_client_session_id_cannot_break_the_line() {
        let id = RequestRecord::session_id_from_header(b"abc\r\n[INFO] forged status=200 \x1b[2K").unwrap();
        assert_eq!(id, "abc___INFO__forged_status_200___2K");
        let hostile = RequestRecord::session_id_from_header(b"x\ry\nz\0").unwrap();
        assert!(!hostile.contains(['\r', '\n', '\0']), "{hostile}");
        assert_eq!(RequestRecord::session_id_from_header(&[b'a'; 1000]).map(|s| s.len()), Some(MAX_SESSION_ID_LEN));
        assert_eq!(RequestRecord::session_id_from_header(b""), None);
        // A session id set without the constructor is cleaned on the way out.
        let r = RequestRecord { session_id: Some("a b\nc".into()), ..record() };
        assert!(r.log_line().ends_with(" session=a_b_c"), "{}", r.log_line());
        let r = RequestRecord { key: Some(Arc::from("ev\nil")), ..record() };
        assert!(r.log_line().ends_with(" key=ev_il"), "{}", r.log_line());
    }
}
