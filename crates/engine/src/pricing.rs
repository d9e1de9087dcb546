//! Prices, and what each response cost.
//!
//! A [`PriceBook`] is a price catalog (the one shipped in `assets/prices.json`, generated from
//! LiteLLM's price map by `scripts/import-prices`, or a newer one the user imported) with the
//! user's own prices on top ([`PriceOverride`]s from the database: contract discounts,
//! provisioned throughput). [`PriceBook::cost`] turns a response's reported usage into US dollars,
//! reading each cloud's token counts in that cloud's own terms ([`UsageConvention`]).
//!
//! The rule everything here serves: a cost is computed from a known price and reported usage, or
//! it is `None` with the reason. Unknown is never $0. The one free case is a local Ollama, and its
//! source says so.
//!
//! Left out on purpose: batch, flex and priority tiers (ModelBench sends standard requests),
//! Azure data-zone and regional deployments (a target does not say its deployment type; the
//! catalog holds Azure's standard price, so set an override for those), per-request fees (web
//! search, grounding), one-hour cache writes (priced at the five-minute write rate), and
//! currencies other than USD (an override in another currency leaves `cost_usd` unknown).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::model::error::{Error, Result};
use crate::model::event::Usage;
use crate::model::identity::{strip_bedrock_profile, strip_bedrock_version};
use crate::model::record::utc_date_time;
use crate::model::target::{Api, DeploymentType, ProviderKind, Publisher, Target};

/// The catalog ModelBench ships, embedded so the binary needs no data files.
pub const SHIPPED_CATALOG_JSON: &str = include_str!("../../../assets/prices.json");

/// The `format` a catalog file must declare.
pub const CATALOG_FORMAT: &str = "modelbench-prices/1";

/// What `cost_source` says for a model running on the user's own machine.
pub const LOCAL_MODEL_SOURCE: &str = "local model (no charge)";

/// How the catalog keys Bedrock Mantle's models: `mantle/openai.gpt-5.4` (LiteLLM's
/// `bedrock_mantle/…`), apart from Bedrock Runtime's ids.
pub const MANTLE_PREFIX: &str = "mantle/";

const TOKENS_PER_PRICE_UNIT: f64 = 1_000_000.0;

/// Prices in US dollars per 1,000,000 tokens. A missing optional rate means the price list does
/// not give one: tokens of that kind then make the cost unknown (reasoning falls back to the
/// output rate, since every cloud bills reasoning as output unless it says otherwise).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    /// Cache reads (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`, Gemini
    /// `cachedContentTokenCount`, Bedrock `cacheReadInputTokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Cache writes (Anthropic `cache_creation_input_tokens`, Bedrock `cacheWriteInputTokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
    /// Reasoning tokens, where the cloud prices them apart from other output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<f64>,
}

impl Rates {
    fn check(&self, what: &str) -> Result<()> {
        let rates = [
            Some(self.input),
            Some(self.output),
            self.cached_input,
            self.cache_write,
            self.reasoning,
        ];
        if rates.into_iter().flatten().any(|rate| !rate.is_finite() || rate < 0.0) {
            return Err(Error::InvalidInput(format!(
                "{what}: prices must be finite and not negative"
            )));
        }
        Ok(())
    }
}

/// Higher rates that apply to the whole request once its prompt exceeds a size (OpenAI above
/// 272k input tokens, Gemini Pro and Claude Sonnet above 200k). A missing rate is the base rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LongContextRates {
    pub above_input_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<f64>,
}

impl LongContextRates {
    fn applied_to(&self, base: &Rates) -> Rates {
        Rates {
            input: self.input.unwrap_or(base.input),
            output: self.output.unwrap_or(base.output),
            cached_input: self.cached_input.or(base.cached_input),
            cache_write: self.cache_write.or(base.cache_write),
            reasoning: base.reasoning,
        }
    }
}

/// One price in a catalog: a model as users type it for a provider, in one region or (`None`)
/// in every region without an entry of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub provider: ProviderKind,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(flatten)]
    pub rates: Rates,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextRates>,
    /// The public page the price comes from.
    pub source: String,
    /// When the price was taken (YYYY-MM-DD).
    pub as_of: String,
    /// How the entry was derived, when it is not the listed price as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The entry of LiteLLM's map it was imported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub litellm_key: Option<String>,
}

/// A price catalog file (`assets/prices.json` and files made the same way).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Catalog {
    pub format: String,
    /// Where the prices come from, as shown in cost sources: `litellm 1.110.2`.
    pub origin: String,
    pub as_of: String,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    pub entries: Vec<CatalogEntry>,
    #[serde(skip)]
    index: HashMap<PriceKey, usize>,
}

/// (provider, model, region or "" for every region)
type PriceKey = (ProviderKind, String, String);

impl Catalog {
    /// The catalog built into the binary. Parsed once per process.
    pub fn shipped() -> Result<Arc<Catalog>> {
        static SHIPPED: OnceLock<std::result::Result<Arc<Catalog>, String>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                Catalog::from_json(SHIPPED_CATALOG_JSON, "the shipped catalog")
                    .map(Arc::new)
                    .map_err(|error| error.to_string())
            })
            .clone()
            .map_err(Error::InvalidInput)
    }

    /// Reads a catalog file written by `scripts/import-prices`.
    pub fn load(path: &Path) -> Result<Catalog> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Error::InvalidInput(format!("cannot read price catalog {}: {error}", path.display())))?;
        Catalog::from_json(&text, &path.display().to_string())
    }

    /// Parses and checks a catalog: its format, USD prices, no negative prices, and no entry
    /// priced at 0 for both input and output (a zero there is a missing price, not a free model).
    pub fn from_json(text: &str, origin: &str) -> Result<Catalog> {
        let invalid = |message: String| Error::InvalidInput(format!("price catalog {origin}: {message}"));
        let value: serde_json::Value = serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
        if value.get("sample_spec").is_some() {
            return Err(invalid(
                "this is LiteLLM's own price map; convert it first: scripts/import-prices --litellm-version VERSION FILE --output prices.json"
                    .to_owned(),
            ));
        }
        if value.get("format").and_then(serde_json::Value::as_str) != Some(CATALOG_FORMAT) {
            return Err(invalid(format!(
                "not a ModelBench price catalog (format \"{CATALOG_FORMAT}\")"
            )));
        }
        let mut catalog: Catalog = serde_json::from_value(value).map_err(|error| invalid(error.to_string()))?;
        if catalog.currency != "USD" {
            return Err(invalid(format!("prices are in {}, not USD", catalog.currency)));
        }
        for (position, entry) in catalog.entries.iter().enumerate() {
            let key = price_key_text(entry.provider, &entry.model, entry.region.as_deref());
            entry.rates.check(&key).map_err(|error| invalid(error.to_string()))?;
            if entry.rates.input == 0.0 && entry.rates.output == 0.0 {
                return Err(invalid(format!("{key} is priced at 0: leave unknown prices out")));
            }
            let index_key = (
                entry.provider,
                entry.model.clone(),
                entry.region.clone().unwrap_or_default(),
            );
            if catalog.index.insert(index_key, position).is_some() {
                return Err(invalid(format!("{key} is listed twice")));
            }
        }
        Ok(catalog)
    }

    fn get(&self, provider: ProviderKind, model: &str, region: Option<&str>) -> Option<&CatalogEntry> {
        let key = (provider, model.to_owned(), region.unwrap_or_default().to_owned());
        self.index.get(&key).and_then(|&position| self.entries.get(position))
    }

    /// Entries per provider, for reports of what the catalog covers.
    pub fn count_by_provider(&self) -> Vec<(ProviderKind, usize)> {
        ProviderKind::ALL
            .into_iter()
            .map(|provider| {
                let count = self.entries.iter().filter(|entry| entry.provider == provider).count();
                (provider, count)
            })
            .filter(|(_, count)| *count > 0)
            .collect()
    }
}

