//! `modelbench prices`: the prices runs are costed at, and the user's own prices.
//!
//! A run is costed from the catalog built into the binary (or a newer one imported with
//! `prices import`, kept as `prices.json` beside the database) with the user's overrides from the
//! database on top. This module only reads and writes those; the workbench's `data_dir` assembles
//! the book and the engine's `pricing` does the arithmetic, so the CLI and the desktop app can
//! never price a response differently.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use modelbench_engine::ProviderKind;
use modelbench_engine::pricing::{Catalog, PriceOverride, PriceUnit, Rates, price_key_text};
use modelbench_engine::record::now_unix_ms;
use modelbench_engine::store::Store;
use modelbench_workbench::data_dir::{imported_catalog_path, price_book};
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum PricesCommand {
    /// The prices in force: the catalog's, and yours (marked `*`), in USD per 1M tokens.
    List {
        /// Only this provider's prices (openai, azure, anthropic, bedrock, gemini, vertex, ollama).
        #[arg(long)]
        provider: Option<String>,
        /// Only models whose id contains this text.
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set your own price for a model (a contract discount, provisioned throughput); it wins
    /// over the catalog and reports mark it.
    Set(SetArgs),
    /// Remove your price for a model.
    Unset {
        provider: String,
        model: String,
        /// The region the price was set for (default: the every-region price).
        #[arg(long)]
        region: Option<String>,
    },
    /// Cost runs from a newer catalog (made by `scripts/import-prices`) instead of the built-in one.
    Import { file: PathBuf },
    /// The price of one model on every cloud, surface and region the catalog knows (and your
    /// own prices), cheapest first for a mix of input and output tokens.
    Compare {
        /// The model as its maker names it: gpt-5.4, claude-opus-4-7, gemini-2.5-pro.
        base_model: String,
        /// Input tokens in the mix.
        #[arg(long, default_value_t = 1_000_000)]
        input_tokens: u64,
        /// Output tokens in the mix.
        #[arg(long, default_value_t = 1_000_000)]
        output_tokens: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct SetArgs {
    /// openai, azure, anthropic, bedrock, gemini, vertex or ollama
    provider: String,
    /// The model as the target names it (Azure: the deployment's model or deployment name;
    /// Bedrock: the model id, inference-profile id or ARN).
    model: String,
    /// Input tokens, per 1M.
    #[arg(long)]
    input: f64,
    /// Output tokens, per 1M.
    #[arg(long)]
    output: f64,
    /// Cached input tokens (cache reads), per 1M.
    #[arg(long)]
    cached_input: Option<f64>,
    /// Cache writes, per 1M.
    #[arg(long)]
    cache_write: Option<f64>,
    /// Reasoning tokens, per 1M (default: the output price).
    #[arg(long)]
    reasoning: Option<f64>,
    /// Only in this region (Bedrock region, Vertex location); default: every region.
    #[arg(long)]
    region: Option<String>,
    /// Why this price (shown with every cost it sets, e.g. "contract 2026, -20%").
    #[arg(long)]
    note: Option<String>,
    /// Costs are reported in USD; a price in another currency is kept but leaves costs unknown.
    #[arg(long, default_value = "USD")]
    currency: String,
}

pub fn run(store: &Store, command: PricesCommand) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        PricesCommand::List { provider, model, json } => {
            let provider = provider.as_deref().map(parse_provider).transpose()?;
            list(store, provider, model.as_deref(), json, &mut out)?;
        }
        PricesCommand::Set(args) => {
            let price = PriceOverride {
                provider: parse_provider(&args.provider)?,
                model: args.model,
                region: args.region,
                currency: args.currency.to_ascii_uppercase(),
                rates: Rates {
                    input: args.input,
                    output: args.output,
                    cached_input: args.cached_input,
                    cache_write: args.cache_write,
                    reasoning: args.reasoning,
                },
                note: args.note,
                updated_at_ms: now_unix_ms(),
            };
            store.set_price_override(&price)?;
            writeln!(
                out,
                "{}: {} in, {} out, {} per 1M tokens; {}",
                price_key_text(price.provider, &price.model, price.region.as_deref()),
                format_rate(Some(price.rates.input)),
                format_rate(Some(price.rates.output)),
                price.currency,
                price.describe()
            )?;
        }
        PricesCommand::Unset {
            provider,
            model,
            region,
        } => {
            let provider = parse_provider(&provider)?;
            let key = price_key_text(provider, &model, region.as_deref());
            if !store.unset_price_override(provider, &model, region.as_deref())? {
                bail!("you have no price for {key} (see `modelbench prices list`)");
            }
            writeln!(out, "removed your price for {key}; the catalog's applies again")?;
        }
        PricesCommand::Compare {
            base_model,
            input_tokens,
            output_tokens,
            json,
        } => compare(store, &base_model, input_tokens, output_tokens, json, &mut out)?,
        PricesCommand::Import { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let catalog = Catalog::from_json(&text, &file.display().to_string())?;
            let destination = imported_catalog_path(store);
            std::fs::write(&destination, &text).with_context(|| format!("cannot write {}", destination.display()))?;
            writeln!(
                out,
                "imported {} prices ({} as of {}); runs are costed with them from now on (delete {} for the built-in catalog)",
                catalog.entries.len(),
                catalog.origin,
                catalog.as_of,
                destination.display()
            )?;
        }
    }
    Ok(())
}

/// `prices compare`: one base model's price everywhere, cheapest first.
fn compare(
    store: &Store,
    base_model: &str,
    input_tokens: u64,
    output_tokens: u64,
    as_json: bool,
    out: &mut impl Write,
) -> Result<()> {
    if base_model.trim().is_empty() {
        bail!("name a base model, for example `modelbench prices compare gpt-5.4`");
    }
    let book = price_book(store)?;
    let rows = book.compare(base_model, input_tokens, output_tokens);
    let unpriced = book.clouds_without_price(base_model);
    if as_json {
        let document = json!({
            "base_model": base_model.trim().to_ascii_lowercase(),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "currency": "USD",
            "unit": "USD per 1,000,000 tokens, or per 10,000 characters where a price's unit is characters",
            "prices": rows,
            "no_price_on": unpriced,
        });
        serde_json::to_writer_pretty(&mut *out, &document)?;
        writeln!(out)?;
        return Ok(());
    }
    if rows.is_empty() {
        bail!(
            "no price for base model '{}' in the catalog or your prices (base models are named as their makers name them: gpt-5.4, claude-opus-4-7, gemini-2.5-pro)",
            base_model.trim()
        );
    }
    writeln!(
        out,
        "{}: USD per 1M tokens, and for {input_tokens} input + {output_tokens} output tokens; cheapest first",
        base_model.trim().to_ascii_lowercase()
    )?;
    let cloud = |row: &modelbench_engine::pricing::PriceComparison| match &row.surface {
        Some(surface) => format!("{} {surface}", row.provider),
        None => row.provider.to_string(),
    };
    let width = |values: Vec<usize>, header: &str| values.into_iter().chain([header.len()]).max().unwrap_or(0);
    let cloud_width = width(rows.iter().map(|row| cloud(row).len()).collect(), "CLOUD");
    let model_width = width(rows.iter().map(|row| row.model.len()).collect(), "MODEL");
    let region_width = width(
        rows.iter()
            .map(|row| row.region.as_deref().unwrap_or("any").len())
            .collect(),
        "REGION",
    );
    writeln!(
        out,
        "{:cloud_width$}  {:model_width$}  {:region_width$}  {:>8}  {:>8}  {:>10}  SOURCE",
        "CLOUD", "MODEL", "REGION", "IN", "OUT", "MIX"
    )?;
    for row in &rows {
        writeln!(
            out,
            "{:cloud_width$}  {:model_width$}  {:region_width$}  {:>8}  {:>8}  {:>10}  {}{} ({})",
            cloud(row),
            row.model,
            row.region.as_deref().unwrap_or("any"),
            unit_rate(row.rates.input, row.unit),
            unit_rate(row.rates.output, row.unit),
            row.mix_cost_usd
                .map_or_else(|| "per char".to_owned(), |mix| format!("${mix:.4}")),
            if row.overridden { "* " } else { "" },
            row.source,
            row.as_of
        )?;
    }
    if rows.iter().any(|row| row.overridden) {
        writeln!(out, "* your own price (it wins over the catalog)")?;
    }
    if rows.iter().any(|row| row.unit == PriceUnit::Characters) {
        writeln!(
            out,
            "/10k ch: billed per character of prompt and answer, USD per 10,000 characters; no token mix prices it"
        )?;
    }
    if !unpriced.is_empty() {
        let names: Vec<&str> = unpriced.iter().map(|provider| provider.as_str()).collect();
        writeln!(
            out,
            "no price known on {}: the catalog prices other models of this line there, not this one; a run \
             there shows its cost as n/a with the reason (add your own with `modelbench prices set`)",
            names.join(", ")
        )?;
    }
    Ok(())
}

/// A rate as its unit reads: per 1M tokens as a bare number, per 10,000 characters marked.
fn unit_rate(rate: f64, unit: PriceUnit) -> String {
    match unit {
        PriceUnit::Tokens => format_rate(Some(rate)),
        PriceUnit::Characters => format!("{rate}/10k ch"),
    }
}

fn parse_provider(text: &str) -> Result<ProviderKind> {
    ProviderKind::parse(text).with_context(|| {
        let known: Vec<&str> = ProviderKind::ALL.iter().map(|kind| kind.as_str()).collect();
        format!("unknown provider '{text}' ({})", known.join(", "))
    })
}

/// One row of `prices list`.
struct Row {
    overridden: bool,
    provider: ProviderKind,
    model: String,
    region: Option<String>,
    rates: Rates,
    unit: PriceUnit,
    source: String,
    /// How a catalog entry was derived (`regional endpoint, x1.1 the global price`).
    note: Option<String>,
    json: Value,
}

fn list(
    store: &Store,
    provider: Option<ProviderKind>,
    model: Option<&str>,
    as_json: bool,
    out: &mut impl Write,
) -> Result<()> {
    let book = price_book(store)?;
    let catalog = book.catalog().context("no price catalog")?;
    let imported = imported_catalog_path(store);
    let keep = |row_provider: ProviderKind, row_model: &str| {
        provider.is_none_or(|wanted| wanted == row_provider) && model.is_none_or(|text| row_model.contains(text))
    };
    let mut rows: Vec<Row> = Vec::new();
    for price in book.overrides() {
        if keep(price.provider, &price.model) {
            rows.push(Row {
                overridden: true,
                provider: price.provider,
                model: price.model.clone(),
                region: price.region.clone(),
                rates: price.rates.clone(),
                unit: PriceUnit::Tokens,
                source: price.describe(),
                note: None,
                json: json!({"kind": "override", "currency": price.currency, "updated_at_ms": price.updated_at_ms,
                             "note": price.note}),
            });
        }
    }
    for entry in &catalog.entries {
        if keep(entry.provider, &entry.model) {
            rows.push(Row {
                overridden: false,
                provider: entry.provider,
                model: entry.model.clone(),
                region: entry.region.clone(),
                rates: entry.rates.clone(),
                unit: entry.unit,
                source: entry.source.clone(),
                note: entry.note.clone(),
                json: json!({"kind": "catalog", "currency": catalog.currency, "as_of": entry.as_of,
                             "long_context": entry.long_context, "note": entry.note}),
            });
        }
    }
    // Yours first where both price the same model, so the one in force reads first.
    rows.sort_by(|left, right| {
        (left.provider.as_str(), &left.model, &left.region, !left.overridden).cmp(&(
            right.provider.as_str(),
            &right.model,
            &right.region,
            !right.overridden,
        ))
    });
    let catalog_file = imported.exists().then(|| imported.display().to_string());
    if as_json {
        let prices: Vec<Value> = rows
            .into_iter()
            .map(|row| {
                let mut value = json!({
                    "provider": row.provider.as_str(),
                    "model": row.model,
                    "region": row.region,
                    "input": row.rates.input,
                    "output": row.rates.output,
                    "cached_input": row.rates.cached_input,
                    "cache_write": row.rates.cache_write,
                    "reasoning": row.rates.reasoning,
                    "unit": row.unit,
                    "source": row.source,
                });
                if let (Value::Object(fields), Value::Object(extra)) = (&mut value, row.json) {
                    fields.extend(extra);
                }
                value
            })
            .collect();
        let document = json!({
            "catalog": {
                "origin": catalog.origin,
                "as_of": catalog.as_of,
                "currency": catalog.currency,
                "file": catalog_file,
                "unit": "per 1,000,000 tokens, or per 10,000 characters where a price says \"unit\": \"characters\"",
            },
            "prices": prices,
        });
        serde_json::to_writer_pretty(&mut *out, &document)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "catalog: {} as of {} ({}); {} per 1M tokens; * your price, which wins",
        catalog.origin,
        catalog.as_of,
        catalog_file
            .as_deref()
            .map_or("built in".to_owned(), |file| format!("imported, {file}")),
        catalog.currency
    )?;
    if rows.is_empty() {
        writeln!(out, "no prices match")?;
        return Ok(());
    }
    write_rows(&rows, out)
}

fn write_rows(rows: &[Row], out: &mut impl Write) -> Result<()> {
    let header = [
        "",
        "PROVIDER",
        "MODEL",
        "REGION",
        "INPUT",
        "OUTPUT",
        "CACHED",
        "CACHE-WRITE",
        "REASONING",
        "SOURCE",
    ];
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|row| {
            [
                if row.overridden { "*" } else { "" }.to_owned(),
                row.provider.as_str().to_owned(),
                row.model.clone(),
                row.region.clone().unwrap_or_else(|| "-".to_owned()),
                unit_rate(row.rates.input, row.unit),
                unit_rate(row.rates.output, row.unit),
                format_rate(row.rates.cached_input),
                format_rate(row.rates.cache_write),
                format_rate(row.rates.reasoning),
                match &row.note {
                    Some(note) => format!("{} ({note})", row.source),
                    None => row.source.clone(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[String]| -> std::io::Result<()> {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            match index {
                0 => text.push_str(&format!("{cell:<width$}")),
                1..=3 => text.push_str(&format!("{cell:<width$}  ")),
                9 => text.push_str(cell),
                _ => text.push_str(&format!("{cell:>width$}  ")),
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(&header.map(str::to_owned))?;
    for row in &cells {
        line(row)?;
    }
    Ok(())
}

/// A price per 1M tokens: as many decimals as it has, `-` when there is none.
fn format_rate(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_as_given_and_missing_ones_as_a_dash() {
        assert_eq!(format_rate(Some(2.5)), "2.5");
        assert_eq!(format_rate(Some(0.075)), "0.075");
        assert_eq!(format_rate(Some(15.0)), "15");
        assert_eq!(format_rate(None), "-");
    }
}
