//! Schema migrations: timestamped SQL files compiled into the binary and applied in order.
//!
//! A shipped migration is never edited, only followed by a new file, because databases in the
//! wild have already run the old text. Each migration runs in its own `IMMEDIATE` transaction
//! that also re-checks whether it was applied, so two processes opening the same new database at
//! once (the CLI and the desktop app) cannot both apply it.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::model::error::{Error, Result};
use crate::model::record::now_unix_ms;

/// One migration file: its version (the file name without `.sql`) and its SQL.
pub(super) struct Migration {
    pub version: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. Append only.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: "20261124100000_initial",
        sql: include_str!("../../migrations/20261124100000_initial.sql"),
    },
    Migration {
        version: "20261125090000_server_timing_cost_prices",
        sql: include_str!("../../migrations/20261125090000_server_timing_cost_prices.sql"),
    },
    Migration {
        version: "20261207080000_billed_tokens",
        sql: include_str!("../../migrations/20261207080000_billed_tokens.sql"),
    },
    Migration {
        version: "20261207100000_run_numbered_search",
        sql: include_str!("../../migrations/20261207100000_run_numbered_search.sql"),
    },
    Migration {
        version: "20261207110000_base_model",
        sql: include_str!("../../migrations/20261207110000_base_model.sql"),
    },
    Migration {
        version: "20261207140000_sessions",
        sql: include_str!("../../migrations/20261207140000_sessions.sql"),
    },
    Migration {
        version: "20261207160000_client_lag",
        sql: include_str!("../../migrations/20261207160000_client_lag.sql"),
    },
    Migration {
        version: "20261207170000_deployment_fingerprint",
        sql: include_str!("../../migrations/20261207170000_deployment_fingerprint.sql"),
    },
    Migration {
        version: "20261207180000_event_chunks",
        sql: include_str!("../../migrations/20261207180000_event_chunks.sql"),
    },
    Migration {
        version: "20261207190000_judges",
        sql: include_str!("../../migrations/20261207190000_judges.sql"),
    },
    Migration {
        version: "20261207200000_panels",
        sql: include_str!("../../migrations/20261207200000_panels.sql"),
    },
];

/// Applies the migrations this database has not seen yet and returns their versions.
pub(super) fn apply(connection: &mut Connection) -> Result<Vec<&'static str>> {
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if is_applied(&transaction, migration.version)? {
            continue;
        }
        transaction
            .execute_batch(migration.sql)
            .map_err(|error| Error::Storage(format!("migration {}: {error}", migration.version)))?;
        transaction.execute(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, ?2)",
            (migration.version, now_unix_ms()),
        )?;
        transaction.commit()?;
        tracing::info!(version = migration.version, "applied database migration");
        applied.push(migration.version);
    }
    warn_about_unknown_versions(connection)?;
    Ok(applied)
}

/// The first migration creates `schema_migrations` itself, so a database without that table has
/// had nothing applied.
fn is_applied(connection: &Connection, version: &str) -> Result<bool> {
    let has_table: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Ok(false);
    }
    let found = connection
        .query_row("SELECT 1 FROM schema_migrations WHERE version = ?1", [version], |_| {
            Ok(())
        })
        .optional()?;
    Ok(found.is_some())
}

/// A newer ModelBench may have migrated this database further. Its additions are meant to be
/// compatible, so this build carries on, but the log should say why something might look odd.
fn warn_about_unknown_versions(connection: &Connection) -> Result<()> {
    let mut statement = connection.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
    let versions = statement.query_map([], |row| row.get::<_, String>(0))?;
    for version in versions {
        let version = version?;
        if !MIGRATIONS.iter().any(|migration| migration.version == version) {
            tracing::warn!(%version, "the database has a migration this build does not know (written by a newer ModelBench?)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stored_a_row_each_come_back_the_same_from_chunks() -> Result<()> {
        let mut connection = Connection::open_in_memory()?;
        let chunks = MIGRATIONS
            .iter()
            .position(|migration| migration.version == "20261207180000_event_chunks")
            .expect("the chunk migration");
        for migration in &MIGRATIONS[..chunks] {
            connection.execute_batch(migration.sql)?;
            connection.execute(
                "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, 0)",
                [migration.version],
            )?;
        }
        connection.execute_batch(
            "INSERT INTO runs (id, started_at_ms, status, parameters_json, targets_json, repeat, prompt_count,
                 response_count) VALUES ('r', 0, 'completed', '{}', '[]', 1, 1, 2);
             INSERT INTO responses (id, run_id, prompt_index, target_index, repeat_index, target, provider, model,
                 status, started_at_ms) VALUES (7, 'r', 0, 0, 0, 'a', 'openai', 'm', 'complete', 0),
                 (9, 'r', 0, 1, 0, 'b', 'openai', 'm', 'complete', 0);
             INSERT INTO response_events (response_id, sequence, attempt, elapsed_us, kind, payload_json) VALUES
                 (7, 1, 0, 2500, 'delta', '{\"type\":\"delta\",\"text\":\" \\\"quoted\\\" ✓\"}'),
                 (7, 0, 0, 1000, 'started', '{\"type\":\"started\"}'),
                 (9, 0, 1, 30, 'end', '{\"type\":\"end\",\"n\":1.5}');",
        )?;
        /// response_id, sequence, attempt, elapsed_us, kind, payload_json
        type EventRow = (i64, i64, i64, i64, String, String);
        let read = |connection: &Connection| -> Result<Vec<EventRow>> {
            let mut statement = connection.prepare(
                "SELECT response_id, sequence, attempt, elapsed_us, kind, payload_json FROM response_events
                 ORDER BY response_id, sequence",
            )?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        };
        let before = read(&connection)?;
        // The later migrations apply too; this one first.
        assert_eq!(apply(&mut connection)?.first(), Some(&"20261207180000_event_chunks"));
        assert_eq!(read(&connection)?, before);
        let chunks: i64 = connection.query_row("SELECT count(*) FROM response_event_chunks", [], |row| row.get(0))?;
        assert_eq!(chunks, 2);
        Ok(())
    }

    #[test]
    fn versions_are_unique_and_in_order() {
        let versions: Vec<&str> = MIGRATIONS.iter().map(|migration| migration.version).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
    }

    #[test]
    fn every_migration_opens_with_a_comment_about_its_tables() {
        for migration in MIGRATIONS {
            assert!(
                migration.sql.starts_with("-- "),
                "{} must open with an SQL comment saying what its tables are for",
                migration.version
            );
        }
    }
}