/// A user's own price, stored in the database; it wins over the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceOverride {
    pub provider: ProviderKind,
    pub model: String,
    /// `None`: every region.
    pub region: Option<String>,
    pub currency: String,
    #[serde(flatten)]
    pub rates: Rates,
    pub note: Option<String>,
    pub updated_at_ms: i64,
}

impl PriceOverride {
    /// Checks what a user typed before it is stored.
    pub fn validate(&self) -> Result<()> {
        if self.model.trim().is_empty() {
            return Err(Error::InvalidInput("a price override needs a model".to_owned()));
        }
        if self.region.as_deref().is_some_and(|region| region.trim().is_empty()) {
            return Err(Error::InvalidInput(
                "an empty region means every region: leave it out".to_owned(),
            ));
        }
        let currency = &self.currency;
        if currency.len() != 3 || !currency.chars().all(|character| character.is_ascii_uppercase()) {
            return Err(Error::InvalidInput(format!(
                "currency '{currency}' is not a three-letter code such as USD"
            )));
        }
        self.rates
            .check(&price_key_text(self.provider, &self.model, self.region.as_deref()))
    }

    /// `override: <note> (set YYYY-MM-DD)`, as shown in cost sources.
    pub fn describe(&self) -> String {
        let date: String = utc_date_time(self.updated_at_ms).chars().take(10).collect();
        match self.note.as_deref().filter(|note| !note.trim().is_empty()) {
            Some(note) => format!("override: {note} (set {date})"),
            None => format!("override (set {date})"),
        }
    }
}

/// `provider/region/model`, or `provider/model` without a region: how prices are named in
/// messages.
pub fn price_key_text(provider: ProviderKind, model: &str, region: Option<&str>) -> String {
    match region {
        Some(region) => format!("{provider}/{region}/{model}"),
        None => format!("{provider}/{model}"),
    }
}

/// What one response cost, or why that is unknown.
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    /// `None` when the cost cannot be known; never a stand-in 0.
    pub usd: Option<f64>,
    /// The price's source when `usd` is known, else the reason it is not.
    pub source: String,
}

impl Cost {
    fn unknown(reason: impl Into<String>) -> Self {
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
            ProviderKind::OpenAi | ProviderKind::Azure | ProviderKind::Ollama => Self::OpenAi,
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

/// The catalog in force plus the user's overrides.
#[derive(Clone, Debug)]
pub struct PriceBook {
    catalog: std::result::Result<Arc<Catalog>, String>,
    overrides: Vec<PriceOverride>,
}

impl Default for PriceBook {
    /// The shipped catalog, no overrides.
    fn default() -> Self {
        Self::shipped()
    }
}

/// Where a price was found.
enum Found<'a> {
    Override(&'a PriceOverride),
    Catalog(&'a Catalog, &'a CatalogEntry),
}

struct Match<'a> {
    found: Found<'a>,
    /// The response's reported model matched, not the requested one.
    via_reported_model: bool,
}

/// One place a base model can be bought, for `prices compare`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PriceComparison {
    pub provider: ProviderKind,
    /// `mantle` for Bedrock Mantle, `runtime` for Bedrock Runtime (Converse/Invoke); Azure's
    /// deployment type (`global`, `data-zone-us`, `data-zone-eu`); `None` elsewhere.
    pub surface: Option<String>,
    /// The model id as the catalog (and a target) names it there.
    pub model: String,
    /// The region the price is for; `None`: every region without a price of its own.
    pub region: Option<String>,
    #[serde(flatten)]
    pub rates: Rates,
    /// The price of the requested mix of input and output tokens, in USD (list rates: no cache
    /// discounts, no long-context tier).
    pub mix_cost_usd: f64,
    /// Where the price comes from (the public page, or the user's override).
    pub source: String,
    /// When the price was taken (YYYY-MM-DD).
    pub as_of: String,
    /// The user's own price (it wins over the catalog).
    pub overridden: bool,
}

