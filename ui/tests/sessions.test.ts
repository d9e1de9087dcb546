import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import type { Backend } from '../src/lib/backend';
import {
  errorSummary,
  formatQuantile,
  formatRateInterval,
  latencyChart,
  parseBudget,
  parseCount,
  resumable,
  statusLabel,
  verdictCounts,
} from '../src/lib/session-view';
import { SessionWorkspace } from '../src/lib/sessions.svelte';
import type {
  Analysis,
  Distribution,
  Estimate,
  Parity,
  SessionMessage,
  SessionProgress,
  SessionRequest,
  SessionSummary,
  SuiteInfo,
  TargetFigures,
  TestAnswer,
} from '../src/lib/types';
import { createMockBackend } from './doubles/mock-backend';
import { target } from './helpers';

const SUITE: SuiteInfo = {
  hash: 'abc123',
  name: 'Sample',
  description: null,
  format: 'yaml',
  path: null,
  tests: 8,
  cases: 8,
  checks: 8,
  max_output_tokens: 200,
  notes: [],
};

function distribution(p50: number, fields: Partial<Distribution> = {}): Distribution {
  return {
    count: 8,
    p25: p50 * 0.8,
    p50,
    p75: p50 * 1.2,
    p90: null,
    p95: p50 * 1.5,
    p99: null,
    p50_ci: [p50 * 0.9, p50 * 1.1],
    p95_ci: null,
    p90_ci: null,
    p99_ci: null,
    mean: p50,
    min: p50 / 2,
    max: p50 * 2,
    ...fields,
  };
}

function figures(name: string, baseModel: string, p50: number, errors: Record<string, number> = {}): TargetFigures {
  const rate = (value: number) => ({ value, low: value - 0.1, high: value + 0.1, count: 4, total: 8 });
  return {
    target: name,
    provider: 'openai',
    model: baseModel,
    region: null,
    base_model: baseModel,
    planned: 8,
    completed: 8,
    attempted: 8,
    errors,
    error_rate: rate(0),
    error_rates: {},
    pass_rate: rate(0.5),
    refusals: 0,
    ttft_ms: distribution(p50),
    total_ms: distribution(p50 * 3),
    output_tokens_per_second: distribution(50),
    client_saturated: 0,
    input_tokens: 100,
    output_tokens: 400,
    cost_usd: { total: 0.01, per_test: 0.00125, per_1000_tests: 1.25, unknown: 0 },
    reported_models: [],
    reported_regions: [],
    system_fingerprints: [],
    service_tiers: [],
    model_changed: false,
    fingerprint_changed: false,
    service_tier_changed: false,
  };
}

function parity(a: string, b: string, verdicts: string[]): Parity {
  return {
    base_model: 'gpt-5.4',
    a,
    b,
    metrics: verdicts.map((verdict, index) => ({
      metric: ['ttft_p50', 'ttft_p95', 'error_rate', 'pass_rate', 'output_drift', 'cost_per_test'][index] ?? 'x',
      a: 1,
      b: 1,
      difference: 0,
      ci: null,
      p_value: null,
      p_value_adjusted: null,
      verdict,
      needed_samples: null,
      samples: 8,
      margin: 0.1,
      note: null,
    })),
    versions_differ: false,
    service_tiers_differ: false,
  };
}

