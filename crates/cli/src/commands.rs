//! One module per subcommand, each with its clap arguments and its body. `main.rs` declares the
//! subcommands and hands each to its module; what several commands share (opening the database,
//! the live view of a run, prompts, terminal output) lives beside `main.rs`, not here, except
//! the flags two commands share.

pub mod bench;
pub mod cleanup;
pub mod demo;
pub mod diff;
pub mod evidence;
pub mod export;
pub mod judge;
pub mod keys;
pub mod panel;
pub mod prices;
pub mod run;
pub mod runs;
pub mod search;
pub mod session;
pub mod suite;
pub mod targets;

use clap::Args;
use modelbench_engine::target::TimeoutOverrides;

/// Timeout flags, shared by `run` (the run's defaults) and `targets add` (one target's overrides).
#[derive(Args)]
pub struct TimeoutArgs {
    #[arg(long, value_name = "MS")]
    connect_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS")]
    first_token_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS")]
    idle_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS")]
    total_timeout_ms: Option<u64>,
}

impl TimeoutArgs {
    pub fn overrides(&self) -> TimeoutOverrides {
        TimeoutOverrides {
            connect_ms: self.connect_timeout_ms,
            first_token_ms: self.first_token_timeout_ms,
            idle_ms: self.idle_timeout_ms,
            total_ms: self.total_timeout_ms,
        }
    }
}
