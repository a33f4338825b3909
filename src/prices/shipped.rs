//! The prices gatehouse ships, in USD per million tokens, transcribed from the vendors' public price lists
//! (standard tier: no batch, priority, regional or data-residency pricing). docs/keys-and-budgets.md has the same
//! table with its sources. A model whose price could not be confirmed is left out: it has no price until the
//! configuration gives it one, and a key with a budget cannot use it (no silent free spend).
//!
//! Anthropic publishes all five rates. OpenAI publishes input, cached input and output: it charges nothing extra
//! to write its cache (a written token is billed as ordinary input), so both cache-write rates are its input rate
//! and `cache_read` is its cached-input rate; a model listed without a cached-input rate gets its input rate
//! there (OpenAI usage reports cache reads only for models that have them, so this is never charged wrongly).

use super::{LongContext, Price};

/// Anthropic's rates, each as published (the 5-minute write is 1.25× input, the hour's write 2×, a read 0.1×,
/// except for Claude Haiku 3, whose published rates are rounded).
const fn anthropic(input: f64, output: f64, write_5m: f64, write_1h: f64, read: f64) -> Price {
    Price::new(input, output, write_5m, write_1h, read)
}

/// OpenAI's rates: input, cached input, output.
const fn openai(input: f64, cached_input: f64, output: f64) -> Price {
    Price::new(input, output, input, input, cached_input)
}

const OPUS_4_5: Price = anthropic(5.0, 25.0, 6.25, 10.0, 0.50);
const OPUS_4: Price = anthropic(15.0, 75.0, 18.75, 30.0, 1.50);
const SONNET: Price = anthropic(3.0, 15.0, 3.75, 6.0, 0.30);
/// Claude Sonnet 4 and 4.5 with the 1M-token context window: a request whose prompt (input, cache reads and
/// cache writes together) is longer than 200,000 tokens is billed at $6 / $22.50, cache multipliers on top.
const SONNET_4: Price = SONNET.with_long_context(LongContext {
    above_prompt_tokens: 200_000,
    input: 6.0,
    output: 22.5,
    cache_write_5m: 7.5,
    cache_write_1h: 12.0,
    cache_read: 0.60,
});

/// Exact model ids priced apart from their family (found before the family).
pub const SNAPSHOTS: &[(&str, Price)] = &[
    // The first GPT-4o snapshot kept its launch price, without a cached-input rate.
    // https://developers.openai.com/api/docs/models/gpt-4o ("Snapshots"), https://openai.com/api/pricing/.
    ("gpt-4o-2024-05-13", openai(5.0, 5.0, 15.0)),
];

/// Model families (names [`super::names::family`] leaves as they are) and their prices.
pub const SHIPPED: &[(&str, Price)] = &[
    // Anthropic. https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing", "Long context
    // pricing"); Opus 5.5 from https://platform.claude.com/docs/en/models/opus-5-5/overview ("Pricing").
    ("claude-opus-5-5", anthropic(4.0, 20.0, 5.0, 8.0, 0.20)),
    ("claude-opus-5", OPUS_4_5),
    ("claude-opus-4-8", OPUS_4_5),
    ("claude-opus-4-7", OPUS_4_5),
    ("claude-opus-4-6", OPUS_4_5),
    ("claude-opus-4-5", OPUS_4_5),
    ("claude-opus-4-1", OPUS_4),
    ("claude-opus-4", OPUS_4),
    ("claude-opus-4-0", OPUS_4),
    ("claude-3-opus", OPUS_4),
    ("claude-sonnet-4-6", SONNET),
    ("claude-sonnet-4-5", SONNET_4),
    ("claude-sonnet-4", SONNET_4),
    ("claude-sonnet-4-0", SONNET_4),
    ("claude-3-7-sonnet", SONNET),
    ("claude-3-5-sonnet", SONNET),
    ("claude-haiku-4-5", anthropic(1.0, 5.0, 1.25, 2.0, 0.10)),
    ("claude-3-5-haiku", anthropic(0.80, 4.0, 1.0, 1.6, 0.08)),
    ("claude-3-haiku", anthropic(0.25, 1.25, 0.30, 0.50, 0.03)),
    // OpenAI. https://developers.openai.com/api/docs/pricing and the model pages
    // https://developers.openai.com/api/docs/models/<model> ("Pricing", "Text tokens").
    ("gpt-5.1", openai(1.25, 0.125, 10.0)),
    ("gpt-5", openai(1.25, 0.125, 10.0)),
    ("gpt-5-mini", openai(0.25, 0.025, 2.0)),
    ("gpt-5-nano", openai(0.05, 0.005, 0.40)),
    ("gpt-4.1", openai(2.0, 0.50, 8.0)),
    ("gpt-4.1-mini", openai(0.40, 0.10, 1.60)),
    ("gpt-4.1-nano", openai(0.10, 0.025, 0.40)),
    ("gpt-4o", openai(2.50, 1.25, 10.0)),
    ("gpt-4o-mini", openai(0.15, 0.075, 0.60)),
    ("o1", openai(15.0, 7.50, 60.0)),
    ("o1-mini", openai(1.10, 0.55, 4.40)),
    ("o1-pro", openai(150.0, 150.0, 600.0)),
    ("o3", openai(2.0, 0.50, 8.0)),
    ("o3-mini", openai(1.10, 0.55, 4.40)),
    ("o3-pro", openai(20.0, 20.0, 80.0)),
    ("o4-mini", openai(1.10, 0.275, 4.40)),
];
