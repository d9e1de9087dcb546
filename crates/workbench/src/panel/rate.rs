//! Rating inside the app: a rater joins a panel by name, gets one item at a time and gives a
//! rating that is stored at once, as if their ratings file had been imported; and the leaderboard
//! the Results view shows from a session's panel.
//!
//! Blind like the packets: an item says only its number in the rater's order, the prompt, and
//! the answers under their labels (A/B, or 1..n) normalised the same way; which target gave an
//! answer stays in the database. A rater who joins after the panel was planned gets the order and
//! positions the planner gives a rater of that number (`panel::add_rater`). Left out: rating
//! several panels at once and the packets' signatures (the app writes the rows itself, through
//! the same checks an import runs).

use std::collections::BTreeMap;

use modelbench_engine::panel::{self, PacketAnswer, PacketPrompt, PanelKind, RawRating, Shown};
use modelbench_engine::store::{PacketRow, RatingRow};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{LoadedPanel, PanelRequest, PanelStatus, check_raters, damaged, packet_prompt, rating_rows};
use crate::Workbench;
use crate::error::{Error, Result};

/// A pairwise choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Choice {
    A,
    B,
    Tie,
}

impl Choice {
    /// As a ratings file writes it.
    fn as_file(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::Tie => "tie",
        }
    }
}

/// A rating as the rater gives it, in the labels they saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct GivenRating {
    /// Pairwise: A, B or a tie.
    pub choice: Option<Choice>,
    /// Rubric: per answer label (`1`, `2`, …), per criterion, a score 1–5.
    #[serde(default)]
    pub scores: BTreeMap<String, BTreeMap<String, u8>>,
    pub reason: Option<String>,
}

/// A rubric criterion as raters read it.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RatingCriterion {
    pub name: String,
    pub description: String,
}

/// One item as a rater sees it: nothing in it names a target, provider, model or deployment.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RatingItem {
    pub panel_id: String,
    pub rater: String,
    pub kind: PanelKind,
    pub title: String,
    pub criteria: Vec<RatingCriterion>,
    /// This item's number in the rater's order, 1 to `items`.
    pub n: u32,
    pub items: u32,
    /// Items this rater has rated.
    pub rated: u32,
    /// The first item (by number) this rater has not rated, if any.
    pub next_unrated: Option<u32>,
    pub prompt: PacketPrompt,
    /// In the order shown, labelled A/B (pairwise) or 1..n (rubric).
    pub answers: Vec<PacketAnswer>,
    /// This rater's rating of the item so far.
    pub given: Option<GivenRating>,
}

/// One target's line of a panel's leaderboard.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct LeaderboardRow {
    /// Where the Bradley-Terry intervals place it (equal ranks when they overlap).
    pub rank: Option<u32>,
    pub target: String,
    pub comparisons: u64,
    pub wins: u64,
    pub ties: u64,
    pub losses: u64,
    /// Wins plus half the ties over comparisons, with its Wilson interval.
    pub win_rate: Option<f64>,
    pub win_rate_lower: Option<f64>,
    pub win_rate_upper: Option<f64>,
    /// Bradley-Terry log-strength (mean 0) with its bootstrap interval.
    pub strength: Option<f64>,
    pub strength_lower: Option<f64>,
    pub strength_upper: Option<f64>,
    /// Rubric: the mean score over every criterion.
    pub mean_score: Option<f64>,
}

/// The share of decided pairs won by the answer shown first.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PositionNote {
    pub share: f64,
    pub lower: f64,
    pub upper: f64,
    pub decided: u64,
    pub p_value: f64,
    /// Whether the share differs from ½ at the 5% level.
    pub biased: bool,
}