impl PriceBook {
    /// Every price in force for `base_model` (`gpt-5.4`, `claude-opus-4-7`): each cloud,
    /// surface and region the catalog and the user's overrides know, cheapest first for a mix
    /// of `input_tokens` and `output_tokens`. A dated snapshot (`gpt-5.4-2026-03-05`) priced
    /// the same as its undated id is listed once.
    pub fn compare(&self, base_model: &str, input_tokens: u64, output_tokens: u64) -> Vec<PriceComparison> {
        let wanted = base_model.trim().to_ascii_lowercase();
        let mix = |rates: &Rates| {
            (rates.input * input_tokens as f64 + rates.output * output_tokens as f64) / TOKENS_PER_PRICE_UNIT
        };
        let mut rows: Vec<PriceComparison> = Vec::new();
        let mut push = |row: PriceComparison| {
            // An override replaces the catalog's price for the same key.
            let same_key = |known: &PriceComparison| {
                known.provider == row.provider && known.model == row.model && known.region == row.region
            };
            if row.overridden {
                rows.retain(|known| !same_key(known));
            } else if rows.iter().any(same_key) {
                return;
            }
            rows.push(row);
        };
        for price in &self.overrides {
            if price.currency == "USD" && crate::model::identity::base_of(price.provider, &price.model) == wanted {
                push(PriceComparison {
                    provider: price.provider,
                    surface: surface_of(price.provider, &price.model, price.region.as_deref()),
                    model: price.model.clone(),
                    region: price.region.clone(),
                    rates: price.rates.clone(),
                    mix_cost_usd: mix(&price.rates),
                    source: price.describe(),
                    as_of: utc_date_time(price.updated_at_ms).chars().take(10).collect(),
                    overridden: true,
                });
            }
        }
        if let Ok(catalog) = self.catalog.as_deref() {
            for entry in &catalog.entries {
                if crate::model::identity::base_of(entry.provider, &entry.model) != wanted {
                    continue;
                }
                // The plain id stands for its dated snapshot or version pin when both cost the
                // same (`gpt-5.4-2026-03-05`, `claude-opus-4-7@default`).
                let unpinned = entry
                    .model
                    .split_once('@')
                    .map_or(entry.model.as_str(), |(model, _)| model);
                let undated = crate::model::identity::strip_date(unpinned);
                if undated != entry.model
                    && catalog
                        .get(entry.provider, undated, entry.region.as_deref())
                        .is_some_and(|plain| plain.rates == entry.rates)
                {
                    continue;
                }
                push(PriceComparison {
                    provider: entry.provider,
                    surface: surface_of(entry.provider, &entry.model, entry.region.as_deref()),
                    model: entry.model.clone(),
                    region: entry.region.clone(),
                    rates: entry.rates.clone(),
                    mix_cost_usd: mix(&entry.rates),
                    source: entry.source.clone(),
                    as_of: entry.as_of.clone(),
                    overridden: false,
                });
            }
        }
        rows.sort_by(|a, b| {
            a.mix_cost_usd
                .total_cmp(&b.mix_cost_usd)
                .then_with(|| a.provider.as_str().cmp(b.provider.as_str()))
                .then_with(|| a.model.cmp(&b.model))
                .then_with(|| a.region.cmp(&b.region))
        });
        rows
    }
}

/// Bedrock's surface (Mantle or Runtime) or Azure's deployment type, from a price key.
fn surface_of(provider: ProviderKind, model: &str, region: Option<&str>) -> Option<String> {
    match provider {
        ProviderKind::Bedrock if model.starts_with(MANTLE_PREFIX) => Some("mantle".to_owned()),
        ProviderKind::Bedrock => Some("runtime".to_owned()),
        ProviderKind::Azure => Some(
            region
                .and_then(DeploymentType::parse)
                .unwrap_or_default()
                .as_str()
                .to_owned(),
        ),
        _ => None,
    }
}

/// What to look up for one response.
struct Query {
    provider: ProviderKind,
    region: Option<String>,
    /// The requested model as typed, for messages.
    model: String,
    /// Ids to try, in order, each marked whether it is the reported model.
    candidates: Vec<(String, bool)>,
    /// Why the model cannot be priced from its id alone, when that is known.
    opaque: Option<&'static str>,
    /// The region is part of the price and never falls back to the every-region entry (an
    /// Azure data-zone or regional deployment is not priced as a global one).
    region_exclusive: bool,
    /// A Bedrock Mantle target: priced from the catalog's `mantle/…` entries only.
    mantle: bool,
}

impl PriceBook {
    /// The shipped catalog without overrides. If it could not be read (a broken build), every
    /// cost is unknown and says why.
    pub fn shipped() -> Self {
        Self {
            catalog: Catalog::shipped().map_err(|error| error.to_string()),
            overrides: Vec::new(),
        }
    }

    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog: Ok(Arc::new(catalog)),
            overrides: Vec::new(),
        }
    }

    pub fn with_overrides(mut self, overrides: Vec<PriceOverride>) -> Self {
        self.overrides = overrides;
        self
    }

    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_deref().ok()
    }

    pub fn overrides(&self) -> &[PriceOverride] {
        &self.overrides
    }

    /// What a response of `target` cost, from the usage it reported (`None`: none reported).
    /// `reported_model` is what the cloud says it ran; it is tried after the requested model, so
    /// an Azure deployment name can still be priced by the model behind it.
    pub fn cost(&self, target: &Target, reported_model: Option<&str>, usage: Option<&Usage>) -> Cost {
        let query = Query::new(target, reported_model);
        let found = match self.find(&query) {
            Ok(found) => found,
            Err(reason) => {
                if target.provider == ProviderKind::Ollama && is_local_ollama(target) {
                    return Cost {
                        usd: Some(0.0),
                        source: LOCAL_MODEL_SOURCE.to_owned(),
                    };
                }
                return Cost::unknown(reason);
            }
        };
        let (rates, long_context, mut source) = match &found.found {
            Found::Override(price) => {
                if price.currency != "USD" {
                    let key = price_key_text(price.provider, &price.model, price.region.as_deref());
                    return Cost::unknown(format!(
                        "the override for {key} is in {}; cost_usd needs a USD price",
                        price.currency
                    ));
                }
                (&price.rates, None, price.describe())
            }
            Found::Catalog(catalog, entry) => {
                let key = price_key_text(entry.provider, &entry.model, entry.region.as_deref());
                let mut details = vec![key];
                details.extend(entry.note.clone());
                (
                    &entry.rates,
                    entry.long_context.as_ref(),
                    format!(
                        "catalog: {} as of {} ({})",
                        catalog.origin,
                        entry.as_of,
                        details.join(", ")
                    ),
                )
            }
        };
        let Some(usage) = usage else {
            return Cost::unknown("no usage reported");
        };
        match cost_of_usage(usage, UsageConvention::of(target), rates, long_context) {
            Ok((usd, long)) => {
                if found.via_reported_model {
                    source.push_str("; priced as the reported model");
                }
                if let (true, Some(tier)) = (long, long_context) {
                    source.push_str(&format!(
                        "; long-context rates above {} input tokens",
                        tier.above_input_tokens
                    ));
                }
                Cost { usd: Some(usd), source }
            }
            Err(reason) => Cost::unknown(reason),
        }
    }

    /// The price for `query`: overrides first (any candidate id, region-specific before
    /// every-region), then the catalog the same way.
    fn find(&self, query: &Query) -> std::result::Result<Match<'_>, String> {
        let regions = query.regions();
        for (model, via_reported_model) in &query.candidates {
            for region in &regions {
                let hit = self.overrides.iter().find(|price| {
                    price.provider == query.provider && &price.model == model && price.region.as_deref() == *region
                });
                if let Some(price) = hit {
                    return Ok(Match {
                        found: Found::Override(price),
                        via_reported_model: *via_reported_model,
                    });
                }
            }
        }
        let catalog = self
            .catalog
            .as_deref()
            .map_err(|error| format!("no price catalog: {error}"))?;
        for (model, via_reported_model) in &query.candidates {
            for region in &regions {
                if let Some(entry) = catalog.get(query.provider, model, *region) {
                    return Ok(Match {
                        found: Found::Catalog(catalog, entry),
                        via_reported_model: *via_reported_model,
                    });
                }
            }
        }
        Err(self.no_price_reason(query, catalog))
    }

    fn no_price_reason(&self, query: &Query, catalog: &Catalog) -> String {
        let key = price_key_text(query.provider, &query.model, query.region.as_deref());
        let mut reason = format!("no price for {key}");
        if let Some(why) = query.opaque {
            reason.push_str(&format!(" ({why}: set an override)"));
        } else if query.region_exclusive {
            reason.push_str(&format!(
                " (a {} deployment is priced apart from a global one, and the catalog has no such price: set an override)",
                query.region.as_deref().unwrap_or_default()
            ));
        } else if query.provider == ProviderKind::Bedrock {
            let stem = strip_bedrock_profile(&query.model);
            let mut siblings: Vec<&str> = catalog
                .entries
                .iter()
                .filter(|entry| {
                    entry.provider == ProviderKind::Bedrock
                        && entry.model != query.model
                        && strip_bedrock_profile(&entry.model) == stem
                })
                .map(|entry| entry.model.as_str())
                .collect();
            siblings.sort_unstable();
            siblings.dedup();
            if !siblings.is_empty() {
                siblings.truncate(4);
                reason.push_str(&format!(
                    " (the catalog prices {}; a cross-region profile and the bare model id are priced apart)",
                    siblings.join(", ")
                ));
            }
        }
        reason
    }
}