function analysis(): Analysis {
  return {
    session_id: 's1',
    status: 'completed',
    seed: 1,
    confidence: 0.95,
    margins: { latency_percent: 10, pass_rate_points: 3, error_rate_points: 1 },
    targets: [
      figures('openai/gpt-5.4', 'gpt-5.4', 400),
      figures('azure/gpt-5.4', 'gpt-5.4', 300, { rate_limited: 2, server: 1 }),
      figures('ollama/llama3.3', 'llama3.3', 150),
    ],
    parity: [parity('openai/gpt-5.4', 'azure/gpt-5.4', ['better', 'equivalent', 'equivalent', 'too_few_samples'])],
    tests: [
      {
        case_id: 'capital-de',
        test_id: 'capital-de',
        description: 'the capital of Germany',
        targets: [
          { target: 'openai/gpt-5.4', passed: 2, failed: 0, errors: 0, pass_share: 1, self_similarity: 1 },
          { target: 'azure/gpt-5.4', passed: 1, failed: 1, errors: 0, pass_share: 0.5, self_similarity: 0.4 },
          { target: 'ollama/llama3.3', passed: 0, failed: 0, errors: 2, pass_share: null, self_similarity: null },
        ],
      },
    ],
    leaderboard: [],
    decisions: [
      {
        base_model: 'gpt-5.4',
        targets: ['openai/gpt-5.4', 'azure/gpt-5.4'],
        equivalent: ['openai/gpt-5.4', 'azure/gpt-5.4'],
        cheapest: 'azure/gpt-5.4',
        fastest: 'azure/gpt-5.4',
        most_reliable: 'openai/gpt-5.4',
      },
    ],
    failures: [],
    failure_count: 0,
    notes: [],
  };
}

function progress(done: number[], planned = 8): SessionProgress {
  const names = ['openai/gpt-5.4', 'azure/gpt-5.4'];
  return {
    targets: done.map((count, index) => ({
      target: names[index] ?? `t${index}`,
      done: count,
      planned,
      errors: (index === 1 && count > 0 ? { rate_limited: 1 } : {}) as Record<string, number>,
      time_to_first_token_p50_ms: count > 0 ? 300 + index * 100 : null,
      spent_usd: count * 0.001,
    })),
    done: done.reduce((sum, count) => sum + count, 0),
    planned: planned * done.length,
    spent_usd: done.reduce((sum, count) => sum + count * 0.001, 0),
    budget_usd: null,
  };
}

function answer(target: string, repeat: number, text: string, passed: boolean | null): TestAnswer {
  return {
    target,
    repeat,
    text,
    complete: true,
    passed,
    reason: passed === false ? 'icontains: no "berlin" in the answer' : '',
    error: null,
    checks:
      passed === null
        ? []
        : [{ check: 'icontains', passed, reason: passed ? 'found "berlin"' : 'no "berlin" in the answer' }],
  };
}

/** A scripted shell for the session views: the mock's targets and runs, and sessions whose
 * messages the test sends through `emit`. */
function scriptedBackend() {
  const base = createMockBackend({ targets: [target('openai/gpt-5.4'), target('azure/gpt-5.4')] });
  const sessions: SessionSummary[] = [];
  const requests: SessionRequest[] = [];
  const resumed: [string, number | null][] = [];
  const paused: string[] = [];
  let channel: ((message: SessionMessage) => void) | null = null;
  const backend: Backend = {
    ...base,
    kind: 'mock',
    listSuites: async () => [SUITE],
    importSuite: async () => null,
    estimateSession: async (request): Promise<Estimate> => {
      requests.push(request);
      return {
        calls: SUITE.cases * request.targets.length * request.repeat,
        targets: request.targets.map((name) => ({
          target: name,
          base_model: 'gpt-5.4',
          calls: SUITE.cases * request.repeat,
          input_tokens: 120,
          tokenizer: 'o200k_base',
          max_output_tokens: 200,
          cost_low_usd: 0.001,
          cost_high_usd: 0.02,
          price_source: 'catalog',
        })),
        cost_low_usd: 0.002,
        cost_high_usd: 0.04,
        unpriced: [],
      };
    },
    startSession: async (request, onEvent) => {
      requests.push(request);
      channel = onEvent;
      sessions.unshift({
        id: 's1',
        created_at_ms: 1_790_000_000_000,
        finished_at_ms: null,
        status: 'running',
        stop_reason: null,
        suite_name: SUITE.name,
        suite_hash: SUITE.hash,
        budget_usd: request.budget_usd ?? null,
        planned: 16,
        responses: 0,
      });
      return 's1';
    },
    cancelSession: async (id) => id,
    pauseSession: async (id) => {
      paused.push(id);
      return id;
    },
    resumeSession: async (id, budget, onEvent) => {
      resumed.push([id, budget]);
      channel = onEvent;
      return id;
    },
    listSessions: async () => sessions.map((session) => ({ ...session })),
    sessionAnalysis: async () => analysis(),
    sessionAnswers: async (_id, caseId) => ({
      case_id: caseId,
      test_id: caseId,
      description: null,
      answers: [
        answer('openai/gpt-5.4', 1, 'Berlin is the capital.', true),
        answer('azure/gpt-5.4', 1, 'Berlin.', true),
        answer('azure/gpt-5.4', 2, 'Bonn was the capital.', false),
        { ...answer('ollama/llama3.3', 1, '', null), complete: false, error: 'server: 500 from the cloud' },
      ],
    }),
    exportSession: async (id, format) => `/tmp/modelbench-${id}.${format}`,
  };
  return {
    backend,
    sessions,
    requests,
    resumed,
    paused,
    emit(message: SessionMessage) {
      if (channel === null) {
        throw new Error('no session channel');
      }
      channel(message);
    },
  };
}

