// The Rate view's and the leaderboard's presentation, as pure functions: which key does what,
// the rubric's cells in the order the keyboard fills them, the progress line, and where an
// interval's bar goes. The figures themselves (ratings, win rates, Bradley-Terry intervals) are
// the engine's; this only places them.

import type { Choice, GivenRating, LeaderboardRow, PanelKind, RatingItem } from './types';

/** What a key press in the Rate view asks for. */
export type RateAction =
  | { kind: 'choose'; choice: Choice }
  | { kind: 'score'; score: number }
  | { kind: 'move'; by: -1 | 1 };

/** The action of `key` (a `KeyboardEvent.key`) in a panel of `kind`; null when it has none. */
export function rateAction(key: string, kind: PanelKind): RateAction | null {
  if (key === 'ArrowLeft') {
    return { kind: 'move', by: -1 };
  }
  if (key === 'ArrowRight') {
    return { kind: 'move', by: 1 };
  }
  if (kind === 'pairwise') {
    const choice = ({ a: 'a', b: 'b', t: 'tie' } as const)[key.toLowerCase() as 'a' | 'b' | 't'];
    return choice ? { kind: 'choose', choice } : null;
  }
  return /^[1-5]$/.test(key) ? { kind: 'score', score: Number(key) } : null;
}

/** One rubric score to give: an answer (by label) on a criterion. */
export interface RubricCell {
  label: string;
  criterion: string;
}

/** The rubric's cells, answer by answer, criterion by criterion: the order 1–5 fills them. */
export function rubricCells(item: RatingItem): RubricCell[] {
  return item.answers.flatMap((answer) =>
    item.criteria.map((criterion) => ({ label: answer.label, criterion: criterion.name })),
  );
}

/** `given` with one more score. */
export function withScore(given: GivenRating, cell: RubricCell, score: number): GivenRating {
  return {
    ...given,
    scores: { ...given.scores, [cell.label]: { ...given.scores[cell.label], [cell.criterion]: score } },
  };
}

/** Whether every cell of `item` has a score in `given`. */
export function rubricComplete(item: RatingItem, given: GivenRating): boolean {
  return rubricCells(item).every((cell) => given.scores[cell.label]?.[cell.criterion] !== undefined);
}

/** The first cell without a score (the last one when all have). */
export function firstOpenCell(item: RatingItem, given: GivenRating): number {
  const cells = rubricCells(item);
  const open = cells.findIndex((cell) => given.scores[cell.label]?.[cell.criterion] === undefined);
  return open === -1 ? Math.max(0, cells.length - 1) : open;
}

/** `5 rated of 8 · item 6`. */
export function progressLine(item: RatingItem): string {
  return `${item.rated} rated of ${item.items} · item ${item.n}`;
}

/** An interval drawn on an axis `width` pixels wide from `min` to `max`. */
export interface IntervalBar {
  low: number;
  high: number;
  value: number;
}

/** Where the interval [lower, upper] around `value` goes on the axis; null when a number is missing. */
export function intervalBar(
  value: number | null,
  lower: number | null,
  upper: number | null,
  min: number,
  max: number,
  width: number,
): IntervalBar | null {
  if (value === null || lower === null || upper === null || !(max > min)) {
    return null;
  }
  const x = (number: number): number => (Math.min(max, Math.max(min, number)) - min) / (max - min) * width;
  return { low: x(lower), high: x(upper), value: x(value) };
}

/** The strength axis shared by every row: from the lowest lower bound to the highest upper one. */
export function strengthAxis(rows: LeaderboardRow[]): { min: number; max: number } {
  const lows = rows.flatMap((row) => (row.strength_lower === null ? [] : [row.strength_lower]));
  const highs = rows.flatMap((row) => (row.strength_upper === null ? [] : [row.strength_upper]));
  if (lows.length === 0 || highs.length === 0) {
    return { min: -1, max: 1 };
  }
  const min = Math.min(...lows);
  const max = Math.max(...highs);
  return max > min ? { min, max } : { min: min - 1, max: max + 1 };
}
