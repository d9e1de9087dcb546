// A sample stored run for `Warmup.svelte`: one finished answer holding every printable ASCII
// character, so drawing it once uses the pane's code, fonts and glyphs before a real run does.

import type { StoredRun } from './types';

/** Printable ASCII, a few times over, in lines long enough to wrap in a narrow pane. */
export function warmupText(): string {
  let ascii = '';
  for (let code = 0x20; code < 0x7f; code += 1) {
    ascii += String.fromCharCode(code);
  }
  return `${ascii}\n${ascii} ${ascii}\n\n${ascii.toLowerCase()}\n`;
}

export function warmupRun(): StoredRun {
  const text = warmupText();
  const target = { name: 'warmup', provider: 'ollama' as const, model: 'warmup' };
  return {
    record: { id: 'warmup', started_at_ms: 0, parameters: {}, prompts: [], targets: [target], repeat: 1 },
    finished_at_ms: 1,
    status: 'completed',
    planned_count: 1,
    responses: [
      {
        run_id: 'warmup',
        key: { prompt_index: 0, target_index: 0, repeat_index: 0 },
        target: target.name,
        provider: target.provider,
        model: target.model,
        request_id: null,
        reported_model: null,
        region: null,
        text,
        reasoning: '',
        tool_calls: [],
        finish_reason: 'stop',
        raw_finish_reason: 'stop',
        refusal: false,
        usage: {
          input_tokens: 1,
          output_tokens: 1,
          reasoning_tokens: null,
          cached_input_tokens: null,
          cache_creation_input_tokens: null,
          total_tokens: 2,
        },
        metrics: {
          time_to_first_token_ms: 1,
          total_ms: 1,
          output_tokens_per_second: 1,
          content_chunks: 1,
          gap_p50_ms: null,
          gap_p95_ms: null,
          gap_max_ms: null,
          server_latency_ms: null,
          server_first_byte_ms: null,
          client_lag_first_token_ms: null,
          client_lag_end_ms: null,
          client_saturated: false,
        },
        cost_usd: 0,
        cost_source: null,
        complete: true,
        error: null,
        attempts: 1,
        unsupported_parameters: [],
        started_at_ms: 0,
        finished_at_ms: 1,
      },
    ],
  };
}