describe('session figures as read', () => {
  it('reads a budget and counts, refusing what the engine would', () => {
    expect(parseBudget('')).toEqual({ value: null, error: null });
    expect(parseBudget(' $2.50 ')).toEqual({ value: 2.5, error: null });
    expect(parseBudget('-1').error).toContain("not '-1'");
    expect(parseBudget('abc').error).toContain('positive number of dollars');
    expect(parseCount('3', 'repeats')).toEqual({ value: 3, error: null });
    expect(parseCount('0', 'repeats').error).toContain('repeats must be a whole number of at least 1');
    expect(parseCount('1.5', 'concurrency').error).toContain('concurrency');
  });

  it('says which sessions can resume and why one stopped', () => {
    expect(['stopped', 'interrupted', 'paused', 'completed', 'cancelled', 'running'].filter(resumable)).toEqual([
      'stopped',
      'interrupted',
      'paused',
    ]);
    expect(statusLabel('stopped', 'budget')).toBe('stopped: budget');
    expect(statusLabel('completed', null)).toBe('completed');
  });

  it('lists errors by kind, most frequent first, and rates with their intervals', () => {
    expect(errorSummary({ server: 1, rate_limited: 2, timeout: 0 })).toBe('2 rate_limited, 1 server');
    expect(errorSummary({})).toBe('');
    expect(formatRateInterval({ value: 0.5, low: 0.237, high: 0.763, count: 4, total: 8 })).toBe('50.0% [23.7–76.3]');
    expect(formatRateInterval({ value: null, low: null, high: null, count: 0, total: 0 })).toBe('—');
    expect(formatQuantile(420.4, [380.2, 459.6])).toBe('420 ms [380–460]');
    expect(formatQuantile(1190, [1183, 1204])).toBe('1.19 s [1.18–1.20]');
    expect(formatQuantile(null, null)).toBe('—');
  });

  it('counts the verdicts of a base model over every pair and metric', () => {
    const pairs = [parity('a', 'b', ['equivalent', 'worse']), parity('a', 'c', ['equivalent', 'too_few_samples'])];
    expect(verdictCounts(pairs)).toEqual({ equivalent: 2, better: 0, worse: 1, too_few_samples: 1 });
  });

  it('draws every target on one axis rounded up to a tick, leaving out those with no answer', () => {
    const chart = latencyChart(
      [
        { target: 'fast', distribution: distribution(100) },
        { target: 'slow', distribution: distribution(450) },
        { target: 'none', distribution: distribution(0, { p50: null, min: null, max: null }) },
      ],
      400,
    );
    // The largest max is 900 ms; ticks of 500 ms put the axis's end at 1000 ms.
    expect(chart.axisMs).toBe(1000);
    expect(chart.ticks.map((tick) => tick.x)).toEqual([0, 200, 400]);
    expect(chart.bars.map((bar) => bar.target)).toEqual(['fast', 'slow']);
    const slow = chart.bars[1]!;
    expect(slow.p50).toBeCloseTo(180);
    expect([slow.min, slow.max, slow.p95]).toEqual([90, 360, 270]);
    expect([slow.p25, slow.p75]).toEqual([144, 216]);
    expect(slow.p50Low).toBeLessThan(slow.p50);
    expect(slow.p50High).toBeGreaterThan(slow.p50);
    expect(latencyChart([], 400).bars).toEqual([]);
  });
});

