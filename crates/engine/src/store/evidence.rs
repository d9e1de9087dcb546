//! A session's rows as a database of their own, for evidence bundles, and a digest of every table
//! so a bundle's reader can tell whether a row was changed, added or removed.
//!
//! The copy has the full schema (the same migrations) and exactly the session's rows: its suite,
//! its session row, its run and the runs of its judges with their prompts, responses and stream
//! events, its judges, and its panels with their items, packets and ratings. Packet tokens are
//! blanked: a token lets whoever holds it sign a ratings file for that packet. Saved targets are
//! left out: the runs hold their targets as run (key references only, never a secret).

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use super::Store;
use crate::model::error::{Error, Result};
use crate::model::record::RunId;

/// The tables an evidence database holds, each with the order its digest reads rows in and the
/// rows of session `?1` it copies.
const TABLES: &[(&str, &str, &str)] = &[
    (
        "suites",
        "hash",
        "hash = (SELECT suite_hash FROM main.sessions WHERE id = ?1)",
    ),
    ("sessions", "id", "id = ?1"),
    ("runs", "id", RUNS),
    (
        "run_prompts",
        "run_id, prompt_index",
        "run_id IN (SELECT id FROM main.runs WHERE id = ?1 OR id IN (SELECT id FROM main.judges WHERE session_id = ?1))",
    ),
    (
        "responses",
        "id",
        "run_id IN (SELECT id FROM main.runs WHERE id = ?1 OR id IN (SELECT id FROM main.judges WHERE session_id = ?1))",
    ),
    (
        "response_event_chunks",
        "response_id, first_sequence",
        "response_id IN (SELECT id FROM main.responses WHERE run_id = ?1 OR run_id IN (SELECT id FROM main.judges WHERE session_id = ?1))",
    ),
    ("judges", "id", "session_id = ?1"),
    ("panels", "id", "session_id = ?1"),
    (
        "panel_items",
        "panel_id, item_index",
        "panel_id IN (SELECT id FROM main.panels WHERE session_id = ?1)",
    ),
    (
        "panel_packets",
        "id",
        "panel_id IN (SELECT id FROM main.panels WHERE session_id = ?1)",
    ),
    (
        "panel_ratings",
        "packet_id, item_index",
        "packet_id IN (SELECT p.id FROM main.panel_packets AS p JOIN main.panels AS panel ON panel.id = p.panel_id WHERE panel.session_id = ?1)",
    ),
    ("price_overrides", "provider, model, region", "?1 IS NOT NULL"),
];

const RUNS: &str = "id = ?1 OR id IN (SELECT id FROM main.judges WHERE session_id = ?1)";

/// One table of an evidence database: how many rows, and the SHA-256 of their values in key
/// order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableDigest {
    pub table: String,
    pub rows: u64,
    pub sha256: String,
}

impl Store {
    /// Writes session `session_id`'s rows into a new database at `destination` (which must not
    /// exist) and returns the digests of its tables.
    pub fn copy_session(&self, session_id: RunId, destination: &Path) -> Result<Vec<TableDigest>> {
        if destination.exists() {
            return Err(Error::InvalidInput(format!("{} already exists", destination.display())));
        }
        // The schema, by the migrations every store gets; then close it so only the attached
        // copy writes.
        drop(Store::open(destination)?);
        let connection = self.connection();
        connection.execute("ATTACH DATABASE ?1 AS evidence", params![destination.to_string_lossy()])?;
        let copied = copy_rows(&connection, &session_id.to_string());
        let detached = connection.execute("DETACH DATABASE evidence", []);
        copied?;
        detached?;
        drop(connection);
        let copy = Connection::open(destination)?;
        // One file: no `-wal` beside it.
        copy.pragma_update(None, "journal_mode", "DELETE")?;
        table_digests(&copy)
    }
}

fn copy_rows(connection: &Connection, session_id: &str) -> Result<()> {
    // `run_numbers` and the search index fill themselves by trigger as rows arrive.
    let transaction = connection.unchecked_transaction()?;
    for (table, _, filter) in TABLES {
        transaction.execute(
            &format!("INSERT INTO evidence.{table} SELECT * FROM main.{table} WHERE {filter}"),
            params![session_id],
        )?;
    }
    transaction.execute("UPDATE evidence.panel_packets SET token = ''", [])?;
    transaction.commit()?;
    Ok(())
}

/// The digest of every evidence table in `connection`'s main database.
pub fn table_digests(connection: &Connection) -> Result<Vec<TableDigest>> {
    TABLES
        .iter()
        .map(|(table, order, _)| digest_table(connection, table, order))
        .collect()
}

/// The digest of an evidence database file (opened read-only).
pub fn file_table_digests(path: &Path) -> Result<Vec<TableDigest>> {
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    table_digests(&connection)
}

fn digest_table(connection: &Connection, table: &str, order: &str) -> Result<TableDigest> {
    let mut statement = connection.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
    let columns = statement.column_count();
    let mut rows = statement.query([])?;
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        count += 1;
        for index in 0..columns {
            // Each value typed and length-prefixed, so no two rows hash alike by accident.
            match row.get_ref(index)? {
                ValueRef::Null => hasher.update(b"n"),
                ValueRef::Integer(value) => {
                    hasher.update(b"i");
                    hasher.update(value.to_le_bytes());
                }
                ValueRef::Real(value) => {
                    hasher.update(b"r");
                    hasher.update(value.to_bits().to_le_bytes());
                }
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                    hasher.update(b"t");
                    hasher.update((bytes.len() as u64).to_le_bytes());
                    hasher.update(bytes);
                }
            }
        }
        hasher.update(b"\n");
    }
    Ok(TableDigest {
        table: table.to_owned(),
        rows: count,
        sha256: hex(&hasher.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
