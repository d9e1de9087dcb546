//! A plan run in the terminal, for `run`, `runs resume` and `demo`: the live view (one target's
//! text as it streams, a progress bar for a batch, or `--events` JSON lines), cancelling on
//! Ctrl-C, SIGTERM or SIGHUP, then the summary table or the `--json` document, read back from the
//! database, and the exit code. What a run does is the workbench's and the engine's; this module
//! only shows it.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use modelbench_engine::credentials::CredentialSource;
use modelbench_engine::runner::{RunEvent, RunOutcome, RunPlan};
use modelbench_engine::store::Store;
use modelbench_workbench::Workbench;

use crate::{output, terminal};

/// The exit code of a finished run: 128 + the signal that cancelled it (130 for Ctrl-C, 143 for
/// SIGTERM, 129 for SIGHUP), else 3 when the database could not store all of it (its answers
/// were printed all the same), else 0.
pub fn run_exit_code(outcome: &Executed) -> ExitCode {
    if outcome.cancelled {
        ExitCode::from(128 + outcome.signal.unwrap_or(2))
    } else if let Some(error) = &outcome.storage_error {
        eprintln!("error: the database could not store all of this run (the answers above are complete): {error}");
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// A finished run as the CLI ran it.
pub struct Executed {
    pub outcome: RunOutcome,
    /// The number of the signal that cancelled the run (2 for Ctrl-C), if one did.
    pub signal: Option<u8>,
}

impl std::ops::Deref for Executed {
    type Target = RunOutcome;

    fn deref(&self) -> &RunOutcome {
        &self.outcome
    }
}

/// Resolves with the number of the first of SIGINT, SIGTERM or SIGHUP to arrive: each cancels a
/// run the same way (partial answers kept, the run recorded as cancelled), whether it comes from
/// Ctrl-C, `kill`, `timeout`, systemd, `docker stop`, a CI cancel or a closed SSH session.
async fn cancelling_signal() -> u8 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut terminate), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            let _ = tokio::signal::ctrl_c().await;
            return 2;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => 2,
            _ = terminate.recv() => 15,
            _ = hangup.recv() => 1,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        2
    }
}

#[derive(Clone, Copy)]
pub struct ViewMode {
    pub json: bool,
    pub events: bool,
}

/// Runs a plan with live output, then prints the summary (or the JSON document).
pub async fn execute(
    store: &Arc<Store>,
    plan: RunPlan,
    credentials: Arc<dyn CredentialSource>,
    view: ViewMode,
) -> Result<Executed> {
    execute_with(store, plan, credentials, view, None).await
}

