// The run store: what the Compare and History views show about a run, fed by the shell's
// `RunMessage`s and drawn at most once per animation frame per pane.
//
// It keeps the run's phase and its panes (run-store/pane.svelte.ts, where the two layers of
// plain and reactive state are), routes each message to its pane, and decides what a frame
// draws: with many panes one row of the grid, the next frame the next row, so the page repaints
// a strip instead of the whole window (run-store/layout.ts). Elapsed time keeps ticking for
// streaming panes on a slow timer. The status rules and the counts the summary shows are in
// run-store/status.ts; frames and time come from a `Scheduler` (run-store/scheduler.ts).
//
// Left out on purpose: computing final metrics. Once a response's record arrives, everything
// shown comes from it; live values before that are marked as estimates by the view.

import { flushSync } from 'svelte';

import type { ResponseKey, RunId, RunMessage, StoredRun, Target } from './types';
import { rowOf } from './run-store/layout';
import { Pane, responseKeyId } from './run-store/pane.svelte';
import { type Scheduler, browserScheduler } from './run-store/scheduler';
import { type StatusCounts, countStatuses, sameCounts } from './run-store/status';

export type RunPhase = 'idle' | 'starting' | 'running' | 'finished' | 'failed';

/** How often a streaming pane's elapsed time moves while no event arrives. */
const CLOCK_MS = 250;
/** The longest the run's summary (status counts, and the phase once the run ends) waits for a
 * frame that draws no pane. It sits above the grid, and WebKitGTK repaints the bounding box of
 * all of a frame's changes: changed together with a row of panes, it repainted everything from
 * the summary down to that row (the run's last frames, 22-29 ms each in the UI bench). */
const SUMMARY_MS = 250;

export interface RunStoreOptions {
  scheduler?: Scheduler;
  /** Applies Svelte's pending DOM updates before panes settle; tests may pass a no-op. */
  applyDom?: () => void;
}

export class RunStore {
  phase = $state<RunPhase>('idle');
  runId = $state<RunId | null>(null);
  panes = $state.raw<Pane[]>([]);
  failure = $state<string | null>(null);
  /** The panes' statuses as the run's summary shows them: they follow the panes on screen, in a
   * frame of their own (`SUMMARY_MS`). */
  counts = $state.raw<StatusCounts>(countStatuses([]));

  /** Frames flushed (tests read it). */
  frames = 0;

  #scheduler: Scheduler;
  #applyDom: () => void;
  #byId = new Map<string, Pane>();
  #targets: Target[] = [];
  #dirty = new Set<Pane>();
  #frameRequested = false;
  /** The grid row the next frame starts looking at. */
  #nextRow = 0;
  /** The run ended, and not every pane's final state is on screen yet. */
  #finishPending = false;
  /** Since when `counts` has lagged the panes on screen. */
  #summaryLagSince: number | null = null;
  #generation = 0;
  #stopClock: (() => void) | null = null;

  constructor(options: RunStoreOptions = {}) {
    this.#scheduler = options.scheduler ?? browserScheduler;
    this.#applyDom = options.applyDom ?? flushSync;
  }

  get running(): boolean {
    return this.phase === 'starting' || this.phase === 'running';
  }

  /** Clears the store for a new run and returns the handler for that run's messages. A handler
   * of an earlier run is ignored from then on, so a late message cannot leak into a new run. */
  begin(): (message: RunMessage) => void {
    this.#reset();
    this.phase = 'starting';
    const generation = this.#generation;
    return (message) => {
      if (generation === this.#generation) {
        this.apply(message);
      }
    };
  }

  /** The run could not start (the command rejected). */
  fail(message: string): void {
    this.failure = message;
    this.phase = 'failed';
    for (const pane of this.#byId.values()) {
      pane.endWithout(message);
      this.#markDirty(pane);
    }
    this.#stopTicking();
  }

  apply(message: RunMessage): void {
    switch (message.kind) {
      case 'started':
        this.runId = message.run_id;
        this.phase = 'running';
        this.#targets = message.targets;
        for (const [index, target] of message.targets.entries()) {
          this.#paneFor({ prompt_index: 0, target_index: index, repeat_index: 0 }, target.name);
        }
        this.#publishPanes();
        this.counts = countStatuses(this.panes);
        this.#startTicking();
        break;
      case 'events': {
        let created = false;
        for (const stamped of message.events) {
          const known = this.#byId.size;
          const pane = this.#paneFor(stamped.response_key, stamped.target);
          created ||= this.#byId.size !== known;
          pane.applyEvent(stamped);
          this.#markDirty(pane);
        }
        for (const response of message.live) {
          this.#byId.get(responseKeyId(response.response_key))?.applyLive(response.metrics);
        }
        if (created) {
          this.#publishPanes();
        }
        break;
      }
      case 'response': {
        const known = this.#byId.size;
        const pane = this.#paneFor(message.response.key, message.response.target);
        pane.applyRecord(message.response);
        this.#markDirty(pane);
        if (this.#byId.size !== known) {
          this.#publishPanes();
        }
        break;
      }
      case 'finished':
        this.runId = message.run_id;
        this.#endAll('the run ended without a final record for this target');
        // Shown as finished once every pane shows its final state (see `#frame`).
        this.#finishPending = true;
        this.#requestFrame();
        break;
      case 'failed':
        this.failure = message.message;
        this.phase = 'failed';
        this.#endAll(message.message);
        break;
    }
  }

