//! `modelbench demo`: a keyless first run. Starts the simulated clouds (fakecloud in-process, see
//! the `modelbench-demo` crate) and compares their targets, clearly labelled, so a newcomer sees
//! streaming, timings, a retried rate limit, a failure with its partial answer kept, and storage,
//! before adding any real key.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use modelbench_demo::{Demo, PROMPT};
use modelbench_engine::runner::{RunOptions, RunPlan};
use modelbench_engine::store::Store;
use modelbench_engine::{Parameters, Prompt};

use crate::execute::{ViewMode, execute};

#[derive(Args)]
pub struct DemoArgs {
    /// Print the result as JSON instead of the live view.
    #[arg(long)]
    json: bool,
}

pub async fn run(store: &Arc<Store>, args: DemoArgs) -> Result<ExitCode> {
    let DemoArgs { json } = args;
    let demo = Demo::start().await.context("cannot start fakecloud on 127.0.0.1")?;
    let base = demo.base_url();
    let targets = demo.targets().to_vec();
    if !json {
        println!(
            "ModelBench demo: {} SIMULATED targets served by fakecloud at {base}",
            targets.len()
        );
        println!("(no real cloud is called and no key is needed; the timings and failures are scripted)");
        println!("prompt: {PROMPT}\n");
    }
    let mut options = RunOptions::default();
    options.retry.base_delay = Duration::from_millis(200);
    let plan = RunPlan {
        targets,
        prompts: vec![Prompt::user(PROMPT)],
        parameters: Parameters {
            max_output_tokens: Some(400),
            ..Parameters::default()
        },
        options,
    };
    let outcome = execute(
        store,
        plan,
        Arc::new(demo.credentials()),
        ViewMode { json, events: false },
    )
    .await?;
    demo.shutdown().await;
    if !json {
        println!(
            "\nnext: `modelbench runs show {}`, `modelbench search cloud`, or add real targets (see README)",
            &outcome.run.id.to_string()[..13]
        );
    }
    Ok(ExitCode::SUCCESS)
}
