//! What tokens cost: a price table in USD per million tokens (input, output, cache writes for 5 minutes and for
//! an hour, cache reads), shipped for current Anthropic and OpenAI models and applied by upstream model name for
//! any provider, overridden and extended per `provider:model` by the configuration. Money is counted in integer
//! nano-dollars; a request's cost is rounded to the nano-dollar once, so sums of costs are exact.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::convert::Usage;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
    pub cache_read: f64,
}

impl Price {
    /// A price from input and output rates with Anthropic's cache multipliers (writes 1.25× and 2×, reads 0.1×).
    pub const fn anthropic(input: f64, output: f64) -> Self {
        Price { input, output, cache_write_5m: input * 1.25, cache_write_1h: input * 2.0, cache_read: input * 0.1 }
    }

    /// The cost of `usage` in nano-dollars (cache writes at the 5-minute rate, the cheaper and usual one, unless
    /// `cache_write_1h_tokens` says how many were written for an hour).
    pub fn cost_nanos(&self, usage: &Usage, cache_write_1h_tokens: u64) -> u64 {
        let write_1h = cache_write_1h_tokens.min(usage.cache_creation_input_tokens);
        let write_5m = usage.cache_creation_input_tokens - write_1h;
        picos_to_nanos(
            per_token_picos(self.input) * u128::from(usage.input_tokens)
                + per_token_picos(self.output) * u128::from(usage.output_tokens)
                + per_token_picos(self.cache_write_5m) * u128::from(write_5m)
                + per_token_picos(self.cache_write_1h) * u128::from(write_1h)
                + per_token_picos(self.cache_read) * u128::from(usage.cache_read_input_tokens),
        )
    }

    /// What to reserve for a request of about `input_tokens` that may write `max_output` tokens: the input at the
    /// dearest rate input can be billed at (an hour's cache write), so the reservation never falls short of the
    /// answer's real cost because of caching.
    pub fn reservation_nanos(&self, input_tokens: u64, max_output: u64) -> u64 {
        let input = self.input.max(self.cache_write_5m).max(self.cache_write_1h);
        picos_to_nanos(
            per_token_picos(input) * u128::from(input_tokens) + per_token_picos(self.output) * u128::from(max_output),
        )
    }

    /// Checks a configured price.
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("input", self.input),
            ("output", self.output),
            ("cache_write_5m", self.cache_write_5m),
            ("cache_write_1h", self.cache_write_1h),
            ("cache_read", self.cache_read),
        ];
        match fields.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0 && *v < 1e6)) {
            Some((name, value)) => Err(format!("{name}: {value} is not a price in USD per million tokens")),
            None => Ok(()),
        }
    }
}

/// USD per million tokens as pico-dollars per token (exact for prices with up to six decimals).
fn per_token_picos(usd_per_million: f64) -> u128 {
    (usd_per_million * 1e6).round().max(0.0) as u128
}

fn picos_to_nanos(picos: u128) -> u64 {
    u64::try_from((picos + 500) / 1000).unwrap_or(u64::MAX)
}

/// Every known price: the shipped table by model name, and the configuration's by `provider:model`.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Configured prices by `provider:model` (lower case), which win.
    configured: HashMap<String, Price>,
}

impl PriceTable {
    /// The shipped table with the configuration's prices on top.
    pub fn new(configured: HashMap<String, Price>) -> Self {
        Self { configured: configured.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect() }
    }

    /// The price of `model` (as sent upstream) on `provider`, if known.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        let target = format!("{provider}:{model}").to_ascii_lowercase();
        if let Some(price) = self.configured.get(&target) {
            return Some(*price);
        }
        shipped(&model.to_ascii_lowercase())
    }
}

/// The shipped price of a model by name: the longest known name the model starts with (so dated versions and
/// suffixed ids find their family), or that appears after a vendor prefix (`us.anthropic.claude-…`).
fn shipped(model: &str) -> Option<Price> {
    SHIPPED
        .iter()
        .filter(|(name, _)| {
            model.starts_with(name) || model.contains(&format!(".{name}")) || model.contains(&format!("/{name}"))
        })
        .max_by_key(|(name, _)| name.len())
        .map(|(_, price)| *price)
}

/// USD per million tokens, from the vendors' published price lists.
const SHIPPED: &[(&str, Price)] = &[
    ("claude-opus-4-5", Price::anthropic(5.0, 25.0)),
    ("claude-opus-4-1", Price::anthropic(15.0, 75.0)),
    ("claude-opus-4", Price::anthropic(15.0, 75.0)),
    ("claude-sonnet-4-5", Price::anthropic(3.0, 15.0)),
    ("claude-sonnet-4", Price::anthropic(3.0, 15.0)),
    ("claude-3-7-sonnet", Price::anthropic(3.0, 15.0)),
    ("claude-haiku-4-5", Price::anthropic(1.0, 5.0)),
    ("claude-3-5-haiku", Price::anthropic(0.8, 4.0)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_exact_in_nano_dollars() {
        let sonnet = Price::anthropic(3.0, 15.0);
        let usage = Usage {
            input_tokens: 1_000,
            output_tokens: 100,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
        };
        // 1000 × $3/M + 100 × $15/M = $0.003 + $0.0015
        assert_eq!(sonnet.cost_nanos(&usage, 0), 4_500_000);
        let cached = Usage { cache_creation_input_tokens: 1_000, cache_read_input_tokens: 10_000, ..Usage::default() };
        // 1000 × $3.75/M + 10000 × $0.30/M
        assert_eq!(sonnet.cost_nanos(&cached, 0), 3_750_000 + 3_000_000);
        assert_eq!(sonnet.cost_nanos(&cached, 1_000), 6_000_000 + 3_000_000, "an hour's write costs 2×");
        assert_eq!(sonnet.reservation_nanos(1_000, 100), 6_000_000 + 1_500_000);
    }

    #[test]
    fn configured_prices_win_and_dated_ids_find_their_family() {
        let free = Price { input: 0.0, output: 0.0, cache_write_5m: 0.0, cache_write_1h: 0.0, cache_read: 0.0 };
        let table = PriceTable::new(HashMap::from([("Local:llama3".to_string(), free)]));
        assert_eq!(table.price("local", "llama3"), Some(free));
        assert_eq!(table.price("local", "llama4"), None);
        let sonnet = Some(Price::anthropic(3.0, 15.0));
        assert_eq!(table.price("anthropic", "claude-sonnet-4-5-20250929"), sonnet);
        assert_eq!(table.price("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"), sonnet);
        assert_eq!(table.price("any", "claude-opus-4-1-20250805"), Some(Price::anthropic(15.0, 75.0)), "longest name");
        assert!(Price { input: -1.0, ..free }.validate().unwrap_err().starts_with("input:"));
    }
}