/// [`execute`], or with `resume` the run's own plan sent again into it for the given responses.
pub async fn execute_with(
    store: &Arc<Store>,
    plan: RunPlan,
    credentials: Arc<dyn CredentialSource>,
    view: ViewMode,
    resume: Option<(
        &modelbench_engine::RunRecord,
        std::collections::HashSet<modelbench_engine::ResponseKey>,
    )>,
) -> Result<Executed> {
    let mut plan = plan;
    // The summary and `--json` read the responses back from the database, so the run keeps
    // none of them: its memory depends on its concurrency, not on its size.
    plan.options.keep_responses = false;
    let total_responses = plan.targets.len() * plan.prompts.len() * plan.options.repeat.max(1) as usize;
    let batch = plan.prompts.len() > 1 || plan.options.repeat > 1;
    let names: Vec<String> = plan.targets.iter().map(|target| target.name.clone()).collect();
    let workbench = Workbench::new(store.clone(), credentials)?;
    let resending = resume.as_ref().map(|(_, only)| only.len());
    let mut started = match resume {
        Some((record, only)) => workbench.resume_plan(plan, record, only)?,
        None => workbench.start_plan(plan)?,
    };
    let cancel_on_interrupt = started.canceller();
    let received = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let received_by_task = Arc::clone(&received);
    let interrupt = tokio::spawn(async move {
        let signal = cancelling_signal().await;
        received_by_task.store(signal, std::sync::atomic::Ordering::SeqCst);
        let name = match signal {
            15 => "terminated (SIGTERM)",
            1 => "hung up (SIGHUP)",
            _ => "interrupted",
        };
        eprintln!("\n{name}: cancelling; partial answers are kept");
        cancel_on_interrupt.cancel();
    });

    let stdout = terminal::stdout();
    let live_text = !view.json && !view.events && !batch;
    let progress = (batch && std::io::stderr().is_terminal() && !view.events).then(|| {
        let bar = indicatif::ProgressBar::new(resending.unwrap_or(total_responses) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} responses  {elapsed_precise}  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    if !view.json && !view.events {
        let mut out = stdout.lock();
        writeln!(
            out,
            "run {}: {} target(s) × {} response(s) each",
            started.run_id,
            names.len(),
            total_responses / names.len().max(1)
        )?;
        if let Some(count) = resending {
            writeln!(
                out,
                "resuming: sending the {count} missing or unfinished response(s) again"
            )?;
        }
    }
    let mut live = output::LiveView::new(&names, batch);
    let mut failures = 0usize;
    while let Some(event) = started.handle.events.recv().await {
        let mut out = stdout.lock();
        match &event {
            RunEvent::Stream(stamped) => {
                if view.events {
                    serde_json::to_writer(&mut out, stamped)?;
                    writeln!(out)?;
                } else if live_text {
                    live.on_event(stamped, &mut out)?;
                }
            }
            RunEvent::ResponseFinished(response) => {
                if live_text {
                    live.on_response_finished(response, &mut out)?;
                }
                if response.error.is_some() {
                    failures += 1;
                }
                if let Some(bar) = &progress {
                    bar.inc(1);
                    if failures > 0 {
                        bar.set_message(format!("{failures} failed"));
                    }
                }
            }
        }
    }
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    interrupt.abort();
    let outcome = started.handle.outcome().await?;
    let mut out = std::io::BufWriter::new(stdout.lock());
    if view.json {
        output::write_results_document(&mut out, &outcome.run.id.to_string(), outcome.cancelled, |visit| {
            each_result(store, &outcome, visit)
        })?;
    } else if !view.events {
        writeln!(out)?;
        let mut table = output::SummaryTable::new(batch);
        each_result(store, &outcome, &mut |response| {
            table.measure(response);
            Ok(())
        })?;
        write!(out, "{}", table.header())?;
        each_result(store, &outcome, &mut |response| write!(out, "{}", table.row(response)))?;
        write!(out, "{}", table.notes())?;
        let mut errors = 0_usize;
        each_result(store, &outcome, &mut |response| {
            // A response cancelled before it was sent failed nothing: it is counted below.
            match &response.error {
                Some(error) if response.attempts > 0 => {
                    if errors == 0 {
                        writeln!(out, "\nerrors:")?;
                    }
                    errors += 1;
                    writeln!(out, "  {error}")
                }
                _ => Ok(()),
            }
        })?;
        if errors > 0 {
            writeln!(out)?;
        }
        if outcome.tally.never_sent > 0 {
            writeln!(
                out,
                "{} of {} responses were cancelled before they were sent",
                outcome.tally.never_sent,
                outcome.tally.total()
            )?;
        }
        writeln!(out, "stored as run {} in {}", outcome.run.id, store.path().display())?;
    }
    out.flush()?;
    let signal = Some(received.load(std::sync::atomic::Ordering::SeqCst)).filter(|signal| *signal != 0);
    Ok(Executed { outcome, signal })
}

/// Hands each response of the finished run to `visit`, in prompt, target, repeat order, read
/// back from the database one at a time (a run keeps none of them in memory). Responses the
/// store could not save come from the outcome instead, so a storage failure never withholds an
/// answer that arrived.
fn each_result(
    store: &Store,
    outcome: &RunOutcome,
    visit: &mut dyn FnMut(&modelbench_engine::ResponseRecord) -> std::io::Result<()>,
) -> Result<()> {
    let mut unsaved = outcome.responses.iter().peekable();
    let read = store.for_each_response(outcome.run.id, |stored| {
        while let Some(response) = unsaved.next_if(|response| response.key < stored.key) {
            visit(response)?;
        }
        match unsaved.next_if(|response| response.key == stored.key) {
            Some(response) => visit(response)?,
            None => visit(&stored)?,
        }
        Ok(())
    });
    if let Err(error) = read {
        // Whatever the database cannot give back, the outcome's records still can.
        if outcome.responses.is_empty() {
            return Err(error.into());
        }
        tracing::error!(%error, "cannot read the run back from the database");
    }
    for response in unsaved {
        visit(response)?;
    }
    Ok(())
}
