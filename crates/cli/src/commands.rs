//! One module per subcommand, each with its clap arguments and its body. `main.rs` declares the
//! subcommands and hands each to its module; what several commands share (opening the database,
//! the live view of a run, prompts, terminal output) lives beside `main.rs`, not here.

pub mod bench;
pub mod cleanup;
pub mod demo;
pub mod diff;
pub mod export;
pub mod keys;
pub mod prices;