describe('the session workspace', () => {
  it('refuses a form with nothing to run and asks for what the form says', async () => {
    const shell = scriptedBackend();
    const workspace = new SessionWorkspace(shell.backend);
    expect(workspace.request().error).toBe('choose a suite, or import one');
    await workspace.refresh();
    expect(workspace.suiteHash).toBe(SUITE.hash);
    expect(workspace.request().error).toBe('choose at least one target');
    workspace.chooseTargets(['openai/gpt-5.4']);
    workspace.repeatText = '3';
    workspace.budgetText = '0.5';
    expect(workspace.request()).toEqual({
      request: { suite_hash: SUITE.hash, targets: ['openai/gpt-5.4'], repeat: 3, concurrency: 8, budget_usd: 0.5 },
      error: null,
    });
    workspace.repeatText = 'x';
    await workspace.updateEstimate();
    expect(workspace.estimate).toBeNull();
    expect(workspace.estimateError).toContain('repeats');
  });

  it('follows a session from its channel and resumes a stopped one with a new budget', async () => {
    const shell = scriptedBackend();
    const workspace = new SessionWorkspace(shell.backend);
    await workspace.refresh();
    workspace.chooseTargets(['openai/gpt-5.4', 'azure/gpt-5.4']);
    await workspace.start();
    expect(workspace.running).toBe(true);
    shell.emit({ kind: 'started', session_id: 's1', progress: progress([0, 0]) });
    shell.emit({ kind: 'progress', progress: progress([3, 2]) });
    expect(workspace.live?.progress?.done).toBe(5);
    shell.emit({ kind: 'finished', session_id: 's1', status: 'stopped', progress: progress([4, 4]) });
    expect(workspace.running).toBe(false);
    expect(workspace.live?.status).toBe('stopped');

    workspace.budgetText = '2';
    await workspace.resume('s1');
    expect(shell.resumed).toEqual([['s1', 2]]);
    expect(workspace.running).toBe(true);
  });

  it('pauses a running session, which ends paused and offers Resume', async () => {
    const shell = scriptedBackend();
    render(App, { app: new AppState(shell.backend) });
    await fireEvent.click(screen.getByTestId('nav-sessions'));
    const start = (await screen.findByTestId('session-start')) as HTMLButtonElement;
    await waitFor(() => expect(start.disabled).toBe(false));
    await fireEvent.click(start);
    shell.emit({ kind: 'started', session_id: 's1', progress: progress([0, 0]) });
    const pause = (await screen.findByTestId('session-pause')) as HTMLButtonElement;
    await fireEvent.click(pause);
    expect(shell.paused).toEqual(['s1']);
    await waitFor(() => expect(pause.disabled).toBe(true));
    expect(pause.textContent).toBe('Pausing…');
    shell.emit({ kind: 'finished', session_id: 's1', status: 'paused', progress: progress([3, 3]) });
    await waitFor(() => expect(screen.getByTestId('session-status').textContent).toBe('paused'));
    expect(screen.queryByTestId('session-pause')).toBeNull();
    await fireEvent.click(screen.getByTestId('session-resume'));
    expect(shell.resumed).toEqual([['s1', null]]);
  });
});

