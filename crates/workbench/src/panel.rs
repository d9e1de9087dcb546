//! Blind panels for every host: create one from a session (its items planned and one packet per
//! rater rendered), write the packets again, import the ratings files raters send back, and show
//! progress and results.
//!
//! A panel's answer of a (test, target) is the target's answer with the lowest repeat that
//! completed with text; tests where a compared target has none are left out of its pairs. The
//! packets hold what raters see and nothing else: the mapping from labels to targets stays in the
//! database.

use std::collections::{BTreeMap, HashMap};

use modelbench_engine::judge::{JudgeMode, PairOutcome as JudgedOutcome};
use modelbench_engine::panel::{
    self, AnswerRef, Criterion, JudgedScore, JudgedVerdict, PacketAnswer, PacketContent, PacketItem, PacketPrompt,
    PacketTurn, PanelKind, PanelResults, PlanInput, RATINGS_FORMAT, Rating, RawRating, ResultsInput, Shown,
};
use modelbench_engine::record::now_unix_ms;
use modelbench_engine::store::{PacketRow, PanelItemRow, PanelRow, RatingRow};
use modelbench_engine::{Prompt, RunId};
use serde::Serialize;
use ts_rs::TS;

use crate::Workbench;
use crate::error::{Error, Result};

pub mod rate;

/// What panel to create.
#[derive(Clone, Debug)]
pub struct PanelRequest {
    /// A session id or a unique prefix of one.
    pub session: String,
    pub kind: PanelKind,
    /// The rubric's criteria (rubric panels; ignored for pairwise).
    pub criteria: Vec<Criterion>,
    /// One packet per rater, in this order. Names are unique.
    pub raters: Vec<String>,
    /// Items per rater (`None`: every item).
    pub items_per_rater: Option<usize>,
    /// The targets to compare, by name (empty: all of the session's).
    pub targets: Vec<String>,
    /// The tests to draw from, by test id or case id (empty: all).
    pub tests: Vec<String>,
    /// The seed of the item choice, orders and positions (`None`: the session's seed).
    pub seed: Option<u64>,
    /// The packets' heading (`None`: "Blind rating: SUITE NAME").
    pub title: Option<String>,
}

/// One rater's packet, ready to write.
#[derive(Clone, Debug, Serialize)]
pub struct Packet {
    pub rater: String,
    /// A file name that names the rater only: `panel-<first 8 of the panel id>-<rater>.html`.
    pub file_name: String,
    #[serde(skip)]
    pub html: String,
}

/// A created panel.
#[derive(Clone, Debug, Serialize)]
pub struct CreatedPanel {
    pub id: String,
    pub session_id: RunId,
    pub kind: PanelKind,
    pub items: usize,
    pub packets: Vec<Packet>,
}

/// What an import stored.
#[derive(Clone, Debug, Serialize)]
pub struct ImportedRatings {
    pub panel_id: String,
    pub rater: String,
    /// Ratings in the file (each replaces an earlier import of the same item).
    pub ratings: usize,
    /// Items of this rater's packet rated so far, after this import.
    pub rated: usize,
    pub items: usize,
}

/// A rater's progress.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct RaterProgress {
    pub rater: String,
    pub rated: usize,
    pub items: usize,
    /// When their latest ratings were imported (ms since the epoch), if ever.
    pub last_import_ms: Option<i64>,
}

/// `panel status`.
#[derive(Clone, Debug, Serialize, TS)]
#[ts(export)]
pub struct PanelStatus {
    pub id: String,
    pub session_id: RunId,
    pub kind: PanelKind,
    pub title: String,
    pub created_at_ms: i64,
    pub items: usize,
    pub raters: Vec<RaterProgress>,
}

/// A stored panel, parsed.
pub struct LoadedPanel {
    pub row: PanelRow,
    pub kind: PanelKind,
    pub criteria: Vec<Criterion>,
    /// The compared targets, as the session's target indices.
    pub targets: Vec<u32>,
    pub items: Vec<panel::Item>,
    pub packets: Vec<(PacketRow, Vec<Shown>)>,
}

fn damaged(what: &str, id: &str, error: impl std::fmt::Display) -> Error {
    Error::Panel(format!(
        "panel {id}: its {what} is damaged ({error}); delete the panel and create it again"
    ))
}