/// A session's panel results as the Results view shows them.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Leaderboard {
    pub panel_id: String,
    pub title: String,
    pub kind: PanelKind,
    pub items: u64,
    pub raters: Vec<String>,
    pub ratings: u64,
    /// Best first.
    pub rows: Vec<LeaderboardRow>,
    /// Krippendorff's alpha, `nominal` (pairwise) or `ordinal` (rubric), over `units` rated twice
    /// or more; `None` with a note when it is undefined.
    pub alpha: Option<f64>,
    pub alpha_level: String,
    /// `reliable`, `tentative` or `too low to rely on`, when there is an alpha.
    pub alpha_reading: Option<String>,
    pub units: u64,
    pub agreement_note: Option<String>,
    pub position_bias: Option<PositionNote>,
    pub notes: Vec<String>,
}

impl Workbench {
    /// Creates a panel over a finished session for rating in the app, with `rater` its first
    /// rater: every test, every target, the session's seed (a rubric scores `overall`).
    pub fn create_rating_panel(&self, session: &str, kind: PanelKind, rater: &str) -> Result<PanelStatus> {
        let created = self.create_panel(&PanelRequest {
            session: session.to_owned(),
            kind,
            criteria: Vec::new(),
            raters: vec![rater.to_owned()],
            items_per_rater: None,
            targets: Vec::new(),
            tests: Vec::new(),
            seed: None,
            title: None,
        })?;
        self.panel_status(&created.id)
    }

    /// `rater`'s first item not yet rated (their first when all are), adding them to the panel
    /// when they are new.
    pub fn join_panel(&self, panel_id: &str, rater: &str) -> Result<RatingItem> {
        let mut loaded = self.load_panel(panel_id)?;
        let packet = match packet_of(&loaded, rater) {
            Some(index) => index,
            None => self.add_packet(&mut loaded, rater)?,
        };
        let rated = self.rated_items(&loaded, packet)?;
        let n = first_unrated(&loaded.packets[packet].1, &rated).unwrap_or(1);
        self.item_view(&loaded, packet, n)
    }

    /// `rater`'s item number `n`.
    pub fn rating_item(&self, panel_id: &str, rater: &str, n: u32) -> Result<RatingItem> {
        let loaded = self.load_panel(panel_id)?;
        let packet = known_packet(&loaded, rater)?;
        self.item_view(&loaded, packet, n)
    }

    /// Stores `rater`'s rating of their item `n` (replacing an earlier one) and returns the item
    /// as it now stands.
    pub fn rate_item(&self, panel_id: &str, rater: &str, n: u32, given: &GivenRating) -> Result<RatingItem> {
        let loaded = self.load_panel(panel_id)?;
        let packet = known_packet(&loaded, rater)?;
        let (row, shown) = &loaded.packets[packet];
        let raw = match loaded.kind {
            PanelKind::Pairwise => RawRating {
                n,
                choice: Some(
                    given
                        .choice
                        .ok_or_else(|| Error::Panel(format!("item {n}: choose A, B or tie")))?
                        .as_file()
                        .to_owned(),
                ),
                scores: None,
                reason: given.reason.clone(),
                rated_at: None,
            },
            PanelKind::Rubric => {
                let answers = shown
                    .get(n.saturating_sub(1) as usize)
                    .map_or(0, |view| view.order.len());
                let complete = (1..=answers).all(|label| {
                    given.scores.get(&label.to_string()).is_some_and(|scores| {
                        loaded
                            .criteria
                            .iter()
                            .all(|criterion| scores.contains_key(&criterion.name))
                    })
                });
                if !complete {
                    return Err(Error::Panel(format!(
                        "item {n}: score every answer on every criterion before saving"
                    )));
                }
                RawRating {
                    n,
                    choice: None,
                    scores: Some(given.scores.clone()),
                    reason: given.reason.clone(),
                    rated_at: None,
                }
            }
        };
        let rows = rating_rows(&loaded, row, shown, &[raw])?;
        self.store().save_ratings(&rows)?;
        self.item_view(&loaded, packet, n)
    }