impl Query {
    fn new(target: &Target, reported_model: Option<&str>) -> Self {
        let provider = target.provider;
        let deployment_type = target.deployment_type();
        let region = match provider {
            ProviderKind::Bedrock => target.region.clone(),
            ProviderKind::Vertex => target.location.clone(),
            ProviderKind::Azure if deployment_type != DeploymentType::Global => {
                Some(deployment_type.as_str().to_owned())
            }
            _ => None,
        };
        // Azure's classic path may leave `model` empty: the deployment names what runs.
        let model = match (target.model.trim().is_empty(), &target.deployment) {
            (true, Some(deployment)) => deployment.clone(),
            _ => target.model.clone(),
        };
        let mantle = target.is_mantle();
        let mut query = Self {
            provider,
            region,
            model: if mantle {
                format!("{MANTLE_PREFIX}{model}")
            } else {
                model.clone()
            },
            candidates: Vec::new(),
            opaque: None,
            region_exclusive: provider == ProviderKind::Azure && deployment_type != DeploymentType::Global,
            mantle,
        };
        // The model the deployment runs, when the user said it: before a deployment name.
        if provider == ProviderKind::Azure
            && let Some(base_model) = target.base_model.as_deref()
        {
            query.add(base_model.trim(), false);
        }
        query.add(&model, false);
        if let Some(reported) = reported_model.filter(|reported| !reported.trim().is_empty()) {
            query.add(reported, true);
        }
        query
    }

    /// Adds `model` as typed, then the forms the catalog keys it under.
    fn add(&mut self, model: &str, via_reported_model: bool) {
        let mantle = self.mantle;
        let mut push = |candidate: &str| {
            let candidate = if mantle && !candidate.starts_with(MANTLE_PREFIX) {
                format!("{MANTLE_PREFIX}{candidate}")
            } else {
                candidate.to_owned()
            };
            let named = !candidate.is_empty() && candidate != MANTLE_PREFIX;
            if named && !self.candidates.iter().any(|(known, _)| *known == candidate) {
                self.candidates.push((candidate, via_reported_model));
            }
        };
        push(model);
        match self.provider {
            ProviderKind::Gemini | ProviderKind::Vertex => {
                // Resource names (`models/…`, `publishers/google/models/…`) and version pins
                // (`claude-opus-4-7@20260416`) name the same model.
                let bare = model.rsplit('/').next().unwrap_or(model);
                push(bare);
                if let Some((unpinned, _)) = bare.split_once('@') {
                    push(unpinned);
                }
            }
            ProviderKind::Bedrock if model.starts_with("arn:") => match bedrock_arn_model(model) {
                Ok(id) => {
                    push(id);
                    push(strip_bedrock_version(id));
                }
                Err(why) => self.opaque = Some(why),
            },
            // A versioned id is priced as its profile or model (`us.anthropic.claude-opus-4-7-v1:0`
            // as `us.anthropic.claude-opus-4-7`): the catalog keys Bedrock prices without the
            // version suffix.
            ProviderKind::Bedrock => push(strip_bedrock_version(model)),
            _ => {}
        }
    }

    /// The regions to try, most specific first.
    fn regions(&self) -> Vec<Option<&str>> {
        match (self.region.as_deref(), self.region_exclusive) {
            (Some(region), true) => vec![Some(region)],
            (Some(region), false) => vec![Some(region), None],
            (None, _) => vec![None],
        }
    }
}

/// The model id inside a Bedrock ARN, for foundation models and system-defined inference
/// profiles. Other ARNs (application inference profiles, provisioned throughput, custom and
/// imported models) do not say which model they run or are not priced per token.
fn bedrock_arn_model(arn: &str) -> std::result::Result<&str, &'static str> {
    // arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE-TYPE/ID, and the id may hold ':' (`v1:0`).
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    match resource.split_once('/') {
        Some(("foundation-model" | "inference-profile", id)) if !id.is_empty() => Ok(id),
        Some(("application-inference-profile", _)) => {
            Err("an application inference profile ARN does not name its model")
        }
        Some(("provisioned-model", _)) => Err("provisioned throughput is billed by the hour, not per token"),
        _ => Err("this ARN does not name a foundation model"),
    }
}

