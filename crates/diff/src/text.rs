//! Word and line diffs: matched runs turned into inline spans and line operations.

use super::matching::{Run, matched_count, matching_runs};
use super::tokens::{Interner, Tokens, lines};
use super::{Diff, DiffContent, DiffMode, DiffStats, LineKind, LineOp, Span, SpanKind, count, ratio_of};

/// Spans accumulated in order, adjacent ones of the same kind merged.
#[derive(Default)]
struct Spans(Vec<Span>);

impl Spans {
    fn add(&mut self, kind: SpanKind, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.kind == kind => last.text.push_str(text),
            _ => self.0.push(Span {
                kind,
                text: text.to_owned(),
            }),
        }
    }

    /// Whitespace before matched tokens (or at the end): equal, or a change of whitespace unless
    /// whitespace is ignored (then `a`'s is kept).
    fn whitespace(&mut self, a: &str, b: &str, ignore_whitespace: bool) {
        if a == b || ignore_whitespace {
            self.add(SpanKind::Equal, a);
        } else {
            self.add(SpanKind::Delete, a);
            self.add(SpanKind::Insert, b);
        }
    }
}

/// Word spans of `a` against `b`, and the tokens' match counts.
fn word_spans(a: &Tokens<'_>, b: &Tokens<'_>, runs: &[Run], ignore_whitespace: bool) -> Vec<Span> {
    let mut spans = Spans::default();
    let (mut a_next, mut b_next) = (0, 0);
    let end = Run {
        a: a.len(),
        b: b.len(),
        len: 0,
    };
    for run in runs.iter().chain([&end]) {
        let (deleted, inserted) = (a.text_of(a_next..run.a), b.text_of(b_next..run.b));
        // A replacement keeps the whitespace both sides start with outside the change: `at [-9-]{+10+}`.
        let shared = if deleted.is_empty() || inserted.is_empty() {
            0
        } else {
            common_prefix_length(a.whitespace_before(a_next), b.whitespace_before(b_next))
        };
        spans.add(SpanKind::Equal, &deleted[..shared]);
        spans.add(SpanKind::Delete, &deleted[shared..]);
        spans.add(SpanKind::Insert, &inserted[shared..]);
        for offset in 0..run.len {
            let (a_index, b_index) = (run.a + offset, run.b + offset);
            spans.whitespace(
                a.whitespace_before(a_index),
                b.whitespace_before(b_index),
                ignore_whitespace,
            );
            spans.add(SpanKind::Equal, a.token(a_index));
        }
        (a_next, b_next) = (run.a + run.len, run.b + run.len);
    }
    spans.whitespace(a.trailing_whitespace(), b.trailing_whitespace(), ignore_whitespace);
    spans.0
}

/// The length in bytes of the longest common prefix, on a character boundary.
fn common_prefix_length(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, left), right)| left != right)
        .map_or(a.len().min(b.len()), |((index, _), _)| index)
}

pub(super) fn word_diff(a: &str, b: &str, mode: DiffMode, ignore_whitespace: bool) -> Diff {
    let mut interner = Interner::default();
    let a_tokens = interner.words(a);
    let b_tokens = interner.words(b);
    let runs = matching_runs(&a_tokens.ids, &b_tokens.ids, interner.len());
    let matched: usize = runs.iter().map(|run| run.len).sum();
    Diff {
        mode,
        ratio: ratio_of(matched, a_tokens.len() + b_tokens.len()),
        stats: DiffStats {
            a_units: count(a_tokens.len()),
            b_units: count(b_tokens.len()),
            unchanged: count(matched),
            deleted: count(a_tokens.len() - matched),
            inserted: count(b_tokens.len() - matched),
            changed: 0,
        },
        content: DiffContent::Spans {
            spans: word_spans(&a_tokens, &b_tokens, &runs, ignore_whitespace),
        },
    }
}

/// The word spans inside one changed line.
fn inline_spans(a: &str, b: &str) -> Vec<Span> {
    let mut interner = Interner::default();
    let a_tokens = interner.words(a);
    let b_tokens = interner.words(b);
    let runs = matching_runs(&a_tokens.ids, &b_tokens.ids, interner.len());
    word_spans(&a_tokens, &b_tokens, &runs, false)
}

