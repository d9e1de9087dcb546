// A test double of the shell for vitest, never bundled into the app: an in-memory `Backend` with
// saved targets, a keychain that only keeps names, runs that stream through the same
// `RunMessage`s the shell sends (batched every ~16 ms), and a history with search. It owns no
// rule of the engine: target validation answers what a test scripts (`validate`), and its
// timings and diffs are stand-ins, not measurements.

import type { Backend, ListRunsQuery } from '../../src/lib/backend';
import { mockDiff, mockSimilarity } from './mock-diff';
import { behaviourOf, simulatedTargets, tokenize, type SimulatedBehaviour } from './simulated';
import type {
  CommandError,
  CommandErrorKind,
  FieldError,
  Metrics,
  ProviderError,
  ResponseKey,
  ResponseRecord,
  RunId,
  RunMessage,
  RunRequest,
  RunSummary,
  StampedEvent,
  StoredRun,
  Target,
  Usage,
} from '../../src/lib/types';

/** Double settings from a query string, as the tests write them:
 * `tps=200&panes=16&tokens=2000&latency=0.5`; `nokeychain` simulates a desktop with no Secret
 * Service. */
export function mockOptionsFromQuery(search: string): MockOptions {
  const query = new URLSearchParams(search);
  const number = (name: string): number | undefined => {
    const value = Number(query.get(name) ?? Number.NaN);
    return Number.isFinite(value) && value > 0 ? value : undefined;
  };
  const options: MockOptions = {};
  const tokensPerSecond = number('tps');
  const latencyScale = number('latency');
  const demoTargets = number('panes');
  const answerTokens = number('tokens');
  if (tokensPerSecond !== undefined) options.tokensPerSecond = tokensPerSecond;
  if (latencyScale !== undefined) options.latencyScale = latencyScale;
  if (demoTargets !== undefined) options.demoTargets = Math.round(demoTargets);
  if (answerTokens !== undefined) options.answerTokens = Math.round(answerTokens);
  if (query.has('nokeychain')) options.keychainUnavailable = true;
  return options;
}

export interface MockOptions {
  /** Output tokens per second of a target at speed 1 (each simulated target scales it). */
  tokensPerSecond?: number;
  /** Multiplies every simulated time to first token (tests use a small value). */
  latencyScale?: number;
  /** How often event batches are sent, like the shell's per-frame batching. */
  batchMs?: number;
  /** Saved targets at start; none by default, so the first-launch offer shows. */
  targets?: Target[];
  keys?: string[];
  /** Simulates a desktop with no Secret Service: listing and setting keys fail as the shell's
   * do, and so does a run of a target that names a key (`key = "NAME"`). */
  keychainUnavailable?: boolean;
  /** What `validateTarget` answers (and `saveTarget` rejects on); every target is good by
   * default. Tests that need the engine's real answers script them here. */
  validate?: (target: Target) => FieldError[];
  /** How many simulated targets `startDemo` adds (default: the 9 scripted ones; more are
   * numbered copies, fewer are the first ones). */
  demoTargets?: number;
  /** Makes every answer at least this many tokens long by repeating it (long-run benchmarks). */
  answerTokens?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
}

interface ActiveResponse {
  key: ResponseKey;
  target: Target;
  behaviour: SimulatedBehaviour;
  tokens: string[];
  /** Monotonic ms when the request was "sent". */
  startedAt: number;
  firstTokenAt: number;
  millisecondsPerToken: number;
  sent: number;
  sequence: number;
  startedSent: boolean;
  contentTimes: number[];
  done: boolean;
}

interface ActiveRun {
  id: RunId;
  stored: StoredRun;
  responses: ActiveResponse[];
  onEvent: (message: RunMessage) => void;
  timer: ReturnType<typeof setInterval> | undefined;
}

function commandError(kind: CommandErrorKind, message: string): CommandError {
  return { kind, message, retryable: false };
}

