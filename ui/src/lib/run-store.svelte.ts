// The run store: what the Compare and History views show about a run, fed by the shell's
// `RunMessage`s and drawn at most once per animation frame per pane.
//
// Two layers, so streaming costs O(1) per token:
//   - plain state, changed by every event the moment a batch arrives (text chunks are pushed onto
//     an array, counters bumped; nothing joined, nothing rendered);
//   - reactive state (Svelte `$state` on each `Pane`), written only by the frame flush, and only
//     for the panes an event touched since the last frame.
// With many panes a frame draws one row of the grid, the next frame the next row: the page
// repaints a strip instead of the whole window (see `rowOf`).
// Text never goes through reactive state (re-rendering a growing string per frame would be
// O(length)): the flush hands each pane's new text to the `TextSink`s attached to it, which
// append it to the DOM. Elapsed time keeps ticking for streaming panes on a slow timer.
//
// Left out on purpose: computing final metrics. Once a response's record arrives, everything
// shown comes from it; live values before that are marked as estimates by the view.

import { flushSync } from 'svelte';

import { describePaneError } from './format';
import type {
  LiveMetrics,
  ProviderError,
  ResponseKey,
  ResponseRecord,
  RunId,
  RunMessage,
  StampedEvent,
  StoredRun,
  Target,
} from './types';

export type PaneStatus = 'streaming' | 'done' | 'incomplete' | 'error';
export type RunPhase = 'idle' | 'starting' | 'running' | 'finished' | 'failed';

/** Where a pane's text goes: the output element of the view showing the pane. */
export interface TextSink {
  /** Replaces everything shown (on attach, and if the final record disagrees with the stream). */
  reset(text: string): void;
  /** Adds the text received since the last frame. */
  append(text: string): void;
  /** After every pane's DOM writes of a frame: the place to read layout (auto-scroll). */
  settle?(): void;
}

export interface Scheduler {
  requestFrame(callback: () => void): void;
  /** Monotonic milliseconds. */
  now(): number;
  /** Repeats `callback` every `ms` until the returned function is called. */
  every(ms: number, callback: () => void): () => void;
}

export const browserScheduler: Scheduler = {
  requestFrame: (callback) => {
    requestAnimationFrame(() => callback());
  },
  now: () => performance.now(),
  every: (ms, callback) => {
    const handle = setInterval(callback, ms);
    return () => clearInterval(handle);
  },
};

/** How often a streaming pane's elapsed time moves while no event arrives. */
const CLOCK_MS = 250;
/** How often a streaming pane's live counters (elapsed, tokens, tokens/s) change on screen: a
 * number changing 15 times a second cannot be read anyway, and each change costs layout (with
 * 16 panes at 200 tokens/s, hiding the counters halved the late frames in the UI bench). The
 * first token's time shows at once, and the final record's values as soon as it arrives. */
const LIVE_METRICS_MS = 250;
/** Past this many chunks the already-drawn ones are joined into one string. */
const COMPACT_CHUNKS = 4096;
/** Up to this many panes, every changed pane is drawn in every frame. */
const ALL_IN_ONE_FRAME = 4;
/** The longest the run's summary (status counts, and the phase once the run ends) waits for a
 * frame that draws no pane. It sits above the grid, and WebKitGTK repaints the bounding box of
 * all of a frame's changes: changed together with a row of panes, it repainted everything from
 * the summary down to that row (the run's last frames, 22-29 ms each in the UI bench). */
const SUMMARY_MS = 250;

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

function sameCounts(left: StatusCounts, right: StatusCounts): boolean {
  return left.streaming === right.streaming && left.done === right.done && left.incomplete === right.incomplete && left.error === right.error;
}

/** The columns `PaneGrid` prefers for `count` panes: about sqrt(count), so the grid fills the
 * window. */
export function gridColumns(count: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(count)));
}

/** The grid row that pane `index` of `count` sits in, as `PaneGrid` lays them out
 * (`gridColumns`), or 0 for every pane when there are few. Beyond `ALL_IN_ONE_FRAME` panes
 * a frame draws the changed panes of one row only and the next frame the next row, so each pane
 * is still drawn several times a second (every 4th frame at 16 panes: 15 times a second at
 * 60 Hz) while a frame repaints a strip of the window. Measured in WebKitGTK with CPU painting:
 * when many panes change in one frame it repaints their bounding box, all 16 panes, and 16
 * panes at 200 tokens/s then took about 50 ms a frame. */
export function rowOf(index: number, count: number): number {
  if (count <= ALL_IN_ONE_FRAME) {
    return 0;
  }
  return Math.floor(index / gridColumns(count));
}

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

