//! What tokens cost: a price table in USD per million tokens (input, output, cache writes for 5 minutes and for
//! an hour, cache reads), shipped for current Anthropic and OpenAI models ([`shipped`]) and applied by upstream
//! model name for any provider ([`names::family`]: dated, Bedrock and Vertex ids find their family), overridden
//! and extended per `provider:model` by the configuration. Money is counted in integer nano-dollars; a request's
//! cost is rounded to the nano-dollar once, so sums of costs are exact. docs/keys-and-budgets.md ("Prices and
//! spend") describes the table, the overrides and the arithmetic.

pub mod names;
mod shipped;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use foldhash::fast::RandomState;

use serde::{Deserialize, Serialize};

use crate::convert::Usage;

/// USD per million tokens for each kind of token, and optionally dearer rates for long prompts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
    pub cache_read: f64,
    /// Rates that replace all five for a request whose prompt is longer than a threshold (Claude Sonnet 4 and
    /// 4.5 with the 1M-token context window bill every token of such a request at them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContext>,
}

/// The rates of a request whose prompt (input + cache reads + cache writes) has more than `above_prompt_tokens`
/// tokens. USD per million tokens, like [`Price`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongContext {
    pub above_prompt_tokens: u64,
    pub input: f64,
    pub output: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
    pub cache_read: f64,
}

/// The five rates one request is billed at, in pico-dollars per token.
#[derive(Debug, Clone, Copy)]
struct Rates {
    input: u128,
    output: u128,
    cache_write_5m: u128,
    cache_write_1h: u128,
    cache_read: u128,
}

impl Price {
    /// A price from its five rates, without a long-context tier.
    pub const fn new(input: f64, output: f64, cache_write_5m: f64, cache_write_1h: f64, cache_read: f64) -> Self {
        Price { input, output, cache_write_5m, cache_write_1h, cache_read, long_context: None }
    }

    /// A price from input and output rates with Anthropic's cache multipliers (writes 1.25× and 2×, reads 0.1×).
    pub const fn anthropic(input: f64, output: f64) -> Self {
        Price::new(input, output, input * 1.25, input * 2.0, input * 0.1)
    }

    /// This price with dearer rates for long prompts.
    pub const fn with_long_context(self, long_context: LongContext) -> Self {
        Price { long_context: Some(long_context), ..self }
    }

    /// The rates a request with a prompt of `prompt_tokens` tokens is billed at.
    fn rates(&self, prompt_tokens: u64) -> Rates {
        match self.long_context {
            Some(l) if prompt_tokens > l.above_prompt_tokens => Rates {
                input: per_token_picos(l.input),
                output: per_token_picos(l.output),
                cache_write_5m: per_token_picos(l.cache_write_5m),
                cache_write_1h: per_token_picos(l.cache_write_1h),
                cache_read: per_token_picos(l.cache_read),
            },
            _ => Rates {
                input: per_token_picos(self.input),
                output: per_token_picos(self.output),
                cache_write_5m: per_token_picos(self.cache_write_5m),
                cache_write_1h: per_token_picos(self.cache_write_1h),
                cache_read: per_token_picos(self.cache_read),
            },
        }
    }

    /// The cost of `usage` in nano-dollars: each kind of token at its rate — cache writes split into those kept
    /// for an hour (`cache_creation_1h_input_tokens`, at most all of them) and the rest, kept for 5 minutes —
    /// summed exactly in pico-dollars and rounded to the nearest nano-dollar (half up) once. A prompt longer than
    /// the long-context threshold bills every token at the long-context rates.
    pub fn cost_nanos(&self, usage: &Usage) -> u64 {
        let prompt = usage
            .input_tokens
            .saturating_add(usage.cache_read_input_tokens)
            .saturating_add(usage.cache_creation_input_tokens);
        let r = self.rates(prompt);
        let write_1h = usage.cache_creation_1h_input_tokens.min(usage.cache_creation_input_tokens);
        let write_5m = usage.cache_creation_input_tokens - write_1h;
        picos_to_nanos(
            r.input * u128::from(usage.input_tokens)
                + r.output * u128::from(usage.output_tokens)
                + r.cache_write_5m * u128::from(write_5m)
                + r.cache_write_1h * u128::from(write_1h)
                + r.cache_read * u128::from(usage.cache_read_input_tokens),
        )
    }

