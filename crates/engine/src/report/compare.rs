//! The report's one seam onto the diff engine ([`crate::diff`]): answers compared word by word.
//!
//! Kept apart so the report's shape does not follow the diff engine's types: the report keeps
//! its own spans and matrix, and only this file knows how they are computed.

use super::{DiffSpan, SpanKind};
use crate::diff::{self, DiffContent, DiffMode};

/// How the report compares answers: words, Unicode-aware, whitespace kept in the spans.
const DIFF_MODE: DiffMode = DiffMode::Words;

/// The mode's name, as the report states it.
pub(super) fn mode() -> &'static str {
    DIFF_MODE.as_str()
}

/// The similarity of a set of texts; indices are positions in the texts given.
pub(super) struct Matrix {
    pub ratios: Vec<Vec<f64>>,
    pub majority: Option<usize>,
    pub outlier: Option<usize>,
}

/// Every pair's ratio, the majority (medoid) and the outlier. `None` only if the diff engine
/// refuses the texts (which word mode never does).
pub(super) fn similarity(texts: &[&str]) -> Option<Matrix> {
    let matrix = diff::similarity(texts, DIFF_MODE).ok()?;
    Some(Matrix {
        ratios: matrix.ratios,
        majority: matrix.majority,
        outlier: matrix.outlier,
    })
}

/// The ratio and the inline spans from `base` to `other`.
pub(super) fn diff(base: &str, other: &str) -> Option<(f64, Vec<DiffSpan>)> {
    let result = diff::diff(base, other, DIFF_MODE).ok()?;
    let DiffContent::Spans { spans } = result.content else {
        return None;
    };
    let spans = spans
        .into_iter()
        .map(|span| DiffSpan {
            kind: match span.kind {
                diff::SpanKind::Equal => SpanKind::Equal,
                diff::SpanKind::Insert => SpanKind::Insert,
                diff::SpanKind::Delete => SpanKind::Delete,
            },
            text: span.text,
        })
        .collect();
    Some((result.ratio, spans))
}