export function responseKeyId(key: ResponseKey): string {
  return `${key.prompt_index}:${key.target_index}:${key.repeat_index}`;
}

export class Pane {
  readonly id: string;
  readonly key: ResponseKey;
  readonly target: Target;

  // Reactive: written by `flush` only.
  status = $state<PaneStatus>('streaming');
  timeToFirstTokenMs = $state<number | null>(null);
  elapsedMs = $state(0);
  outputTokens = $state<number | null>(null);
  /** True while `outputTokens` counts chunks rather than the cloud's reported usage. */
  tokensEstimated = $state(true);
  tokensPerSecond = $state<number | null>(null);
  costUsd = $state<number | null>(null);
  costSource = $state<string | null>(null);
  errorText = $state<string | null>(null);
  /** A transient note while streaming (a retried attempt). */
  notice = $state<string | null>(null);
  reportedModel = $state<string | null>(null);
  region = $state<string | null>(null);
  requestId = $state<string | null>(null);
  finishReason = $state<string | null>(null);
  reasoningChars = $state(0);
  textLength = $state(0);
  record = $state.raw<ResponseRecord | null>(null);

  /** Frames in which this pane was drawn (tests and the benchmark read it). */
  renders = 0;
  /** The grid row it is drawn with (`rowOf`), set when the store lists its panes. */
  row = 0;

