use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;

fn usage(input: u64, output: u64, write: u64, write_1h: u64, read: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_creation_input_tokens: write,
        cache_creation_1h_input_tokens: write_1h,
        cache_read_input_tokens: read,
    }
}

const FREE: Price = Price::new(0.0, 0.0, 0.0, 0.0, 0.0);

#[test]
fn costs_are_exact_in_nano_dollars() {
    let sonnet = Price::anthropic(3.0, 15.0);
    // 1000 × $3/M + 100 × $15/M = $0.003 + $0.0015
    assert_eq!(sonnet.cost_nanos(&usage(1_000, 100, 0, 0, 0)), 4_500_000);
    // 1000 × $3.75/M + 10000 × $0.30/M
    assert_eq!(sonnet.cost_nanos(&usage(0, 0, 1_000, 0, 10_000)), 3_750_000 + 3_000_000);
    assert_eq!(sonnet.cost_nanos(&usage(0, 0, 1_000, 1_000, 10_000)), 6_000_000 + 3_000_000, "an hour's write is 2×");
    assert_eq!(sonnet.cost_nanos(&usage(0, 0, 1_000, 400, 0)), 600 * 3_750 + 400 * 6_000, "each write at its rate");
    assert_eq!(sonnet.cost_nanos(&usage(0, 0, 10, 99, 0)), 60_000, "the hour's count is at most all the writes");
    // A token at $0.0001/M costs 0.1 nano-dollar: a request is rounded once, half up.
    assert_eq!(Price::new(0.0001, 0.0, 0.0, 0.0, 0.0).cost_nanos(&usage(5, 0, 0, 0, 0)), 1, "0.5 nano rounds up");
    assert_eq!(Price::new(0.0001, 0.0, 0.0, 0.0, 0.0).cost_nanos(&usage(4, 0, 0, 0, 0)), 0);
    assert_eq!(FREE.cost_nanos(&usage(u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX)), 0);
    let dear = Price::new(999_999.0, 999_999.0, 999_999.0, 999_999.0, 999_999.0);
    assert_eq!(dear.cost_nanos(&usage(u64::MAX, u64::MAX, 0, 0, 0)), u64::MAX, "saturates, never wraps");
}

#[test]
fn reservations_price_the_prompt_at_its_dearest_rate() {
    let sonnet = Price::anthropic(3.0, 15.0);
    assert_eq!(sonnet.reservation_nanos(1_000, 100), 6_000_000 + 1_500_000);
    let openai = Price::new(2.0, 8.0, 2.0, 2.0, 0.5);
    assert_eq!(openai.reservation_nanos(1_000, 1_000), 2_000_000 + 8_000_000);
    // Whatever the answer's split of the prompt, its cost is within the reservation.
    for split in [usage(1_000, 100, 0, 0, 0), usage(0, 100, 1_000, 1_000, 0), usage(200, 100, 300, 100, 500)] {
        assert!(sonnet.cost_nanos(&split) <= sonnet.reservation_nanos(1_000, 100), "{split:?}");
    }
}

#[test]
fn long_prompts_bill_every_token_at_the_long_context_rates() {
    let table = PriceTable::default();
    let sonnet = table.price("anthropic", "claude-sonnet-4-5-20250929").unwrap();
    // 200,000 prompt tokens (input + cache reads + writes) is the standard rate; one more is the long one.
    let at = usage(100_000, 1_000, 50_000, 0, 50_000);
    assert_eq!(sonnet.cost_nanos(&at), 100_000 * 3_000 + 1_000 * 15_000 + 50_000 * 3_750 + 50_000 * 300);
    let over = usage(100_001, 1_000, 50_000, 20_000, 50_000);
    assert_eq!(
        sonnet.cost_nanos(&over),
        100_001 * 6_000 + 1_000 * 22_500 + 30_000 * 7_500 + 20_000 * 12_000 + 50_000 * 600
    );
    assert_eq!(sonnet.reservation_nanos(200_001, 10), 200_001 * 12_000 + 10 * 22_500);
    assert_eq!(sonnet.reservation_nanos(200_000, 10), 200_000 * 6_000 + 10 * 15_000);
    // Sonnet 4.6 and Opus have one rate at any length.
    let opus = table.price("anthropic", "claude-opus-4-5").unwrap();
    assert_eq!(opus.cost_nanos(&usage(300_000, 0, 0, 0, 0)), 300_000 * 5_000);
}

