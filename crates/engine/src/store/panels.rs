//! The `panels`, `panel_items`, `panel_packets` and `panel_ratings` tables: a blind panel as
//! planned (which answers, who sees what in which order) and the ratings that came back. A panel
//! goes with its session.
//!
//! Left out: what the rows mean (the `panel` layer plans and renders; the workbench reads
//! ratings files and computes results). JSON columns are passed through as text.

use rusqlite::{OptionalExtension, params};

use super::{Store, parse_run_id};
use crate::model::error::{Error, Result};
use crate::model::record::RunId;

/// A `panels` row.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelRow {
    pub id: String,
    pub session_id: RunId,
    pub kind: String,
    pub criteria_json: String,
    pub target_indices_json: String,
    pub seed: u64,
    pub title: String,
    pub created_at_ms: i64,
}

/// A `panel_items` row.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelItemRow {
    pub item_index: u32,
    pub case_index: u32,
    pub answers_json: String,
}

/// A `panel_packets` row.
#[derive(Clone, Debug, PartialEq)]
pub struct PacketRow {
    pub id: String,
    pub panel_id: String,
    pub rater_index: u32,
    pub rater: String,
    pub token: String,
    pub shown_json: String,
}

/// A `panel_ratings` row.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingRow {
    pub packet_id: String,
    pub item_index: u32,
    pub winner: Option<u32>,
    pub first_shown: u32,
    pub scores_json: Option<String>,
    pub reason: Option<String>,
    pub rated_at: Option<String>,
    pub imported_at_ms: i64,
}

const PANEL_COLUMNS: &str = "id, session_id, kind, criteria_json, target_indices_json, seed, title, created_at_ms";

fn panel_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(PanelRow, String)> {
    Ok((
        PanelRow {
            id: row.get(0)?,
            // Replaced once the query is done (a damaged id is a storage error, not a panic).
            session_id: RunId(uuid::Uuid::nil()),
            kind: row.get(2)?,
            criteria_json: row.get(3)?,
            target_indices_json: row.get(4)?,
            seed: row.get::<_, i64>(5)? as u64,
            title: row.get(6)?,
            created_at_ms: row.get(7)?,
        },
        row.get(1)?,
    ))
}

fn with_session((mut row, session): (PanelRow, String)) -> Result<PanelRow> {
    row.session_id = parse_run_id(&session)?;
    Ok(row)
}

fn packet_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PacketRow> {
    Ok(PacketRow {
        id: row.get(0)?,
        panel_id: row.get(1)?,
        rater_index: row.get(2)?,
        rater: row.get(3)?,
        token: row.get(4)?,
        shown_json: row.get(5)?,
    })
}

const PACKET_COLUMNS: &str = "id, panel_id, rater_index, rater, token, shown_json";

