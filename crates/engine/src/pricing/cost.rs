//! What a response's usage costs at given rates, reading each cloud's token counts in that
//! cloud's own terms ([`UsageConvention`]).
//!
//! Left out: where the rates come from (`catalog`, `lookup`). Without input and output counts, or
//! without the rate some tokens need, the cost is unknown with the reason, never $0.

use crate::model::event::Usage;
use crate::model::target::{Api, ProviderKind, Publisher, Target};
use crate::pricing::{LongContextRates, Rates};

pub(super) const TOKENS_PER_PRICE_UNIT: f64 = 1_000_000.0;

/// What one response cost, or why that is unknown.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// `None` when the cost cannot be known; never a stand-in 0.
    pub usd: Option<f64>,
    /// The price's source when `usd` is known, else the reason it is not.
    pub source: String,
}

impl Cost {
    pub(super) fn unknown(reason: impl Into<String>) -> Self {
        Self {
            usd: None,
            source: reason.into(),
        }
    }
}

/// How a cloud's reported token counts relate to what it bills. Each decoder in `providers/`
/// keeps its cloud's own counts; these say what they mean:
///
/// - [`Self::OpenAi`] (OpenAI, Azure, OpenAI-compatible servers, Ollama): `prompt_tokens` /
///   `input_tokens` include the cached tokens (`cached_tokens`), billed at the cached rate;
///   `completion_tokens` / `output_tokens` include the reasoning tokens.
/// - [`Self::Anthropic`] (Anthropic, Claude on Vertex): `input_tokens` excludes cache reads
///   (`cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`), which are
///   billed on top at their own rates; `output_tokens` includes extended thinking.
/// - [`Self::Gemini`] (AI Studio, Gemini on Vertex): `promptTokenCount` includes
///   `cachedContentTokenCount`; the wire's `candidatesTokenCount` excludes `thoughtsTokenCount`,
///   which is billed as output. The decoder adds the thoughts into `output_tokens` (so it counts
///   everything generated, as for the other clouds) and keeps them in `reasoning_tokens`.
/// - [`Self::Bedrock`] (ConverseStream, and InvokeModel's native bodies): `inputTokens` excludes
///   `cacheReadInputTokens` and `cacheWriteInputTokens`, billed on top; output includes reasoning.
///
/// When a response reports `total_tokens` and it only adds up under the other reading (a decoder
/// that normalises differently), the reading that adds up is used, so a change in a decoder
/// cannot double-count or drop tokens silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageConvention {
    OpenAi,
    Anthropic,
    Gemini,
    Bedrock,
}

impl UsageConvention {
    pub fn of(target: &Target) -> Self {
        match target.provider {
            // OCI's `promptTokens` include its cached tokens, as OpenAI's do.
            ProviderKind::OpenAi | ProviderKind::Azure | ProviderKind::Ollama | ProviderKind::Oci => Self::OpenAi,
            ProviderKind::Anthropic => Self::Anthropic,
            ProviderKind::Gemini => Self::Gemini,
            ProviderKind::Vertex => match target.publisher() {
                Publisher::Google => Self::Gemini,
                Publisher::Anthropic => Self::Anthropic,
            },
            // Mantle speaks OpenAI's and Anthropic's own formats, and counts as they do.
            ProviderKind::Bedrock => match target.api() {
                Api::MantleResponses | Api::MantleChat => Self::OpenAi,
                Api::MantleMessages => Self::Anthropic,
                _ => Self::Bedrock,
            },
        }
    }

