// A pane's status and the run summary's counts of them: pure rules over records, shared by the
// panes (which take a status), the store (which counts them) and the views (which show them).
//
// Left out: when a status changes on screen (the pane's `flush`, the store's frames).

import type { ResponseRecord } from '../types';

/** A pane's status: a rule of the UI's over the final record, not a value the shell sends. */
export type PaneStatus = 'streaming' | 'done' | 'incomplete' | 'error';

/** The pane status rule: streaming until the final record; then done if the cloud completed the
 * stream, incomplete if some text arrived (it is kept), error if none did. */
export function statusOf(record: ResponseRecord | null, textReceived: boolean): PaneStatus {
  if (record === null) {
    return 'streaming';
  }
  if (record.complete) {
    return 'done';
  }
  return textReceived ? 'incomplete' : 'error';
}

/** How many panes are in each status. */
export interface StatusCounts {
  streaming: number;
  done: number;
  incomplete: number;
  error: number;
}

export function countStatuses(panes: readonly { status: PaneStatus }[]): StatusCounts {
  const counts: StatusCounts = { streaming: 0, done: 0, incomplete: 0, error: 0 };
  for (const pane of panes) {
    counts[pane.status] += 1;
  }
  return counts;
}

export function sameCounts(left: StatusCounts, right: StatusCounts): boolean {
  return left.streaming === right.streaming && left.done === right.done && left.incomplete === right.incomplete && left.error === right.error;
}
