//! Which tokens two id sequences share, in order: the core every diff mode runs on.
//!
//! Myers' algorithm alone costs O(N·D): fine when two answers are nearly the same, ruinous when
//! they are unrelated (10,000 words each, D ≈ 20,000). So this is patience diff applied
//! recursively: tokens that occur exactly once in each side's range are anchors; the longest
//! chain of anchors in the same order on both sides splits the range, and each gap between
//! anchors is matched the same way. A gap with no such anchor goes to Myers (from `similar`) when
//! it is small (sizes multiplying to at most `MYERS_LIMIT`); a bigger one is anchored on tokens
//! equally rare on both sides (k-th occurrence with k-th), and failing even those it is cut in
//! halves. Unrelated answers share few unique tokens, so this is where their cost is bounded.
//!
//! The matching is not always the longest common subsequence (an anchor can win over a longer run
//! of repeated tokens, and halving can miss matches across the cut), so ratios of dissimilar
//! texts can be a little lower than difflib's; patience output also reads better. It is
//! deterministic: no deadline, no clock, the same input always matches the same way.

use std::convert::Infallible;
use std::ops::Range;

use similar::algorithms::{DiffHook, myers};

/// `len` tokens equal from `a` at `a` and `b` at `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub a: usize,
    pub b: usize,
    pub len: usize,
}

/// The runs `a` and `b` have in common, in order, adjacent runs merged. `vocabulary` bounds the
/// ids (every id is below it).
pub(super) fn matching_runs(a: &[u32], b: &[u32], vocabulary: usize) -> Vec<Run> {
    let mut matcher = Matcher {
        a,
        b,
        runs: Vec::new(),
        scratch: Scratch::new(vocabulary),
    };
    matcher.match_range(0..a.len(), 0..b.len());
    matcher.runs
}

/// How many tokens `a` and `b` have in common, in order.
pub(super) fn matched_count(a: &[u32], b: &[u32], vocabulary: usize) -> usize {
    matching_runs(a, b, vocabulary).iter().map(|run| run.len).sum()
}

/// Per-id counters reused across the recursion, reset lazily with a generation number.
struct Scratch {
    generation: Vec<u32>,
    count_a: Vec<u32>,
    count_b: Vec<u32>,
    position_b: Vec<usize>,
    current: u32,
}

impl Scratch {
    fn new(vocabulary: usize) -> Self {
        Self {
            generation: vec![0; vocabulary],
            count_a: vec![0; vocabulary],
            count_b: vec![0; vocabulary],
            position_b: vec![0; vocabulary],
            current: 0,
        }
    }

    fn touch(&mut self, id: usize) {
        if self.generation[id] != self.current {
            self.generation[id] = self.current;
            self.count_a[id] = 0;
            self.count_b[id] = 0;
        }
    }
}

/// Ranges whose sizes multiply to more than this skip Myers (O((N+M)·D), quadratic when the ranges
/// share little) for rarer anchors, or halves.
const MYERS_LIMIT: usize = 1 << 16;

/// How often a token may occur on each side to anchor a range with no unique tokens.
const RARE: u32 = 4;

enum Plan {
    Anchors(Vec<(usize, usize)>),
    NothingInCommon,
    Myers,
    Halves,
}

enum Work {
    Match(Range<usize>, Range<usize>),
    Push(Run),
}

struct Matcher<'s> {
    a: &'s [u32],
    b: &'s [u32],
    runs: Vec<Run>,
    scratch: Scratch,
}

