//! Where two answers differ, and how alike a set of answers is.
//!
//! [`diff`] compares two texts in one of four [`DiffMode`]s and returns inline change spans (or,
//! for JSON, changes by path) with a similarity ratio; [`similarity`] compares every pair of N
//! texts and names the outlier and the majority. The CLI prints these and the desktop app draws
//! them; neither computes a diff itself.
//!
//! Every mode reduces a text to a sequence of tokens, interns them to `u32` ids and matches the id
//! slices (see `matching`: patience anchors, recursively, with Myers' algorithm between them), so
//! the cost stays near-linear for near-identical answers and bounded for unrelated ones. The
//! result is deterministic: no deadline, no clock, the same input always gives the same diff.
//!
//! Deliberately left out: three-way merges, character-level diffs inside words, and any notion
//! of which answer is *right*. The ratio says how much two answers share, nothing more.

mod json;
mod markdown;
mod matching;
mod similarity;
mod text;
mod tokens;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use markdown::normalize_markdown;
pub use similarity::{SimilarityMatrix, similarity};

/// How two texts are compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DiffMode {
    /// Words, punctuation and whitespace as separate tokens (Unicode word boundaries, so CJK
    /// ideographs and emoji are tokens of their own). The ratio counts words and punctuation,
    /// not whitespace; whitespace changes still show as spans.
    #[default]
    Words,
    /// Whole lines (line endings aside), with word-level spans inside each changed line. The
    /// ratio counts lines.
    Lines,
    /// Words, after removing whitespace and Markdown formatting differences (see
    /// [`normalize_markdown`]). Spans are over the normalized texts.
    Normalized,
    /// Both texts parsed as JSON (or the first fenced block that parses) and compared value by
    /// path. The ratio counts leaf values (scalars and empty containers) equal at the same path.
    Json,
}

impl DiffMode {
    pub const ALL: [Self; 4] = [Self::Words, Self::Lines, Self::Normalized, Self::Json];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Words => "words",
            Self::Lines => "lines",
            Self::Normalized => "normalized",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for DiffMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for DiffMode {
    type Err = DiffError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == value)
            .ok_or_else(|| DiffError::UnknownMode(value.to_owned()))
    }
}

/// Which side of a pairwise diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl fmt::Display for Side {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::A => "a",
            Self::B => "b",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("unknown diff mode '{0}' (words, lines, normalized, json)")]
    UnknownMode(String),
    /// A pairwise JSON diff where one side holds no JSON.
    #[error("side {side} is not JSON: {cause}")]
    NotJson { side: Side, cause: String },
    /// A JSON similarity matrix where one of the texts (0-based `index`) holds no JSON.
    #[error("text {index} is not JSON: {cause}")]
    TextNotJson { index: usize, cause: String },
}

/// The comparison of two texts, `a` (old) and `b` (new).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Diff {
    pub mode: DiffMode,
    /// 0..1, 1 when the texts are the same (as the mode sees them): `2 × matched / (a + b)`
    /// counted in the mode's units (tokens, lines or JSON leaves), as Python's difflib does.
    /// Symmetric, and 1 for two empty texts.
    pub ratio: f64,
    pub stats: DiffStats,
    pub content: DiffContent,
}

/// Counts in the mode's units: tokens (words and punctuation), lines, or JSON values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DiffStats {
    /// Units on `a`, not counting whitespace.
    pub a_units: u32,
    pub b_units: u32,
    /// Units found in both, in the same order (JSON: leaves equal at the same path).
    pub unchanged: u32,
    /// Units only in `a` (JSON: values removed).
    pub deleted: u32,
    /// Units only in `b` (JSON: values added).
    pub inserted: u32,
    /// Lines mode: how many of the deleted lines pair with an inserted one as a changed line
    /// (they count in `deleted` and `inserted` too); JSON: values changed at the same path.
    pub changed: u32,
}