/** What the shell says when no Secret Service is running (engine `KeychainError::Unavailable`). */
export const MOCK_KEYCHAIN_ERROR =
  'no Secret Service is running (the OS keychain on Linux): start gnome-keyring or KeePassXC with Secret Service ' +
  'enabled, or inside a headless session run `dbus-run-session` and `gnome-keyring-daemon --unlock`; or use an ' +
  'environment variable instead (api_key_ref) [org.freedesktop.DBus.Error.ServiceUnknown]';

/** A UUIDv7-shaped id: time-ordered, like the engine's `RunId`. */
function newRunId(): RunId {
  const time = Date.now().toString(16).padStart(12, '0');
  const random = Array.from({ length: 20 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(0, 3)}-${'89ab'[Math.floor(Math.random() * 4)]}${random.slice(3, 6)}-${random.slice(6, 18)}`;
}

function repeatToLength(tokens: string[], length: number): string[] {
  const repeated = [...tokens];
  while (repeated.length < length && tokens.length > 0) {
    repeated.push('\n\n', ...tokens);
  }
  return repeated;
}

function emptyUsage(): Usage {
  return {
    input_tokens: null,
    output_tokens: null,
    reasoning_tokens: null,
    cached_input_tokens: null,
    cache_creation_input_tokens: null,
    total_tokens: null,
  };
}

function percentile(sorted: number[], share: number): number | null {
  if (sorted.length === 0) {
    return null;
  }
  const index = Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? null;
}

async function noPanel(panelId: string): Promise<never> {
  throw commandError('validation', `no panel '${panelId}'`);
}

export function createMockBackend(options: MockOptions = {}): Backend & { readonly activeRuns: number } {
  const tokensPerSecond = options.tokensPerSecond ?? 60;
  const latencyScale = options.latencyScale ?? 1;
  const batchMs = options.batchMs ?? 16;
  const now = options.now ?? (() => performance.now());
  const targets = new Map<string, Target>((options.targets ?? []).map((target) => [target.name, structuredClone(target)]));
  const keys = new Set<string>(options.keys ?? []);
  const runs: StoredRun[] = [];
  const active = new Map<RunId, ActiveRun>();

  function sortedTargets(): Target[] {
    return [...targets.values()].sort((left, right) => left.name.localeCompare(right.name)).map((target) => structuredClone(target));
  }

  function stamp(response: ActiveResponse, elapsedMs: number, event: StampedEvent['event']): StampedEvent {
    return {
      response_key: response.key,
      target: response.target.name,
      attempt: 0,
      sequence: response.sequence++,
      elapsed_us: Math.round(elapsedMs * 1000),
      event,
    };
  }

  function providerError(response: ActiveResponse, failure: Omit<ProviderError, 'target' | 'provider' | 'retryable'>): ProviderError {
    const retryable = ['rate_limited', 'overloaded', 'server', 'connect'].includes(failure.kind);
    return { ...failure, target: response.target.name, provider: response.target.provider, retryable };
  }

  function record(run: ActiveRun, response: ActiveResponse, finishedAt: number, error: ProviderError | null): ResponseRecord {
    const text = response.tokens.slice(0, response.sent).join('');
    const outputTokens = response.sent;
    const inputTokens = Math.round(24 + (run.stored.record.prompts[0]?.messages[0]?.content.length ?? 0) / 4);
    const firstContent = response.contentTimes[0];
    const gaps = response.contentTimes.slice(1).map((time, index) => time - (response.contentTimes[index] ?? time));
    gaps.sort((left, right) => left - right);
    const metrics: Metrics = {
      time_to_first_token_ms: firstContent === undefined ? null : firstContent - response.startedAt,
      total_ms: finishedAt - response.startedAt,
      // The scripted speed, not a measurement: the engine owns the formula.
      output_tokens_per_second: outputTokens > 1 ? 1000 / response.millisecondsPerToken : null,
      content_chunks: response.contentTimes.length,
      gap_p50_ms: percentile(gaps, 0.5),
      gap_p95_ms: percentile(gaps, 0.95),
      gap_max_ms: gaps.length > 0 ? (gaps[gaps.length - 1] ?? null) : null,
      server_latency_ms: null,
      server_first_byte_ms: null,
      client_lag_first_token_ms: null,
      client_lag_end_ms: null,
      client_saturated: false,
    };
    const complete = error === null;
    const usage: Usage = complete
      ? { ...emptyUsage(), input_tokens: inputTokens, output_tokens: outputTokens, total_tokens: inputTokens + outputTokens }
      : emptyUsage();
    const price = response.behaviour.outputPricePerMillion;
    const inputPrice = response.behaviour.inputPricePerMillion ?? 0;
    const cost =
      complete && price !== undefined ? (outputTokens * price + inputTokens * inputPrice) / 1_000_000 : null;
    const costSource = !complete
      ? 'no usage reported: the response did not complete'
      : price === undefined
        ? 'no price for a local model'
        : 'simulated price (mock backend)';
    const wallNow = Date.now();
    return {
      run_id: run.id,
      key: response.key,
      target: response.target.name,
      provider: response.target.provider,
      model: response.target.model,
      request_id: response.startedSent ? `sim-${run.id.slice(-6)}-${response.key.target_index}` : null,
      reported_model: response.startedSent ? response.target.model : null,
      region: response.behaviour.region ?? null,
      text,
      reasoning: '',
      tool_calls: [],
      finish_reason: complete ? 'stop' : null,
      raw_finish_reason: complete ? 'stop' : null,
      refusal: false,
      usage,
      metrics,
      cost_usd: cost,
      cost_source: costSource,
      complete,
      error,
      attempts: 1,
      unsupported_parameters: [],
      started_at_ms: wallNow - Math.round(finishedAt - response.startedAt),
      finished_at_ms: wallNow,
    };
  }

  /** Moves every response of `run` forward to `at`, returning the batch and the final records. */
  function advance(run: ActiveRun, at: number, cancel: boolean): { events: StampedEvent[]; records: ResponseRecord[] } {
    const events: StampedEvent[] = [];
    const records: ResponseRecord[] = [];
    for (const response of run.responses) {
      if (response.done) {
        continue;
      }
      const elapsed = at - response.startedAt;
      if (!response.startedSent && at >= response.startedAt + (response.firstTokenAt - response.startedAt) / 2) {
        response.startedSent = true;
        events.push(
          stamp(response, elapsed, {
            type: 'started',
            request_id: `sim-${run.id.slice(-6)}-${response.key.target_index}`,
            reported_model: response.target.model,
            region: response.behaviour.region ?? null,
          }),
        );
      }
      const failure = response.behaviour.failure;
      const limit = failure ? Math.min(failure.afterTokens, response.tokens.length) : response.tokens.length;
      if (!cancel) {
        while (response.sent < limit) {
          const due = response.firstTokenAt + response.sent * response.millisecondsPerToken;
          if (due > at) {
            break;
          }
          const token = response.tokens[response.sent] ?? '';
          response.sent += 1;
          response.contentTimes.push(due);
          events.push(stamp(response, due - response.startedAt, { type: 'text_delta', text: token }));
        }
      }
      let error: ProviderError | null = null;
      if (cancel) {
        error = providerError(response, { kind: 'cancelled', status: null, code: null, message: 'cancelled' });
      } else if (failure && response.sent >= limit) {
        const failsAt = Math.max(response.firstTokenAt, response.firstTokenAt + limit * response.millisecondsPerToken);
        if (at < failsAt) {
          continue;
        }
        error = providerError(response, failure);
      } else if (response.sent < response.tokens.length) {
        continue;
      }
      response.done = true;
      if (error) {
        events.push(stamp(response, elapsed, { type: 'error', ...error }));
      } else {
        const finalRecord = record(run, response, at, null);
        events.push(stamp(response, elapsed, { type: 'usage', ...finalRecord.usage }));
        events.push(stamp(response, elapsed, { type: 'finished', reason: 'stop', raw_reason: 'stop' }));
        records.push(finalRecord);
        continue;
      }
      records.push(record(run, response, at, error));
    }
    return { events, records };
  }

  function tick(run: ActiveRun, cancel = false): void {
    const { events, records } = advance(run, now(), cancel);
    if (events.length > 0) {
      run.onEvent({ kind: 'events', live: [], events });
    }
    for (const response of records) {
      run.stored.responses.push(response);
      run.onEvent({ kind: 'response', response });
    }
    if (run.responses.every((response) => response.done)) {
      clearInterval(run.timer);
      active.delete(run.id);
      run.stored.responses.sort(
        (left, right) => left.key.target_index - right.key.target_index,
      );
      run.stored.status = cancel ? 'cancelled' : 'completed';
      run.stored.finished_at_ms = Date.now();
      run.onEvent({ kind: 'finished', run_id: run.id });
    }
  }

  function matches(run: StoredRun, terms: string[]): boolean {
    const haystack = [
      ...run.record.prompts.flatMap((prompt) => [prompt.system ?? '', ...prompt.messages.map((message) => message.content)]),
      ...run.responses.map((response) => response.text),
    ]
      .join('\n')
      .toLowerCase();
    return terms.every((term) => haystack.includes(term));
  }

  function summary(run: StoredRun): RunSummary {
    const expected = run.record.targets.length * run.record.prompts.length * run.record.repeat;
    const finished = run.status !== 'running';
    return {
      id: run.record.id,
      started_at_ms: run.record.started_at_ms,
      finished_at_ms: run.finished_at_ms,
      status: run.status,
      first_prompt: run.record.prompts[0]?.messages.findLast((message) => message.role === 'user')?.content ?? '',
      prompt_count: run.record.prompts.length,
      target_names: run.record.targets.map((target) => target.name),
      repeat: run.record.repeat,
      response_count: expected,
      failed_count: run.responses.filter((response) => !response.complete && response.text === '').length,
      complete_count: run.responses.filter((response) => response.complete).length,
      partial_count: run.responses.filter((response) => !response.complete && response.text !== '').length,
      cancelled_count: 0,
      never_sent_count: finished ? expected - run.responses.length : 0,
      running_count: finished ? 0 : expected - run.responses.length,
    };
  }

  return {
    kind: 'mock',
    get activeRuns() {
      return active.size;
    },

    async listTargets() {
      return sortedTargets();
    },

    async validateTarget(target) {
      return options.validate?.(target) ?? [];
    },

    async saveTarget(target, original) {
      const first = (options.validate?.(target) ?? [])[0];
      if (first) {
        throw commandError('validation', `target '${target.name}': ${first.message}`);
      }
      if (original !== undefined && original !== target.name) {
        targets.delete(original);
      }
      targets.set(target.name, structuredClone(target));
    },

    async removeTarget(name) {
      if (!targets.delete(name)) {
        throw commandError('not_found', `no saved target named '${name}'`);
      }
    },

    async setKey(name, secret) {
      if (name.trim() === '' || secret === '') {
        throw commandError('validation', 'a key needs a name and a secret');
      }
      if (options.keychainUnavailable) {
        throw commandError('keychain', MOCK_KEYCHAIN_ERROR);
      }
      keys.add(name);
    },

    async listKeys() {
      if (options.keychainUnavailable) {
        throw commandError('keychain', MOCK_KEYCHAIN_ERROR);
      }
      return [...keys].sort();
    },

    async testTarget(name) {
      const target = targets.get(name);
      if (!target) {
        throw commandError('not_found', `no saved target named '${name}'`);
      }
      const behaviour = behaviourOf(target);
      // A test is a one-token answer; only a failure before any text shows up in it.
      const failure = behaviour.failure?.afterTokens === 0 ? behaviour.failure : undefined;
      const startedAt = now();
      const firstTokenAt = startedAt + behaviour.firstTokenMs * latencyScale * 0.5;
      const response: ActiveResponse = {
        key: { prompt_index: 0, target_index: 0, repeat_index: 0 },
        target,
        behaviour: failure ? { ...behaviour, failure } : { ...behaviour, failure: undefined },
        tokens: ['pong'],
        startedAt,
        firstTokenAt,
        millisecondsPerToken: 1,
        sent: 0,
        sequence: 0,
        startedSent: false,
        contentTimes: [],
        done: false,
      };
      const testRun: ActiveRun = {
        id: newRunId(),
        stored: {
          record: { id: '', started_at_ms: Date.now(), parameters: { max_output_tokens: 16 }, prompts: [], targets: [target], repeat: 1 },
          finished_at_ms: null,
          status: 'running',
          planned_count: 1,
          responses: [],
        },
        responses: [response],
        onEvent: () => undefined,
        timer: undefined,
      };
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, firstTokenAt - startedAt + 2)));
      const result = advance(testRun, Math.max(now(), firstTokenAt + 2), false).records[0];
      if (!result) {
        throw commandError('internal', 'the simulated test did not finish');
      }
      return result;
    },

    async startRun(request: RunRequest, onEvent) {
      if (request.prompt.trim() === '') {
        throw commandError('validation', 'the prompt is empty');
      }
      if (request.targets.length === 0) {
        throw commandError('validation', 'choose at least one target');
      }
      const runTargets = request.targets.map((name) => {
        const target = targets.get(name);
        if (!target) {
          throw commandError('not_found', `no saved target named '${name}'`);
        }
        // Like the engine, a key that cannot be read stops the whole run before anything is sent.
        if (options.keychainUnavailable && target.key !== undefined) {
          throw commandError('auth', `target '${name}': ${MOCK_KEYCHAIN_ERROR}`);
        }
        return structuredClone(target);
      });
      const id = newRunId();
      const startedAt = now();
      const stored: StoredRun = {
        record: {
          id,
          started_at_ms: Date.now(),
          parameters: structuredClone(request.parameters),
          prompts: [
            {
              ...(request.system ? { system: request.system } : {}),
              messages: [{ role: 'user', content: request.prompt }],
            },
          ],
          targets: runTargets,
          repeat: 1,
        },
        finished_at_ms: null,
        status: 'running',
        planned_count: runTargets.length,
        responses: [],
      };
      runs.push(stored);
      const maxTokens = request.parameters.max_output_tokens;
      const run: ActiveRun = {
        id,
        stored,
        onEvent,
        timer: undefined,
        responses: runTargets.map((target, index) => {
          const behaviour = behaviourOf(target);
          const firstTokenAt = startedAt + behaviour.firstTokenMs * latencyScale * (0.85 + Math.random() * 0.3);
          const allTokens = repeatToLength(tokenize(behaviour.answer), options.answerTokens ?? 0);
          return {
            key: { prompt_index: 0, target_index: index, repeat_index: 0 },
            target,
            behaviour,
            tokens: maxTokens === undefined ? allTokens : allTokens.slice(0, maxTokens),
            startedAt,
            firstTokenAt,
            millisecondsPerToken: 1000 / (tokensPerSecond * behaviour.speed),
            sent: 0,
            sequence: 0,
            startedSent: false,
            contentTimes: [],
            done: false,
          };
        }),
      };
      active.set(id, run);
      // Like the shell, `started` can arrive before `start_run` has answered.
      onEvent({ kind: 'started', run_id: id, targets: structuredClone(runTargets) });
      run.timer = setInterval(() => tick(run), batchMs);
      return id;
    },

    async stopRun(runId) {
      const run = active.get(runId);
      if (run) {
        tick(run, true);
      }
    },

    async listRuns(query: ListRunsQuery = {}) {
      const terms = (query.query ?? '').toLowerCase().split(/\s+/).filter((term) => term !== '');
      const found = runs
        .filter((run) => matches(run, terms))
        .sort((left, right) => right.record.started_at_ms - left.record.started_at_ms || (right.record.id < left.record.id ? -1 : 1))
        .map(summary);
      return found.slice(0, query.limit ?? 100);
    },

    async loadRun(runId) {
      const run = runs.find((candidate) => candidate.record.id === runId);
      if (!run) {
        throw commandError('not_found', `no run ${runId}`);
      }
      return structuredClone(run);
    },

    async deleteRun(runId) {
      if (active.has(runId)) {
        throw commandError('validation', `run ${runId} is still running: stop it or let it end first (nothing was deleted)`);
      }
      const index = runs.findIndex((candidate) => candidate.record.id === runId);
      if (index < 0) {
        throw commandError('not_found', `no run ${runId}`);
      }
      runs.splice(index, 1);
    },

    async startDemo() {
      const added = simulatedTargets(options.demoTargets);
      for (const target of added) {
        targets.set(target.name, target);
      }
      return added.map((target) => structuredClone(target));
    },

    async diffTexts(a, b, mode) {
      return mockDiff(a, b, mode);
    },

    async similarity(texts, mode) {
      return mockSimilarity(texts, mode);
    },

    async exportRun(runId, format) {
      if (!runs.some((run) => run.record.id === runId)) {
        throw commandError('not_found', `no run ${runId}`);
      }
      return `mock://modelbench-${runId}.${format}`;
    },

    // Sessions are the engine's statistics: the mock has none, and says so rather than invent
    // figures. Tests of the session views script their own double (tests/sessions.test.ts).
    async listSuites() {
      return [];
    },
    async importSuite() {
      return null;
    },
    async estimateSession() {
      throw commandError('validation', 'sessions are not simulated by the mock backend');
    },
    async startSession() {
      throw commandError('validation', 'sessions are not simulated by the mock backend');
    },
    async cancelSession(sessionId) {
      throw commandError('not_found', `no session '${sessionId}'`);
    },
    async resumeSession(sessionId) {
      throw commandError('not_found', `no session '${sessionId}'`);
    },
    async sessionAnswers(sessionId) {
      throw commandError('not_found', `no session '${sessionId}'`);
    },
    async pauseSession(sessionId) {
      throw commandError('not_found', `no session '${sessionId}'`);
    },
    async listSessions() {
      return [];
    },
    async sessionAnalysis(sessionId) {
      throw commandError('not_found', `no session '${sessionId}'`);
    },
    async exportSession(sessionId) {
      throw commandError('not_found', `no session '${sessionId}'`);
    },
    // Suites are the engine's to read and check: the mock has none (tests/suite-editor.test.ts
    // scripts its own double).
    async openSuiteDraft(hash) {
      throw commandError('not_found', `no stored suite '${hash}'`);
    },
    async checkSuiteDocument() {
      throw commandError('validation', 'suites are not simulated by the mock backend');
    },
    async checkSuiteText() {
      throw commandError('validation', 'suites are not simulated by the mock backend');
    },
    async saveSuiteDraft() {
      throw commandError('validation', 'suites are not simulated by the mock backend');
    },
    async exportSuiteDraft() {
      return null;
    },
    async dryCheckSuite() {
      throw commandError('validation', 'suites are not simulated by the mock backend');
    },
    // Panels belong to sessions, which the mock has none of.
    async listPanels() {
      return [];
    },
    async createRatingPanel(sessionId) {
      throw commandError('not_found', `no session '${sessionId}'`);
    },
    joinPanel: noPanel,
    ratingItem: noPanel,
    rateItem: noPanel,
    async sessionLeaderboard() {
      return null;
    },
  };
}