impl Matcher<'_> {
    fn push(&mut self, a: usize, b: usize, len: usize) {
        if len == 0 {
            return;
        }
        match self.runs.last_mut() {
            Some(last) if last.a + last.len == a && last.b + last.len == b => last.len += len,
            _ => self.runs.push(Run { a, b, len }),
        }
    }

    /// Matches the ranges with an explicit stack of work rather than recursion: a pathological
    /// input (one anchor per level) would nest once per token.
    fn match_range(&mut self, a_range: Range<usize>, b_range: Range<usize>) {
        let mut work = vec![Work::Match(a_range, b_range)];
        while let Some(item) = work.pop() {
            match item {
                Work::Push(run) => self.push(run.a, run.b, run.len),
                Work::Match(a_range, b_range) => self.split(a_range, b_range, &mut work),
            }
        }
    }

    /// Matches the common prefix, then pushes (in reverse, as `work` is a stack) the gaps between
    /// anchors, the anchors and the common suffix; a range without anchors goes to Myers.
    fn split(&mut self, mut a_range: Range<usize>, mut b_range: Range<usize>, work: &mut Vec<Work>) {
        let prefix = self.a[a_range.clone()]
            .iter()
            .zip(&self.b[b_range.clone()])
            .take_while(|(left, right)| left == right)
            .count();
        self.push(a_range.start, b_range.start, prefix);
        a_range.start += prefix;
        b_range.start += prefix;
        let suffix = self.a[a_range.clone()]
            .iter()
            .rev()
            .zip(self.b[b_range.clone()].iter().rev())
            .take_while(|(left, right)| left == right)
            .count();
        a_range.end -= suffix;
        b_range.end -= suffix;
        work.push(Work::Push(Run {
            a: a_range.end,
            b: b_range.end,
            len: suffix,
        }));
        if a_range.is_empty() || b_range.is_empty() {
            return;
        }
        let anchors = match self.plan(a_range.clone(), b_range.clone()) {
            Plan::Anchors(anchors) => anchors,
            Plan::NothingInCommon => return,
            Plan::Myers => return self.myers(a_range, b_range),
            Plan::Halves => {
                let a_middle = a_range.start + a_range.len() / 2;
                let b_middle = b_range.start + b_range.len() / 2;
                work.push(Work::Match(a_middle..a_range.end, b_middle..b_range.end));
                work.push(Work::Match(a_range.start..a_middle, b_range.start..b_middle));
                return;
            }
        };
        let (mut a_end, mut b_end) = (a_range.end, b_range.end);
        for &(a_anchor, b_anchor) in anchors.iter().rev() {
            work.push(Work::Match(a_anchor + 1..a_end, b_anchor + 1..b_end));
            work.push(Work::Push(Run {
                a: a_anchor,
                b: b_anchor,
                len: 1,
            }));
            (a_end, b_end) = (a_anchor, b_anchor);
        }
        work.push(Work::Match(a_range.start..a_end, b_range.start..b_end));
    }

    /// How to match two ranges that differ at both ends: by anchors (tokens unique to both
    /// ranges; failing those, in a range too big for Myers, tokens as rare on both sides, their
    /// occurrences paired in order), by Myers, or by halves when nothing else is cheap.
    fn plan(&mut self, a_range: Range<usize>, b_range: Range<usize>) -> Plan {
        let scratch = &mut self.scratch;
        scratch.current = scratch.current.wrapping_add(1);
        if scratch.current == 0 {
            // Wrapped: stale stamps could look current, so clear them once.
            scratch.generation.fill(u32::MAX);
        }
        for index in a_range.clone() {
            let id = self.a[index] as usize;
            scratch.touch(id);
            scratch.count_a[id] += 1;
        }
        for index in b_range.clone() {
            let id = self.b[index] as usize;
            scratch.touch(id);
            scratch.count_b[id] += 1;
            scratch.position_b[id] = index;
        }
        let mut common = false;
        // In `a` order; the chain is the longest increasing subsequence of their `b` positions.
        let mut candidates = Vec::new();
        for index in a_range.clone() {
            let id = self.a[index] as usize;
            common |= scratch.count_b[id] > 0;
            if scratch.count_a[id] == 1 && scratch.count_b[id] == 1 {
                candidates.push((index, scratch.position_b[id]));
            }
        }
        if !common {
            return Plan::NothingInCommon;
        }
        if candidates.is_empty() {
            if a_range.len().saturating_mul(b_range.len()) <= MYERS_LIMIT {
                return Plan::Myers;
            }
            candidates = self.rare_pairs(a_range, b_range);
            if candidates.is_empty() {
                return Plan::Halves;
            }
        }
        Plan::Anchors(longest_increasing_chain(&candidates))
    }

    /// Tokens occurring as often on both sides and at most [`RARE`] times, the k-th occurrence in
    /// `a` paired with the k-th in `b`, in `a` order. Uses the counts [`Self::plan`] just made.
    fn rare_pairs(&mut self, a_range: Range<usize>, b_range: Range<usize>) -> Vec<(usize, usize)> {
        let scratch = &self.scratch;
        let rare = |id: usize| scratch.count_a[id] == scratch.count_b[id] && scratch.count_a[id] <= RARE;
        let mut seen = std::collections::HashMap::<u32, u32>::new();
        let mut b_occurrences: Vec<(u32, u32, usize)> = Vec::new();
        for index in b_range {
            let id = self.b[index];
            if rare(id as usize) {
                let occurrence = seen.entry(id).or_default();
                b_occurrences.push((id, *occurrence, index));
                *occurrence += 1;
            }
        }
        seen.clear();
        b_occurrences.sort_unstable();
        let mut pairs = Vec::new();
        for index in a_range {
            let id = self.a[index];
            if rare(id as usize) {
                let occurrence = seen.entry(id).or_default();
                if let Ok(found) = b_occurrences.binary_search_by(|probe| (probe.0, probe.1).cmp(&(id, *occurrence))) {
                    pairs.push((index, b_occurrences[found].2));
                }
                *occurrence += 1;
            }
        }
        pairs
    }

    fn myers(&mut self, a_range: Range<usize>, b_range: Range<usize>) {
        struct Collect<'m, 's>(&'m mut Matcher<'s>);
        impl DiffHook for Collect<'_, '_> {
            type Error = Infallible;
            fn equal(&mut self, a: usize, b: usize, len: usize) -> Result<(), Infallible> {
                self.0.push(a, b, len);
                Ok(())
            }
        }
        let (a, b) = (self.a, self.b);
        let Ok(()) = myers::diff(&mut Collect(self), a, a_range, b, b_range);
    }
}