    /// The leaderboard of `session`'s newest panel that has ratings; `None` when none has.
    pub fn session_leaderboard(&self, session: &str) -> Result<Option<Leaderboard>> {
        let Some(status) = self
            .list_panels(Some(session))?
            .into_iter()
            .find(|status| status.raters.iter().any(|rater| rater.rated > 0))
        else {
            return Ok(None);
        };
        let results = self.panel_results(&status.id)?;
        let rows = results
            .targets
            .iter()
            .map(|target| LeaderboardRow {
                rank: target.rank.map(|rank| rank as u32),
                target: target.target.clone(),
                comparisons: target.comparisons,
                wins: target.wins,
                ties: target.ties,
                losses: target.losses,
                win_rate: target.win_rate.map(|estimate| estimate.value),
                win_rate_lower: target.win_rate.map(|estimate| estimate.interval.lower),
                win_rate_upper: target.win_rate.map(|estimate| estimate.interval.upper),
                strength: target.strength,
                strength_lower: target.strength_interval.map(|interval| interval.lower),
                strength_upper: target.strength_interval.map(|interval| interval.upper),
                mean_score: target.mean_score,
            })
            .collect();
        Ok(Some(Leaderboard {
            panel_id: status.id,
            title: status.title,
            kind: results.kind,
            items: results.items,
            raters: status
                .raters
                .into_iter()
                .filter(|rater| rater.rated > 0)
                .map(|rater| rater.rater)
                .collect(),
            ratings: results.ratings,
            rows,
            alpha: results.agreement.alpha,
            alpha_level: results.agreement.level.to_owned(),
            alpha_reading: results
                .agreement
                .alpha
                .map(|alpha| panel::alpha_reading(alpha).to_owned()),
            units: results.agreement.units,
            agreement_note: results.agreement.note,
            position_bias: results.position_bias.map(|bias| PositionNote {
                share: bias.share,
                lower: bias.interval.lower,
                upper: bias.interval.upper,
                decided: bias.decided,
                p_value: bias.p_value,
                biased: bias.p_value < 0.05,
            }),
            notes: results.notes,
        }))
    }

    /// Adds `rater` to `loaded` (stored, and in `loaded.packets`); their index there.
    fn add_packet(&self, loaded: &mut LoadedPanel, rater: &str) -> Result<usize> {
        let mut names: Vec<String> = loaded.packets.iter().map(|(row, _)| row.rater.clone()).collect();
        names.push(rater.to_owned());
        let name = check_raters(&names)?.pop().unwrap_or_default();
        let first = loaded
            .packets
            .first()
            .ok_or_else(|| damaged("packets", &loaded.row.id, "it has no rater"))?;
        let rater_index = loaded
            .packets
            .iter()
            .map(|(row, _)| row.rater_index + 1)
            .max()
            .unwrap_or(0);
        let shown = panel::add_rater(&loaded.items, &first.1, rater_index as usize, loaded.row.seed)
            .map_err(|error| damaged("packets", &loaded.row.id, error))?;
        let row = PacketRow {
            id: panel::new_id().map_err(Error::Panel)?,
            panel_id: loaded.row.id.clone(),
            rater_index,
            rater: name,
            token: panel::new_token().map_err(Error::Panel)?,
            shown_json: serde_json::to_string(&shown).map_err(|error| Error::Panel(error.to_string()))?,
        };
        self.store().insert_packet(&row)?;
        loaded.packets.push((row, shown));
        Ok(loaded.packets.len() - 1)
    }

    /// The items (panel item indices) the rater of `packet` has rated, with their ratings.
    fn rated_items(&self, loaded: &LoadedPanel, packet: usize) -> Result<BTreeMap<u32, RatingRow>> {
        let id = &loaded.packets[packet].0.id;
        Ok(self
            .store()
            .panel_ratings(&loaded.row.id)?
            .into_iter()
            .filter(|row| &row.packet_id == id)
            .map(|row| (row.item_index, row))
            .collect())
    }

