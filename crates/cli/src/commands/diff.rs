//! `modelbench diff`: where the answers of a stored run differ (or any text files'), and how alike
//! they all are. The workbench chooses a stored run's answers, the engine's `diff` module does the
//! comparing; this prints it.
//!
//! A pair (`--a`/`--b`, or two files) prints an inline diff: coloured on a terminal, with
//! `[-deleted-]{+inserted+}` markers otherwise or when `NO_COLOR` is set. Without a pair (or with
//! three files or more) it prints the similarity matrix with the outlier and majority marked.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use modelbench_engine::diff::{
    Diff, DiffContent, DiffError, DiffMode, JsonChangeKind, LineKind, Side, SimilarityMatrix, Span, SpanKind,
    similarity,
};
use serde::Serialize;

use crate::terminal::neutralise;

#[derive(Args)]
pub struct DiffArgs {
    /// A run id or a unique prefix of one (as `runs show` takes).
    #[arg(required_unless_present = "files")]
    run_id: Option<String>,
    /// Which prompt of a batch run, numbered from 1 as `runs show` numbers them.
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "files")]
    prompt: u32,
    /// Which repeat of a run made with `--repeat`, numbered from 1.
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "files")]
    repeat: u32,
    /// The target whose answer is the old side (with --b); without a pair, the matrix is printed.
    #[arg(long, value_name = "TARGET", requires = "b", conflicts_with = "files")]
    a: Option<String>,
    /// The target whose answer is the new side.
    #[arg(long, value_name = "TARGET", requires = "a", conflicts_with = "files")]
    b: Option<String>,
    /// words | lines | normalized (ignores whitespace and Markdown) | json (compares by path)
    #[arg(long, default_value = "words", value_parser = parse_mode)]
    mode: DiffMode,
    /// Compare text files instead of a run: two give a diff, three or more a matrix.
    #[arg(long, num_args = 2.., value_name = "FILE", conflicts_with = "run_id")]
    files: Vec<PathBuf>,
    /// Print the structured result as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_mode(value: &str) -> Result<DiffMode, DiffError> {
    value.parse()
}

/// What is compared: labelled texts, and where they came from.
struct Texts {
    run_id: Option<String>,
    prompt: Option<u32>,
    labels: Vec<String>,
    texts: Vec<String>,
}

#[derive(Serialize)]
struct PairDocument<'d> {
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'d str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<u32>,
    a: &'d str,
    b: &'d str,
    #[serde(flatten)]
    diff: &'d Diff,
}

#[derive(Serialize)]
struct MatrixDocument<'d> {
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'d str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<u32>,
    labels: &'d [String],
    #[serde(flatten)]
    matrix: &'d SimilarityMatrix,
}

pub fn run(data_dir: Option<&Path>, args: DiffArgs) -> Result<()> {
    let texts = if args.files.is_empty() {
        let run_id = args.run_id.as_deref().context("give a RUN_ID or --files A B")?;
        from_run(&crate::database::open(data_dir)?, run_id, &args)?
    } else {
        from_files(&args.files)?
    };
    let mut out = crate::terminal::stdout().lock();
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let pair = args.a.is_some() || texts.texts.len() == 2;
    if pair {
        let result = modelbench_engine::diff::diff(&texts.texts[0], &texts.texts[1], args.mode)
            .map_err(|error| labelled(error, &texts.labels))?;
        if args.json {
            let document = PairDocument {
                run_id: texts.run_id.as_deref(),
                prompt: texts.prompt,
                a: &texts.labels[0],
                b: &texts.labels[1],
                diff: &result,
            };
            serde_json::to_writer_pretty(&mut out, &document)?;
            writeln!(out)?;
        } else {
            // The answers inside were neutralised by `render_pair`; only its colours pass as is.
            out.write_styled(&render_pair(&texts.labels[0], &texts.labels[1], &result, colour))?;
        }
        return Ok(());
    }
    let references: Vec<&str> = texts.texts.iter().map(String::as_str).collect();
    let matrix = similarity(&references, args.mode).map_err(|error| labelled(error, &texts.labels))?;
    if args.json {
        let document = MatrixDocument {
            run_id: texts.run_id.as_deref(),
            prompt: texts.prompt,
            labels: &texts.labels,
            matrix: &matrix,
        };
        serde_json::to_writer_pretty(&mut out, &document)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render_matrix(&texts.labels, &matrix))?;
    }
    Ok(())
}

