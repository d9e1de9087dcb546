//! `modelbench panel`: blind human panels over a session's answers. `create` writes one rating
//! packet per rater (a self-contained HTML file to send them), `import` reads the ratings files
//! they send back, `status` shows who has rated what, `show` the results.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use modelbench_engine::credentials::KeychainCredentials;
use modelbench_engine::keychain::Keychain;
use modelbench_engine::panel::{self, PanelKind, parse_criteria};
use modelbench_engine::store::Store;
use modelbench_workbench::Workbench;
use modelbench_workbench::panel::{Packet, PanelRequest, PanelStatus};

use crate::database;
use crate::output::format_time;
use crate::terminal;

#[derive(Subcommand)]
pub enum PanelCommand {
    /// Plan a blind panel over a session and write one rating packet per rater.
    Create(CreateArgs),
    /// Write a panel's packets again (the same content as when it was created).
    Packets {
        id: String,
        /// The folder to write them to (created if missing; default: the current folder).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check and store the ratings files raters sent back (signature, packet, items).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Each rater's progress (every panel when no id is given).
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// What the ratings say: win rates, a Bradley-Terry ranking with intervals, agreement.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Panels, newest first.
    List {
        /// Only the panels of this session.
        #[arg(long)]
        session: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["pairwise", "rubric"])))]
pub struct CreateArgs {
    /// The session (its id or a unique prefix).
    session: String,
    /// Two answers per item: A, B or a tie, with an optional reason.
    #[arg(long)]
    pairwise: bool,
    /// Every answer of a test scored 1–5 per criterion: criteria as `accuracy,clarity`, or a
    /// rubric file with one `name: description` per line (alone: one `overall` criterion).
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "CRITERIA|FILE")]
    rubric: Option<String>,
    /// The raters, one packet each: `--raters alice,bob,carol`.
    #[arg(long, value_delimiter = ',', required = true)]
    raters: Vec<String>,
    /// Items per rater (every rater gets the same items, in their own order; default: all).
    #[arg(long)]
    items: Option<usize>,
    /// Only these targets (by name; repeatable; default: all of the session's).
    #[arg(long = "target")]
    targets: Vec<String>,
    /// Only these tests (by id; repeatable; default: all).
    #[arg(long = "test")]
    tests: Vec<String>,
    /// The seed of the item choice, orders and positions (default: the session's).
    #[arg(long)]
    seed: Option<u64>,
    /// The packets' heading.
    #[arg(long)]
    title: Option<String>,
    /// The folder to write the packets to (created if missing; default: the current folder).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn workbench(store: &Arc<Store>) -> Result<Workbench> {
    Ok(Workbench::new(
        store.clone(),
        Arc::new(KeychainCredentials::new(Keychain::os())),
    )?)
}