/// A file-name-safe form of a rater's name.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn packet_prompt(prompt: &Prompt) -> PacketPrompt {
    PacketPrompt {
        system: prompt.system.clone(),
        messages: prompt
            .messages
            .iter()
            .map(|message| PacketTurn {
                role: message.role.as_str().to_owned(),
                content: message.content.clone(),
            })
            .collect(),
    }
}

fn check_raters(raters: &[String]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let mut files: HashMap<String, String> = HashMap::new();
    for rater in raters {
        let name = rater.trim().to_owned();
        if name.is_empty() {
            return Err(Error::Panel("a rater's name is empty".to_owned()));
        }
        if name.chars().count() > 80 {
            return Err(Error::Panel(format!(
                "rater name '{name}' is longer than 80 characters"
            )));
        }
        if let Some(other) = files.insert(file_safe(&name).to_lowercase(), name.clone()) {
            return Err(Error::Panel(if other == name {
                format!("rater '{name}' is named twice")
            } else {
                format!("raters '{other}' and '{name}' would get the same packet file name: rename one")
            }));
        }
        names.push(name);
    }
    if names.is_empty() {
        return Err(Error::Panel(
            "a panel needs at least one rater (--raters alice,bob)".to_owned(),
        ));
    }
    Ok(names)
}

impl Workbench {
    /// Plans a panel over a stored session, stores it and renders one packet per rater.
    pub fn create_panel(&self, request: &PanelRequest) -> Result<CreatedPanel> {
        let raters = check_raters(&request.raters)?;
        let session = self.load_session_header(&request.session)?;
        let record = &session.run.record;
        let target_indices: Vec<u32> = if request.targets.is_empty() {
            (0..record.targets.len() as u32).collect()
        } else {
            let mut indices = Vec::new();
            for name in &request.targets {
                let index = record
                    .targets
                    .iter()
                    .position(|target| &target.name == name)
                    .ok_or_else(|| Error::NoSuchTarget {
                        run_id: session.row.id,
                        name: name.clone(),
                        known: record.targets.iter().map(|target| target.name.clone()).collect(),
                    })?;
                if !indices.contains(&(index as u32)) {
                    indices.push(index as u32);
                }
            }
            indices.sort_unstable();
            indices
        };
        let cases = session.suite.suite.cases();
        let case_indices: Vec<u32> = if request.tests.is_empty() {
            (0..cases.len() as u32).collect()
        } else {
            let mut indices = Vec::new();
            for wanted in &request.tests {
                let matching: Vec<u32> = cases
                    .iter()
                    .enumerate()
                    .filter(|(_, case)| &case.case_id == wanted || &case.test_id == wanted)
                    .map(|(index, _)| index as u32)
                    .collect();
                if matching.is_empty() {
                    return Err(Error::Panel(format!("the session's suite has no test '{wanted}'")));
                }
                indices.extend(matching);
            }
            indices.sort_unstable();
            indices.dedup();
            indices
        };
        let criteria = match request.kind {
            PanelKind::Pairwise => Vec::new(),
            PanelKind::Rubric if request.criteria.is_empty() => vec![Criterion {
                name: "overall".to_owned(),
                description: "how good the answer is overall".to_owned(),
            }],
            PanelKind::Rubric => request.criteria.clone(),
        };
        // The answer each (case, target) shows: the lowest repeat that completed with text.
        let wanted_targets: std::collections::HashSet<u32> = target_indices.iter().copied().collect();
        let mut answers: HashMap<(u32, u32), (u32, String)> = HashMap::new();
        self.store().load_run_visiting(session.row.id, &mut |response| {
            let key = response.key;
            if response.complete
                && response.error.is_none()
                && !response.text.trim().is_empty()
                && wanted_targets.contains(&key.target_index)
            {
                let slot = (key.prompt_index, key.target_index);
                if answers.get(&slot).is_none_or(|(repeat, _)| key.repeat_index < *repeat) {
                    answers.insert(slot, (key.repeat_index, response.text));
                }
            }
            Ok(())
        })?;
        let seed = request.seed.unwrap_or(session.options.seed);
        let answer_of = |case: u32, target: u32| {
            answers.get(&(case, target)).map(|(repeat, _)| AnswerRef {
                target_index: target,
                repeat_index: *repeat,
            })
        };
        let plan = panel::plan(&PlanInput {
            kind: request.kind,
            cases: &case_indices,
            targets: &target_indices,
            answer: &answer_of,
            raters: raters.len(),
            items_per_rater: request.items_per_rater,
            seed,
        })
        .map_err(|error| Error::Panel(format!("session {}: {error}", session.row.id)))?;

        let id = panel::new_id().map_err(Error::Panel)?;
        let title = request
            .title
            .clone()
            .unwrap_or_else(|| format!("Blind rating: {}", session.suite.suite.name));
        let row = PanelRow {
            id: id.clone(),
            session_id: session.row.id,
            kind: request.kind.as_str().to_owned(),
            criteria_json: serde_json::to_string(&criteria).map_err(|error| Error::Panel(error.to_string()))?,
            target_indices_json: serde_json::to_string(&target_indices)
                .map_err(|error| Error::Panel(error.to_string()))?,
            seed,
            title: title.clone(),
            created_at_ms: now_unix_ms(),
        };
        let item_rows: Vec<PanelItemRow> = plan
            .items
            .iter()
            .map(|item| {
                Ok(PanelItemRow {
                    item_index: item.index,
                    case_index: item.case_index,
                    answers_json: serde_json::to_string(&item.answers)
                        .map_err(|error| Error::Panel(error.to_string()))?,
                })
            })
            .collect::<Result<_>>()?;
        let mut packet_rows = Vec::with_capacity(raters.len());
        for (rater_index, (rater, shown)) in raters.iter().zip(&plan.packets).enumerate() {
            packet_rows.push(PacketRow {
                id: panel::new_id().map_err(Error::Panel)?,
                panel_id: id.clone(),
                rater_index: rater_index as u32,
                rater: rater.clone(),
                token: panel::new_token().map_err(Error::Panel)?,
                shown_json: serde_json::to_string(shown).map_err(|error| Error::Panel(error.to_string()))?,
            });
        }
        self.store().insert_panel(&row, &item_rows, &packet_rows)?;
        let texts: HashMap<(u32, u32), String> = answers
            .into_iter()
            .map(|(slot, (_, text))| (slot, panel::normalise_answer(&text)))
            .collect();
        let loaded = LoadedPanel {
            row,
            kind: request.kind,
            criteria,
            targets: target_indices,
            items: plan.items,
            packets: packet_rows.into_iter().zip(plan.packets).collect(),
        };
        let packets = render_packets(&loaded, cases, &texts);
        Ok(CreatedPanel {
            id,
            session_id: session.row.id,
            kind: request.kind,
            items: loaded.items.len(),
            packets,
        })
    }