/// A JSON error naming the response or file rather than a side or an index.
fn labelled(error: DiffError, labels: &[String]) -> anyhow::Error {
    match error {
        DiffError::NotJson { side, cause } => {
            let label = &labels[usize::from(side == Side::B)];
            anyhow::anyhow!("{label} (side {side}) is not JSON: {cause}")
        }
        DiffError::TextNotJson { index, cause } => anyhow::anyhow!("{} is not JSON: {cause}", labels[index]),
        other => other.into(),
    }
}

fn from_files(files: &[PathBuf]) -> Result<Texts> {
    let texts = files
        .iter()
        .map(|path| std::fs::read_to_string(path).with_context(|| format!("cannot read file {}", path.display())))
        .collect::<Result<Vec<_>>>()?;
    Ok(Texts {
        run_id: None,
        prompt: None,
        labels: files.iter().map(|path| path.display().to_string()).collect(),
        texts,
    })
}

fn from_run(store: &modelbench_engine::Store, run_id: &str, args: &DiffArgs) -> Result<Texts> {
    use modelbench_workbench::Error;
    use modelbench_workbench::diff::{Note, answers};
    let run = crate::database::find_run(store, run_id)?;
    let pair = args.a.as_deref().zip(args.b.as_deref());
    let mut note = |note: Note<'_>| {
        let line = match note {
            Note::LeftOut { target } => format!("note: leaving out '{target}': it failed without an answer"),
            Note::Incomplete { target, error } => format!("note: '{target}' is incomplete: {error}"),
        };
        let _ = writeln!(crate::terminal::stderr(), "{line}");
    };
    let chosen = answers(&run, args.prompt, args.repeat, pair, &mut note).map_err(|error| match error {
        // Said with the flags that choose them.
        Error::NoSuchPrompt { run_id, prompts } => {
            anyhow::anyhow!("run {run_id} has {prompts} prompt(s): --prompt takes 1 to {prompts}")
        }
        Error::NoSuchRepeat { run_id, repeat } => {
            anyhow::anyhow!("run {run_id} asked each target {repeat} time(s): --repeat takes 1 to {repeat}")
        }
        other => other.into(),
    })?;
    Ok(Texts {
        run_id: Some(run.record.id.to_string()),
        prompt: Some(args.prompt),
        labels: chosen.labels,
        texts: chosen.texts,
    })
}

const RED_STRUCK: &str = "\x1b[31;9m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

/// One span, coloured or between `[-…-]`/`{+…+}` markers.
fn render_span(span: &Span, colour: bool, out: &mut String) {
    let (open, close) = match (span.kind, colour) {
        (SpanKind::Equal, _) => ("", ""),
        (SpanKind::Delete, true) => (RED_STRUCK, RESET),
        (SpanKind::Insert, true) => (GREEN, RESET),
        (SpanKind::Delete, false) => ("[-", "-]"),
        (SpanKind::Insert, false) => ("{+", "+}"),
    };
    out.push_str(open);
    out.push_str(&neutralise(&span.text));
    out.push_str(close);
}

