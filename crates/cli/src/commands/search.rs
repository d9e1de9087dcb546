//! `modelbench search`: full-text search over the prompts and answers of every stored run (the
//! store's index does the searching).

use std::io::Write;

use anyhow::{Result, bail};
use clap::Args;
use modelbench_engine::store::Store;

use crate::terminal;

#[derive(Args)]
pub struct SearchArgs {
    text: String,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(store: &Store, args: &SearchArgs) -> Result<()> {
    let text = &args.text;
    if args.limit == 0 {
        bail!("--limit must be at least 1");
    }
    let hits = store.search(text, args.limit)?;
    let mut out = terminal::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &hits)?;
        writeln!(out)?;
        return Ok(());
    }
    if hits.is_empty() {
        writeln!(out, "nothing matches '{text}'")?;
    }
    for hit in hits {
        let place = match &hit.target {
            Some(target) => format!("{} #{} {target}", hit.kind, hit.prompt_index + 1),
            None => format!("{} #{}", hit.kind, hit.prompt_index + 1),
        };
        writeln!(out, "{}  {place}: {}", hit.run_id, hit.snippet.replace('\n', " "))?;
    }
    Ok(())
}