    /// A stored panel with its items and packets.
    pub fn load_panel(&self, id: &str) -> Result<LoadedPanel> {
        let row = self
            .store()
            .find_panel(id)?
            .ok_or_else(|| Error::Panel(format!("no panel '{id}'")))?;
        let kind = PanelKind::parse(&row.kind).ok_or_else(|| damaged("kind", &row.id, &row.kind))?;
        let criteria: Vec<Criterion> =
            serde_json::from_str(&row.criteria_json).map_err(|error| damaged("criteria", &row.id, error))?;
        let targets: Vec<u32> =
            serde_json::from_str(&row.target_indices_json).map_err(|error| damaged("targets", &row.id, error))?;
        let items = self
            .store()
            .panel_items(&row.id)?
            .into_iter()
            .map(|item| {
                Ok(panel::Item {
                    index: item.item_index,
                    case_index: item.case_index,
                    answers: serde_json::from_str(&item.answers_json)
                        .map_err(|error| damaged("items", &row.id, error))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let packets = self
            .store()
            .panel_packets(&row.id)?
            .into_iter()
            .map(|packet| {
                let shown: Vec<Shown> =
                    serde_json::from_str(&packet.shown_json).map_err(|error| damaged("packets", &row.id, error))?;
                Ok((packet, shown))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LoadedPanel {
            row,
            kind,
            criteria,
            targets,
            items,
            packets,
        })
    }

    /// The packets of a stored panel, rendered again (the same content as when it was created).
    pub fn panel_packets(&self, id: &str) -> Result<Vec<Packet>> {
        let loaded = self.load_panel(id)?;
        let session = self.load_session_header(&loaded.row.session_id.to_string())?;
        let texts = self.answer_texts(loaded.row.session_id, &loaded.items)?;
        Ok(render_packets(&loaded, session.suite.suite.cases(), &texts))
    }

    /// The normalised texts of `items`' answers, by (case, target).
    fn answer_texts(&self, session_id: RunId, items: &[panel::Item]) -> Result<HashMap<(u32, u32), String>> {
        let wanted: HashMap<(u32, u32), u32> = items
            .iter()
            .flat_map(|item| {
                item.answers
                    .iter()
                    .map(move |answer| ((item.case_index, answer.target_index), answer.repeat_index))
            })
            .collect();
        let mut texts: HashMap<(u32, u32), String> = HashMap::new();
        self.store().load_run_visiting(session_id, &mut |response| {
            let slot = (response.key.prompt_index, response.key.target_index);
            if wanted.get(&slot) == Some(&response.key.repeat_index) {
                texts.insert(slot, panel::normalise_answer(&response.text));
            }
            Ok(())
        })?;
        Ok(texts)
    }

    /// Checks a ratings file against its packet (signature, panel, rater, item numbers, values)
    /// and stores its ratings. Nothing is stored unless the whole file is good.
    pub fn import_ratings(&self, text: &str) -> Result<ImportedRatings> {
        let (file, payload) = panel::read_ratings(text).map_err(Error::Panel)?;
        let packet = self.store().find_packet(&payload.packet)?.ok_or_else(|| {
            Error::Panel(format!(
                "the ratings file is for packet {}, which this database does not know (was the panel created with another data dir?)",
                payload.packet
            ))
        })?;
        if !panel::verify(&file.payload, &file.signature, &packet.token) {
            return Err(Error::Panel(format!(
                "the ratings file's signature does not match packet {} (rater '{}'): the file was edited, or it comes from another packet",
                packet.id, packet.rater
            )));
        }
        let loaded = self.load_panel(&packet.panel_id)?;
        if payload.panel != loaded.row.id || payload.rater != packet.rater || payload.kind != loaded.kind {
            return Err(Error::Panel(format!(
                "the ratings file says panel {}, rater '{}', {}; its packet is panel {}, rater '{}', {}",
                payload.panel,
                payload.rater,
                payload.kind.as_str(),
                loaded.row.id,
                packet.rater,
                loaded.kind.as_str()
            )));
        }
        let shown = &loaded
            .packets
            .iter()
            .find(|(row, _)| row.id == packet.id)
            .ok_or_else(|| {
                Error::Panel(format!(
                    "panel {}: packet {} is not among its packets",
                    loaded.row.id, packet.id
                ))
            })?
            .1;
        let rows = rating_rows(&loaded, &packet, shown, &payload.ratings)?;
        self.store().save_ratings(&rows)?;
        let rated = self
            .store()
            .panel_ratings(&loaded.row.id)?
            .iter()
            .filter(|row| row.packet_id == packet.id)
            .count();
        Ok(ImportedRatings {
            panel_id: loaded.row.id.clone(),
            rater: packet.rater.clone(),
            ratings: rows.len(),
            rated,
            items: shown.len(),
        })
    }

    /// Progress per rater.
    pub fn panel_status(&self, id: &str) -> Result<PanelStatus> {
        let loaded = self.load_panel(id)?;
        let ratings = self.store().panel_ratings(&loaded.row.id)?;
        let raters = loaded
            .packets
            .iter()
            .map(|(packet, shown)| {
                let own: Vec<&RatingRow> = ratings.iter().filter(|row| row.packet_id == packet.id).collect();
                RaterProgress {
                    rater: packet.rater.clone(),
                    rated: own.len(),
                    items: shown.len(),
                    last_import_ms: own.iter().map(|row| row.imported_at_ms).max(),
                }
            })
            .collect();
        Ok(PanelStatus {
            id: loaded.row.id.clone(),
            session_id: loaded.row.session_id,
            kind: loaded.kind,
            title: loaded.row.title.clone(),
            created_at_ms: loaded.row.created_at_ms,
            items: loaded.items.len(),
            raters,
        })
    }

    /// What a panel's ratings say (`panel show`).
    pub fn panel_results(&self, id: &str) -> Result<PanelResults> {
        let loaded = self.load_panel(id)?;
        let session = self.load_session_header(&loaded.row.session_id.to_string())?;
        let names: Vec<String> = loaded
            .targets
            .iter()
            .map(|&index| {
                session
                    .run
                    .record
                    .targets
                    .get(index as usize)
                    .map_or_else(|| format!("target {}", index + 1), |target| target.name.clone())
            })
            .collect();
        let raters: Vec<String> = loaded.packets.iter().map(|(packet, _)| packet.rater.clone()).collect();
        let ratings = self
            .store()
            .panel_ratings(&loaded.row.id)?
            .into_iter()
            .filter_map(|row| {
                let rater = loaded
                    .packets
                    .iter()
                    .position(|(packet, _)| packet.id == row.packet_id)?;
                Some((rater, row))
            })
            .map(|(rater, row)| {
                let scores: Vec<(u32, String, u8)> = match &row.scores_json {
                    Some(json) => {
                        serde_json::from_str(json).map_err(|error| damaged("ratings", &loaded.row.id, error))?
                    }
                    None => Vec::new(),
                };
                Ok(Rating {
                    rater,
                    item: row.item_index,
                    winner: row.winner,
                    first_shown: row.first_shown,
                    scores,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut results = panel::results(&ResultsInput {
            kind: loaded.kind,
            criteria: &loaded.criteria,
            target_names: &names,
            targets: &loaded.targets,
            items: &loaded.items,
            raters: &raters,
            ratings: &ratings,
            seed: loaded.row.seed,
        });
        for judged in self.judge_results(&loaded.row.session_id.to_string())? {
            if judged.mode == JudgeMode::Rubric && loaded.kind == PanelKind::Rubric {
                let scores: Vec<JudgedScore> = judged
                    .scores
                    .iter()
                    .flat_map(|scored| {
                        scored.scores.iter().map(|(criterion, score)| {
                            (scored.case_index, scored.target_index, criterion.clone(), *score)
                        })
                    })
                    .collect();
                results.judges.push(panel::rubric_judge_agreement(
                    &judged.judge,
                    &loaded.items,
                    &ratings,
                    &scores,
                ));
            }
            if judged.mode == JudgeMode::Pairwise && loaded.kind == PanelKind::Pairwise {
                let verdicts: Vec<JudgedVerdict> = judged
                    .pairs
                    .iter()
                    .filter_map(|pair| {
                        let verdict = match pair.outcome {
                            JudgedOutcome::FirstWins => 0,
                            JudgedOutcome::SecondWins => 1,
                            JudgedOutcome::Tie => 2,
                            JudgedOutcome::Unparsed => return None,
                        };
                        Some((pair.case_index, pair.first, pair.second, verdict))
                    })
                    .collect();
                results.judges.push(panel::judge_agreement(
                    &judged.judge,
                    &loaded.items,
                    &ratings,
                    &verdicts,
                ));
            }
        }
        Ok(results)
    }

    /// Panels, newest first (of one session when given).
    pub fn list_panels(&self, session: Option<&str>) -> Result<Vec<PanelStatus>> {
        let session_id = match session {
            Some(text) => Some(
                self.store()
                    .find_session(text)?
                    .ok_or_else(|| Error::Session(format!("no session '{text}'")))?
                    .id,
            ),
            None => None,
        };
        self.store()
            .list_panels(session_id)?
            .iter()
            .map(|row| self.panel_status(&row.id))
            .collect()
    }
}

/// The rows `ratings` of `packet` (whose items are `shown`) store: each checked against the
/// packet (item numbers, A/B/tie, labels, criteria, 1–5) and put in the items' terms. A ratings
/// file's import and a rating given in the app both come through here, so they count alike.
fn rating_rows(
    loaded: &LoadedPanel,
    packet: &PacketRow,
    shown: &[Shown],
    ratings: &[RawRating],
) -> Result<Vec<RatingRow>> {
    let imported_at_ms = now_unix_ms();
    let mut rows: BTreeMap<u32, RatingRow> = BTreeMap::new();
    for rating in ratings {
        let at = |problem: String| {
            Error::Panel(format!(
                "ratings file of '{}', item {}: {problem}",
                packet.rater, rating.n
            ))
        };
        let Some(view) = rating
            .n
            .checked_sub(1)
            .and_then(|position| shown.get(position as usize))
        else {
            return Err(at(format!("the packet has items 1 to {}", shown.len())));
        };
        let first_shown = view.order.first().copied().unwrap_or(0);
        let (winner, scores_json) = match loaded.kind {
            PanelKind::Pairwise => {
                let choice = rating.choice.as_deref().map(str::to_ascii_lowercase);
                let shown_as = |label: usize| {
                    view.order.get(label).copied().map(Some).ok_or_else(|| {
                        damaged(
                            "packets",
                            &loaded.row.id,
                            format!("item {} shows fewer than two answers", rating.n),
                        )
                    })
                };
                let winner = match choice.as_deref() {
                    Some("a") => shown_as(0)?,
                    Some("b") => shown_as(1)?,
                    Some("tie") => None,
                    other => return Err(at(format!("choice {other:?} is not A, B or tie"))),
                };
                (winner, None)
            }
            PanelKind::Rubric => {
                let scores = rating.scores.as_ref().ok_or_else(|| at("no scores".to_owned()))?;
                let mut triples: Vec<(u32, String, u8)> = Vec::new();
                for (label, by_criterion) in scores {
                    let position = label
                        .parse::<usize>()
                        .ok()
                        .and_then(|number| number.checked_sub(1))
                        .filter(|position| *position < view.order.len())
                        .ok_or_else(|| at(format!("answer '{label}' is not one of 1 to {}", view.order.len())))?;
                    for (criterion, score) in by_criterion {
                        if !loaded.criteria.iter().any(|known| &known.name == criterion) {
                            return Err(at(format!("'{criterion}' is not one of the panel's criteria")));
                        }
                        if !(1..=5).contains(score) {
                            return Err(at(format!("score {score} for '{criterion}' is not 1 to 5")));
                        }
                        triples.push((view.order[position], criterion.clone(), *score));
                    }
                }
                (
                    None,
                    Some(serde_json::to_string(&triples).map_err(|error| Error::Panel(error.to_string()))?),
                )
            }
        };
        rows.insert(
            view.item,
            RatingRow {
                packet_id: packet.id.clone(),
                item_index: view.item,
                winner,
                first_shown,
                scores_json,
                reason: rating.reason.clone().filter(|reason| !reason.trim().is_empty()),
                rated_at: rating.rated_at.clone(),
                imported_at_ms,
            },
        );
    }
    Ok(rows.into_values().collect())
}

/// Every rater's packet of `loaded`, from the cases and the normalised answer texts.
fn render_packets(
    loaded: &LoadedPanel,
    cases: &[modelbench_engine::suite::Case],
    texts: &HashMap<(u32, u32), String>,
) -> Vec<Packet> {
    let short: String = loaded.row.id.chars().take(8).collect();
    loaded
        .packets
        .iter()
        .map(|(packet, shown)| {
            let items = shown
                .iter()
                .enumerate()
                .filter_map(|(position, view)| Some((position, view, loaded.items.get(view.item as usize)?)))
                .map(|(position, view, item)| {
                    let prompt = cases
                        .get(item.case_index as usize)
                        .map(|case| packet_prompt(&case.prompt))
                        .unwrap_or(PacketPrompt {
                            system: None,
                            messages: Vec::new(),
                        });
                    let answers = view
                        .order
                        .iter()
                        .enumerate()
                        .map(|(label_position, &answer)| {
                            let target = item.answers[answer as usize].target_index;
                            PacketAnswer {
                                label: panel::label(loaded.kind, label_position),
                                text: texts.get(&(item.case_index, target)).cloned().unwrap_or_default(),
                            }
                        })
                        .collect();
                    PacketItem {
                        n: position as u32 + 1,
                        prompt,
                        answers,
                    }
                })
                .collect();
            let content = PacketContent {
                format: RATINGS_FORMAT.to_owned(),
                panel: loaded.row.id.clone(),
                packet: packet.id.clone(),
                rater: packet.rater.clone(),
                kind: loaded.kind,
                criteria: loaded.criteria.clone(),
                title: loaded.row.title.clone(),
                token: packet.token.clone(),
                items,
            };
            Packet {
                rater: packet.rater.clone(),
                file_name: format!("panel-{short}-{}.html", file_safe(&packet.rater)),
                html: panel::render_packet(&content),
            }
        })
        .collect()
}
