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
//!
//! The parts, each in `pricing/`: `catalog` (the prices: the catalog file and the user's
//! overrides), `cost` (a usage at given rates, read in each cloud's terms), `lookup` (which price
//! a target's response matches) and `compare` (a base model's prices across clouds). The
//! [`PriceBook`] here ties them together.

use std::sync::Arc;

use crate::model::event::Usage;
use crate::model::target::{ProviderKind, Target};

mod catalog;
mod compare;
mod cost;
mod lookup;
#[cfg(test)]
mod tests;

pub use catalog::{
    CATALOG_FORMAT, CHARACTERS_PER_PRICE_UNIT, Catalog, CatalogEntry, LongContextRates, MANTLE_PREFIX, PriceOverride,
    PriceUnit, Rates, SHIPPED_CATALOG_JSON, price_key_text,
};
pub use compare::PriceComparison;
pub use cost::{Cost, UsageConvention, cost_of_usage};
use lookup::{Found, Query};

/// What `cost_source` says for a model running on the user's own machine.
pub const LOCAL_MODEL_SOURCE: &str = "local model (no charge)";

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
    /// an Azure deployment name can still be priced by the model behind it. A model billed per
    /// character has no cost here: see [`Self::cost_with_characters`].
    pub fn cost(&self, target: &Target, reported_model: Option<&str>, usage: Option<&Usage>) -> Cost {
        self.cost_with_characters(target, reported_model, usage, None)
    }

    /// [`Self::cost`], with the characters of the prompt and the answer together, which a model
    /// billed per character ([`PriceUnit::Characters`]) is priced by: characters / 10,000 × its
    /// price per 10,000 characters. Without them its cost is unknown, never a token price.
    pub fn cost_with_characters(
        &self,
        target: &Target,
        reported_model: Option<&str>,
        usage: Option<&Usage>,
        characters: Option<u64>,
    ) -> Cost {
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
            Found::Catalog(catalog, entry) if entry.unit == PriceUnit::Characters => {
                let key = price_key_text(entry.provider, &entry.model, entry.region.as_deref());
                let price = entry.rates.input;
                return match characters {
                    Some(characters) => Cost {
                        usd: Some(characters as f64 / CHARACTERS_PER_PRICE_UNIT * price),
                        source: format!(
                            "catalog: {} as of {} ({key}, billed per character: {characters} characters of prompt and answer at ${price} per 10,000)",
                            catalog.origin, entry.as_of
                        ),
                    },
                    None => Cost::unknown(format!(
                        "{key} is billed per character of prompt and answer, and those were not counted here"
                    )),
                };
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
