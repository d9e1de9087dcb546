// The mock backend's stand-in for the engine's diff (crates/engine/src/diff): a plain LCS over
// words and whitespace, good enough for short answers in `npm run dev` and the tests. The app
// always uses the engine's (Unicode words, lines, normalized and JSON modes, fast on long texts).

import type { Diff, DiffMode, SimilarityMatrix, Span } from '../../src/lib/types';

function tokens(text: string): string[] {
  return text.match(/\s+|[^\s]+/g) ?? [];
}

function spansOf(a: string[], b: string[]): Span[] {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const lengths = new Uint32Array(rows * columns);
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      lengths[i * columns + j] =
        a[i] === b[j] ? lengths[(i + 1) * columns + j + 1]! + 1 : Math.max(lengths[(i + 1) * columns + j]!, lengths[i * columns + j + 1]!);
    }
  }
  const spans: Span[] = [];
  const push = (kind: Span['kind'], text: string): void => {
    const last = spans.at(-1);
    if (last?.kind === kind) {
      last.text += text;
    } else {
      spans.push({ kind, text });
    }
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      push('equal', a[i]!);
      i += 1;
      j += 1;
    } else if (j < b.length && (i === a.length || lengths[i * columns + j + 1]! >= lengths[(i + 1) * columns + j]!)) {
      push('insert', b[j]!);
      j += 1;
    } else {
      push('delete', a[i]!);
      i += 1;
    }
  }
  return spans;
}

function words(spans: Span[], kind: Span['kind']): number {
  return spans.filter((span) => span.kind === kind).reduce((count, span) => count + tokens(span.text).filter((token) => token.trim() !== '').length, 0);
}

export function mockDiff(a: string, b: string, mode: DiffMode): Diff {
  const spans = spansOf(tokens(a), tokens(b));
  const unchanged = words(spans, 'equal');
  const deleted = words(spans, 'delete');
  const inserted = words(spans, 'insert');
  const total = 2 * unchanged + deleted + inserted;
  return {
    mode,
    ratio: total === 0 ? 1 : (2 * unchanged) / total,
    stats: { a_units: unchanged + deleted, b_units: unchanged + inserted, unchanged, deleted, inserted, changed: 0 },
    content: { kind: 'spans', spans },
  };
}

export function mockSimilarity(texts: string[], mode: DiffMode): SimilarityMatrix {
  const ratios = texts.map((a, row) => texts.map((b, column) => (row === column ? 1 : mockDiff(a, b, mode).ratio)));
  const mean = ratios.map((row, index) =>
    texts.length < 2 ? 1 : row.reduce((sum, ratio, column) => (column === index ? sum : sum + ratio), 0) / (texts.length - 1),
  );
  if (texts.length < 3) {
    return { mode, ratios, mean, outlier: null, majority: null };
  }
  const lowest = Math.min(...mean);
  const lows = mean.filter((value) => value - lowest < 1e-9);
  return {
    mode,
    ratios,
    mean,
    outlier: lows.length === 1 ? mean.indexOf(lowest) : null,
    majority: mean.indexOf(Math.max(...mean)),
  };
}