    /// What to reserve for a request of about `input_tokens` prompt tokens that may write `max_output` tokens:
    /// the prompt at the dearest rate a prompt token can be billed at (an hour's cache write, usually), so the
    /// reservation never falls short of the answer's cost because of caching; the tier is the one the estimate
    /// falls in.
    pub fn reservation_nanos(&self, input_tokens: u64, max_output: u64) -> u64 {
        let r = self.rates(input_tokens);
        let input = r.input.max(r.cache_write_5m).max(r.cache_write_1h).max(r.cache_read);
        picos_to_nanos(input * u128::from(input_tokens) + r.output * u128::from(max_output))
    }

    /// Checks a configured price: every rate a finite number of USD per million tokens, from 0 to 1,000,000
    /// exclusive, with at most six decimals (a millionth of a dollar per million tokens, the table's resolution);
    /// a long-context threshold of at least one token. The error starts with the field's name.
    pub fn validate(&self) -> Result<(), String> {
        let mut fields = vec![
            ("input", self.input),
            ("output", self.output),
            ("cache_write_5m", self.cache_write_5m),
            ("cache_write_1h", self.cache_write_1h),
            ("cache_read", self.cache_read),
        ];
        if let Some(l) = &self.long_context {
            if l.above_prompt_tokens == 0 {
                return Err("long_context.above_prompt_tokens: must be at least 1".into());
            }
            fields.extend([
                ("long_context.input", l.input),
                ("long_context.output", l.output),
                ("long_context.cache_write_5m", l.cache_write_5m),
                ("long_context.cache_write_1h", l.cache_write_1h),
                ("long_context.cache_read", l.cache_read),
            ]);
        }
        for (name, value) in fields {
            if !(value.is_finite() && (0.0..1e6).contains(&value)) {
                return Err(format!(
                    "{name}: {value} is not a price in USD per million tokens (0 or more, below 1000000)"
                ));
            }
            if ((value * 1e6).round() - value * 1e6).abs() > 1e-6 {
                return Err(format!(
                    "{name}: {value} has more than six decimals (the resolution is $0.000001 per million tokens)"
                ));
            }
        }
        Ok(())
    }
}

/// USD per million tokens as pico-dollars per token (exact for prices with up to six decimals), rounded to the
/// nearest (half up). Rates are validated below 1,000,000 USD per
/// million tokens, so the product stays far below 2^52, where adding 0.5 is exact and truncating it rounds: two
/// instructions where `f64::round` and a conversion to `u128` were two library calls (a request prices twice).
fn per_token_picos(usd_per_million: f64) -> u128 {
    let picos = usd_per_million * 1e6;
    if picos > 0.0 {
        u128::from((picos + 0.5) as u64)
    } else {
        0
    }
}

fn picos_to_nanos(picos: u128) -> u64 {
    u64::try_from((picos + 500) / 1000).unwrap_or(u64::MAX)
}

/// Nano-dollars as US dollars (for JSON and Prometheus, which count money in floating point).
pub fn usd(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// Every known price: the configuration's by `provider:model`, then the shipped table by model name.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    /// Configured prices by provider (lower case).
    configured: HashMap<String, ProviderPrices>,
    /// Prices already looked up, by `(provider, model)` as asked: a lookup normalises the model's name several
    /// ways, and a metered request asks for each of its targets.
    looked_up: LookedUp,
}

/// The lookups of one table (a table is immutable: a reload builds a new one, and with it a new memory), and the
/// table's id among the process's tables, by which threads keep their recent lookups ([`RECENT`]).
struct LookedUp {
    id: u64,
    remembered: std::sync::Mutex<Remembered>,
}

impl Default for LookedUp {
    fn default() -> Self {
        // From 1: 0 marks an empty slot of `RECENT`.
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), remembered: Default::default() }
    }
}

/// A thread's last lookups: (table id, provider, model, price).
struct Recent {
    slots: [(u64, String, String, Option<Price>); 4],
    next: usize,
}

thread_local! {
    /// Each metered request asks for its targets' prices at admission, and a thread's requests name the same few
    /// targets again and again: a few string comparisons instead of the shared memory's lock and two hash lookups.
    static RECENT: RefCell<Recent> = RefCell::new(Recent { slots: Default::default(), next: 0 });
}

/// Looked-up prices by provider, then model (two maps so that a lookup by `&str` copies neither name).
type Remembered = HashMap<String, HashMap<String, Option<Price>, RandomState>, RandomState>;

/// Lookups remembered; past this the memory is cleared (models named by clients are unbounded).
const LOOKUPS_REMEMBERED: usize = 4_096;

impl Clone for LookedUp {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for LookedUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookedUp")
    }
}