/// The longest subsequence of `pairs` (sorted by `.0`) whose `.1` increases: patience sorting,
/// O(k log k). Ties go to the earliest chain, so the result is deterministic.
fn longest_increasing_chain(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    // tails[k]: index in `pairs` of the smallest `.1` ending a chain of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; pairs.len()];
    for (index, &(_, b)) in pairs.iter().enumerate() {
        let length = tails.partition_point(|&tail| pairs[tail].1 < b);
        previous[index] = length.checked_sub(1).map(|before| tails[before]);
        if length == tails.len() {
            tails.push(index);
        } else {
            tails[length] = index;
        }
    }
    let mut chain = Vec::with_capacity(tails.len());
    let mut cursor = tails.last().copied();
    while let Some(index) = cursor {
        chain.push(pairs[index]);
        cursor = previous[index];
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::{Run, longest_increasing_chain, matched_count, matching_runs};

    #[test]
    fn finds_runs_around_changes() {
        let a = [1, 2, 3, 4, 5, 6];
        let b = [1, 2, 9, 4, 5, 6, 7];
        assert_eq!(
            matching_runs(&a, &b, 10),
            [Run { a: 0, b: 0, len: 2 }, Run { a: 3, b: 3, len: 3 }]
        );
    }

    #[test]
    fn repeated_tokens_without_anchors_go_to_myers() {
        let a = [1, 1, 2, 1, 2, 2];
        let b = [2, 1, 1, 2, 2, 1];
        // LCS length 4 (e.g. 1 1 2 2); Myers finds an optimal one.
        assert_eq!(matched_count(&a, &b, 3), 4);
        assert_eq!(matched_count(&a, &a, 3), a.len());
        assert_eq!(matched_count(&a, &[], 3), 0);
        assert_eq!(matched_count(&[5, 6], &[7, 8], 9), 0);
    }

    #[test]
    fn big_ranges_without_unique_tokens_use_rare_ones_then_halves() {
        // Every token occurs twice on each side, in a range too big for Myers: anchored on
        // occurrences paired in order, the shared middle is still found whole.
        let middle: Vec<u32> = (0..200).flat_map(|id| [id, id]).collect();
        let a: Vec<u32> = [vec![900], middle.clone(), vec![902]].concat();
        let b: Vec<u32> = [vec![901], middle.clone(), vec![903]].concat();
        assert_eq!(matching_runs(&a, &b, 1000), [Run { a: 1, b: 1, len: 400 }]);
        // Only a common token too frequent to anchor: cut in halves, matches still found and
        // never out of order.
        let a: Vec<u32> = (0..600)
            .map(|index| if index % 2 == 0 { 7 } else { 1000 + index })
            .collect();
        let b: Vec<u32> = (0..600)
            .map(|index| if index % 3 == 0 { 7 } else { 2000 + index })
            .collect();
        let runs = matching_runs(&a, &b, 3000);
        assert!(
            runs.windows(2)
                .all(|pair| pair[0].a + pair[0].len <= pair[1].a && pair[0].b + pair[0].len <= pair[1].b)
        );
        assert!(runs.iter().all(|run| a[run.a] == 7 && b[run.b] == 7));
        assert!(runs.iter().map(|run| run.len).sum::<usize>() >= 150, "{}", runs.len());
    }

    #[test]
    fn anchors_keep_the_longest_ordered_chain() {
        assert_eq!(
            longest_increasing_chain(&[(0, 3), (1, 1), (2, 2), (3, 0), (4, 4)]),
            [(1, 1), (2, 2), (4, 4)]
        );
        // Unique tokens that swapped places cannot both anchor; the chain between them does.
        let a = [10, 1, 2, 3, 11];
        let b = [11, 1, 2, 3, 10];
        assert_eq!(matching_runs(&a, &b, 12), [Run { a: 1, b: 1, len: 3 }]);
    }
}