#[test]
fn shipped_prices_are_found_by_any_name_of_the_model() {
    let table = PriceTable::default();
    let price = |model: &str| table.price("any", model).map(|p| (p.input, p.output, p.cache_read));
    for (id, want) in [
        ("claude-sonnet-4-5-20250929", (3.0, 15.0, 0.30)),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", (3.0, 15.0, 0.30)),
        ("claude-opus-4-1@20250805", (15.0, 75.0, 1.50)),
        ("claude-opus-4-1-20250805", (15.0, 75.0, 1.50)),
        ("claude-opus-4-20250514", (15.0, 75.0, 1.50)),
        ("claude-opus-4-5-20251101", (5.0, 25.0, 0.50)),
        ("anthropic/claude-opus-4.6", (5.0, 25.0, 0.50)),
        ("claude-3-7-sonnet-latest", (3.0, 15.0, 0.30)),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", (3.0, 15.0, 0.30)),
        ("claude-3-5-sonnet-v2@20241022", (3.0, 15.0, 0.30)),
        ("claude-3-5-haiku-20241022", (0.80, 4.0, 0.08)),
        ("claude-haiku-4-5@20251001", (1.0, 5.0, 0.10)),
        ("claude-3-haiku-20240307", (0.25, 1.25, 0.03)),
        ("gpt-4.1-2025-04-14", (2.0, 8.0, 0.50)),
        ("gpt-4.1-mini", (0.40, 1.60, 0.10)),
        ("gpt-4o-2024-08-06", (2.50, 10.0, 1.25)),
        ("gpt-4o-2024-05-13", (5.0, 15.0, 5.0)),
        ("openai/gpt-4o-mini-2024-07-18", (0.15, 0.60, 0.075)),
        ("gpt-5-2025-08-07", (1.25, 10.0, 0.125)),
        ("gpt-5-nano", (0.05, 0.40, 0.005)),
        ("o3-2025-04-16", (2.0, 8.0, 0.50)),
        ("o3-pro-2025-06-10", (20.0, 80.0, 20.0)),
        ("o4-mini-2025-04-16", (1.10, 4.40, 0.275)),
    ] {
        assert_eq!(price(id), Some(want), "{id}");
    }
    for unknown in ["o3-deep-research", "gpt-4", "claude-2.1", "llama3:8b", "chatgpt-4o-latest", "", "claude-sonnet"] {
        assert_eq!(price(unknown), None, "{unknown} has no shipped price");
    }
    // OpenAI has no cache-write charge: a written token costs input.
    let gpt = table.price("openai", "gpt-4.1").unwrap();
    assert_eq!((gpt.cache_write_5m, gpt.cache_write_1h), (2.0, 2.0));
}

#[test]
fn the_shipped_table_is_valid_and_each_family_appears_once() {
    let mut seen = HashSet::new();
    for (name, price) in shipped::SHIPPED.iter().chain(shipped::SNAPSHOTS) {
        assert_eq!(price.validate(), Ok(()), "{name}");
        // Every shipped rate is a whole number of nano-dollars per token, so costs add exactly (see the property
        // below): no rounding ever happens.
        for rate in [price.input, price.output, price.cache_write_5m, price.cache_write_1h, price.cache_read] {
            assert_eq!(per_token_picos(rate) % 1_000, 0, "{name}: {rate}");
        }
        assert!(price.cache_read <= price.input && price.cache_write_5m >= price.input, "{name}");
        assert!(price.cache_write_1h >= price.cache_write_5m, "{name}");
    }
    for (name, _) in shipped::SHIPPED {
        assert!(names::is_family(name), "{name} is a family name");
        assert!(seen.insert(names::family(name)), "{name} appears twice");
    }
    for (name, _) in shipped::SNAPSHOTS {
        assert!(!names::is_family(name), "{name} is a snapshot id");
    }
}