fn render_pair(a: &str, b: &str, diff: &Diff, colour: bool) -> String {
    let stats = &diff.stats;
    let unit = match diff.mode {
        DiffMode::Words | DiffMode::Normalized => "tokens",
        DiffMode::Lines => "lines",
        DiffMode::Json => "values",
    };
    let (a, b) = (neutralise(a), neutralise(b));
    let mut out = format!(
        "--- a: {a}\n+++ b: {b}\n{} diff, similarity {:.3}: {} {unit} unchanged, {} deleted, {} inserted",
        diff.mode, diff.ratio, stats.unchanged, stats.deleted, stats.inserted
    );
    if stats.changed > 0 {
        out.push_str(&format!(", {} changed", stats.changed));
    }
    out.push_str("\n\n");
    match &diff.content {
        DiffContent::Spans { spans } => {
            for span in spans {
                render_span(span, colour, &mut out);
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        DiffContent::Lines { lines } => {
            for line in lines {
                out.push_str(match line.kind {
                    LineKind::Equal => "  ",
                    LineKind::Delete => "- ",
                    LineKind::Insert => "+ ",
                    LineKind::Change => "~ ",
                });
                for span in &line.spans {
                    render_span(span, colour, &mut out);
                }
                out.push('\n');
            }
        }
        DiffContent::Json { changes } => {
            if changes.is_empty() {
                out.push_str("the same JSON values\n");
            }
            let shown = |value: &Option<serde_json::Value>| value.as_ref().map(ToString::to_string).unwrap_or_default();
            for change in changes {
                let (sign, text) = match change.kind {
                    JsonChangeKind::Removed => ("- ", shown(&change.a)),
                    JsonChangeKind::Added => ("+ ", shown(&change.b)),
                    JsonChangeKind::Changed => ("~ ", format!("{} → {}", shown(&change.a), shown(&change.b))),
                };
                let (open, close) = match (change.kind, colour) {
                    (JsonChangeKind::Removed, true) => (RED_STRUCK, RESET),
                    (JsonChangeKind::Added, true) => (GREEN, RESET),
                    _ => ("", ""),
                };
                let (path, text) = (neutralise(&change.path), neutralise(&text));
                out.push_str(&format!("{sign}{path}: {open}{text}{close}\n"));
            }
        }
    }
    out
}

/// The matrix as a table: rows and columns numbered, means, the outlier and majority marked.
fn render_matrix(labels: &[String], matrix: &SimilarityMatrix) -> String {
    let width = labels
        .iter()
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let number_width = labels.len().to_string().len() + 1;
    let mut out = format!("similarity ({}), 1 = identical:\n", matrix.mode);
    out.push_str(&format!("{:number_width$} {:width$}", "", "target"));
    for column in 1..=labels.len() {
        out.push_str(&format!(" {:>5}", format!("#{column}")));
    }
    out.push_str("   mean\n");
    for (row, label) in labels.iter().enumerate() {
        out.push_str(&format!("{:>number_width$} {label:width$}", format!("#{}", row + 1)));
        for ratio in &matrix.ratios[row] {
            out.push_str(&format!(" {ratio:>5.2}"));
        }
        out.push_str(&format!("  {:>5.2}", matrix.mean[row]));
        if matrix.outlier == Some(row) {
            out.push_str("  outlier");
        }
        if matrix.majority == Some(row) {
            out.push_str("  majority");
        }
        out.push('\n');
    }
    if matrix.outlier.is_none() && labels.len() >= 3 {
        out.push_str("no single outlier: the farthest answers are equally far\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use modelbench_engine::diff::{DiffMode, diff, similarity};

    use super::{render_matrix, render_pair};

    fn parsed(arguments: &str) -> Result<super::DiffArgs, clap::Error> {
        let cli = crate::Cli::try_parse_from(["modelbench", "diff"].into_iter().chain(arguments.split_whitespace()))?;
        let crate::Command::Diff(args) = cli.command else {
            unreachable!("parsed as diff");
        };
        Ok(args)
    }

    #[test]
    fn plain_markers_without_colour_and_escapes_with_it() {
        let result = diff("the red fox", "the blue fox", DiffMode::Words).expect("words");
        let plain = render_pair("one", "two", &result, false);
        assert_eq!(
            plain,
            "--- a: one\n+++ b: two\nwords diff, similarity 0.667: 2 tokens unchanged, 1 deleted, 1 inserted\n\n\
             the [-red-]{+blue+} fox\n"
        );
        let coloured = render_pair("one", "two", &result, true);
        assert!(
            coloured.ends_with("the \x1b[31;9mred\x1b[0m\x1b[32mblue\x1b[0m fox\n"),
            "{coloured:?}"
        );
    }

    #[test]
    fn coloured_diffs_carry_only_their_own_escapes() {
        let result = diff(
            "title \x1b]0;pwned\x07 end",
            "title \x1b]52;c;Y2FsYw==\x07\r\x1b[K end",
            DiffMode::Words,
        )
        .expect("words");
        let coloured = render_pair("a\x1b[2J", "b", &result, true);
        let without_colours = coloured
            .replace("\x1b[31;9m", "")
            .replace("\x1b[32m", "")
            .replace("\x1b[0m", "");
        assert!(!without_colours.contains(['\x1b', '\x07', '\r']), "{without_colours:?}");
        assert!(
            without_colours.contains("␛") && without_colours.contains("--- a: a␛[2J"),
            "{without_colours:?}"
        );
        let json = diff(r#"{"k\u001b[2J": "\u001b]0;x\u0007"}"#, r#"{"k": 2}"#, DiffMode::Json).expect("json");
        let coloured = render_pair("x", "y", &json, true);
        assert!(
            !coloured
                .replace("\x1b[31;9m", "")
                .replace("\x1b[32m", "")
                .replace("\x1b[0m", "")
                .contains('\x1b')
        );
    }

    #[test]
    fn lines_and_json_changes_are_prefixed() {
        let lines = diff("a\nb c\n", "a\nb d\ne\n", DiffMode::Lines).expect("lines");
        assert!(render_pair("x", "y", &lines, false).ends_with("  a\n~ b [-c-]{+d+}\n+ {+e+}\n"));
        let json = diff(r#"{"k": 1, "gone": true}"#, r#"{"k": 2, "new": [1]}"#, DiffMode::Json).expect("json");
        assert!(
            render_pair("x", "y", &json, false).ends_with("- $.gone: true\n~ $.k: 1 → 2\n+ $.new: [1]\n"),
            "{}",
            render_pair("x", "y", &json, false)
        );
    }

    #[test]
    fn the_matrix_marks_outlier_and_majority() {
        let labels = ["gpt-openai", "gpt-azure", "claude"].map(str::to_owned);
        let matrix = similarity(
            &["the cat sat on the mat", "the cat sat on a mat", "dogs bark loudly"],
            DiffMode::Words,
        )
        .expect("words");
        let table = render_matrix(&labels, &matrix);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows[0], "similarity (words), 1 = identical:");
        assert_eq!(rows[1], "   target        #1    #2    #3   mean");
        assert_eq!(rows[2], "#1 gpt-openai  1.00  0.83  0.00   0.42  majority");
        assert_eq!(rows[4], "#3 claude      0.00  0.00  1.00   0.00  outlier");
    }

    #[test]
    fn arguments_are_checked() {
        let args = parsed("0192 --a x --b y --mode json --prompt 2").expect("valid");
        assert_eq!(
            (args.mode, args.prompt, args.a.as_deref()),
            (DiffMode::Json, 2, Some("x"))
        );
        let args = parsed("--files a.txt b.txt c.txt").expect("valid");
        assert_eq!(args.files.len(), 3);
        assert!(parsed("0192 --a x").is_err(), "--a needs --b");
        assert!(parsed("--files a.txt").is_err(), "one file is not a comparison");
        assert!(parsed("0192 --files a b").is_err(), "a run or files, not both");
        let error = parsed("0192 --mode chars").err().expect("unknown mode").to_string();
        assert!(error.contains("unknown diff mode 'chars'"), "{error}");
    }
}