/// A model served by Ollama on this machine costs nothing per token. One on another host may be
/// anyone's server, and Ollama's `…-cloud` models run on ollama.com: neither is assumed free.
fn is_local_ollama(target: &Target) -> bool {
    let model = target.model.to_ascii_lowercase();
    if model.ends_with("-cloud") || model.ends_with(":cloud") {
        return false;
    }
    let Some(base_url) = &target.base_url else {
        return true;
    };
    let Ok(url) = reqwest::Url::parse(base_url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sums_of_huge_counts_saturate_instead_of_overflowing() {
        let huge = Usage {
            input_tokens: Some(u64::MAX),
            output_tokens: Some(u64::MAX),
            reasoning_tokens: Some(u64::MAX),
            cached_input_tokens: Some(u64::MAX),
            cache_creation_input_tokens: Some(u64::MAX),
            total_tokens: Some(u64::MAX - 1),
            raw: serde_json::Value::Null,
        };
        let rates = Rates {
            input: 1.0,
            output: 2.0,
            cached_input: Some(0.5),
            cache_write: Some(1.5),
            reasoning: None,
        };
        for convention in [
            UsageConvention::OpenAi,
            UsageConvention::Anthropic,
            UsageConvention::Gemini,
            UsageConvention::Bedrock,
        ] {
            // No panic in a test build (overflow checks are on); the cost is finite.
            let (usd, _) = cost_of_usage(&huge, convention, &rates, None).expect("a cost");
            assert!(usd.is_finite(), "{convention:?}");
        }
    }

    fn target(provider: ProviderKind, model: &str) -> Target {
        Target::new("t", provider, model)
    }

    fn bedrock(model: &str, region: &str) -> Target {
        let mut target = target(ProviderKind::Bedrock, model);
        target.region = Some(region.to_owned());
        target
    }

    fn vertex(model: &str, location: &str, publisher: Publisher) -> Target {
        let mut target = target(ProviderKind::Vertex, model);
        target.project = Some("p".to_owned());
        target.location = Some(location.to_owned());
        target.publisher = Some(publisher);
        target
    }

    fn usage(input: u64, output: u64) -> Usage {
        Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            ..Usage::default()
        }
    }

    /// The cost of `usage` for `target` with the shipped prices, and its source.
    fn priced(target: &Target, usage: &Usage) -> (Option<f64>, String) {
        let cost = PriceBook::shipped().cost(target, None, Some(usage));
        (cost.usd, cost.source)
    }

    fn dollars(per_million_times_tokens: f64) -> f64 {
        ((per_million_times_tokens / 1e6) * 1e9).round() / 1e9
    }

    fn assert_close(got: Option<f64>, want: f64, context: &str) {
        let got = got.unwrap_or_else(|| panic!("{context}: no cost"));
        assert!((got - want).abs() < 1e-12, "{context}: {got} != {want}");
    }

    fn catalog_with(entries: serde_json::Value) -> Catalog {
        let text = json!({
            "format": CATALOG_FORMAT,
            "origin": "test prices",
            "as_of": "2026-11-01",
            "currency": "USD",
            "entries": entries,
        });
        Catalog::from_json(&text.to_string(), "test").expect("valid test catalog")
    }

    #[test]
    fn the_shipped_catalog_loads_and_covers_every_cloud_with_a_source_and_date() {
        let catalog = Catalog::shipped().expect("the shipped catalog parses");
        assert!(catalog.origin.starts_with("litellm "), "{}", catalog.origin);
        let counts: HashMap<ProviderKind, usize> = catalog.count_by_provider().into_iter().collect();
        for provider in [
            ProviderKind::OpenAi,
            ProviderKind::Azure,
            ProviderKind::Anthropic,
            ProviderKind::Bedrock,
            ProviderKind::Gemini,
            ProviderKind::Vertex,
        ] {
            assert!(
                counts.get(&provider).copied().unwrap_or(0) >= 10,
                "{provider}: {counts:?}"
            );
        }
        assert!(
            !counts.contains_key(&ProviderKind::Ollama),
            "local models are not in the catalog"
        );
        for entry in &catalog.entries {
            assert!(entry.source.starts_with("http"), "{entry:?}");
            assert_eq!(entry.as_of.len(), 10, "{entry:?}");
            assert!(entry.rates.input > 0.0 || entry.rates.output > 0.0, "{entry:?}");
        }
    }

    #[test]
    fn exact_ids_are_priced_from_the_catalog_with_its_source() {
        let (usd, source) = priced(&target(ProviderKind::OpenAi, "gpt-5.4"), &usage(1_000, 100));
        assert_close(usd, dollars(1_000.0 * 2.5 + 100.0 * 15.0), "gpt-5.4");
        assert!(source.starts_with("catalog: litellm "), "{source}");
        assert!(
            source.contains(" as of 20") && source.ends_with("(openai/gpt-5.4)"),
            "{source}"
        );

        let (usd, source) = priced(&target(ProviderKind::Anthropic, "claude-opus-4-7"), &usage(1_000, 100));
        assert_close(usd, dollars(1_000.0 * 5.0 + 100.0 * 25.0), "claude");
        assert!(source.ends_with("(anthropic/claude-opus-4-7)"), "{source}");
    }

    #[test]
    fn each_cloud_names_the_same_model_its_own_way_and_is_priced_by_it() {
        // A versioned Bedrock id is priced as its inference profile.
        let (usd, source) = priced(
            &bedrock("us.anthropic.claude-opus-4-7-v1:0", "us-east-1"),
            &usage(1_000, 100),
        );
        assert_close(usd, dollars(1_000.0 * 5.5 + 100.0 * 27.5), "versioned profile");
        assert!(source.ends_with("(bedrock/us.anthropic.claude-opus-4-7)"), "{source}");

        // Mantle from Mantle's own prices, never Bedrock Runtime's.
        let mut mantle = bedrock("openai.gpt-5.4", "us-west-2");
        mantle.api = Some(Api::MantleResponses);
        let (usd, source) = priced(&mantle, &usage(1_000, 100));
        assert_close(usd, dollars(1_000.0 * 2.75 + 100.0 * 16.5), "mantle");
        assert!(source.ends_with("(bedrock/mantle/openai.gpt-5.4)"), "{source}");
        mantle.region = Some("us-gov-west-1".into());
        let (usd, source) = priced(&mantle, &usage(1_000, 100));
        assert_close(usd, dollars(1_000.0 * 3.3 + 100.0 * 19.8), "mantle in GovCloud");
        assert!(
            source.ends_with("(bedrock/us-gov-west-1/mantle/openai.gpt-5.4)"),
            "{source}"
        );
        let mut unknown = bedrock("anthropic.claude-opus-4-7", "us-east-1");
        unknown.api = Some(Api::MantleMessages);
        let (usd, source) = priced(&unknown, &usage(1_000, 100));
        assert_eq!(usd, None, "Runtime's price for the model is not Mantle's");
        assert!(
            source.contains("no price for bedrock/us-east-1/mantle/anthropic.claude-opus-4-7"),
            "{source}"
        );

        // Azure: the deployment's model and deployment type, never a deployment name guess.
        let mut azure = target(ProviderKind::Azure, "gpt54-sweden");
        let (usd, _) = priced(&azure, &usage(1_000, 100));
        assert_eq!(usd, None, "a deployment name says nothing");
        azure.base_model = Some("gpt-5.4".into());
        let (usd, source) = priced(&azure, &usage(1_000, 100));
        assert_close(usd, dollars(1_000.0 * 2.5 + 100.0 * 15.0), "global");
        assert!(source.ends_with("(azure/gpt-5.4)"), "{source}");
        azure.deployment_type = Some(DeploymentType::DataZoneEu);
        let (usd, source) = priced(&azure, &usage(1_000, 100));
        assert_close(usd, dollars(1_000.0 * 2.75 + 100.0 * 16.5), "data zone");
        assert!(source.ends_with("(azure/data-zone-eu/gpt-5.4)"), "{source}");
        azure.deployment_type = Some(DeploymentType::Regional);
        let (usd, source) = priced(&azure, &usage(1_000, 100));
        assert_eq!(usd, None, "a regional deployment is not priced as a global one");
        assert!(source.contains("regional deployment is priced apart"), "{source}");
    }

    #[test]
    fn compare_lists_every_cloud_for_a_base_model_cheapest_first() {
        let rows = PriceBook::shipped().compare("GPT-5.4", 1_000_000, 1_000_000);
        let keys: Vec<String> = rows
            .iter()
            .map(|row| price_key_text(row.provider, &row.model, row.region.as_deref()))
            .collect();
        for expected in [
            "openai/gpt-5.4",
            "azure/gpt-5.4",
            "azure/data-zone-us/gpt-5.4",
            "azure/data-zone-eu/gpt-5.4",
            "bedrock/us.openai.gpt-5.4",
            "bedrock/global.openai.gpt-5.4",
            "bedrock/mantle/openai.gpt-5.4",
        ] {
            assert!(keys.iter().any(|key| key == expected), "{expected} in {keys:?}");
        }
        assert!(!keys.iter().any(|key| key.contains("gpt-5.4-mini")), "{keys:?}");
        assert!(
            !keys.contains(&"openai/gpt-5.4-2026-03-05".to_owned()),
            "a snapshot priced as its model is listed once: {keys:?}"
        );
        assert!(rows.windows(2).all(|pair| pair[0].mix_cost_usd <= pair[1].mix_cost_usd));
        let mantle = rows
            .iter()
            .find(|row| row.model == "mantle/openai.gpt-5.4" && row.region.is_none());
        assert_eq!(mantle.and_then(|row| row.surface.as_deref()), Some("mantle"));
        assert!((mantle.expect("mantle").mix_cost_usd - (2.75 + 16.5)).abs() < 1e-9);
        assert!(
            rows.iter()
                .all(|row| row.source.starts_with("http") && row.as_of.len() == 10)
        );

        let overridden = PriceBook::shipped().with_overrides(vec![PriceOverride {
            provider: ProviderKind::OpenAi,
            model: "gpt-5.4".into(),
            region: None,
            currency: "USD".into(),
            rates: Rates {
                input: 1.0,
                output: 2.0,
                ..Rates::default()
            },
            note: Some("contract".into()),
            updated_at_ms: 0,
        }]);
        let rows = overridden.compare("gpt-5.4", 1_000_000, 1_000_000);
        assert!(rows[0].overridden && rows[0].model == "gpt-5.4", "{:?}", rows[0]);
        assert_eq!(
            rows.iter()
                .filter(|row| row.provider == ProviderKind::OpenAi && row.model == "gpt-5.4")
                .count(),
            1,
            "the override replaces the catalog's row"
        );
        assert!(PriceBook::shipped().compare("no-such-model", 1, 1).is_empty());
    }

    #[test]
    fn a_missing_price_is_unknown_with_its_key_never_zero() {
        let cases = [
            (
                bedrock("openai.gpt-5.4", "us-east-1"),
                "no price for bedrock/us-east-1/openai.gpt-5.4",
            ),
            (
                target(ProviderKind::OpenAi, "gpt-imaginary"),
                "no price for openai/gpt-imaginary",
            ),
            // Azure deployment names are the user's own: no OpenAI price is borrowed for them.
            (
                target(ProviderKind::Azure, "gpt54-prod"),
                "no price for azure/gpt54-prod",
            ),
        ];
        for (target, reason) in cases {
            let (usd, source) = priced(&target, &usage(1_000, 100));
            assert_eq!(usd, None, "{reason}");
            assert!(source.starts_with(reason), "{source}");
        }
    }

    #[test]
    fn azure_is_priced_by_the_reported_model_when_the_deployment_name_is_unknown() {
        let cost = PriceBook::shipped().cost(
            &target(ProviderKind::Azure, "gpt54-prod"),
            Some("gpt-5.4-2026-03-05"),
            Some(&usage(1_000, 100)),
        );
        assert_close(cost.usd, dollars(1_000.0 * 2.5 + 100.0 * 15.0), "azure");
        assert!(cost.source.contains("(azure/gpt-5.4-2026-03-05)"), "{}", cost.source);
        assert!(cost.source.ends_with("priced as the reported model"), "{}", cost.source);
    }

    #[test]
    fn bedrock_regional_prices_win_over_the_default_for_the_model() {
        let model = "meta.llama3-70b-instruct-v1:0";
        let (usd, source) = priced(&bedrock(model, "eu-west-1"), &usage(1_000_000, 0));
        assert_close(usd, 2.86, "eu-west-1");
        assert!(source.contains("(bedrock/eu-west-1/meta.llama3-70b"), "{source}");
        // No entry for us-west-2 itself: the model's every-region price.
        let (usd, source) = priced(&bedrock(model, "us-west-2"), &usage(1_000_000, 0));
        assert_close(usd, 2.65, "us-west-2");
        assert!(source.contains("(bedrock/meta.llama3-70b"), "{source}");
    }

    #[test]
    fn bedrock_inference_profiles_and_arns_are_priced_as_themselves() {
        let one_million_in = usage(1_000_000, 0);
        for (model, want) in [
            ("anthropic.claude-sonnet-4-6", 3.0),
            ("us.anthropic.claude-sonnet-4-6", 3.3),
            ("global.anthropic.claude-sonnet-4-6", 3.0),
            ("eu.anthropic.claude-opus-4-7", 5.5),
            (
                "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-opus-4-7",
                5.5,
            ),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-7",
                5.0,
            ),
        ] {
            let (usd, source) = priced(&bedrock(model, "eu-west-1"), &one_million_in);
            assert_close(usd, want, model);
            assert!(source.starts_with("catalog: "), "{source}");
        }

        let (usd, source) = priced(
            &bedrock(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
                "us-east-1",
            ),
            &one_million_in,
        );
        assert_eq!(usd, None);
        assert!(source.contains("application inference profile"), "{source}");
    }

    #[test]
    fn a_bedrock_profile_is_never_priced_as_its_bare_model() {
        // The EU profile of Llama 3.3 is not in the catalog; the bare id and the US profile are.
        // Cross-region profiles can cost more, so the bare price is not borrowed.
        let (usd, source) = priced(
            &bedrock("eu.meta.llama3-3-70b-instruct-v1:0", "eu-west-1"),
            &usage(1_000, 100),
        );
        assert_eq!(usd, None);
        assert!(
            source.starts_with("no price for bedrock/eu-west-1/eu.meta.llama3-3-70b-instruct-v1:0 (the catalog prices meta.llama3-3-70b-instruct-v1:0, us.meta.llama3-3-70b-instruct-v1:0;"),
            "{source}"
        );
    }

    #[test]
    fn vertex_claude_costs_more_on_a_regional_endpoint_and_version_pins_are_understood() {
        let one_million_in = usage(1_000_000, 0);
        let (usd, source) = priced(
            &vertex("claude-opus-4-7", "global", Publisher::Anthropic),
            &one_million_in,
        );
        assert_close(usd, 5.0, "global");
        assert!(source.contains("(vertex/global/claude-opus-4-7)"), "{source}");
        let (usd, source) = priced(
            &vertex("claude-opus-4-7", "us-east5", Publisher::Anthropic),
            &one_million_in,
        );
        assert_close(usd, 5.5, "regional");
        assert!(source.contains("regional endpoint"), "{source}");
        // A version pin the catalog does not list is the model it pins.
        let (usd, _) = priced(
            &vertex("claude-opus-4-7@20990101", "global", Publisher::Anthropic),
            &one_million_in,
        );
        assert_close(usd, 5.0, "pinned");
        let (usd, source) = priced(
            &target(ProviderKind::Gemini, "models/gemini-2.5-pro"),
            &usage(100_000, 0),
        );
        assert_close(usd, 0.125, "models/ prefix");
        assert!(source.contains("(gemini/gemini-2.5-pro)"), "{source}");
    }

    #[test]
    fn openai_cached_tokens_are_part_of_the_input_and_priced_once_at_the_cached_rate() {
        let usage = Usage {
            input_tokens: Some(10_000),
            cached_input_tokens: Some(8_000),
            output_tokens: Some(500),
            reasoning_tokens: Some(300),
            total_tokens: Some(10_500),
            ..Usage::default()
        };
        let (usd, _) = priced(&target(ProviderKind::OpenAi, "gpt-5.4"), &usage);
        // 2,000 uncached at 2.50, 8,000 cached at 0.25, 500 output (reasoning included) at 15.
        assert_close(usd, dollars(2_000.0 * 2.5 + 8_000.0 * 0.25 + 500.0 * 15.0), "openai");
    }

    #[test]
    fn anthropic_cache_reads_and_writes_are_billed_on_top_of_the_input() {
        let usage = Usage {
            input_tokens: Some(100),
            cached_input_tokens: Some(1_000),
            cache_creation_input_tokens: Some(200),
            output_tokens: Some(50),
            total_tokens: Some(1_350),
            ..Usage::default()
        };
        let want = dollars(100.0 * 5.0 + 1_000.0 * 0.5 + 200.0 * 6.25 + 50.0 * 25.0);
        let (usd, _) = priced(&target(ProviderKind::Anthropic, "claude-opus-4-7"), &usage);
        assert_close(usd, want, "anthropic");
        // Claude on Vertex reports the same way.
        let (usd, _) = priced(&vertex("claude-opus-4-7", "global", Publisher::Anthropic), &usage);
        assert_close(usd, want, "vertex claude");
    }

    #[test]
    fn bedrock_converse_cache_reads_are_billed_on_top_of_the_input() {
        let usage = Usage {
            input_tokens: Some(100),
            cached_input_tokens: Some(1_000),
            output_tokens: Some(50),
            total_tokens: Some(1_150),
            ..Usage::default()
        };
        let (usd, _) = priced(&bedrock("global.anthropic.claude-opus-4-7", "us-east-1"), &usage);
        assert_close(usd, dollars(100.0 * 5.0 + 1_000.0 * 0.5 + 50.0 * 25.0), "bedrock");
    }

    #[test]
    fn gemini_thoughts_are_billed_as_output_once_whichever_way_the_output_is_counted() {
        // gemini_aistudio_cumulative_usage.sse: 18 prompt, 80 candidates, 35 thoughts, 133 total.
        let target = target(ProviderKind::Gemini, "gemini-2.5-pro");
        let want = dollars(18.0 * 1.25 + (80.0 + 35.0) * 10.0);
        let normalised = Usage {
            input_tokens: Some(18),
            output_tokens: Some(115),
            reasoning_tokens: Some(35),
            total_tokens: Some(133),
            ..Usage::default()
        };
        assert_close(priced(&target, &normalised).0, want, "thoughts inside output");
        let as_on_the_wire = Usage {
            output_tokens: Some(80),
            ..normalised.clone()
        };
        assert_close(priced(&target, &as_on_the_wire).0, want, "thoughts beside output");
        let on_vertex = vertex("gemini-2.5-pro", "europe-west4", Publisher::Google);
        assert_close(priced(&on_vertex, &normalised).0, want, "vertex gemini");
    }

    #[test]
    fn reasoning_tokens_use_their_own_rate_where_there_is_one() {
        let book = PriceBook::new(catalog_with(json!([
            {"provider": "openai", "model": "thinker", "input": 1.0, "output": 10.0, "reasoning": 20.0,
             "source": "https://example.com/prices", "as_of": "2026-11-01"}
        ])));
        let usage = Usage {
            input_tokens: Some(1_000),
            output_tokens: Some(500),
            reasoning_tokens: Some(300),
            ..Usage::default()
        };
        let cost = book.cost(&target(ProviderKind::OpenAi, "thinker"), None, Some(&usage));
        assert_close(cost.usd, dollars(1_000.0 + 200.0 * 10.0 + 300.0 * 20.0), "reasoning");
        assert_eq!(cost.source, "catalog: test prices as of 2026-11-01 (openai/thinker)");
    }

    #[test]
    fn long_prompts_are_priced_at_the_long_context_rates() {
        let usage = usage(300_000, 1_000);
        let (usd, source) = priced(&target(ProviderKind::OpenAi, "gpt-5.4"), &usage);
        assert_close(usd, dollars(300_000.0 * 5.0 + 1_000.0 * 22.5), "long context");
        assert!(
            source.ends_with("long-context rates above 272000 input tokens"),
            "{source}"
        );
    }

    #[test]
    fn incomplete_usage_makes_the_cost_unknown_with_the_reason() {
        let book = PriceBook::shipped();
        let gpt = target(ProviderKind::OpenAi, "gpt-5.4");
        let cases = [
            (None, "no usage reported"),
            (Some(Usage::default()), "no usage reported"),
            (
                Some(Usage {
                    input_tokens: Some(10),
                    ..Usage::default()
                }),
                "usage lacks output tokens",
            ),
            (
                Some(Usage {
                    output_tokens: Some(10),
                    ..Usage::default()
                }),
                "usage lacks input tokens",
            ),
        ];
        for (usage, reason) in cases {
            assert_eq!(
                book.cost(&gpt, None, usage.as_ref()),
                Cost {
                    usd: None,
                    source: reason.to_owned()
                }
            );
        }
        // Cached tokens with no cached price: not guessed at the input rate.
        let (usd, source) = priced(
            &target(ProviderKind::OpenAi, "gpt-5-pro"),
            &Usage {
                cached_input_tokens: Some(5),
                ..usage(10, 10)
            },
        );
        assert_eq!(usd, None);
        assert_eq!(source, "the price has no cached-input rate for 5 cached tokens");
    }

    fn override_for(model: &str, region: Option<&str>, input: f64, note: Option<&str>) -> PriceOverride {
        PriceOverride {
            provider: ProviderKind::Bedrock,
            model: model.to_owned(),
            region: region.map(str::to_owned),
            currency: "USD".to_owned(),
            rates: Rates {
                input,
                output: 1.0,
                ..Rates::default()
            },
            note: note.map(str::to_owned),
            // 2026-11-18 11:06:40 UTC
            updated_at_ms: 1_795_000_000_000,
        }
    }

    #[test]
    fn an_override_wins_over_the_catalog_and_says_so() {
        let model = "meta.llama3-70b-instruct-v1:0";
        let book = PriceBook::shipped().with_overrides(vec![
            override_for(model, None, 2.0, Some("contract -25%")),
            override_for(model, Some("eu-west-1"), 1.5, None),
        ]);
        let one_million = usage(1_000_000, 0);
        // The every-region override beats even the catalog's regional price.
        let cost = book.cost(&bedrock(model, "eu-west-2"), None, Some(&one_million));
        assert_close(cost.usd, 2.0, "every-region override");
        assert_eq!(cost.source, "override: contract -25% (set 2026-11-18)");
        let cost = book.cost(&bedrock(model, "eu-west-1"), None, Some(&one_million));
        assert_close(cost.usd, 1.5, "regional override");
        assert_eq!(cost.source, "override (set 2026-11-18)");
        // An override prices what the catalog does not know.
        let book = PriceBook::shipped().with_overrides(vec![override_for("openai.gpt-5.4", None, 2.0, None)]);
        let cost = book.cost(&bedrock("openai.gpt-5.4", "us-east-1"), None, Some(&one_million));
        assert_close(cost.usd, 2.0, "unlisted model");
    }

    #[test]
    fn an_override_in_another_currency_leaves_the_dollar_cost_unknown() {
        let mut price = override_for("meta.llama3-70b-instruct-v1:0", None, 2.0, None);
        price.currency = "EUR".to_owned();
        let cost = PriceBook::shipped().with_overrides(vec![price]).cost(
            &bedrock("meta.llama3-70b-instruct-v1:0", "eu-west-1"),
            None,
            Some(&usage(1, 1)),
        );
        assert_eq!(cost.usd, None);
        assert!(cost.source.contains("is in EUR"), "{}", cost.source);
    }

    #[test]
    fn only_a_local_ollama_is_free() {
        let book = PriceBook::shipped();
        let mut local = target(ProviderKind::Ollama, "llama3.3:70b");
        for base_url in [
            None,
            Some("http://127.0.0.1:11434"),
            Some("http://localhost:11434"),
            Some("http://[::1]:1"),
        ] {
            local.base_url = base_url.map(str::to_owned);
            let cost = book.cost(&local, None, Some(&usage(10, 10)));
            assert_eq!(cost.usd, Some(0.0), "{base_url:?}");
            assert_eq!(cost.source, LOCAL_MODEL_SOURCE);
        }
        let mut remote = local.clone();
        remote.base_url = Some("https://ollama.example.com".to_owned());
        let cost = book.cost(&remote, None, Some(&usage(10, 10)));
        assert_eq!(cost.usd, None);
        assert_eq!(cost.source, "no price for ollama/llama3.3:70b");
        let cloud_model = target(ProviderKind::Ollama, "gpt-oss:120b-cloud");
        assert_eq!(book.cost(&cloud_model, None, Some(&usage(10, 10))).usd, None);
    }

    #[test]
    fn catalogs_that_would_hide_unknown_prices_are_refused() {
        let entry = |input: f64, output: f64| {
            json!({"format": CATALOG_FORMAT, "origin": "x", "as_of": "2026-11-01", "currency": "USD",
                   "entries": [{"provider": "openai", "model": "m", "input": input, "output": output,
                                "source": "https://example.com", "as_of": "2026-11-01"}]})
            .to_string()
        };
        let refused = [
            (entry(0.0, 0.0), "priced at 0"),
            (entry(-1.0, 1.0), "not negative"),
            (
                json!({"sample_spec": {}, "gpt-5.4": {}}).to_string(),
                "LiteLLM's own price map",
            ),
            (json!({"entries": []}).to_string(), "not a ModelBench price catalog"),
        ];
        for (text, message) in refused {
            let error = Catalog::from_json(&text, "f.json").expect_err(message).to_string();
            assert!(error.contains(message), "{error}");
        }
        assert!(Catalog::from_json(&entry(1.0, 2.0), "f.json").is_ok());
    }

    #[test]
    fn the_usage_convention_follows_the_provider_and_publisher() {
        assert_eq!(
            UsageConvention::of(&target(ProviderKind::Azure, "m")),
            UsageConvention::OpenAi
        );
        let mut responses = target(ProviderKind::OpenAi, "m");
        responses.api = Some(Api::Responses);
        assert_eq!(UsageConvention::of(&responses), UsageConvention::OpenAi);
        assert_eq!(
            UsageConvention::of(&vertex("m", "global", Publisher::Anthropic)),
            UsageConvention::Anthropic
        );
        assert_eq!(
            UsageConvention::of(&vertex("m", "global", Publisher::Google)),
            UsageConvention::Gemini
        );
    }
}