#[test]
fn configured_prices_win_by_exact_name_then_family_then_provider() {
    let cheap = Price::new(1.0, 2.0, 1.0, 1.0, 0.5);
    let dated = Price::new(7.0, 7.0, 7.0, 7.0, 7.0);
    let table = PriceTable::new(HashMap::from([
        ("Local:llama3".to_string(), FREE),
        ("local:*".to_string(), cheap),
        ("anthropic:claude-sonnet-4-5".to_string(), cheap),
        ("anthropic:claude-opus-4-1-20250805".to_string(), dated),
        ("vertex:mistral-large-v2".to_string(), dated),
        ("no-colon".to_string(), dated),
    ]));
    assert_eq!(table.configured_len(), 5);
    assert_eq!(table.price("local", "LLAMA3"), Some(FREE));
    assert_eq!(table.price("local", "llama4"), Some(cheap), "provider:* prices the rest of the provider");
    assert_eq!(table.price("anthropic", "claude-sonnet-4-5-20250929"), Some(cheap), "a family name prices its ids");
    assert_eq!(table.price("anthropic", "claude-opus-4-1-20250805"), Some(dated));
    assert_eq!(
        table.price("anthropic", "claude-opus-4-1@20250805").map(|p| p.input),
        Some(15.0),
        "a dated configured name prices only itself"
    );
    assert_eq!(table.price("vertex", "mistral-large-v3"), None, "versions that name another model are not a family");
    assert_eq!(table.price("vertex", "mistral-large-v2"), Some(dated));
    assert_eq!(table.price("bedrock", "claude-sonnet-4-5").map(|p| p.input), Some(3.0), "other providers: shipped");
    assert_eq!(PriceTable::default().configured_len(), 0);
    let message = PriceTable::missing_price_message("local", "llama3");
    assert!(message.contains("'local:llama3'") && message.contains("[prices.\"local:llama3\"]"), "{message}");
}

#[test]
fn bad_prices_are_named_by_field() {
    assert!(Price { input: -1.0, ..FREE }.validate().unwrap_err().starts_with("input:"));
    assert!(Price { cache_read: f64::NAN, ..FREE }.validate().unwrap_err().starts_with("cache_read:"));
    assert!(Price { output: 1e6, ..FREE }.validate().unwrap_err().starts_with("output:"));
    assert!(Price { cache_write_1h: 0.0000001, ..FREE }.validate().unwrap_err().contains("six decimals"));
    assert_eq!(Price { input: 0.000001, ..FREE }.validate(), Ok(()));
    let long = LongContext {
        above_prompt_tokens: 0,
        input: 1.0,
        output: 1.0,
        cache_write_5m: 1.0,
        cache_write_1h: 1.0,
        cache_read: 1.0,
    };
    assert!(FREE.with_long_context(long).validate().unwrap_err().starts_with("long_context.above_prompt_tokens:"));
    let bad = LongContext { above_prompt_tokens: 5, output: -2.0, ..long };
    assert!(FREE.with_long_context(bad).validate().unwrap_err().starts_with("long_context.output:"));
}

/// A price whose rates are whole micro-dollars per million tokens (= pico-dollars per token).
fn price_of(micro: [u64; 5]) -> Price {
    let usd = |m: u64| m as f64 / 1e6;
    Price::new(usd(micro[0]), usd(micro[1]), usd(micro[2]), usd(micro[3]), usd(micro[4]))
}

/// The exact cost in pico-dollars, with integers only.
fn exact_picos(micro: [u64; 5], u: &Usage) -> u128 {
    let write_1h = u.cache_creation_1h_input_tokens.min(u.cache_creation_input_tokens);
    let counts = [
        u.input_tokens,
        u.output_tokens,
        u.cache_creation_input_tokens - write_1h,
        write_1h,
        u.cache_read_input_tokens,
    ];
    micro.iter().zip(counts).map(|(m, n)| u128::from(*m) * u128::from(n)).sum()
}

fn arb_usage() -> impl Strategy<Value = Usage> {
    (0..2_000_000u64, 0..200_000u64, 0..1_000_000u64, 0..1_200_000u64, 0..5_000_000u64)
        .prop_map(|(i, o, w, w1h, r)| usage(i, o, w, w1h, r))
}