  /** Shows a stored run: one finished pane per response. */
  load(run: StoredRun): void {
    this.#reset();
    this.runId = run.record.id;
    this.#targets = run.record.targets;
    for (const response of run.responses) {
      const pane = this.#paneFor(response.key, response.target);
      pane.applyEvent({
        response_key: response.key,
        target: response.target,
        attempt: 0,
        sequence: 0,
        elapsed_us: 0,
        event: { type: 'text_delta', text: response.text },
      });
      pane.applyRecord(response);
      this.#markDirty(pane);
    }
    this.#publishPanes();
    this.phase = run.status === 'running' ? 'running' : 'finished';
    this.flushNow();
  }

  /** Draws every dirty pane now, and the summary with them (a stored run opening, or a test). */
  flushNow(): void {
    this.#draw([...this.#dirty]);
    this.#publishSummary();
  }

  /** An animation frame: draws the dirty panes of the next row that has any (`rowOf`), or, in a
   * frame that draws none, the summary; asks for another frame while either waits. */
  #frame(): void {
    this.#frameRequested = false;
    const rows = this.#rowCount();
    let drew = false;
    for (let step = 0; step < rows && this.#dirty.size > 0; step += 1) {
      const row = (this.#nextRow + step) % rows;
      const panes = [...this.#dirty].filter((pane) => pane.row === row);
      if (panes.length > 0) {
        this.#nextRow = row + 1;
        this.#draw(panes);
        drew = true;
        break;
      }
    }
    let summaryWaits = this.#summaryLags();
    if (summaryWaits) {
      const now = this.#scheduler.now();
      this.#summaryLagSince ??= now;
      if (!drew || now - this.#summaryLagSince >= SUMMARY_MS) {
        this.#publishSummary();
        // Only the end of the run can still wait, and only while panes are dirty.
        summaryWaits = false;
      }
    }
    if (this.#dirty.size > 0 || summaryWaits) {
      this.#requestFrame();
    }
  }

  /** Whether the summary differs from the panes on screen (or the run's end is not shown yet). */
  #summaryLags(): boolean {
    return this.#finishPending || !sameCounts(this.counts, countStatuses(this.panes));
  }

  #publishSummary(): void {
    this.counts = countStatuses(this.panes);
    if (this.#finishPending && this.#dirty.size === 0) {
      this.phase = 'finished';
      this.#finishPending = false;
    }
    this.#summaryLagSince = null;
  }

  #draw(panes: Pane[]): void {
    if (panes.length === 0) {
      return;
    }
    this.frames += 1;
    const now = this.#scheduler.now();
    for (const pane of panes) {
      this.#dirty.delete(pane);
      pane.flush(now);
    }
    // All DOM writes of the frame first (text above, Svelte's below), then layout reads.
    this.#applyDom();
    for (const pane of panes) {
      pane.settle();
    }
  }

  #rowCount(): number {
    const count = this.panes.length;
    return count === 0 ? 1 : rowOf(count - 1, count) + 1;
  }

  #markDirty(pane: Pane): void {
    this.#dirty.add(pane);
    this.#requestFrame();
  }

  #requestFrame(): void {
    if (!this.#frameRequested) {
      this.#frameRequested = true;
      const generation = this.#generation;
      this.#scheduler.requestFrame(() => {
        if (generation === this.#generation) {
          this.#frame();
        }
      });
    }
  }

  #paneFor(key: ResponseKey, targetName: string): Pane {
    const id = responseKeyId(key);
    let pane = this.#byId.get(id);
    if (pane === undefined) {
      const target = this.#targets[key.target_index] ?? { name: targetName, provider: 'openai', model: '' };
      pane = new Pane(key, target, this.#scheduler.now());
      this.#byId.set(id, pane);
    }
    return pane;
  }

  #publishPanes(): void {
    const panes = [...this.#byId.values()].sort(
      (left, right) =>
        left.key.prompt_index - right.key.prompt_index ||
        left.key.target_index - right.key.target_index ||
        left.key.repeat_index - right.key.repeat_index,
    );
    for (const [index, pane] of panes.entries()) {
      pane.row = rowOf(index, panes.length);
    }
    this.panes = panes;
  }

  #endAll(reason: string): void {
    this.#stopTicking();
    for (const pane of this.#byId.values()) {
      if (!pane.finished) {
        pane.endWithout(reason);
        this.#markDirty(pane);
      }
    }
  }

  #startTicking(): void {
    this.#stopTicking();
    this.#stopClock = this.#scheduler.every(CLOCK_MS, () => {
      for (const pane of this.#byId.values()) {
        if (!pane.finished) {
          this.#markDirty(pane);
        }
      }
    });
  }

  #stopTicking(): void {
    this.#stopClock?.();
    this.#stopClock = null;
  }

  #reset(): void {
    this.#generation += 1;
    this.#stopTicking();
    this.#byId.clear();
    this.#dirty.clear();
    this.#frameRequested = false;
    this.#targets = [];
    this.panes = [];
    this.runId = null;
    this.failure = null;
    this.phase = 'idle';
    this.counts = countStatuses([]);
    this.#finishPending = false;
    this.#summaryLagSince = null;
  }
}
