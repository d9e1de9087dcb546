//! A base model's prices across clouds, surfaces and regions, for `prices compare`.
//!
//! Left out: the cost of a response (`PriceBook::cost`): a comparison prices a mix of input and
//! output tokens at list rates, without cache discounts or long-context tiers.

use serde::Serialize;

use crate::model::record::utc_date_time;
use crate::model::target::{DeploymentType, ProviderKind};
use crate::pricing::cost::TOKENS_PER_PRICE_UNIT;
use crate::pricing::{MANTLE_PREFIX, PriceBook, PriceUnit, Rates};

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
    /// What the rates are per: tokens, or characters (OCI's older chat models).
    pub unit: PriceUnit,
    /// The price of the requested mix of input and output tokens, in USD (list rates: no cache
    /// discounts, no long-context tier); `None` for a price per character, which no token count
    /// gives.
    pub mix_cost_usd: Option<f64>,
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
                    unit: PriceUnit::Tokens,
                    mix_cost_usd: Some(mix(&price.rates)),
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
                    unit: entry.unit,
                    mix_cost_usd: (entry.unit == PriceUnit::Tokens).then(|| mix(&entry.rates)),
                    source: entry.source.clone(),
                    as_of: entry.as_of.clone(),
                    overridden: false,
                });
            }
        }
        // Prices per character last: no token mix orders them among the others.
        let order = |row: &PriceComparison| row.mix_cost_usd.unwrap_or(f64::INFINITY);
        rows.sort_by(|a, b| {
            order(a)
                .total_cmp(&order(b))
                .then_with(|| a.provider.as_str().cmp(b.provider.as_str()))
                .then_with(|| a.model.cmp(&b.model))
                .then_with(|| a.region.cmp(&b.region))
        });
        rows
    }
}

impl PriceBook {
    /// The clouds that price another model of `base_model`'s line (its name's first word: `gpt`,
    /// `claude`, `gemini`) but not `base_model` itself: where it may well be sold, but no price
    /// is known (OCI's `gpt-5.5` when the catalog has only its `gpt-5`). Sorted by name. Not
    /// every cloud of the line sells every model: this says what is unknown, never that it is
    /// sold.
    pub fn clouds_without_price(&self, base_model: &str) -> Vec<ProviderKind> {
        let wanted = base_model.trim().to_ascii_lowercase();
        let line = |base: &str| base.split(['-', '.']).next().unwrap_or_default().to_owned();
        let wanted_line = line(&wanted);
        if wanted_line.is_empty() {
            return Vec::new();
        }
        let keys = self
            .overrides
            .iter()
            .map(|price| (price.provider, price.model.as_str()))
            .chain(self.catalog.as_deref().into_iter().flat_map(|catalog| {
                catalog
                    .entries
                    .iter()
                    .map(|entry| (entry.provider, entry.model.as_str()))
            }));
        let mut of_line: Vec<ProviderKind> = Vec::new();
        let mut priced: Vec<ProviderKind> = Vec::new();
        for (provider, model) in keys {
            let base = crate::model::identity::base_of(provider, model);
            if base == wanted {
                priced.push(provider);
            } else if line(&base) == wanted_line {
                of_line.push(provider);
            }
        }
        let mut unpriced: Vec<ProviderKind> = of_line
            .into_iter()
            .filter(|provider| !priced.contains(provider))
            .collect();
        unpriced.sort_by_key(|provider| provider.as_str());
        unpriced.dedup();
        unpriced
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