fn whole_line(kind: LineKind, a_line: Option<usize>, b_line: Option<usize>, text: &str) -> LineOp {
    let span_kind = match kind {
        LineKind::Insert => SpanKind::Insert,
        LineKind::Delete => SpanKind::Delete,
        LineKind::Equal | LineKind::Change => SpanKind::Equal,
    };
    LineOp {
        kind,
        a_line: a_line.map(|index| count(index + 1)),
        b_line: b_line.map(|index| count(index + 1)),
        spans: if text.is_empty() {
            Vec::new()
        } else {
            vec![Span {
                kind: span_kind,
                text: text.to_owned(),
            }]
        },
    }
}

/// A deleted line pairs with an inserted one (shown as one changed line) from this word ratio up.
const PAIR_RATIO: f64 = 0.3;

/// How many inserted lines ahead a deleted line looks for its partner.
const PAIR_LOOKAHEAD: usize = 8;

fn line_ratio(a: &str, b: &str) -> f64 {
    let mut interner = Interner::default();
    let a_tokens = interner.words(a);
    let b_tokens = interner.words(b);
    let matched = matched_count(&a_tokens.ids, &b_tokens.ids, interner.len());
    ratio_of(matched, a_tokens.len() + b_tokens.len())
}

/// Lines compared whole. Between two runs of equal lines, each deleted line pairs, in order, with
/// the first of the next [`PAIR_LOOKAHEAD`] inserted lines it shares a word ratio of at least
/// [`PAIR_RATIO`] with: a changed line with word spans; inserted lines it skips stay inserted, and
/// a deleted line with no partner stays deleted.
pub(super) fn line_diff(a: &str, b: &str) -> Diff {
    let a_lines: Vec<&str> = lines(a).collect();
    let b_lines: Vec<&str> = lines(b).collect();
    let mut interner = Interner::default();
    let a_ids = interner.lines(a);
    let b_ids = interner.lines(b);
    let runs = matching_runs(&a_ids, &b_ids, interner.len());
    let matched: usize = runs.iter().map(|run| run.len).sum();

    let mut operations = Vec::new();
    let mut changed = 0;
    let (mut a_next, mut b_next) = (0, 0);
    let end = Run {
        a: a_lines.len(),
        b: b_lines.len(),
        len: 0,
    };
    for run in runs.iter().chain([&end]) {
        let mut b_index = b_next;
        for (a_index, line) in a_lines.iter().enumerate().take(run.a).skip(a_next) {
            let partner = (b_index..run.b.min(b_index + PAIR_LOOKAHEAD))
                .find(|&candidate| line_ratio(line, b_lines[candidate]) >= PAIR_RATIO);
            let Some(partner) = partner else {
                operations.push(whole_line(LineKind::Delete, Some(a_index), None, line));
                continue;
            };
            for (skipped, inserted) in b_lines.iter().enumerate().take(partner).skip(b_index) {
                operations.push(whole_line(LineKind::Insert, None, Some(skipped), inserted));
            }
            changed += 1;
            operations.push(LineOp {
                kind: LineKind::Change,
                a_line: Some(count(a_index + 1)),
                b_line: Some(count(partner + 1)),
                spans: inline_spans(line, b_lines[partner]),
            });
            b_index = partner + 1;
        }
        for (b_index, line) in b_lines.iter().enumerate().take(run.b).skip(b_index) {
            operations.push(whole_line(LineKind::Insert, None, Some(b_index), line));
        }
        for offset in 0..run.len {
            let (a_index, b_index) = (run.a + offset, run.b + offset);
            operations.push(whole_line(
                LineKind::Equal,
                Some(a_index),
                Some(b_index),
                a_lines[a_index],
            ));
        }
        (a_next, b_next) = (run.a + run.len, run.b + run.len);
    }
    Diff {
        mode: DiffMode::Lines,
        ratio: ratio_of(matched, a_lines.len() + b_lines.len()),
        stats: DiffStats {
            a_units: count(a_lines.len()),
            b_units: count(b_lines.len()),
            unchanged: count(matched),
            deleted: count(a_lines.len() - matched),
            inserted: count(b_lines.len() - matched),
            changed: count(changed),
        },
        content: DiffContent::Lines { lines: operations },
    }
}
