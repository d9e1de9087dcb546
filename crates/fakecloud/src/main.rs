//! The `fakecloud` binary: serves the fake clouds on 127.0.0.1 until Ctrl-C
//! or SIGTERM, for demos and for end-to-end tests that drive the CLI.
//!
//! It prints exactly one line to stdout once bound, `fakecloud listening on
//! http://127.0.0.1:PORT`, so a parent process can wait for it and read the
//! port.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use fakecloud::{Config, FakeCloud, Keys, parse_spec};

#[derive(Debug, Parser)]
#[command(
    name = "fakecloud",
    about = "Local servers that speak the OpenAI, Azure OpenAI, Anthropic and Ollama streaming wire formats"
)]
struct Arguments {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// The API key every cloud accepts (Ollama included). Default: "fake-key"
    /// for OpenAI, Azure and Anthropic, none for Ollama.
    #[arg(long)]
    key: Option<String>,
    /// Directory of recorded bodies for `replay=`.
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// A scenario for one model name, as MODEL=SPEC (repeatable).
    #[arg(long = "scenario", value_name = "MODEL=SPEC")]
    scenarios: Vec<String>,
    /// The scenario for every other model, as a SPEC.
    #[arg(long = "default", value_name = "SPEC")]
    default_spec: Option<String>,
}

fn config_from(arguments: Arguments) -> anyhow::Result<Config> {
    let keys = match arguments.key {
        Some(key) => Keys {
            openai: key.clone(),
            azure: key.clone(),
            anthropic: key.clone(),
            ollama: Some(key),
        },
        None => Keys::default(),
    };
    let mut scenarios = HashMap::new();
    for entry in arguments.scenarios {
        // The spec itself contains `=`, so only the first one separates.
        let Some((model, spec)) = entry.split_once('=') else {
            bail!("--scenario expects MODEL=SPEC, got `{entry}`");
        };
        let scenario = parse_spec(spec).with_context(|| format!("--scenario {entry}"))?;
        scenarios.insert(model.to_owned(), scenario);
    }
    let default_scenario = match arguments.default_spec {
        Some(spec) => parse_spec(&spec).with_context(|| format!("--default {spec}"))?,
        None => Default::default(),
    };
    Ok(Config {
        port: arguments.port,
        keys,
        fixtures_dir: arguments.fixtures,
        scenarios,
        default_scenario,
    })
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = config_from(Arguments::parse())?;
    let cloud = FakeCloud::start(config).await.context("binding 127.0.0.1")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "fakecloud listening on {}", cloud.base_url())?;
    stdout.flush()?;
    drop(stdout);
    wait_for_stop_signal().await?;
    cloud.shutdown().await;
    Ok(())
}