fn add(a: &Usage, b: &Usage) -> Usage {
    usage(
        a.input_tokens + b.input_tokens,
        a.output_tokens + b.output_tokens,
        a.cache_creation_input_tokens + b.cache_creation_input_tokens,
        a.cache_creation_1h_input_tokens.min(a.cache_creation_input_tokens)
            + b.cache_creation_1h_input_tokens.min(b.cache_creation_input_tokens),
        a.cache_read_input_tokens + b.cache_read_input_tokens,
    )
}

proptest! {
    /// The rounding by adding a half agrees with `f64::round` on every rate a price may have (up to 1,000,000 USD
    /// per million tokens, six decimals), and on rates written with more decimals than that.
    #[test]
    fn a_rate_in_picos_is_rounded_as_f64_round_does(micros in 0..1_000_000_000_000u64, extra in 0..1000u64) {
        for rate in [micros as f64 / 1e6, (micros as f64 + extra as f64 / 1000.0) / 1e6] {
            prop_assert_eq!(per_token_picos(rate), (rate * 1e6).round() as u128, "{}", rate);
        }
    }

    /// Any price with up to six decimals: the cost is the exact rational cost rounded half up to a nano-dollar.
    #[test]
    fn cost_is_the_rational_cost_rounded_once(micro in proptest::array::uniform5(0..300_000_000u64), u in arb_usage()) {
        let want = (exact_picos(micro, &u) + 500) / 1000;
        prop_assert_eq!(u128::from(price_of(micro).cost_nanos(&u)), want);
    }

    /// Spend summed over many requests is within half a nano-dollar per request of the exact total, for any price;
    /// for prices in whole nano-dollars per token (every shipped price) it is exactly additive: a
    /// hundred requests cost what their summed usage costs.
    #[test]
    fn spend_is_additive_over_requests(
        micro in proptest::array::uniform5(0..300_000_000u64),
        usages in proptest::collection::vec(arb_usage(), 1..40),
        shipped_index in 0..shipped::SHIPPED.len(),
    ) {
        let price = price_of(micro);
        let spent: u128 = usages.iter().map(|u| u128::from(price.cost_nanos(u))).sum();
        let exact: u128 = usages.iter().map(|u| exact_picos(micro, u)).sum();
        let n = usages.len() as u128;
        prop_assert!(spent * 1000 + 500 * n >= exact && spent * 1000 <= exact + 500 * n);

        let (name, shipped_price) = shipped::SHIPPED[shipped_index];
        let base = Price { long_context: None, ..shipped_price };
        let total = usages.iter().fold(Usage::default(), |sum, u| add(&sum, u));
        let summed: u64 = usages.iter().map(|u| base.cost_nanos(u)).sum();
        prop_assert_eq!(summed, base.cost_nanos(&total), "{}", name);
    }

    /// The reservation for a prompt of n tokens covers any answer whose prompt splits those n tokens into input,
    /// cache writes and cache reads and that writes at most the reserved output.
    #[test]
    fn a_reservation_covers_every_split_of_its_prompt(
        micro in proptest::array::uniform5(0..300_000_000u64),
        parts in proptest::array::uniform4(0..100_000u64),
        output in 0..100_000u64,
        slack in 0..100_000u64,
    ) {
        let price = price_of(micro);
        let [input, write_5m, write_1h, read] = parts;
        let u = usage(input, output, write_5m + write_1h, write_1h, read);
        prop_assert!(price.cost_nanos(&u) <= price.reservation_nanos(input + write_5m + write_1h + read, output + slack));
    }
}

#[test]
fn a_threads_recent_lookups_belong_to_their_table() {
    let table = |usd: f64| PriceTable::new(HashMap::from([("local:m".to_string(), Price::anthropic(usd, usd))]));
    let (old, reloaded) = (table(1.0), table(2.0));
    for _ in 0..3 {
        assert_eq!(old.price("local", "m").map(|p| p.input), Some(1.0));
        assert_eq!(reloaded.price("local", "m").map(|p| p.input), Some(2.0), "a reload's price, not the old one");
        assert_eq!(old.clone().price("local", "m").map(|p| p.input), Some(1.0));
    }
    for n in 0..10 {
        assert_eq!(old.price("local", &format!("other-{n}")), None, "past the few recent ones");
    }
    assert_eq!(old.price("local", "m").map(|p| p.input), Some(1.0));
}
