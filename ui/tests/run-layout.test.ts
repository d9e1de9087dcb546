import { describe, expect, it } from 'vitest';

import { gridColumns, rowOf } from '../src/lib/run-store/layout';
import { type PaneStatus, countStatuses, sameCounts } from '../src/lib/run-store/status';

describe('gridColumns and rowOf', () => {
  it('lays panes out about sqrt(count) wide', () => {
    expect([1, 2, 4, 5, 9, 10, 16, 17].map(gridColumns)).toEqual([1, 2, 2, 3, 3, 4, 4, 5]);
    expect(gridColumns(0)).toBe(1);
  });

  it('draws up to four panes in one frame, more one grid row per frame', () => {
    expect([0, 1, 2, 3].map((index) => rowOf(index, 4))).toEqual([0, 0, 0, 0]);
    // 16 panes in 4 columns: four rows of four.
    expect(Array.from({ length: 16 }, (_, index) => rowOf(index, 16))).toEqual([
      0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
    ]);
    // 5 panes in 3 columns: a full row, then the last two.
    expect(Array.from({ length: 5 }, (_, index) => rowOf(index, 5))).toEqual([0, 0, 0, 1, 1]);
  });
});

describe('countStatuses', () => {
  it('counts each status, zero for those no pane has', () => {
    const panes: { status: PaneStatus }[] = [{ status: 'done' }, { status: 'streaming' }, { status: 'done' }, { status: 'error' }];
    const counts = countStatuses(panes);
    expect(counts).toEqual({ streaming: 1, done: 2, incomplete: 0, error: 1 });
    expect(sameCounts(counts, { streaming: 1, done: 2, incomplete: 0, error: 1 })).toBe(true);
    expect(sameCounts(counts, { streaming: 0, done: 3, incomplete: 0, error: 1 })).toBe(false);
    expect(countStatuses([])).toEqual({ streaming: 0, done: 0, incomplete: 0, error: 0 });
  });
});
