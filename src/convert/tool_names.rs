//! Reversible rewriting of tool names that OpenAI-format providers reject.
//!
//! OpenAI requires function names matching `^[A-Za-z0-9_-]{1,64}$`; Anthropic
//! clients use longer names and dots or colons (MCP tools, for instance). An
//! invalid name is sanitised, truncated, and suffixed with a hash of the
//! original, so the same name maps to the same upstream name in every request
//! (the conversation history repeats it) and distinct names stay distinct.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// OpenAI's limit on a function name's length.
pub const MAX_UPSTREAM_NAME_LEN: usize = 64;
/// Hex digits of the hash appended to a rewritten name.
const HASH_HEX_DIGITS: usize = 12;

/// The per-request map between client tool names and the names sent upstream.
/// It only holds names that were rewritten (and the ones they could be
/// confused with); every other name passes through both ways unchanged.
#[derive(Debug, Clone, Default)]
pub struct ToolNames {
    enabled: bool,
    /// Client name → upstream name, for rewritten names only.
    upstream_by_client: HashMap<String, String>,
    /// Upstream name → client name, for every registered name.
    client_by_upstream: HashMap<String, String>,
}

/// Two different client names would reach the provider under the same name;
/// responses could not be routed back, so the request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCollision {
    pub upstream: String,
    pub first: String,
    pub second: String,
}

impl fmt::Display for NameCollision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tool names {:?} and {:?} would both be sent upstream as {:?}",
            self.first, self.second, self.upstream
        )
    }
}

impl ToolNames {
    /// A map that rewrites invalid names (`enabled`) or one that passes every
    /// name through unchanged.
    pub fn new(enabled: bool) -> Self {
        ToolNames { enabled, ..ToolNames::default() }
    }

    /// Records a client name seen in the request (from `tools`, `tool_choice`
    /// or a `tool_use` in the history).
    pub fn register(&mut self, client: &str) -> Result<(), NameCollision> {
        if !self.enabled || self.upstream_by_client.contains_key(client) {
            return Ok(());
        }
        let upstream = upstream_name(client);
        match self.client_by_upstream.get(&upstream) {
            Some(existing) if existing != client => {
                return Err(NameCollision { upstream, first: existing.clone(), second: client.to_string() })
            }
            Some(_) => return Ok(()),
            None => {}
        }
        if upstream != client {
            self.upstream_by_client.insert(client.to_string(), upstream.clone());
        }
        self.client_by_upstream.insert(upstream, client.to_string());
        Ok(())
    }

    /// The name to send upstream for a client name (borrowed when it is not rewritten, as most are not).
    pub fn to_upstream<'n>(&self, name: &'n str) -> Cow<'n, str> {
        self.upstream_by_client.get(name).map_or(Cow::Borrowed(name), |upstream| Cow::Owned(upstream.clone()))
    }

    /// The client's name for a name the provider used (in a response or stream).
    pub fn restore<'a>(&'a self, upstream: &'a str) -> &'a str {
        self.client_by_upstream.get(upstream).map_or(upstream, String::as_str)
    }
}

/// Whether an OpenAI provider accepts `name` as a function name.
pub fn is_valid_upstream_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_UPSTREAM_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The deterministic upstream name for `name`: itself when valid, otherwise
/// the sanitised prefix, `_`, and a 48-bit hash of the original in hex.
pub fn upstream_name(name: &str) -> String {
    if is_valid_upstream_name(name) {
        return name.to_string();
    }
    let prefix_len = MAX_UPSTREAM_NAME_LEN - HASH_HEX_DIGITS - 1;
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(prefix_len).collect();
    if out.is_empty() {
        out.push_str("tool");
    }
    let hash = fnv1a_64(name.as_bytes()) >> (64 - 4 * HASH_HEX_DIGITS);
    out.push_str(&format!("_{hash:0width$x}", width = HASH_HEX_DIGITS));
    out
}

/// FNV-1a: tiny, stable across Rust releases and platforms (unlike std's
/// `DefaultHasher`), which matters because names must map identically in
/// every request and every gatehouse replica.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass_unchanged() {
        let mut names = ToolNames::new(true);
        names.register("Read").unwrap();
        assert_eq!(names.to_upstream("Read"), "Read");
        assert_eq!(names.restore("Read"), "Read");
        assert_eq!(upstream_name("get-weather_2"), "get-weather_2");
    }

    #[test]
    fn invalid_names_are_rewritten_reversibly_and_deterministically() {
        let long = "mcp__some_server__".to_string() + &"x".repeat(80);
        for name in ["mcp__fs.read_file", "weather:get", long.as_str(), "", "ümlaut"] {
            let mut names = ToolNames::new(true);
            names.register(name).unwrap();
            let up = names.to_upstream(name).to_string();
            assert!(is_valid_upstream_name(&up), "{up:?}");
            assert_ne!(up, name);
            assert_eq!(up, upstream_name(name), "deterministic");
            assert_eq!(names.restore(&up), name);
        }
        assert_eq!(upstream_name("mcp__fs.read_file"), "mcp__fs_read_file_bf2aa877bd89");
    }

    #[test]
    fn similar_names_stay_distinct() {
        assert_ne!(upstream_name("a.b"), upstream_name("a:b"));
        let mut names = ToolNames::new(true);
        names.register("a.b").unwrap();
        names.register("a:b").unwrap();
        assert_eq!(names.restore(&names.to_upstream("a:b")), "a:b");
    }

    #[test]
    fn collision_with_a_valid_name_is_reported() {
        let rewritten = upstream_name("a.b");
        let mut names = ToolNames::new(true);
        names.register(&rewritten).unwrap();
        let err = names.register("a.b").unwrap_err();
        assert_eq!(err.upstream, rewritten);
        // Registering the same names twice is fine.
        names.register(&rewritten).unwrap();
    }

    #[test]
    fn disabled_map_passes_everything() {
        let mut names = ToolNames::new(false);
        names.register("a.b").unwrap();
        assert_eq!(names.to_upstream("a.b"), "a.b");
        assert_eq!(names.restore("a.b"), "a.b");
    }

    #[test]
    fn unknown_names_restore_to_themselves() {
        let names = ToolNames::default();
        assert_eq!(names.restore("made_up"), "made_up");
    }
}
