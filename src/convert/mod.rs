//! Anthropic ⇄ OpenAI Chat Completions conversion (placeholder until the converter lands).
pub mod options;
pub mod usage;
pub use options::{ConvertOptions, MaxTokensField};
pub use usage::Usage;
