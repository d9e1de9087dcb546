//! The prices: a catalog file (the shipped `assets/prices.json` or one the user imported), its
//! rates, and the user's own prices ([`PriceOverride`]s, stored in the database).
//!
//! Left out: which price a response matches (`lookup`) and what its usage costs (`cost`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::model::error::{Error, Result};
use crate::model::record::utc_date_time;
use crate::model::target::ProviderKind;

/// The catalog ModelBench ships, embedded so the binary needs no data files.
pub const SHIPPED_CATALOG_JSON: &str = include_str!("../../../../assets/prices.json");

/// The `format` a catalog file must declare.
pub const CATALOG_FORMAT: &str = "modelbench-prices/1";

/// How the catalog keys Bedrock Mantle's models: `mantle/openai.gpt-5.4` (LiteLLM's
/// `bedrock_mantle/…`), apart from Bedrock Runtime's ids.
pub const MANTLE_PREFIX: &str = "mantle/";

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
    pub(super) fn applied_to(&self, base: &Rates) -> Rates {
        Rates {
            input: self.input.unwrap_or(base.input),
            output: self.output.unwrap_or(base.output),
            cached_input: self.cached_input.or(base.cached_input),
            cache_write: self.cache_write.or(base.cache_write),
            reasoning: base.reasoning,
        }
    }
}

/// What a catalog price is per.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceUnit {
    /// USD per 1,000,000 tokens: the input, output, cache and reasoning rates.
    #[default]
    Tokens,
    /// USD per 10,000 characters of prompt and answer together: OCI's older on-demand chat
    /// models (Cohere, Meta Llama), which bill a "transaction" per character. `input` and
    /// `output` are that one price; no token counts enter the cost.
    Characters,
}

impl PriceUnit {
    pub fn is_tokens(&self) -> bool {
        *self == Self::Tokens
    }

    /// How a rate in this unit reads: `per 1M tokens`, `per 10k characters`.
    pub fn per(self) -> &'static str {
        match self {
            Self::Tokens => "per 1M tokens",
            Self::Characters => "per 10k characters",
        }
    }
}

/// Characters per priced unit of a [`PriceUnit::Characters`] price.
pub const CHARACTERS_PER_PRICE_UNIT: f64 = 10_000.0;

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
    /// Tokens (the default) or characters.
    #[serde(default, skip_serializing_if = "PriceUnit::is_tokens")]
    pub unit: PriceUnit,
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
            let token_only = [entry.rates.cached_input, entry.rates.cache_write, entry.rates.reasoning];
            if entry.unit == PriceUnit::Characters
                && (entry.rates.input != entry.rates.output
                    || token_only.iter().any(Option::is_some)
                    || entry.long_context.is_some())
            {
                return Err(invalid(format!(
                    "{key} is priced per character: one price for prompt and answer (input = output), no token rates"
                )));
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

    pub(super) fn get(&self, provider: ProviderKind, model: &str, region: Option<&str>) -> Option<&CatalogEntry> {
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
