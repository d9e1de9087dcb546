//! The `targets` table: targets saved by name, each stored as its whole configuration.
//!
//! Left out: checking a target beyond `Target::validate`, and any secret (a target holds key
//! references only).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Store, from_json, to_json};
use crate::model::error::Result;
use crate::model::record::now_unix_ms;
use crate::model::target::Target;

impl Store {
    /// Saves `target` under its name, replacing a saved target of that name (which keeps its
    /// creation time).
    pub fn save_target(&self, target: &Target) -> Result<()> {
        let config_json = to_json(target, "target")?;
        let mut connection = self.connection();
        // IMMEDIATE takes the write lock up front, where the busy timeout applies, instead of
        // failing at once if the writer thread commits between this statement's read and write.
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT INTO targets (name, provider, model, config_json, created_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (name) DO UPDATE SET
                 provider = excluded.provider,
                 model = excluded.model,
                 config_json = excluded.config_json,
                 updated_at_ms = excluded.updated_at_ms",
            params![
                target.name,
                target.provider.as_str(),
                target.model,
                config_json,
                now_unix_ms()
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Checks and saves `target`; when it was renamed from `original`, the old name goes away
    /// afterwards.
    pub fn rename_or_save_target(&self, target: &Target, original: Option<&str>) -> Result<()> {
        target.validate()?;
        self.save_target(target)?;
        if let Some(original) = original.filter(|original| *original != target.name) {
            self.remove_target(original)?;
        }
        Ok(())
    }

    /// Saved targets, ordered by name.
    pub fn list_targets(&self) -> Result<Vec<Target>> {
        let connection = self.connection();
        let mut statement = connection.prepare("SELECT config_json FROM targets ORDER BY name")?;
        let mut rows = statement.query([])?;
        let mut targets = Vec::new();
        while let Some(row) = rows.next()? {
            targets.push(from_json(&row.get::<_, String>(0)?, "target")?);
        }
        Ok(targets)
    }

    pub fn get_target(&self, name: &str) -> Result<Option<Target>> {
        let connection = self.connection();
        let config_json: Option<String> = connection
            .query_row("SELECT config_json FROM targets WHERE name = ?1", [name], |row| {
                row.get(0)
            })
            .optional()?;
        config_json.map(|text| from_json(&text, "target")).transpose()
    }

    /// Removes the saved target `name`; returns whether there was one.
    pub fn remove_target(&self, name: &str) -> Result<bool> {
        let mut connection = self.connection();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = transaction.execute("DELETE FROM targets WHERE name = ?1", [name])?;
        transaction.commit()?;
        Ok(removed > 0)
    }
}