    fn item_view(&self, loaded: &LoadedPanel, packet: usize, n: u32) -> Result<RatingItem> {
        let (row, shown) = &loaded.packets[packet];
        let view = n
            .checked_sub(1)
            .and_then(|position| shown.get(position as usize))
            .ok_or_else(|| {
                Error::Panel(format!(
                    "panel {}: '{}' has items 1 to {}, not {n}",
                    loaded.row.id,
                    row.rater,
                    shown.len()
                ))
            })?;
        let item = loaded.items.get(view.item as usize).ok_or_else(|| {
            damaged(
                "packets",
                &loaded.row.id,
                format!("item {} is not planned", view.item + 1),
            )
        })?;
        let session = self.load_session_header(&loaded.row.session_id.to_string())?;
        let prompt = session
            .suite
            .suite
            .cases()
            .get(item.case_index as usize)
            .map(|case| packet_prompt(&case.prompt))
            .ok_or_else(|| {
                damaged(
                    "items",
                    &loaded.row.id,
                    format!("test {} is not in the suite", item.case_index + 1),
                )
            })?;
        let texts = self.answer_texts(loaded.row.session_id, std::slice::from_ref(item))?;
        let answers = view
            .order
            .iter()
            .enumerate()
            .map(|(position, &answer)| {
                let target = item.answers.get(answer as usize).map(|answer| answer.target_index);
                PacketAnswer {
                    label: panel::label(loaded.kind, position),
                    text: target
                        .and_then(|target| texts.get(&(item.case_index, target)).cloned())
                        .unwrap_or_default(),
                }
            })
            .collect();
        let rated = self.rated_items(loaded, packet)?;
        let given = rated
            .get(&view.item)
            .map(|rating| given_rating(loaded.kind, view, rating))
            .transpose()
            .map_err(|error| damaged("ratings", &loaded.row.id, error))?;
        Ok(RatingItem {
            panel_id: loaded.row.id.clone(),
            rater: row.rater.clone(),
            kind: loaded.kind,
            title: loaded.row.title.clone(),
            criteria: loaded
                .criteria
                .iter()
                .map(|criterion| RatingCriterion {
                    name: criterion.name.clone(),
                    description: criterion.description.clone(),
                })
                .collect(),
            n,
            items: shown.len() as u32,
            rated: rated.len() as u32,
            next_unrated: first_unrated(shown, &rated),
            prompt,
            answers,
            given,
        })
    }
}

fn packet_of(loaded: &LoadedPanel, rater: &str) -> Option<usize> {
    let rater = rater.trim();
    loaded.packets.iter().position(|(row, _)| row.rater == rater)
}

fn known_packet(loaded: &LoadedPanel, rater: &str) -> Result<usize> {
    packet_of(loaded, rater).ok_or_else(|| {
        Error::Panel(format!(
            "panel {} has no rater '{}': join it first",
            loaded.row.id,
            rater.trim()
        ))
    })
}

fn first_unrated(shown: &[Shown], rated: &BTreeMap<u32, RatingRow>) -> Option<u32> {
    shown
        .iter()
        .position(|view| !rated.contains_key(&view.item))
        .map(|position| position as u32 + 1)
}

/// A stored rating in the labels of the rater's view of its item.
fn given_rating(kind: PanelKind, view: &Shown, rating: &RatingRow) -> std::result::Result<GivenRating, String> {
    let label_of = |answer: u32| {
        view.order
            .iter()
            .position(|&shown| shown == answer)
            .ok_or_else(|| format!("answer {answer} is not shown"))
    };
    let mut given = GivenRating {
        reason: rating.reason.clone(),
        ..GivenRating::default()
    };
    match kind {
        PanelKind::Pairwise => {
            given.choice = Some(match rating.winner {
                None => Choice::Tie,
                Some(winner) => match label_of(winner)? {
                    0 => Choice::A,
                    _ => Choice::B,
                },
            });
        }
        PanelKind::Rubric => {
            let triples: Vec<(u32, String, u8)> = serde_json::from_str(rating.scores_json.as_deref().unwrap_or("[]"))
                .map_err(|error| error.to_string())?;
            for (answer, criterion, score) in triples {
                let label = (label_of(answer)? + 1).to_string();
                given.scores.entry(label).or_default().insert(criterion, score);
            }
        }
    }
    Ok(given)
}
