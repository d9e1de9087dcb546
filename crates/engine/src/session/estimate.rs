//! What a session will cost before anything is sent: calls, input tokens per target (a real
//! tokenizer where the model family publishes one, else a stated approximation), output tokens
//! bounded by the maximum the session allows, and a cost range from the same prices runs use.
//!
//! The range's low end bills the input and no output; its high end bills every call's output at
//! the maximum. A target whose price is unknown has no cost range and is named.

use std::sync::OnceLock;

use serde::Serialize;
use ts_rs::TS;

use crate::model::event::Usage;
use crate::model::request::{Parameters, Prompt};
use crate::model::target::Target;
use crate::pricing::PriceBook;

/// How a target's input tokens were counted.
pub const APPROXIMATE: &str = "approximate (4 characters per token)";

/// One target's share of the session.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TargetEstimate {
    pub target: String,
    pub base_model: Option<String>,
    pub calls: u64,
    pub input_tokens: u64,
    /// `o200k_base`, `cl100k_base` or [`APPROXIMATE`].
    pub tokenizer: &'static str,
    /// Every call's output at the maximum; `None` when the session sets no maximum.
    pub max_output_tokens: Option<u64>,
    pub cost_low_usd: Option<f64>,
    pub cost_high_usd: Option<f64>,
    /// The price's source, or why there is none.
    pub price_source: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Estimate {
    pub calls: u64,
    pub targets: Vec<TargetEstimate>,
    /// Sums over the priced targets; `None` when no target is priced.
    pub cost_low_usd: Option<f64>,
    pub cost_high_usd: Option<f64>,
    /// Targets without a known price (a budget cannot cover them).
    pub unpriced: Vec<String>,
}

/// The tokenizer a model family publishes, if ModelBench ships it.
fn tokenizer_for(target: &Target) -> Option<(&'static str, &'static tiktoken_rs::CoreBPE)> {
    static O200K: OnceLock<Option<tiktoken_rs::CoreBPE>> = OnceLock::new();
    static CL100K: OnceLock<Option<tiktoken_rs::CoreBPE>> = OnceLock::new();
    let model = crate::model::identity::base_model(target, None).unwrap_or_else(|| target.model.clone());
    let model = model.to_ascii_lowercase();
    let o200k = ["gpt-5", "gpt-4o", "gpt-4.1", "gpt-4.5", "o1", "o3", "o4", "gpt-oss"];
    let cl100k = ["gpt-4", "gpt-3.5"];
    if o200k.iter().any(|family| model.starts_with(family)) {
        let bpe = O200K.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()?;
        return Some(("o200k_base", bpe));
    }
    if cl100k.iter().any(|family| model.starts_with(family)) {
        let bpe = CL100K.get_or_init(|| tiktoken_rs::cl100k_base().ok()).as_ref()?;
        return Some(("cl100k_base", bpe));
    }
    None
}

/// The input tokens of `prompt` for `target`, and how they were counted. Each message adds the
/// few tokens of its role framing (OpenAI's documented 3 per message, plus 3 for the reply).
pub fn input_tokens(target: &Target, prompt: &Prompt) -> (u64, &'static str) {
    let texts = prompt
        .system
        .iter()
        .map(String::as_str)
        .chain(prompt.messages.iter().map(|message| message.content.as_str()));
    let framing = 3 * (prompt.messages.len() + usize::from(prompt.system.is_some())) as u64 + 3;
    match tokenizer_for(target) {
        Some((name, bpe)) => {
            let tokens: usize = texts.map(|text| bpe.encode_ordinary(text).len()).sum();
            (tokens as u64 + framing, name)
        }
        None => {
            let characters: usize = texts.map(|text| text.chars().count()).sum();
            ((characters as u64).div_ceil(4) + framing, APPROXIMATE)
        }
    }
}

/// One call's cost: with no output, and with `max_output` output tokens (`None` when there is
/// no maximum or no price).
pub fn call_cost(target: &Target, prompt: &Prompt, max_output: Option<u64>, prices: &PriceBook) -> CallCost {
    let (tokens, tokenizer) = input_tokens(target, prompt);
    let cost_of = |output: u64| {
        let usage = Usage {
            input_tokens: Some(tokens),
            output_tokens: Some(output),
            ..Usage::default()
        };
        prices.cost(target, None, Some(&usage))
    };
    let floor = cost_of(0);
    CallCost {
        input_tokens: tokens,
        tokenizer,
        low_usd: floor.usd,
        high_usd: floor.usd.and(max_output).and_then(|max| cost_of(max).usd),
        price_source: floor.source,
    }
}

/// What one call costs at least and at most.
#[derive(Clone, Debug, PartialEq)]
pub struct CallCost {
    pub input_tokens: u64,
    pub tokenizer: &'static str,
    pub low_usd: Option<f64>,
    pub high_usd: Option<f64>,
    pub price_source: String,
}

/// The estimate for sending every prompt of `cases` to every target, `repeat` times.
pub fn estimate(
    cases: &[Prompt],
    targets: &[Target],
    repeat: u32,
    parameters: &Parameters,
    prices: &PriceBook,
) -> Estimate {
    let repeat = u64::from(repeat.max(1));
    let max_output = parameters.max_output_tokens.map(u64::from);
    let mut estimates = Vec::with_capacity(targets.len());
    let mut unpriced = Vec::new();
    for target in targets {
        let mut total_input = 0;
        let mut tokenizer = APPROXIMATE;
        let mut low = Some(0.0);
        let mut high = max_output.map(|_| 0.0);
        let mut price_source = String::new();
        for prompt in cases {
            let call = call_cost(target, prompt, max_output, prices);
            tokenizer = call.tokenizer;
            total_input += call.input_tokens * repeat;
            low = low.zip(call.low_usd).map(|(sum, usd)| sum + usd * repeat as f64);
            high = high.zip(call.high_usd).map(|(sum, usd)| sum + usd * repeat as f64);
            price_source = call.price_source;
        }
        if low.is_none() {
            unpriced.push(target.name.clone());
            high = None;
        }
        estimates.push(TargetEstimate {
            target: target.name.clone(),
            base_model: crate::model::identity::base_model(target, None),
            calls: cases.len() as u64 * repeat,
            input_tokens: total_input,
            tokenizer,
            max_output_tokens: max_output.map(|max| max * cases.len() as u64 * repeat),
            cost_low_usd: low,
            cost_high_usd: high,
            price_source,
        });
    }
    let sum = |pick: fn(&TargetEstimate) -> Option<f64>| {
        let priced: Vec<f64> = estimates.iter().filter_map(pick).collect();
        (!priced.is_empty()).then(|| priced.iter().sum())
    };
    Estimate {
        calls: estimates.iter().map(|estimate| estimate.calls).sum(),
        cost_low_usd: sum(|estimate| estimate.cost_low_usd),
        cost_high_usd: sum(|estimate| estimate.cost_high_usd),
        targets: estimates,
        unpriced,
    }
}