impl Store {
    /// Stores a planned panel with its items and packets, all or nothing.
    pub fn insert_panel(&self, panel: &PanelRow, items: &[PanelItemRow], packets: &[PacketRow]) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        transaction.execute(
            &format!("INSERT INTO panels ({PANEL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                panel.id,
                panel.session_id.to_string(),
                panel.kind,
                panel.criteria_json,
                panel.target_indices_json,
                panel.seed as i64,
                panel.title,
                panel.created_at_ms
            ],
        )?;
        {
            let mut insert = transaction.prepare(
                "INSERT INTO panel_items (panel_id, item_index, case_index, answers_json) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for item in items {
                insert.execute(params![panel.id, item.item_index, item.case_index, item.answers_json])?;
            }
            let mut insert = transaction.prepare(&format!(
                "INSERT INTO panel_packets ({PACKET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?;
            for packet in packets {
                insert.execute(params![
                    packet.id,
                    panel.id,
                    packet.rater_index,
                    packet.rater,
                    packet.token,
                    packet.shown_json
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// The panel whose id is `text` or starts with it (at least 4 characters; an ambiguous
    /// prefix is an error naming it).
    pub fn find_panel(&self, text: &str) -> Result<Option<PanelRow>> {
        let text = text.trim().to_ascii_lowercase();
        if text.chars().count() < 4 || !text.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(Error::InvalidInput(format!(
                "panel id '{text}': give the id or at least its first 4 characters"
            )));
        }
        let connection = self.connection();
        let mut statement = connection.prepare(&format!(
            "SELECT {PANEL_COLUMNS} FROM panels WHERE id GLOB ?1 ORDER BY id LIMIT 2"
        ))?;
        let rows = statement
            .query_map([format!("{text}*")], panel_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        match rows.len() {
            0 => Ok(None),
            1 => rows.into_iter().next().map(with_session).transpose(),
            _ => Err(Error::InvalidInput(format!(
                "panel id '{text}' matches more than one panel: give more characters"
            ))),
        }
    }

    /// Panels, newest first; of one session when `session` is given.
    pub fn list_panels(&self, session: Option<RunId>) -> Result<Vec<PanelRow>> {
        let connection = self.connection();
        let mut statement = connection.prepare(&format!(
            "SELECT {PANEL_COLUMNS} FROM panels WHERE ?1 IS NULL OR session_id = ?1 ORDER BY created_at_ms DESC, id"
        ))?;
        let rows = statement
            .query_map([session.map(|id| id.to_string())], panel_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(with_session).collect()
    }

    pub fn panel_items(&self, panel_id: &str) -> Result<Vec<PanelItemRow>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT item_index, case_index, answers_json FROM panel_items WHERE panel_id = ?1 ORDER BY item_index",
        )?;
        let rows = statement
            .query_map([panel_id], |row| {
                Ok(PanelItemRow {
                    item_index: row.get(0)?,
                    case_index: row.get(1)?,
                    answers_json: row.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A panel's packets in rater order.
    pub fn panel_packets(&self, panel_id: &str) -> Result<Vec<PacketRow>> {
        let connection = self.connection();
        let mut statement = connection.prepare(&format!(
            "SELECT {PACKET_COLUMNS} FROM panel_packets WHERE panel_id = ?1 ORDER BY rater_index"
        ))?;
        let rows = statement
            .query_map([panel_id], packet_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Adds a rater's packet to a stored panel (a rater who joins after it was created).
    pub fn insert_packet(&self, packet: &PacketRow) -> Result<()> {
        self.connection().execute(
            &format!("INSERT INTO panel_packets ({PACKET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                packet.id,
                packet.panel_id,
                packet.rater_index,
                packet.rater,
                packet.token,
                packet.shown_json
            ],
        )?;
        Ok(())
    }

    pub fn find_packet(&self, packet_id: &str) -> Result<Option<PacketRow>> {
        Ok(self
            .connection()
            .query_row(
                &format!("SELECT {PACKET_COLUMNS} FROM panel_packets WHERE id = ?1"),
                [packet_id],
                packet_row,
            )
            .optional()?)
    }

    /// Stores a packet's ratings, replacing what an earlier import of the same items stored
    /// (a rater may send an updated file), all or nothing.
    pub fn save_ratings(&self, ratings: &[RatingRow]) -> Result<()> {
        let mut connection = self.connection();
        let transaction = connection.transaction()?;
        {
            let mut upsert = transaction.prepare(
                "INSERT INTO panel_ratings (packet_id, item_index, winner, first_shown, scores_json, reason, rated_at, imported_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (packet_id, item_index) DO UPDATE SET winner = excluded.winner,
                    first_shown = excluded.first_shown, scores_json = excluded.scores_json, reason = excluded.reason,
                    rated_at = excluded.rated_at, imported_at_ms = excluded.imported_at_ms",
            )?;
            for rating in ratings {
                upsert.execute(params![
                    rating.packet_id,
                    rating.item_index,
                    rating.winner,
                    rating.first_shown,
                    rating.scores_json,
                    rating.reason,
                    rating.rated_at,
                    rating.imported_at_ms
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Every rating of a panel, by packet (rater order) then item.
    pub fn panel_ratings(&self, panel_id: &str) -> Result<Vec<RatingRow>> {
        let connection = self.connection();
        let mut statement = connection.prepare(
            "SELECT r.packet_id, r.item_index, r.winner, r.first_shown, r.scores_json, r.reason, r.rated_at, r.imported_at_ms
             FROM panel_ratings r JOIN panel_packets p ON p.id = r.packet_id
             WHERE p.panel_id = ?1 ORDER BY p.rater_index, r.item_index",
        )?;
        let rows = statement
            .query_map([panel_id], |row| {
                Ok(RatingRow {
                    packet_id: row.get(0)?,
                    item_index: row.get(1)?,
                    winner: row.get(2)?,
                    first_shown: row.get(3)?,
                    scores_json: row.get(4)?,
                    reason: row.get(5)?,
                    rated_at: row.get(6)?,
                    imported_at_ms: row.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sessions::tests::store_with_session;
    use crate::store::tests::TestResult;

    fn panel(id: &str, session_id: RunId) -> PanelRow {
        PanelRow {
            id: id.to_owned(),
            session_id,
            kind: "pairwise".to_owned(),
            criteria_json: "[]".to_owned(),
            target_indices_json: "[0,1]".to_owned(),
            seed: u64::MAX,
            title: "Panel".to_owned(),
            created_at_ms: 1,
        }
    }

    fn packet(id: &str, rater_index: u32, rater: &str) -> PacketRow {
        PacketRow {
            id: id.to_owned(),
            panel_id: "abcd0001".to_owned(),
            rater_index,
            rater: rater.to_owned(),
            token: "00".repeat(32),
            shown_json: "[]".to_owned(),
        }
    }

    fn rating(packet_id: &str, item_index: u32, winner: Option<u32>) -> RatingRow {
        RatingRow {
            packet_id: packet_id.to_owned(),
            item_index,
            winner,
            first_shown: 1,
            scores_json: None,
            reason: Some("clearer".to_owned()),
            rated_at: None,
            imported_at_ms: 5,
        }
    }

    #[test]
    fn a_panel_reads_back_ratings_replace_and_it_goes_with_its_session() -> TestResult {
        let (_directory, store, session_id) = store_with_session()?;
        let items = [PanelItemRow {
            item_index: 0,
            case_index: 1,
            answers_json: "[]".to_owned(),
        }];
        let packets = [packet("k-bob", 1, "bob"), packet("k-alice", 0, "alice")];
        store.insert_panel(&panel("abcd0001", session_id), &items, &packets)?;
        assert_eq!(
            store.find_panel("ABCD")?,
            Some(panel("abcd0001", session_id)),
            "a prefix, any case"
        );
        assert!(store.find_panel("ab").is_err(), "too short a prefix");
        assert_eq!(store.panel_items("abcd0001")?, items);
        let raters: Vec<String> = store.panel_packets("abcd0001")?.into_iter().map(|p| p.rater).collect();
        assert_eq!(raters, ["alice", "bob"]);
        assert_eq!(store.find_packet("k-bob")?.map(|p| p.rater_index), Some(1));
        let mut carol = packet("k-carol", 2, "carol");
        store.insert_packet(&carol)?;
        assert_eq!(
            store.panel_packets("abcd0001")?.last(),
            Some(&carol),
            "a rater who joins later"
        );
        carol.id = "k-carol-again".to_owned();
        assert!(store.insert_packet(&carol).is_err(), "one packet per rater name");
        store.insert_panel(&panel("abcd0002", session_id), &[], &[])?;
        assert!(store.find_panel("abcd").is_err(), "an ambiguous prefix");
        assert_eq!(store.list_panels(Some(session_id))?.len(), 2);

        store.save_ratings(&[rating("k-bob", 0, Some(0)), rating("k-alice", 0, None)])?;
        store.save_ratings(&[rating("k-bob", 0, Some(1))])?;
        let ratings = store.panel_ratings("abcd0001")?;
        assert_eq!(ratings.len(), 2);
        assert_eq!((ratings[0].packet_id.as_str(), ratings[0].winner), ("k-alice", None));
        assert_eq!(
            (ratings[1].packet_id.as_str(), ratings[1].winner),
            ("k-bob", Some(1)),
            "the later import wins"
        );

        // Deleting a run deletes its session row (`deletion::delete`); the panel follows.
        store
            .connection()
            .execute("DELETE FROM sessions WHERE id = ?1", [session_id.to_string()])?;
        assert_eq!(store.find_panel("abcd0001")?, None);
        assert!(store.panel_ratings("abcd0001")?.is_empty());
        Ok(())
    }
}
