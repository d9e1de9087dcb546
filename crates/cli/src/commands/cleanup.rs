//! `runs delete`, `runs prune` and `db compact`: removing history and giving its space back.
//!
//! Made for scripts as much as for people: no question is asked, so each command does exactly
//! what its arguments say and nothing else; `runs delete` deletes all the runs it was given or
//! none; `runs prune --dry-run` names what a prune would delete; `--json` reports what was done.
//! The store decides what "a run and everything of it" is and refuses running runs.

use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use modelbench_engine::RunId;
use modelbench_engine::record::now_unix_ms;
use modelbench_engine::store::{DatabaseSpace, Pruned, Store};
use serde_json::json;

use crate::terminal;

#[derive(Args)]
pub struct DeleteArgs {
    /// Run ids, or unique prefixes of them.
    #[arg(required = true, value_name = "RUN_ID")]
    run_ids: Vec<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("rule").required(true).multiple(true).args(["before", "keep"]))]
pub struct PruneArgs {
    /// Runs started before this: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (UTC, as `runs list`
    /// shows) or `N` days ago as `Nd`.
    #[arg(long, value_name = "DATE")]
    before: Option<String>,
    /// Always keep the newest N runs.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
    /// Only list the runs a prune would delete.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Give the space of deleted runs back to the disk (VACUUM), and switch an older database
    /// to giving it back by itself from then on.
    Compact {
        #[arg(long)]
        json: bool,
    },
}

pub fn delete(store: &Store, args: &DeleteArgs) -> Result<()> {
    let mut ids: Vec<RunId> = Vec::new();
    for text in &args.run_ids {
        let id = store
            .resolve_run_id(text)
            .with_context(|| format!("'{text}' (nothing was deleted)"))?
            .with_context(|| format!("no run matches '{text}' (nothing was deleted; see `modelbench runs list`)"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let before = store.space()?;
    store.delete_runs(&ids)?;
    let after = store.space()?;
    report(
        store,
        &Pruned {
            runs: ids,
            running: Vec::new(),
        },
        false,
        args.json,
        before,
        after,
    )
}

pub fn prune(store: &Store, args: &PruneArgs) -> Result<()> {
    let before_ms = args
        .before
        .as_deref()
        .map(|text| parse_before(text, now_unix_ms()))
        .transpose()?;
    let before = store.space()?;
    let pruned = store.prune_runs(before_ms, args.keep.unwrap_or(0), args.dry_run)?;
    let after = store.space()?;
    report(store, &pruned, args.dry_run, args.json, before, after)
}

pub fn db(store: &Store, command: &DbCommand) -> Result<()> {
    let DbCommand::Compact { json } = command;
    let before = store.space()?;
    store.compact()?;
    let after = store.space()?;
    if *json {
        return print_json(&json!({
            "file_bytes_before": before.file_bytes,
            "file_bytes_after": after.file_bytes,
            "gives_back_space": after.gives_back_space,
        }));
    }
    writeln!(
        terminal::stdout().lock(),
        "{}: {} → {}; deleting runs now gives their space back by itself",
        store.path().display(),
        megabytes(before.file_bytes),
        megabytes(after.file_bytes)
    )?;
    Ok(())
}

fn report(
    store: &Store,
    pruned: &Pruned,
    dry_run: bool,
    json: bool,
    before: DatabaseSpace,
    after: DatabaseSpace,
) -> Result<()> {
    if json {
        return print_json(&json!({
            "dry_run": dry_run,
            "deleted": if dry_run { Vec::new() } else { pruned.runs.clone() },
            "would_delete": if dry_run { pruned.runs.clone() } else { Vec::new() },
            "running": pruned.running,
            "file_bytes_before": before.file_bytes,
            "file_bytes_after": after.file_bytes,
            "free_bytes": after.free_bytes,
        }));
    }
    let mut out = terminal::stdout().lock();
    let verb = if dry_run { "would delete" } else { "deleted" };
    for id in &pruned.runs {
        writeln!(out, "{verb} run {id}")?;
    }
    for id in &pruned.running {
        writeln!(out, "left run {id} alone: it is running")?;
    }
    let count = pruned.runs.len();
    let runs = if count == 1 { "run" } else { "runs" };
    if dry_run {
        writeln!(out, "{verb} {count} {runs} (dry run: nothing was deleted)")?;
        return Ok(());
    }
    writeln!(
        out,
        "{verb} {count} {runs}; {}: {} → {}",
        store.path().display(),
        megabytes(before.file_bytes),
        megabytes(after.file_bytes)
    )?;
    if !after.gives_back_space && after.free_bytes > 0 {
        writeln!(
            out,
            "{} inside the file is free for new runs; `modelbench db compact` gives it back to the disk",
            megabytes(after.free_bytes)
        )?;
    }
    Ok(())
}

fn print_json(document: &serde_json::Value) -> Result<()> {
    let mut out = terminal::stdout().lock();
    serde_json::to_writer_pretty(&mut out, document)?;
    writeln!(out)?;
    Ok(())
}

/// `1.2 MB` (decimal, as file managers count).
fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Unix milliseconds of a `--before` value, `now_ms` being now.
fn parse_before(text: &str, now_ms: i64) -> Result<i64> {
    let text = text.trim();
    if let Some(days) = text.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .ok()
            .filter(|days| (0..=365_000).contains(days))
            .with_context(|| format!("--before '{text}': a number of days is written like 90d"))?;
        return Ok(now_ms - days * 86_400_000);
    }
    let invalid = || format!("--before '{text}': give YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] (UTC) or Nd (days ago)");
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((date, time)) => (date, time.trim_end_matches('Z')),
        None => (text, "00:00:00"),
    };
    let numbers = |part: &str, separator: char| -> Option<Vec<i64>> {
        part.split(separator).map(|number| number.parse().ok()).collect()
    };
    let (Some(date), Some(time)) = (numbers(date, '-'), numbers(time, ':')) else {
        bail!(invalid());
    };
    let (&[year, month, day], &[hour, minute, ref seconds @ ..]) = (date.as_slice(), time.as_slice()) else {
        bail!(invalid());
    };
    let second = seconds.first().copied().unwrap_or(0);
    if seconds.len() > 1
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || !(0..24).contains(&hour)
        || !(0..60).contains(&minute)
        || !(0..60).contains(&second)
    {
        bail!(invalid());
    }
    Ok(((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1_000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm, the inverse
/// of the one that formats times for `runs list`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_dates_are_utc_and_match_what_runs_list_prints() {
        let now = 1_795_000_000_000;
        for text in ["2026-11-18 11:06:40", "2026-11-18T11:06:40Z", "2026-11-18T11:06:40"] {
            assert_eq!(parse_before(text, now).ok(), Some(now), "{text}");
        }
        let midnight = parse_before("2026-11-18", now).expect("a date");
        assert_eq!(crate::output::format_time(midnight), "2026-11-18 00:00:00");
        assert_eq!(
            crate::output::format_time(parse_before("2024-02-29 23:59", now).expect("a leap day")),
            "2024-02-29 23:59:00"
        );
        assert_eq!(parse_before("1970-01-01", now).ok(), Some(0));
        assert_eq!(parse_before("30d", now).ok(), Some(now - 30 * 86_400_000));
        for wrong in [
            "2026-13-01",
            "2025-02-29",
            "2026-11-18 24:00",
            "2026-11-18 10",
            "2026-11-18 10:00:00:00",
            "yesterday",
            "-5d",
            "d",
            "",
        ] {
            assert!(parse_before(wrong, now).is_err(), "{wrong}");
        }
    }
}
