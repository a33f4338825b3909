//! Secrets (API keys) and the only two things gatehouse ever does with them besides sending them upstream:
//! fingerprint them for logs and compare them in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An API key. `Debug` and `Display` never show it; use [`Secret::fingerprint`] in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key itself, for the upstream request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// First 8 hex digits of the key's SHA-256: enough to tell keys apart in logs, useless to an attacker.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }

    /// Constant-time equality with a presented key, so response timing does not leak the key.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.fingerprint())
    }
}

/// First 8 hex digits of SHA-256 of `value`.
pub fn fingerprint(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// The whole SHA-256 of `value` in hex: an identity for a key where two keys must never share an entry (the
/// per-key model list cache), unlike [`fingerprint`], whose 32 bits collide after some 65,000 keys.
pub fn digest_hex(value: &str) -> String {
    lower_hex(&Sha256::digest(value.as_bytes()))
}

/// Lower-case hex of `bytes`, in one allocation (digests and signatures as text).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits: Vec<u8> =
        bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]).collect();
    String::from_utf8(digits).unwrap_or_default()
}

/// Compares two byte strings without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Length is not secret-dependent in a way that matters for fixed-format keys; the content comparison is.
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let s = Secret::new("sk-very-secret");
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret"));
        assert_eq!(s.fingerprint().len(), 8);
    }

    #[test]
    fn digest_is_the_whole_sha256() {
        assert_eq!(digest_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(digest_hex("abc").starts_with(&fingerprint("abc")));
    }

    #[test]
    fn matches_is_exact() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("ab"));
        assert!(!s.matches("abcd"));
    }
}
