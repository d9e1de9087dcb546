// One pane of the run store: one response's state, in two layers so streaming costs O(1) per
// token.
//   - plain state, changed by every event the moment a batch arrives (text chunks are pushed onto
//     an array, counters bumped; nothing joined, nothing rendered);
//   - reactive state (Svelte `$state`), written only by `flush`, which the store calls at most
//     once per frame and only for a pane an event touched.
// Text never goes through reactive state (re-rendering a growing string per frame would be
// O(length)): `flush` hands the new text to the `TextSink`s attached to the pane, which append it
// to the DOM.
//
// Left out: which pane an event belongs to, and when a pane is drawn (the store's); computing
// final metrics (once the record arrives everything shown comes from it).

import { describePaneError } from '../format';
import type { LiveMetrics, ProviderError, ResponseKey, ResponseRecord, StampedEvent, Target } from '../types';
import { type PaneStatus, statusOf } from './status';

/** Where a pane's text goes: the output element of the view showing the pane. */
export interface TextSink {
  /** Replaces everything shown (on attach, and if the final record disagrees with the stream). */
  reset(text: string): void;
  /** Adds the text received since the last frame. */
  append(text: string): void;
  /** After every pane's DOM writes of a frame: the place to read layout (auto-scroll). */
  settle?(): void;
}

/** How often a streaming pane's live counters (elapsed, tokens, tokens/s) change on screen: a
 * number changing 15 times a second cannot be read anyway, and each change costs layout (with
 * 16 panes at 200 tokens/s, hiding the counters halved the late frames in the UI bench). The
 * first token's time shows at once, and the final record's values as soon as it arrives. */
const LIVE_METRICS_MS = 250;
/** Past this many chunks the already-drawn ones are joined into one string. */
const COMPACT_CHUNKS = 4096;

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