/// What the diff found, by mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum DiffContent {
    /// Words and normalized modes. The `equal` and `delete` spans concatenate to `a`, the
    /// `equal` and `insert` spans to `b` (normalized mode: to the normalized texts, and
    /// whitespace differences are folded into `equal` spans, which then carry `a`'s whitespace).
    Spans { spans: Vec<Span> },
    /// Lines mode.
    Lines { lines: Vec<LineOp> },
    /// JSON mode, in path order of `a` then the paths only `b` has.
    Json { changes: Vec<JsonChange> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SpanKind {
    Equal,
    Insert,
    Delete,
}

/// A run of text that is in both sides, or only in one. Adjacent spans never share a kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Span {
    pub kind: SpanKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum LineKind {
    Equal,
    Insert,
    Delete,
    /// A line of `a` replaced by a line of `b`: its spans say what changed inside it.
    Change,
}

/// One line of a lines-mode diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LineOp {
    pub kind: LineKind,
    /// 1-based line numbers; `None` on the side the line is not on.
    pub a_line: Option<u32>,
    pub b_line: Option<u32>,
    /// The line without its line ending: one span for equal, inserted and deleted lines, word
    /// spans for changed ones.
    pub spans: Vec<Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum JsonChangeKind {
    Added,
    Removed,
    Changed,
}

/// A JSON value that differs between the sides, at a path such as `$.items[2].name` (keys that
/// are not plain identifiers are quoted: `$["a key"]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct JsonChange {
    pub path: String,
    pub kind: JsonChangeKind,
    /// The value on `a` (`None` when added).
    pub a: Option<serde_json::Value>,
    /// The value on `b` (`None` when removed).
    pub b: Option<serde_json::Value>,
}

/// Compares `a` with `b` in `mode`. Only JSON mode can fail: when a side holds no JSON.
pub fn diff(a: &str, b: &str, mode: DiffMode) -> Result<Diff, DiffError> {
    match mode {
        DiffMode::Words => Ok(text::word_diff(a, b, mode, false)),
        DiffMode::Normalized => Ok(text::word_diff(
            &normalize_markdown(a),
            &normalize_markdown(b),
            mode,
            true,
        )),
        DiffMode::Lines => Ok(text::line_diff(a, b)),
        DiffMode::Json => json::json_diff(a, b),
    }
}

/// `2 × matched / total`, 1 when there is nothing to compare.
fn ratio_of(matched: usize, total: usize) -> f64 {
    if total == 0 {
        1.0
    } else {
        // Counts stay far below 2^52: the conversion is exact.
        (2 * matched) as f64 / total as f64
    }
}

