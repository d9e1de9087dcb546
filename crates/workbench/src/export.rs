//! A stored run as a report file. The engine's `report` builds and renders it; this dates it
//! and proposes a file name. The format comes typed (`Format`: the app's is named on the wire by
//! serde, the CLI's by clap). Where the bytes go (stdout, a file chosen in a save dialog) is the
//! host's.

use modelbench_engine::record::now_unix_ms;
use modelbench_engine::report::{Format, Report};
use modelbench_engine::{RunId, StoredRun};

/// The report of `run` in `format`, dated now.
pub fn render(run: &StoredRun, format: Format) -> String {
    Report::from_run(run, env!("CARGO_PKG_VERSION"), now_unix_ms()).render(format)
}

/// The file name a save dialog proposes: `modelbench-<run id>.<format>`.
pub fn suggested_name(run_id: RunId, format: Format) -> String {
    format!("modelbench-{run_id}.{}", format.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proposed_name_carries_the_run_and_the_format() {
        let run_id: RunId = "0193a8f0-0000-7000-8000-000000000001".parse().expect("run id");
        assert_eq!(
            suggested_name(run_id, Format::Html),
            "modelbench-0193a8f0-0000-7000-8000-000000000001.html"
        );
        assert_eq!(
            suggested_name(run_id, Format::Markdown),
            "modelbench-0193a8f0-0000-7000-8000-000000000001.md"
        );
    }
}