describe('the Session and Results views', () => {
  it('shows the estimate before Start, a progress row per target, the status, then the results', async () => {
    const shell = scriptedBackend();
    render(App, { app: new AppState(shell.backend) });
    await fireEvent.click(screen.getByTestId('nav-sessions'));
    const estimate = await screen.findByTestId('session-estimate');
    await waitFor(() => expect(within(estimate).getByTestId('session-estimate-calls').textContent).toBe('16'));
    const start = screen.getByTestId('session-start') as HTMLButtonElement;
    expect(start.disabled).toBe(false);
    await fireEvent.click(start);
    await waitFor(() => expect(shell.requests.at(-1)?.targets).toEqual(['azure/gpt-5.4', 'openai/gpt-5.4']));
    shell.emit({ kind: 'started', session_id: 's1', progress: progress([0, 0]) });
    shell.emit({ kind: 'progress', progress: progress([5, 3]) });
    const row = await screen.findByTestId('session-progress-azure/gpt-5.4');
    await waitFor(() => expect(row.textContent).toContain('3 / 8'));
    expect(row.textContent).toContain('1 rate_limited');
    expect(screen.getByTestId('session-status').textContent).toBe('running');
    shell.emit({ kind: 'finished', session_id: 's1', status: 'completed', progress: progress([8, 8]) });
    await waitFor(() => expect(screen.getByTestId('session-status').textContent).toBe('completed'));

    await fireEvent.click(screen.getByTestId('session-open-results'));
    const verdict = await screen.findByTestId('results-verdict-gpt-5.4');
    expect(verdict.textContent).toContain('1 better');
    expect(verdict.textContent).toContain('2 equivalent');
    expect(verdict.textContent).toContain('1 too few samples');
    const azure = screen.getByTestId('results-target-azure/gpt-5.4');
    expect(azure.textContent).toContain('50.0% [40.0–60.0]');
    expect(azure.textContent).toContain('$1.25');
    expect(screen.getByTestId('results-errors').textContent).toContain('rate_limited');
    const charts = screen.getByTestId('results-latency-chart');
    expect(within(charts).getByTestId('results-latency-ttft').querySelectorAll('rect.box')).toHaveLength(3);
    expect(within(charts).getByTestId('results-latency-total').querySelectorAll('rect.box')).toHaveLength(3);
    await fireEvent.click(screen.getByTestId('results-export'));
    await waitFor(() => expect(screen.getByTestId('results-exported').textContent).toBe('saved to /tmp/modelbench-s1.html'));
  });
});

describe('the per-test table in Results', () => {
  it('shows each target\'s pass share per test; a row opens its failing answers and a diff of two answers', async () => {
    const shell = scriptedBackend();
    const app = new AppState(shell.backend);
    render(App, { app });
    await app.openResults('s1');
    const row = await screen.findByTestId('results-test-capital-de');
    expect([...row.querySelectorAll('td')].map((cell) => cell.textContent?.trim())).toEqual([
      '▸ capital-de the capital of Germany',
      '100%',
      '50%',
      '—',
    ]);
    expect(screen.getByTestId('results-tests').querySelectorAll('thead th')).toHaveLength(4);

    await fireEvent.click(within(row).getByRole('button'));
    const failing = await screen.findByTestId('results-failing-azure/gpt-5.4 #2');
    expect(failing.textContent).toContain('icontains: no "berlin" in the answer');
    expect(failing.textContent).toContain('Bonn was the capital.');
    expect(screen.getByTestId('results-failing-ollama/llama3.3 #1').textContent).toContain('server: 500 from the cloud');
    expect(screen.queryByTestId('results-failing-openai/gpt-5.4 #1')).toBeNull();

    await fireEvent.click(screen.getByTestId('results-diff-open'));
    const diff = await screen.findByTestId('results-diff');
    await waitFor(() => expect(within(diff).getByTestId('diff-ratio')).toBeTruthy());
    const options = [...(within(diff).getByTestId('diff-a') as HTMLSelectElement).options].map((option) => option.value);
    expect(options, 'the answers with words, not the empty one').toEqual([
      'openai/gpt-5.4 #1',
      'azure/gpt-5.4 #1',
      'azure/gpt-5.4 #2',
    ]);
    await fireEvent.change(within(diff).getByTestId('diff-b'), { target: { value: 'azure/gpt-5.4 #2' } });
    await waitFor(() => expect(within(diff).getByTestId('diff-output').textContent).toContain('azure/gpt-5.4 #2'));

    await fireEvent.click(within(row).getByRole('button'));
    await waitFor(() => expect(screen.queryByTestId('results-diff')).toBeNull());
    expect(screen.queryByTestId('results-failing-azure/gpt-5.4 #2')).toBeNull();
  });
});