/// A count as stored in [`DiffStats`] (texts beyond 4 billion tokens saturate).
fn count(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::{Diff, DiffContent, DiffError, DiffMode, LineKind, LineOp, Span, SpanKind, diff};

    fn spans(result: &Diff) -> &[Span] {
        match &result.content {
            DiffContent::Spans { spans } => spans,
            other => panic!("no spans: {other:?}"),
        }
    }

    /// `[-deleted-]{+inserted+}` markers, as the CLI prints without colour.
    fn marked(a: &str, b: &str, mode: DiffMode) -> String {
        let result = diff(a, b, mode).expect("text modes never fail");
        spans(&result)
            .iter()
            .map(|span| match span.kind {
                SpanKind::Equal => span.text.clone(),
                SpanKind::Delete => format!("[-{}-]", span.text),
                SpanKind::Insert => format!("{{+{}+}}", span.text),
            })
            .collect()
    }

    /// The sides rebuilt from the spans: equal and deleted make `a`, equal and inserted make `b`.
    fn sides(spans: &[Span]) -> (String, String) {
        let side = |skip: SpanKind| {
            spans
                .iter()
                .filter(|span| span.kind != skip)
                .map(|span| span.text.as_str())
                .collect()
        };
        (side(SpanKind::Insert), side(SpanKind::Delete))
    }

    #[test]
    fn words_mode_marks_changed_words_and_rebuilds_both_sides() {
        let a = "The café opens at 9, près de la gare.";
        let b = "The café opens at 10, près de la gare!";
        assert_eq!(
            marked(a, b, DiffMode::Words),
            "The café opens at [-9-]{+10+}, près de la gare[-.-]{+!+}"
        );
        let result = diff(a, b, DiffMode::Words).expect("words");
        assert_eq!(sides(spans(&result)), (a.to_owned(), b.to_owned()));
        // Tokens: The café opens at 9 , près de la gare . = 11 each; 9 match.
        assert_eq!(
            (result.stats.unchanged, result.stats.deleted, result.stats.inserted),
            (9, 2, 2)
        );
        assert!((result.ratio - 18.0 / 22.0).abs() < 1e-12);
        assert_eq!(diff(a, a, DiffMode::Words).expect("words").ratio, 1.0);
        assert_eq!(diff("", "", DiffMode::Words).expect("words").ratio, 1.0);
        assert_eq!(diff("", "x", DiffMode::Words).expect("words").ratio, 0.0);
    }

    #[test]
    fn words_mode_handles_accents_cjk_and_emoji_as_tokens() {
        // Accented letters are part of their word, not boundaries.
        assert_eq!(
            marked("naïve résumé", "naive résumé", DiffMode::Words),
            "[-naïve-]{+naive+} résumé"
        );
        // Each ideograph is a token: one changed character is one changed token.
        assert_eq!(marked("我喜欢猫", "我喜欢狗", DiffMode::Words), "我喜欢[-猫-]{+狗+}");
        // An emoji sequence (with its skin tone, or joined by ZWJ) is one token, never split.
        assert_eq!(marked("ok 👍🏽 👩‍👩‍👧", "ok 👍🏿 👩‍👩‍👧", DiffMode::Words), "ok [-👍🏽-]{+👍🏿+} 👩‍👩‍👧");
        let result = diff("我喜欢猫", "我喜欢狗", DiffMode::Words).expect("words");
        assert!((result.ratio - 0.75).abs() < 1e-12);
    }

    #[test]
    fn whitespace_only_differences() {
        let a = "one two\nthree";
        let b = "one  two three ";
        let result = diff(a, b, DiffMode::Words).expect("words");
        // Words mode shows them and rebuilds both texts, but the ratio counts no whitespace.
        assert_eq!(marked(a, b, DiffMode::Words), "one[- -]{+  +}two[-\n-]{+ +}three{+ +}");
        assert_eq!(sides(spans(&result)), (a.to_owned(), b.to_owned()));
        assert_eq!(result.ratio, 1.0);
        // Normalized mode does not show them at all.
        let normalized = diff(a, b, DiffMode::Normalized).expect("normalized");
        assert!(spans(&normalized).iter().all(|span| span.kind == SpanKind::Equal));
        assert_eq!(normalized.ratio, 1.0);
        // Lines mode compares whole lines.
        assert!(diff(a, b, DiffMode::Lines).expect("lines").ratio < 1.0);
    }

    #[test]
    fn normalized_mode_ignores_markdown_but_not_wording() {
        let a = "## Steps\n\n1. Open the **lid**\n2. Pour `water`\n\nSee [the manual](https://x.y/m).";
        let b = "Steps\n- Open the lid\n- Pour *water*\n\nSee the manual.";
        let result = diff(a, b, DiffMode::Normalized).expect("normalized");
        assert_eq!(result.ratio, 1.0, "{result:?}");
        assert!(diff(a, b, DiffMode::Words).expect("words").ratio < 0.8);
        assert_eq!(
            marked("* Pour **hot** water", "1. Pour *cold* water", DiffMode::Normalized),
            "Pour [-hot-]{+cold+} water"
        );
    }

    #[test]
    fn lines_mode_pairs_changed_lines_with_inline_spans() {
        let a = "first line\nsecond line here\nthird\n";
        let b = "first line\nsecond line there\nthird\nfourth\n";
        let result = diff(a, b, DiffMode::Lines).expect("lines");
        let DiffContent::Lines { lines } = &result.content else {
            panic!("no lines: {result:?}");
        };
        let span = |kind, text: &str| Span {
            kind,
            text: text.to_owned(),
        };
        assert_eq!(
            lines,
            &[
                LineOp {
                    kind: LineKind::Equal,
                    a_line: Some(1),
                    b_line: Some(1),
                    spans: vec![span(SpanKind::Equal, "first line")],
                },
                LineOp {
                    kind: LineKind::Change,
                    a_line: Some(2),
                    b_line: Some(2),
                    spans: vec![
                        span(SpanKind::Equal, "second line "),
                        span(SpanKind::Delete, "here"),
                        span(SpanKind::Insert, "there"),
                    ],
                },
                LineOp {
                    kind: LineKind::Equal,
                    a_line: Some(3),
                    b_line: Some(3),
                    spans: vec![span(SpanKind::Equal, "third")],
                },
                LineOp {
                    kind: LineKind::Insert,
                    a_line: None,
                    b_line: Some(4),
                    spans: vec![span(SpanKind::Insert, "fourth")],
                },
            ]
        );
        assert_eq!(
            (
                result.stats.a_units,
                result.stats.b_units,
                result.stats.unchanged,
                result.stats.changed
            ),
            (3, 4, 2, 1)
        );
        assert!((result.ratio - 4.0 / 7.0).abs() < 1e-12);
        // In a block of changes, a deleted line pairs with a similar inserted line, not the next one.
        let block = diff(
            "# Plan\n\n- **Buy** milk\n- Walk the dog",
            "Plan\n1. Buy milk\n2. Walk the cat",
            DiffMode::Lines,
        )
        .expect("lines");
        let DiffContent::Lines { lines } = &block.content else {
            panic!("no lines: {block:?}");
        };
        let shape: Vec<(LineKind, Option<u32>, Option<u32>)> =
            lines.iter().map(|line| (line.kind, line.a_line, line.b_line)).collect();
        assert_eq!(
            shape,
            [
                (LineKind::Change, Some(1), Some(1)),
                (LineKind::Delete, Some(2), None),
                (LineKind::Change, Some(3), Some(2)),
                (LineKind::Change, Some(4), Some(3)),
            ]
        );
        // Line endings are not compared.
        assert_eq!(diff("a\r\nb", "a\nb\n", DiffMode::Lines).expect("lines").ratio, 1.0);
    }

    #[test]
    fn ratio_is_symmetric_in_every_mode() {
        let a = "- alpha beta\n- gamma\n```json\n{\"k\": [1, 2]}\n```";
        let b = "* alpha delta\n\ngamma epsilon\n```json\n{\"k\": [1, 3], \"z\": true}\n```";
        for mode in DiffMode::ALL {
            let forward = diff(a, b, mode).expect("all modes parse these");
            let backward = diff(b, a, mode).expect("all modes parse these");
            assert_eq!(forward.ratio, backward.ratio, "{mode}");
            assert!(forward.ratio > 0.0 && forward.ratio < 1.0, "{mode}: {}", forward.ratio);
        }
    }

    #[test]
    fn modes_parse_from_their_names() {
        for mode in DiffMode::ALL {
            assert_eq!(mode.as_str().parse::<DiffMode>(), Ok(mode));
            assert_eq!(serde_json::to_value(mode).expect("serializes"), mode.as_str());
        }
        assert_eq!(
            "chars".parse::<DiffMode>().map_err(|error| error.to_string()),
            Err("unknown diff mode 'chars' (words, lines, normalized, json)".to_owned())
        );
        assert!(matches!("Words".parse::<DiffMode>(), Err(DiffError::UnknownMode(_))));
    }
}
