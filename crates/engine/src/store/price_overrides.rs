//! The `price_overrides` table: the user's own prices, one per provider, model and region (an
//! empty region is every region).
//!
//! Left out: what a price means (`crate::pricing`); this only keeps them.

use rusqlite::{TransactionBehavior, params};

use super::Store;
use crate::model::error::{Error, Result};
use crate::model::target::ProviderKind;
use crate::pricing::{PriceOverride, Rates};

impl Store {
    /// The user's price overrides, ordered by provider, model and region.
    pub fn list_price_overrides(&self) -> Result<Vec<PriceOverride>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT provider, model, region, currency, input_per_mtok, output_per_mtok,
                 cached_input_per_mtok, cache_write_per_mtok, reasoning_per_mtok, note, updated_at_ms
             FROM price_overrides ORDER BY provider, model, region",
        )?;
        let mut rows = statement.query([])?;
        let mut overrides = Vec::new();
        while let Some(row) = rows.next()? {
            let provider: String = row.get("provider")?;
            let region: String = row.get("region")?;
            overrides.push(PriceOverride {
                provider: ProviderKind::parse(&provider).ok_or_else(|| {
                    Error::Storage(format!("stored price override has unknown provider '{provider}'"))
                })?,
                model: row.get("model")?,
                region: Some(region).filter(|region| !region.is_empty()),
                currency: row.get("currency")?,
                rates: Rates {
                    input: row.get("input_per_mtok")?,
                    output: row.get("output_per_mtok")?,
                    cached_input: row.get("cached_input_per_mtok")?,
                    cache_write: row.get("cache_write_per_mtok")?,
                    reasoning: row.get("reasoning_per_mtok")?,
                },
                note: row.get("note")?,
                updated_at_ms: row.get("updated_at_ms")?,
            });
        }
        Ok(overrides)
    }

    /// Stores `price`, replacing the override for the same provider, model and region.
    pub fn set_price_override(&self, price: &PriceOverride) -> Result<()> {
        price.validate()?;
        let mut connection = self.connection();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT OR REPLACE INTO price_overrides (provider, model, region, currency, input_per_mtok,
                 output_per_mtok, cached_input_per_mtok, cache_write_per_mtok, reasoning_per_mtok, note,
                 updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                price.provider.as_str(),
                price.model,
                price.region.as_deref().unwrap_or_default(),
                price.currency,
                price.rates.input,
                price.rates.output,
                price.rates.cached_input,
                price.rates.cache_write,
                price.rates.reasoning,
                price.note,
                price.updated_at_ms,
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Removes the override for `provider`/`model` in `region` (`None`: the every-region one);
    /// returns whether there was one.
    pub fn unset_price_override(&self, provider: ProviderKind, model: &str, region: Option<&str>) -> Result<bool> {
        let mut connection = self.connection();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = transaction.execute(
            "DELETE FROM price_overrides WHERE provider = ?1 AND model = ?2 AND region = ?3",
            params![provider.as_str(), model, region.unwrap_or_default()],
        )?;
        transaction.commit()?;
        Ok(removed > 0)
    }
}