  // Plain: written by every event.
  #chunks: string[] = [];
  #drawnChunks = 0;
  #drawnLength = 0;
  #receivedLength = 0;
  #lastEventUs = 0;
  #reasoningChars = 0;
  /** The engine's figures for this response so far (the workbench sends them with each batch). */
  #live: LiveMetrics | null = null;
  #attempt = 0;
  #lastError: ProviderError | null = null;
  #finishReason: string | null = null;
  #meta: { reported_model: string | null; region: string | null; request_id: string | null } = {
    reported_model: null,
    region: null,
    request_id: null,
  };
  #record: ResponseRecord | null = null;
  /** Set when the run ended without this pane's record. */
  #endedWithout: string | null = null;
  #shownAt: number;
  /** When the live counters last changed on screen (`LIVE_METRICS_MS`). */
  #countersShownAt = -Infinity;
  #sinks = new Set<TextSink>();

  constructor(key: ResponseKey, target: Target, now: number) {
    this.id = responseKeyId(key);
    this.key = key;
    this.target = target;
    this.#shownAt = now;
  }

  get finished(): boolean {
    return this.#record !== null || this.#endedWithout !== null;
  }

  /** All text received so far (drawn or not), for copying. */
  text(): string {
    this.#compactDrawn();
    return this.#chunks.join('');
  }

  /** The answer as the final record has it once it arrived (drawn or not yet), else all the
   * text received so far: what Diff compares. */
  answer(): string {
    return this.#record?.text ?? this.text();
  }

  /** Shows this pane's drawn text in `sink` and keeps it up to date until the returned
   * function is called. */
  attach(sink: TextSink): () => void {
    this.#compactDrawn();
    sink.reset(this.#drawnChunks > 0 ? (this.#chunks[0] ?? '') : '');
    this.#sinks.add(sink);
    return () => {
      this.#sinks.delete(sink);
    };
  }

  /** Applies one stream event to the plain state. O(1). */
  applyEvent(stamped: StampedEvent): void {
    const event = stamped.event;
    this.#lastEventUs = Math.max(this.#lastEventUs, stamped.elapsed_us);
    if (stamped.attempt > this.#attempt) {
      this.#attempt = stamped.attempt;
    }
    switch (event.type) {
      case 'started':
        this.#meta = { reported_model: event.reported_model, region: event.region, request_id: event.request_id };
        this.#lastError = null;
        break;
      case 'text_delta':
        this.#chunks.push(event.text);
        this.#receivedLength += event.text.length;
        break;
      case 'reasoning_delta':
        this.#reasoningChars += event.text.length;
        break;
      case 'tool_call_delta':
      case 'usage':
        break;
      case 'finished':
        this.#finishReason = event.reason;
        break;
      case 'error': {
        const { type: _type, ...error } = event;
        this.#lastError = error;
        break;
      }
      case 'server_timing':
        break;
    }
  }

  /** The engine's live figures, after the batch's events. */
  applyLive(metrics: LiveMetrics): void {
    this.#live = metrics;
  }

  applyRecord(record: ResponseRecord): void {
    this.#record = record;
  }

  /** The run ended (finished or failed) before this pane's record arrived. */
  endWithout(reason: string): void {
    if (this.#record === null && this.#endedWithout === null) {
      this.#endedWithout = reason;
    }
  }

  /** Writes the plain state into the reactive state and hands new text to the sinks. Called by
   * the store once per frame at most. */
  flush(now: number): void {
    this.renders += 1;
    const record = this.#record;
    if (record !== null && record.text !== this.#streamedTextIfDifferentLength(record.text)) {
      // The record is the truth; a stream that missed events is corrected once, at the end.
      this.#chunks = [record.text];
      this.#drawnChunks = 1;
      this.#drawnLength = record.text.length;
      this.#receivedLength = record.text.length;
      for (const sink of this.#sinks) {
        sink.reset(record.text);
      }
    } else if (this.#drawnChunks < this.#chunks.length) {
      const added = this.#chunks.slice(this.#drawnChunks).join('');
      this.#drawnChunks = this.#chunks.length;
      this.#drawnLength += added.length;
      for (const sink of this.#sinks) {
        sink.append(added);
      }
      if (this.#drawnChunks > COMPACT_CHUNKS) {
        this.#compactDrawn();
      }
    }
    this.textLength = this.#drawnLength;
    this.reasoningChars = this.#reasoningChars;
    this.finishReason = record?.finish_reason ?? this.#finishReason;

    if (record !== null) {
      this.status = statusOf(record, record.text.length > 0);
      this.timeToFirstTokenMs = record.metrics.time_to_first_token_ms;
      this.elapsedMs = record.metrics.total_ms;
      this.outputTokens = record.usage.output_tokens ?? (record.metrics.content_chunks > 0 ? record.metrics.content_chunks : null);
      this.tokensEstimated = record.usage.output_tokens === null;
      this.tokensPerSecond = record.metrics.output_tokens_per_second;
      this.costUsd = record.cost_usd;
      this.costSource = record.cost_source;
      this.errorText = record.error === null ? null : describePaneError(record.error);
      this.notice = null;
      this.reportedModel = record.reported_model;
      this.region = record.region;
      this.requestId = record.request_id;
      this.record = record;
      return;
    }

    const live = this.#liveMetrics(now);
    const firstToken = this.timeToFirstTokenMs === null && live.timeToFirstTokenMs !== null;
    this.timeToFirstTokenMs = live.timeToFirstTokenMs;
    if (firstToken || this.#endedWithout !== null || now - this.#countersShownAt >= LIVE_METRICS_MS) {
      this.#countersShownAt = now;
      this.elapsedMs = live.elapsedMs;
      this.outputTokens = live.outputTokens;
      this.tokensEstimated = this.#live?.tokens_estimated ?? true;
      this.tokensPerSecond = live.tokensPerSecond;
    }
    this.reportedModel = this.#meta.reported_model;
    this.region = this.#meta.region;
    this.requestId = this.#meta.request_id;
    if (this.#endedWithout !== null) {
      this.status = this.#receivedLength > 0 ? 'incomplete' : 'error';
      this.errorText = this.#lastError === null ? this.#endedWithout : describePaneError(this.#lastError);
      this.notice = null;
      return;
    }
    this.status = 'streaming';
    this.notice =
      this.#lastError !== null
        ? `attempt ${this.#attempt + 1}: ${describePaneError(this.#lastError)}`
        : this.#attempt > 0
          ? `retried (attempt ${this.#attempt + 1})`
          : null;
  }

  /** Runs after every dirty pane's `flush` and Svelte's DOM update of the same frame. */
  settle(): void {
    for (const sink of this.#sinks) {
      sink.settle?.();
    }
  }

  /** The streamed text when it could equal `expected`; skips the join when lengths differ. */
  #streamedTextIfDifferentLength(expected: string): string | null {
    if (this.#receivedLength !== expected.length) {
      return null;
    }
    return this.text();
  }

  #liveMetrics(now: number): {
    timeToFirstTokenMs: number | null;
    elapsedMs: number;
    outputTokens: number | null;
    tokensPerSecond: number | null;
  } {
    const live = this.#live;
    return {
      timeToFirstTokenMs: live?.time_to_first_token_ms ?? null,
      elapsedMs: Math.max(this.#lastEventUs / 1000, now - this.#shownAt),
      outputTokens: live?.output_tokens ?? null,
      tokensPerSecond: live?.output_tokens_per_second ?? null,
    };
  }

  /** Joins the drawn chunks into one string, so `#chunks[0]` holds all drawn text. */
  #compactDrawn(): void {
    if (this.#drawnChunks < 2) {
      return;
    }
    const joined = this.#chunks.slice(0, this.#drawnChunks).join('');
    this.#chunks.splice(0, this.#drawnChunks, joined);
    this.#drawnChunks = 1;
  }

}

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
