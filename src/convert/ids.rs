//! Identifiers gatehouse makes up where an OpenAI-format provider gives none
//! in Anthropic's shape: message ids (`msg_…`) and tool-use ids (`toolu_…`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh `msg_…` id for a streamed response (the stream's first chunk is
/// converted before any upstream id is known). Unique per process and time;
/// not a secret and not meant to be unguessable.
pub fn generate_message_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = nanos ^ u64::from(std::process::id()).rotate_left(32);
    format!("msg_{:016x}{:08x}", splitmix64(seed ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15)), count as u32)
}

/// The Anthropic id of a non-streaming response: the upstream's id with a
/// `msg_` prefix, so logs on both sides can be matched up.
pub fn message_id_from_upstream(upstream_id: Option<&str>) -> String {
    match upstream_id {
        Some(id) if id.starts_with("msg_") => id.to_string(),
        Some(id) if !id.is_empty() => format!("msg_{id}"),
        _ => generate_message_id(),
    }
}

/// A tool-use id for a call the provider sent without one; derived from the
/// message id and the block index, so it is unique within the conversation
/// and deterministic for a given response.
pub fn tool_use_id(message_id: &str, block_index: usize) -> String {
    let base = message_id.strip_prefix("msg_").unwrap_or(message_id);
    format!("toolu_{base}_{block_index}")
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_distinct_and_prefixed() {
        let a = generate_message_id();
        let b = generate_message_id();
        assert!(a.starts_with("msg_") && b.starts_with("msg_"));
        assert_ne!(a, b);
    }

    #[test]
    fn upstream_ids_are_prefixed_once() {
        assert_eq!(message_id_from_upstream(Some("chatcmpl-1")), "msg_chatcmpl-1");
        assert_eq!(message_id_from_upstream(Some("msg_1")), "msg_1");
        assert!(message_id_from_upstream(None).starts_with("msg_"));
    }

    #[test]
    fn tool_use_ids() {
        assert_eq!(tool_use_id("msg_abc", 2), "toolu_abc_2");
    }
}
