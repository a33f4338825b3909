//! Virtual-key secrets: `gh_` and 43 base62 characters (256 random bits), shown once at creation. Only their
//! SHA-256 is kept; a presented key is found by hashing it.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;

use siphasher::sip128::{Hasher128, SipHasher13};

/// The prefix every virtual key starts with (so a client or a log scanner can tell one from a provider key).
pub const PREFIX: &str = "gh_";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new secret, from the operating system's random source.
pub fn generate() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a new key: {e}"))?;
    Ok(format!("{PREFIX}{}", base62(&bytes)))
}

/// A short random id for records (keys, teams, leases): 16 base62 characters (95 bits).
pub fn random_id(prefix: &str) -> Result<String, String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a new id: {e}"))?;
    let mut id = base62(&bytes);
    id.truncate(16);
    Ok(format!("{prefix}{id}"))
}

/// The stored form of a secret: the hex SHA-256 of its text.
pub fn hash(secret: &str) -> String {
    crate::secret::digest_hex(secret)
}

/// How many presented secrets' hashes a thread remembers (then it starts afresh).
const REMEMBERED_SECRETS: usize = 4096;

/// The keys of SipHash-1-3 with a 128-bit output (random per process): a presented secret's fingerprint, under
/// which its hash is remembered. Nobody outside the process can compute a fingerprint, so a guess that shares one
/// with a remembered secret is a 1-in-2^128 chance: no shortcut around the hash.
static FINGERPRINT_KEYS: LazyLock<(u64, u64)> = LazyLock::new(|| {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // std's per-process random hasher keys, drawn from the same source by other means.
        let state = RandomState::new();
        bytes[..8].copy_from_slice(&state.hash_one(1u8).to_le_bytes());
        bytes[8..].copy_from_slice(&state.hash_one(2u8).to_le_bytes());
    }
    let (k0, k1) = bytes.split_at(8);
    let key = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    (key(k0), key(k1))
});

fn fingerprint(secret: &str) -> u128 {
    let (k0, k1) = *FINGERPRINT_KEYS;
    let mut hasher = SipHasher13::new_with_keys(k0, k1);
    hasher.write(secret.as_bytes());
    hasher.finish128().as_u128()
}

thread_local! {
    static REMEMBERED: RefCell<HashMap<u128, String, foldhash::fast::FixedState>> = RefCell::new(HashMap::default());
}

/// [`hash`] of a secret presented with a request, remembered per thread: a key holder's every request would
/// otherwise hash the same secret again (a SHA-256 per request, the largest part of identifying the caller).
/// The hash is lent to `f` rather than copied (a request only looks its key up by it).
pub fn with_presented_hash<R>(secret: &str, f: impl FnOnce(&str) -> R) -> R {
    let fingerprint = fingerprint(secret);
    REMEMBERED.with_borrow_mut(|remembered| {
        if let Some(known) = remembered.get(&fingerprint) {
            return f(known);
        }
        if remembered.len() >= REMEMBERED_SECRETS {
            remembered.clear();
        }
        let hashed = remembered.entry(fingerprint).or_insert_with(|| hash(secret));
        f(hashed)
    })
}

/// Whether `text` is a well-formed hex SHA-256 (how keys are declared in the configuration file).
pub fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `bytes` as a big number in base 62, most significant digit first, padded so equal lengths give equal lengths.
fn base62(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    let mut number = bytes.to_vec();
    let width = (bytes.len() * 8 * 1000).div_ceil(5954); // log2(62) ≈ 5.954 bits per digit
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        digits.push(BASE62[remainder as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presented_secret_hashes_as_a_stored_one_every_time() {
        let secrets: Vec<String> = (0..REMEMBERED_SECRETS + 10).map(|i| format!("gh_{i}")).collect();
        for _ in 0..2 {
            for secret in secrets.iter().step_by(97).chain(secrets.last()) {
                assert_eq!(with_presented_hash(secret, str::to_string), hash(secret));
            }
        }
        for secret in &secrets {
            assert_eq!(with_presented_hash(secret, str::to_string), hash(secret), "past the memo's size too");
        }
    }

    #[test]
    fn secrets_are_prefixed_long_and_distinct() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_ne!(a, b);
        for s in [&a, &b] {
            assert!(s.starts_with("gh_") && s.len() == 3 + 43, "{s}");
            assert!(s[3..].bytes().all(|c| c.is_ascii_alphanumeric()), "{s}");
        }
        assert!(random_id("vk_").unwrap().starts_with("vk_"));
        assert_eq!(random_id("t_").unwrap().len(), 2 + 16);
    }

    #[test]
    fn the_stored_form_is_the_hex_sha256() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_hash(&hash("gh_x")));
        assert!(!is_hash("BA7816BF") && !is_hash(&"g".repeat(64)));
        assert_eq!(base62(&[0, 0]), "000");
        assert_eq!(base62(&[0, 61]), "00z");
        assert_eq!(base62(&[1, 0]), "048", "256 = 4 × 62 + 8");
    }
}