pub async fn run(data_dir: Option<&Path>, command: PanelCommand) -> Result<ExitCode> {
    let store = Arc::new(database::open(data_dir)?);
    let workbench = workbench(&store)?;
    let result = match command {
        PanelCommand::Create(args) => create(&workbench, args),
        PanelCommand::Packets { id, output } => {
            let packets = workbench.panel_packets(&id)?;
            for path in write_packets(output.as_deref(), &packets)? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        PanelCommand::Import { files, json } => import(&workbench, &files, json),
        PanelCommand::Status { id, json } => {
            let panels = match id {
                Some(id) => vec![workbench.panel_status(&id)?],
                None => workbench.list_panels(None)?,
            };
            print_status(&panels, json)
        }
        PanelCommand::Show { id, json } => {
            let results = workbench.panel_results(&id)?;
            let status = workbench.panel_status(&id)?;
            print_results(&mut terminal::stdout().lock(), &status, &results, json)?;
            Ok(ExitCode::SUCCESS)
        }
        PanelCommand::List { session, json } => print_status(&workbench.list_panels(session.as_deref())?, json),
    };
    store.checkpoint();
    result
}

fn create(workbench: &Workbench, args: CreateArgs) -> Result<ExitCode> {
    let (kind, criteria) = match &args.rubric {
        None => (PanelKind::Pairwise, Vec::new()),
        Some(text) if text.trim().is_empty() => (PanelKind::Rubric, Vec::new()),
        Some(text) => {
            let path = Path::new(text);
            let rubric = if path.is_file() {
                std::fs::read_to_string(path).with_context(|| format!("cannot read the rubric {}", path.display()))?
            } else {
                text.clone()
            };
            let criteria = parse_criteria(&rubric).map_err(|error| anyhow::anyhow!("--rubric: {error}"))?;
            (PanelKind::Rubric, criteria)
        }
    };
    let created = workbench.create_panel(&PanelRequest {
        session: args.session,
        kind,
        criteria,
        raters: args.raters,
        items_per_rater: args.items,
        targets: args.targets,
        tests: args.tests,
        seed: args.seed,
        title: args.title,
    })?;
    let paths = write_packets(args.output.as_deref(), &created.packets)?;
    if args.json {
        let packets: Vec<serde_json::Value> = created
            .packets
            .iter()
            .zip(&paths)
            .map(|(packet, path)| serde_json::json!({"rater": packet.rater, "path": path}))
            .collect();
        let value = serde_json::json!({
            "id": created.id, "session_id": created.session_id, "kind": created.kind,
            "items": created.items, "packets": packets,
        });
        writeln!(terminal::stdout().lock(), "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        let mut out = terminal::stdout().lock();
        writeln!(
            out,
            "panel {} ({}): {} item(s) per rater, from session {}",
            created.id,
            created.kind.as_str(),
            created.items,
            created.session_id
        )?;
        for (packet, path) in created.packets.iter().zip(&paths) {
            writeln!(out, "  {:<16} {}", packet.rater, path.display())?;
        }
        writeln!(
            out,
            "Send each rater their file; it opens in any browser, offline. Import what they send back with `modelbench panel import FILE…`."
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_packets(folder: Option<&Path>, packets: &[Packet]) -> Result<Vec<PathBuf>> {
    let folder = folder.unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
    packets
        .iter()
        .map(|packet| {
            let path = folder.join(&packet.file_name);
            std::fs::write(&path, &packet.html).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

fn import(workbench: &Workbench, files: &[PathBuf], json: bool) -> Result<ExitCode> {
    let mut imported = Vec::new();
    let mut failed = 0;
    for path in files {
        let result = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))
            .and_then(|text| Ok(workbench.import_ratings(&text)?));
        match result {
            Ok(done) => {
                if !json {
                    println!(
                        "{}: {} rating(s) from {} stored; {} of {} item(s) rated",
                        path.display(),
                        done.ratings,
                        done.rater,
                        done.rated,
                        done.items
                    );
                }
                imported.push(done);
            }
            Err(error) => {
                failed += 1;
                let _ = writeln!(terminal::stderr(), "error: {}: {error:#}", path.display());
            }
        }
    }
    if json {
        writeln!(
            terminal::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&imported)?
        )?;
    }
    if failed > 0 {
        if imported.is_empty() {
            bail!("no ratings file was imported");
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_status(panels: &[PanelStatus], json: bool) -> Result<ExitCode> {
    let mut out = terminal::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(panels)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if panels.is_empty() {
        writeln!(
            out,
            "No panels. Create one with `modelbench panel create SESSION --pairwise --raters a,b`."
        )?;
    }
    for panel in panels {
        writeln!(
            out,
            "panel {}  {}  {}  session {}  {} item(s) per rater  created {} UTC",
            panel.id,
            panel.kind.as_str(),
            panel.title,
            panel.session_id,
            panel.items,
            format_time(panel.created_at_ms)
        )?;
        for rater in &panel.raters {
            let last = rater
                .last_import_ms
                .map(|at| format!("last import {} UTC", format_time(at)))
                .unwrap_or_else(|| "nothing imported yet".to_owned());
            writeln!(
                out,
                "  {:<16} {:>4}/{:<4} {last}",
                rater.rater, rater.rated, rater.items
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn interval(estimate: Option<&modelbench_engine::stats::Estimate>) -> String {
    estimate.map_or_else(
        || "—".to_owned(),
        |estimate| {
            format!(
                "{:.0}% [{:.0}–{:.0}]",
                estimate.value * 100.0,
                estimate.interval.lower * 100.0,
                estimate.interval.upper * 100.0
            )
        },
    )
}

fn print_results(
    out: &mut impl Write,
    status: &PanelStatus,
    results: &modelbench_engine::panel::PanelResults,
    json: bool,
) -> Result<()> {
    if json {
        let mut value = serde_json::to_value(results)?;
        value["id"] = serde_json::json!(status.id);
        value["session_id"] = serde_json::json!(status.session_id);
        value["title"] = serde_json::json!(status.title);
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "panel {} ({}), session {}: {} item(s), {} rater(s), {} rating(s)",
        status.id,
        results.kind.as_str(),
        status.session_id,
        results.items,
        results.raters,
        results.ratings
    )?;
    writeln!(out)?;
    let rubric = results.kind == PanelKind::Rubric;
    writeln!(
        out,
        "{:<5} {:<28} {:>8} {:>5} {:>5} {:>6}  {:<18} {:<22}{}",
        "rank",
        "target",
        "compared",
        "wins",
        "ties",
        "losses",
        "win rate [95%]",
        "strength [95%]",
        if rubric { "  mean score" } else { "" }
    )?;
    for target in &results.targets {
        let strength = match (target.strength, target.strength_interval) {
            (Some(strength), Some(interval)) => {
                format!("{strength:+.2} [{:+.2}, {:+.2}]", interval.lower, interval.upper)
            }
            _ => "—".to_owned(),
        };
        let mean = target.mean_score.map(|mean| format!("  {mean:.2}")).unwrap_or_default();
        writeln!(
            out,
            "{:<5} {:<28} {:>8} {:>5} {:>5} {:>6}  {:<18} {:<22}{mean}",
            target.rank.map_or_else(|| "—".to_owned(), |rank| rank.to_string()),
            target.target,
            target.comparisons,
            target.wins,
            target.ties,
            target.losses,
            interval(target.win_rate.as_ref()),
            strength,
        )?;
    }
    writeln!(out)?;
    match results.agreement.alpha {
        Some(alpha) => writeln!(
            out,
            "Agreement: Krippendorff's alpha ({}) {alpha:.3} over {} unit(s) rated twice or more ({})",
            results.agreement.level,
            results.agreement.units,
            panel::alpha_reading(alpha)
        )?,
        None => writeln!(
            out,
            "Agreement: {}",
            results.agreement.note.as_deref().unwrap_or("not enough ratings")
        )?,
    }
    for rater in &results.rater_agreement {
        let agreement = rater.agreement.map_or_else(
            || "nothing to compare yet".to_owned(),
            |agreement| {
                format!(
                    "agrees {:.0}% (chance {:.0}%, kappa {:.2})",
                    agreement.observed * 100.0,
                    agreement.expected * 100.0,
                    agreement.kappa,
                )
            },
        );
        let first = rater
            .first_shown_share
            .map(|share| format!("; picks the answer shown first {:.0}% of the time", share * 100.0))
            .unwrap_or_default();
        let flag = if rater.agreement.is_some_and(|agreement| agreement.chance_level) {
            "  FLAG: agrees no better than chance"
        } else {
            ""
        };
        writeln!(
            out,
            "  {:<16} {:>4} rated  {agreement}{first}{flag}",
            rater.rater, rater.rated
        )?;
    }
    if let Some(bias) = &results.position_bias {
        writeln!(
            out,
            "Position: the answer shown first won {:.0}% [{:.0}–{:.0}] of {} decided pair(s) (p = {:.3}{})",
            bias.share * 100.0,
            bias.interval.lower * 100.0,
            bias.interval.upper * 100.0,
            bias.decided,
            bias.p_value,
            if bias.p_value < 0.05 { ": position bias" } else { "" }
        )?;
    }
    if let Some(separation) = &results.separation {
        let needed = separation.comparisons_needed.map_or_else(
            || "no number of comparisons separates them (they are even)".to_owned(),
            |needed| format!("about {needed} comparisons between them would separate them (5% level, 80% power)"),
        );
        writeln!(
            out,
            "Top two: {} beats {} with probability {:.2}; {}; the panel has {} ({})",
            separation.first,
            separation.second,
            separation.win_probability,
            if separation.separated {
                "their intervals separate"
            } else {
                "their intervals overlap"
            },
            separation.comparisons,
            needed
        )?;
    }
    for judge in &results.judges {
        match (judge.agreement, judge.kappa) {
            (Some(agreement), Some(kappa)) => writeln!(
                out,
                "Judge {}: agrees with the panel on {:.0}% of {} item(s), Cohen's kappa {kappa:.2} ({})",
                judge.judge,
                agreement * 100.0,
                judge.items,
                if kappa >= 0.6 {
                    "substantial: a reasonable stand-in for the panel"
                } else if kappa >= 0.4 {
                    "moderate: check its verdicts"
                } else {
                    "weak: do not rely on it alone"
                }
            )?,
            _ => writeln!(
                out,
                "Judge {}: {} item(s) rated by both; {}",
                judge.judge,
                judge.items,
                judge.note.as_deref().unwrap_or("no agreement figure")
            )?,
        }
    }
    for note in &results.notes {
        writeln!(out, "Note: {note}")?;
    }
    Ok(())
}