/// The configured prices of one provider.
#[derive(Debug, Clone, Default)]
struct ProviderPrices {
    /// By model name, lower case, exactly as configured.
    exact: HashMap<String, Price>,
    /// By family, for configured names that are a family (no date or version): they price the family's ids too.
    family: HashMap<String, Price>,
    /// `provider:*`: every other model of the provider.
    any: Option<Price>,
}

impl PriceTable {
    /// The shipped table with the configuration's prices on top, keyed `provider:model` (case-insensitive; the
    /// model `*` stands for every model of the provider that has no price of its own there). A key without a `:`
    /// is ignored (the configuration refuses it before this).
    pub fn new(configured: HashMap<String, Price>) -> Self {
        let mut by_provider: HashMap<String, ProviderPrices> = HashMap::new();
        for (key, price) in configured {
            let key = key.trim().to_ascii_lowercase();
            let Some((provider, model)) = key.split_once(':') else { continue };
            let entry = by_provider.entry(provider.to_string()).or_default();
            if model == "*" {
                entry.any = Some(price);
                continue;
            }
            if names::is_family(model) {
                entry.family.insert(names::family(model), price);
            }
            entry.exact.insert(model.to_string(), price);
        }
        Self { configured: by_provider, looked_up: LookedUp::default() }
    }

    /// The price of `model` (as sent upstream, after aliases) on `provider`, if known: configured for that exact
    /// model, else configured for its family, else configured for every model of the provider (`provider:*`),
    /// else shipped for the model's exact id, else shipped for its family.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        let table = self.looked_up.id;
        let recent = RECENT.with_borrow(|recent| {
            recent.slots.iter().find(|(t, p, m, _)| *t == table && p == provider && m == model).map(|slot| slot.3)
        });
        if let Some(price) = recent {
            return price;
        }
        let price = self.remembered_price(provider, model);
        RECENT.with_borrow_mut(|recent| {
            let at = recent.next;
            recent.next = (at + 1) % recent.slots.len();
            recent.slots[at] = (table, provider.to_string(), model.to_string(), price);
        });
        price
    }

    /// [`price`](Self::price) from the table's shared memory of lookups.
    fn remembered_price(&self, provider: &str, model: &str) -> Option<Price> {
        let Ok(mut looked_up) = self.looked_up.remembered.lock() else { return self.look_up(provider, model) };
        if let Some(price) = looked_up.get(provider).and_then(|models| models.get(model)) {
            return *price;
        }
        let price = self.look_up(provider, model);
        if looked_up.values().map(HashMap::len).sum::<usize>() >= LOOKUPS_REMEMBERED {
            looked_up.clear();
        }
        looked_up.entry(provider.to_string()).or_default().insert(model.to_string(), price);
        price
    }

    fn look_up(&self, provider: &str, model: &str) -> Option<Price> {
        let model = model.trim().to_ascii_lowercase();
        let configured = match self.configured.get(provider) {
            Some(p) => Some(p),
            None => self.configured.get(&provider.to_ascii_lowercase()),
        };
        if let Some(p) = configured {
            if let Some(price) = p.exact.get(&model) {
                return Some(*price);
            }
            if !p.family.is_empty() {
                if let Some(price) = p.family.get(&names::family(&model)) {
                    return Some(*price);
                }
            }
            if let Some(price) = p.any {
                return Some(price);
            }
        }
        shipped(&model)
    }

    /// How many `provider:model` prices the configuration set.
    pub fn configured_len(&self) -> usize {
        self.configured.values().map(|p| p.exact.len() + usize::from(p.any.is_some())).sum()
    }

    /// What to tell a client whose key has a budget when `provider:model` has no price: which model, and the
    /// table that would give it one.
    pub fn missing_price_message(provider: &str, model: &str) -> String {
        format!(
            "no price is known for '{provider}:{model}', and this key has a budget; an operator can add \
             [prices.\"{provider}:{model}\"] with input and output (USD per million tokens) to the configuration"
        )
    }
}

/// The shipped table by family, built once.
static SHIPPED_BY_FAMILY: LazyLock<HashMap<String, Price>> =
    LazyLock::new(|| shipped::SHIPPED.iter().map(|(name, price)| (names::family(name), *price)).collect());

/// The shipped price of `model` (lower case): its exact id's when the table prices that id apart from its family
/// (an older snapshot at another price), else its family's.
fn shipped(model: &str) -> Option<Price> {
    let id = names::without_vendor(model);
    if let Some((_, price)) = shipped::SNAPSHOTS.iter().find(|(name, _)| *name == id) {
        return Some(*price);
    }
    SHIPPED_BY_FAMILY.get(&names::family(model)).copied()
}

#[cfg(test)]
mod tests;
