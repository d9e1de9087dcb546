//! Which price a response matches: the ids a target's model goes by on its cloud (resource
//! names, version pins, inference profiles, ARNs, Azure deployments and the model behind them),
//! tried against the user's overrides first and then the catalog, most specific region first.
//!
//! Left out: what the matched price makes of the usage (`cost`).

use crate::model::identity::{strip_bedrock_profile, strip_bedrock_version};
use crate::model::target::{DeploymentType, ProviderKind, Target};
use crate::pricing::{Catalog, CatalogEntry, MANTLE_PREFIX, PriceBook, PriceOverride, price_key_text};

/// Where a price was found.
pub(super) enum Found<'a> {
    Override(&'a PriceOverride),
    Catalog(&'a Catalog, &'a CatalogEntry),
}

pub(super) struct Match<'a> {
    pub(super) found: Found<'a>,
    /// The response's reported model matched, not the requested one.
    pub(super) via_reported_model: bool,
}

/// What to look up for one response.
pub(super) struct Query {
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
    /// The price for `query`: overrides first (any candidate id, region-specific before
    /// every-region), then the catalog the same way.
    pub(super) fn find(&self, query: &Query) -> std::result::Result<Match<'_>, String> {
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
    pub(super) fn new(target: &Target, reported_model: Option<&str>) -> Self {
        let provider = target.provider;
        let deployment_type = target.deployment_type();
        let region = match provider {
            ProviderKind::Bedrock | ProviderKind::Oci => target.region.clone(),
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
