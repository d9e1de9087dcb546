// Shared test fixtures: a hand-driven frame scheduler, and builders for the engine's messages.

import type { Scheduler } from '../src/lib/run-store/scheduler';
import type { LiveMetrics, LiveResponse, ProviderError, ResponseRecord, StampedEvent, StreamEvent, Target } from '../src/lib/types';

/** A scheduler whose frames run only when the test says so. */
export class ManualScheduler implements Scheduler {
  time = 0;
  requested = 0;
  #frames: (() => void)[] = [];
  #tickers = new Set<() => void>();

  requestFrame(callback: () => void): void {
    this.requested += 1;
    this.#frames.push(callback);
  }

  now(): number {
    return this.time;
  }

  every(_ms: number, callback: () => void): () => void {
    this.#tickers.add(callback);
    return () => this.#tickers.delete(callback);
  }

  /** Runs the callbacks requested so far, as one animation frame. */
  frame(advanceMs = 16): void {
    this.time += advanceMs;
    const callbacks = this.#frames;
    this.#frames = [];
    for (const callback of callbacks) {
      callback();
    }
  }

  tick(): void {
    for (const ticker of this.#tickers) {
      ticker();
    }
  }

  get pendingFrames(): number {
    return this.#frames.length;
  }

  get tickers(): number {
    return this.#tickers.size;
  }
}

export function target(name: string, fields: Partial<Target> = {}): Target {
  return { name, provider: 'openai', model: 'gpt-test', ...fields };
}

export function stamped(targetIndex: number, name: string, sequence: number, elapsedUs: number, event: StreamEvent): StampedEvent {
  return {
    response_key: { prompt_index: 0, target_index: targetIndex, repeat_index: 0 },
    target: name,
    attempt: 0,
    sequence,
    elapsed_us: elapsedUs,
    event,
  };
}

export function text(targetIndex: number, name: string, sequence: number, elapsedUs: number, value: string): StampedEvent {
  return stamped(targetIndex, name, sequence, elapsedUs, { type: 'text_delta', text: value });
}

export function providerError(fields: Partial<ProviderError> = {}): ProviderError {
  return {
    kind: 'auth',
    target: 'a',
    provider: 'openai',
    status: 401,
    code: 'invalid_api_key',
    message: 'Incorrect API key provided',
    retryable: false,
    ...fields,
  };
}

export function record(targetIndex: number, name: string, fields: Partial<ResponseRecord> = {}): ResponseRecord {
  return {
    run_id: '01900000-0000-7000-8000-000000000000',
    key: { prompt_index: 0, target_index: targetIndex, repeat_index: 0 },
    target: name,
    provider: 'openai',
    model: 'gpt-test',
    request_id: 'req-1',
    reported_model: 'gpt-test',
    region: null,
    text: '',
    reasoning: '',
    tool_calls: [],
    finish_reason: 'stop',
    raw_finish_reason: 'stop',
    refusal: false,
    usage: {
      input_tokens: 10,
      output_tokens: 3,
      reasoning_tokens: null,
      cached_input_tokens: null,
      cache_creation_input_tokens: null,
      total_tokens: 13,
    },
    metrics: {
      time_to_first_token_ms: 420,
      total_ms: 900,
      output_tokens_per_second: 40,
      content_chunks: 3,
      gap_p50_ms: 10,
      gap_p95_ms: 20,
      gap_max_ms: 25,
      server_latency_ms: null,
      server_first_byte_ms: null,
      client_lag_first_token_ms: null,
      client_lag_end_ms: null,
      client_saturated: false,
    },
    cost_usd: 0.0012,
    cost_source: 'catalog 2026-01-01',
    complete: true,
    error: null,
    attempts: 1,
    unsupported_parameters: [],
    started_at_ms: 1_700_000_000_000,
    finished_at_ms: 1_700_000_000_900,
    ...fields,
  };
}

/** The engine's live figures for one response, as the workbench sends them with a batch. */
export function live(targetIndex: number, name: string, metrics: Partial<LiveMetrics>): LiveResponse {
  return {
    target: name,
    response_key: { prompt_index: 0, target_index: targetIndex, repeat_index: 0 },
    metrics: { time_to_first_token_ms: null, output_tokens: null, tokens_estimated: true, output_tokens_per_second: null, ...metrics },
  };
}
