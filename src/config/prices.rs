//! `[prices."provider:model"]`: the configuration's prices, on top of the shipped table ([`crate::prices`]).
//! Each table gives USD per million tokens; `input` and `output` are required, and a cache rate left out costs
//! the input rate (no cache discount, no cache-write premium: what a model without prompt caching, or OpenAI,
//! charges). A model `*` prices every model of the provider that has no price of its own there.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::ConfigError;
use crate::prices::{LongContext, Price, PriceTable};

/// One `[prices."provider:model"]` table as written.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_write_5m: Option<f64>,
    pub cache_write_1h: Option<f64>,
    pub cache_read: Option<f64>,
    /// `[prices."provider:model".long_context]`: dearer rates for prompts above a number of tokens.
    pub long_context: Option<RawLongContext>,
}

/// `[prices."provider:model".long_context]` as written.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLongContext {
    pub above_prompt_tokens: Option<u64>,
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_write_5m: Option<f64>,
    pub cache_write_1h: Option<f64>,
    pub cache_read: Option<f64>,
}

/// The price table: the shipped prices with every configured one on top. Errors name the table and the field.
pub fn table(raw: &BTreeMap<String, RawPrice>) -> Result<PriceTable, ConfigError> {
    let mut configured = HashMap::new();
    for (key, raw_price) in raw {
        let at = |detail: &str| ConfigError::new(format!("prices.\"{key}\"{detail}"));
        let normalised = target(key).map_err(|e| at(&format!(": {e}")))?;
        let price = price(raw_price).map_err(|e| at(&format!(".{e}")))?;
        if configured.insert(normalised.clone(), price).is_some() {
            return Err(at(&format!(": '{normalised}' is priced twice (names are case-insensitive)")));
        }
    }
    Ok(PriceTable::new(configured))
}

/// `provider:model`, lower case, checked.
fn target(key: &str) -> Result<String, String> {
    let Some((provider, model)) = key.trim().split_once(':') else {
        return Err("the name must be provider:model (e.g. \"openai:gpt-4o\", or \"local:*\" for every model)".into());
    };
    if provider.is_empty() || !provider.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(format!("provider '{provider}' is not a provider name (letters, digits, '_' and '-')"));
    }
    if model.is_empty() || model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("model '{model}' is not a model name (no spaces; '*' for every model of the provider)"));
    }
    Ok(format!("{provider}:{model}").to_ascii_lowercase())
}

fn price(raw: &RawPrice) -> Result<Price, String> {
    let input = raw.input.ok_or("input: missing (USD per million input tokens; 0 for a free model)")?;
    let output = raw.output.ok_or("output: missing (USD per million output tokens; 0 for a free model)")?;
    let mut price = Price::new(
        input,
        output,
        raw.cache_write_5m.unwrap_or(input),
        raw.cache_write_1h.unwrap_or(input),
        raw.cache_read.unwrap_or(input),
    );
    if let Some(long) = &raw.long_context {
        let missing = |field: &str| format!("long_context.{field}: missing");
        let above = long.above_prompt_tokens.ok_or_else(|| missing("above_prompt_tokens"))?;
        let input = long.input.ok_or_else(|| missing("input"))?;
        let output = long.output.ok_or_else(|| missing("output"))?;
        price = price.with_long_context(LongContext {
            above_prompt_tokens: above,
            input,
            output,
            cache_write_5m: long.cache_write_5m.unwrap_or(input),
            cache_write_1h: long.cache_write_1h.unwrap_or(input),
            cache_read: long.cache_read.unwrap_or(input),
        });
    }
    price.validate()?;
    Ok(price)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(entries: &[(&str, RawPrice)]) -> BTreeMap<String, RawPrice> {
        entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn both(input: f64, output: f64) -> RawPrice {
        RawPrice { input: Some(input), output: Some(output), ..RawPrice::default() }
    }

    #[test]
    fn left_out_cache_rates_cost_the_input_rate() {
        let t = table(&raw(&[("Local:Llama3", both(0.0, 0.0)), ("groq:*", both(0.5, 0.8))])).unwrap();
        assert_eq!(t.price("local", "llama3"), Some(Price::new(0.0, 0.0, 0.0, 0.0, 0.0)));
        assert_eq!(t.price("groq", "anything"), Some(Price::new(0.5, 0.8, 0.5, 0.5, 0.5)));
        let full = RawPrice {
            cache_write_5m: Some(3.75),
            cache_write_1h: Some(6.0),
            cache_read: Some(0.3),
            long_context: Some(RawLongContext {
                above_prompt_tokens: Some(100),
                input: Some(6.0),
                output: Some(22.5),
                ..RawLongContext::default()
            }),
            ..both(3.0, 15.0)
        };
        let t = table(&raw(&[("bedrock:claude-sonnet-4-5", full)])).unwrap();
        let p = t.price("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0").unwrap();
        assert_eq!((p.cache_write_1h, p.cache_read), (6.0, 0.3));
        let long = p.long_context.unwrap();
        assert_eq!((long.above_prompt_tokens, long.output, long.cache_read), (100, 22.5, 6.0));
    }

    #[test]
    fn errors_name_the_table_and_the_field() {
        let err = |entries: &[(&str, RawPrice)]| table(&raw(entries)).unwrap_err().to_string();
        let e = err(&[("openai:gpt-4o", RawPrice { input: Some(1.0), ..RawPrice::default() })]);
        assert!(e.starts_with("prices.\"openai:gpt-4o\".output: missing"), "{e}");
        let e = err(&[("openai:gpt-4o", both(-1.0, 2.0))]);
        assert!(e.starts_with("prices.\"openai:gpt-4o\".input: -1 is not a price"), "{e}");
        let e = err(&[("openai:gpt-4o", RawPrice { cache_read: Some(f64::INFINITY), ..both(1.0, 2.0) })]);
        assert!(e.starts_with("prices.\"openai:gpt-4o\".cache_read:"), "{e}");
        let e = err(&[("gpt-4o", both(1.0, 2.0))]);
        assert!(e.starts_with("prices.\"gpt-4o\": the name must be provider:model"), "{e}");
        let e = err(&[("open ai:gpt-4o", both(1.0, 2.0))]);
        assert!(e.contains("provider 'open ai'"), "{e}");
        let e = err(&[("openai:", both(1.0, 2.0))]);
        assert!(e.contains("model ''"), "{e}");
        let e = err(&[("openai:GPT-4o", both(1.0, 2.0)), ("openai:gpt-4o", both(1.0, 2.0))]);
        assert!(e.contains("priced twice"), "{e}");
        let long = RawPrice {
            long_context: Some(RawLongContext { input: Some(1.0), output: Some(1.0), ..RawLongContext::default() }),
            ..both(1.0, 2.0)
        };
        let e = err(&[("a:b", long)]);
        assert_eq!(e, "prices.\"a:b\".long_context.above_prompt_tokens: missing");
    }
}
