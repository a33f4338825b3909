//! Token usage in Anthropic terms.
/// Token counts of one request, in Anthropic terms (`input_tokens` excludes cached tokens).
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}