    /// (input includes cache reads and writes, output includes reasoning)
    fn reading(self) -> Reading {
        match self {
            Self::OpenAi | Self::Gemini => Reading {
                input_includes_cache: true,
                output_includes_reasoning: true,
            },
            Self::Anthropic | Self::Bedrock => Reading {
                input_includes_cache: false,
                output_includes_reasoning: true,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reading {
    input_includes_cache: bool,
    output_includes_reasoning: bool,
}

impl Reading {
    fn total(self, usage: &CountedUsage) -> u64 {
        let cache = if self.input_includes_cache {
            0
        } else {
            usage.cached.saturating_add(usage.cache_write)
        };
        let reasoning = if self.output_includes_reasoning {
            0
        } else {
            usage.reasoning
        };
        // Saturating: counts come from the network, and a sum must never wrap or panic.
        [cache, usage.output, reasoning]
            .into_iter()
            .fold(usage.input, u64::saturating_add)
    }
}

struct CountedUsage {
    input: u64,
    output: u64,
    cached: u64,
    cache_write: u64,
    reasoning: u64,
}

/// What a response cost at `rates`, and whether the long-context rates applied. `Err` is the
/// reason the cost is unknown.
pub fn cost_of_usage(
    usage: &Usage,
    convention: UsageConvention,
    rates: &Rates,
    long_context: Option<&LongContextRates>,
) -> std::result::Result<(f64, bool), String> {
    if usage.counts().iter().all(Option::is_none) {
        return Err("no usage reported".to_owned());
    }
    let counted = CountedUsage {
        input: usage.input_tokens.ok_or("usage lacks input tokens")?,
        output: usage.output_tokens.ok_or("usage lacks output tokens")?,
        cached: usage.cached_input_tokens.unwrap_or(0),
        cache_write: usage.cache_creation_input_tokens.unwrap_or(0),
        reasoning: usage.reasoning_tokens.unwrap_or(0),
    };
    let reading = reading_for(convention.reading(), &counted, usage.total_tokens);
    let (uncached_input, prompt_tokens) = if reading.input_includes_cache {
        (
            counted
                .input
                .saturating_sub(counted.cached.saturating_add(counted.cache_write)),
            counted.input,
        )
    } else {
        (
            counted.input,
            counted
                .input
                .saturating_add(counted.cached)
                .saturating_add(counted.cache_write),
        )
    };
    let (plain_output, reasoning) = if reading.output_includes_reasoning {
        (counted.output.saturating_sub(counted.reasoning), counted.reasoning)
    } else {
        (counted.output, counted.reasoning)
    };
    let long = long_context.filter(|tier| prompt_tokens > tier.above_input_tokens);
    let rates = long.map_or_else(|| rates.clone(), |tier| tier.applied_to(rates));
    let cached_rate = match (counted.cached, rates.cached_input) {
        (0, _) => 0.0,
        (_, Some(rate)) => rate,
        (tokens, None) => return Err(format!("the price has no cached-input rate for {tokens} cached tokens")),
    };
    let cache_write_rate = match (counted.cache_write, rates.cache_write) {
        (0, _) => 0.0,
        (_, Some(rate)) => rate,
        (tokens, None) => {
            return Err(format!(
                "the price has no cache-write rate for {tokens} cache-write tokens"
            ));
        }
    };
    let dollars = (uncached_input as f64 * rates.input
        + counted.cached as f64 * cached_rate
        + counted.cache_write as f64 * cache_write_rate
        + plain_output as f64 * rates.output
        + reasoning as f64 * rates.reasoning.unwrap_or(rates.output))
        / TOKENS_PER_PRICE_UNIT;
    // Nano-dollars: far below any price step, and free of float noise in reports.
    Ok(((dollars * 1e9).round() / 1e9, long.is_some()))
}

/// The convention's reading, unless the reported total only adds up under another one. Of the
/// readings that add up, the one closest to the convention is taken (a count of 0 makes its
/// half of the reading moot); a tie keeps the convention.
fn reading_for(default: Reading, usage: &CountedUsage, total: Option<u64>) -> Reading {
    let Some(total) = total else { return default };
    if default.total(usage) == total {
        return default;
    }
    let changes = |reading: &Reading| {
        usize::from(reading.input_includes_cache != default.input_includes_cache)
            + usize::from(reading.output_includes_reasoning != default.output_includes_reasoning)
    };
    let mut matching: Vec<Reading> = [false, true]
        .into_iter()
        .flat_map(|input_includes_cache| {
            [false, true].into_iter().map(move |output_includes_reasoning| Reading {
                input_includes_cache,
                output_includes_reasoning,
            })
        })
        .filter(|reading| reading.total(usage) == total)
        .collect();
    matching.sort_by_key(changes);
    match matching.as_slice() {
        [] => default,
        [closest] => *closest,
        [closest, next, ..] if changes(closest) < changes(next) => *closest,
        _ => default,
    }
}
