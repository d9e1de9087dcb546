// How a session's numbers read in the Session and Results views. Formatting and layout only:
// every figure (progress, intervals, verdicts, costs) is the engine's; nothing is recomputed here.

import { DASH, formatCost, formatDateTime, formatMilliseconds } from './format';
import type { Compared } from './comparison.svelte';
import type {
  Analysis,
  Distribution,
  Parity,
  ParityMetric,
  Rate,
  SessionSummary,
  TargetFigures,
  TestAnswer,
  TestAnswers,
} from './types';

/** Sessions that ended before sending everything and may be resumed (a cancelled one may not). */
export function resumable(status: string): boolean {
  return status === 'stopped' || status === 'interrupted' || status === 'paused';
}

/** A session's status as shown: the engine's word, with the reason a stopped one stopped. */
export function statusLabel(status: string, stopReason?: string | null): string {
  if (status === 'stopped' && stopReason) {
    return `stopped: ${stopReason}`;
  }
  return status;
}

/** A stored session as a list names it: suite, when, how it ended. */
export function sessionLabel(session: SessionSummary): string {
  return `${session.suite_name} · ${formatDateTime(session.created_at_ms)} · ${statusLabel(session.status, session.stop_reason)}`;
}

/** The colour a status or verdict chip takes (a class of app.css's `.chip`). */
export type Tone = 'ok' | 'live' | 'warn' | 'bad' | 'neutral';

export function statusTone(status: string): Tone {
  const tones: Record<string, Tone> = {
    running: 'live',
    completed: 'ok',
    stopped: 'warn',
    interrupted: 'warn',
    paused: 'warn',
    cancelled: 'bad',
  };
  return tones[status] ?? 'neutral';
}

export function verdictTone(verdict: string): Tone {
  const tones: Record<string, Tone> = { equivalent: 'ok', better: 'live', worse: 'bad', too_few_samples: 'warn' };
  return tones[verdict] ?? 'neutral';
}

/** A budget field: empty is no budget; otherwise a positive number of dollars. */
export function parseBudget(text: string): { value: number | null; error: string | null } {
  const trimmed = text.trim().replace(/^\$/, '');
  if (trimmed === '') {
    return { value: null, error: null };
  }
  const value = Number(trimmed);
  if (!Number.isFinite(value) || value <= 0) {
    return { value: null, error: `the budget must be a positive number of dollars, not '${text.trim()}'` };
  }
  return { value, error: null };
}

/** A whole number of at least 1 (repeats, concurrency), or the reason it is not. */
export function parseCount(text: string, name: string): { value: number | null; error: string | null } {
  const value = Number(text.trim());
  if (!Number.isInteger(value) || value < 1) {
    return { value: null, error: `${name} must be a whole number of at least 1, not '${text.trim()}'` };
  }
  return { value, error: null };
}

/** Errors by kind, most frequent first: `2 rate_limited, 1 server`; empty when none. */
export function errorSummary(errors: { [kind in string]?: number }): string {
  return Object.entries(errors)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ');
}

/** Share of `done` of `planned` as a percentage for a progress bar (0 when nothing is planned). */
export function percentDone(done: number, planned: number): number {
  if (planned <= 0) {
    return 0;
  }
  return Math.min(100, (100 * done) / planned);
}

function percent(value: number | null): string {
  return value === null ? DASH : `${(100 * value).toFixed(1)}%`;
}

/** A rate with its interval: `50.0% [23.7–76.3]`. */
export function formatRateInterval(rate: Rate): string {
  if (rate.value === null) {
    return DASH;
  }
  if (rate.low === null || rate.high === null) {
    return percent(rate.value);
  }
  return `${percent(rate.value)} [${(100 * rate.low).toFixed(1)}–${(100 * rate.high).toFixed(1)}]`;
}

/** A quantile with its bootstrap interval: `420 ms [380–460]`. */
export function formatQuantile(value: number | null, interval: [number, number] | null): string {
  if (value === null) {
    return DASH;
  }
  if (interval === null) {
    return formatMilliseconds(value);
  }
  // The interval in the value's own unit: `1.19 s [1.18–1.20]`, `420 ms [380–460]`.
  const [low, high] = value >= 1000 ? [interval[0] / 1000, interval[1] / 1000] : interval;
  const digits = value >= 1000 ? 2 : 0;
  return `${formatMilliseconds(value)} [${low.toFixed(digits)}–${high.toFixed(digits)}]`;
}

export function formatMoney(value: number | null): string {
  return formatCost(value);
}

/** The verdicts of every pair of one base model, counted: what the decision table summarises. */
export interface VerdictCounts {
  equivalent: number;
  better: number;
  worse: number;
  too_few_samples: number;
}

export function verdictCounts(pairs: Parity[]): VerdictCounts {
  const counts: VerdictCounts = { equivalent: 0, better: 0, worse: 0, too_few_samples: 0 };
  for (const pair of pairs) {
    for (const metric of pair.metrics) {
      if (metric.verdict in counts) {
        counts[metric.verdict as keyof VerdictCounts] += 1;
      }
    }
  }
  return counts;
}

/** The pairs of `analysis` comparing targets of `baseModel`. */
export function pairsOf(analysis: Analysis, baseModel: string): Parity[] {
  return analysis.parity.filter((pair) => pair.base_model === baseModel);
}

const METRIC_LABELS: Record<string, string> = {
  ttft_p50: 'TTFT p50',
  ttft_p95: 'TTFT p95',
  error_rate: 'errors',
  pass_rate: 'pass rate',
  output_drift: 'drift',
  cost_per_test: 'cost',
};

export function metricLabel(metric: ParityMetric): string {
  return METRIC_LABELS[metric.metric] ?? metric.metric;
}

export function verdictLabel(verdict: string): string {
  return verdict === 'too_few_samples' ? 'too few samples' : verdict;
}

/** Every error kind any target had, in name order: the error breakdown's columns. */
export function errorKinds(targets: TargetFigures[]): string[] {
  const kinds = new Set<string>();
  for (const target of targets) {
    for (const [kind, count] of Object.entries(target.errors)) {
      if ((count ?? 0) > 0) {
        kinds.add(kind);
      }
    }
  }
  return [...kinds].sort();
}

/** One target's latency drawn on a shared axis as a box plot: the range (min to max), the
 * quartiles (the box), the p50 with its bootstrap interval, and the p95; every x in pixels from
 * the plot's left edge. */
export interface LatencyBar {
  target: string;
  min: number;
  max: number;
  p25: number;
  p75: number;
  p50: number;
  p50Low: number;
  p50High: number;
  p95: number;
}

export interface LatencyChart {
  width: number;
  /** The axis's end, in ms: the largest max, rounded up to a tick. */
  axisMs: number;
  ticks: { x: number; label: string }[];
  bars: LatencyBar[];
}

/** A readable step for an axis of `range` ms split in about four. */
function tickStep(range: number): number {
  const rough = range / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  for (const factor of [1, 2, 5, 10]) {
    if (factor * magnitude >= rough) {
      return factor * magnitude;
    }
  }
  return 10 * magnitude;
}

/** Lays out the time-to-first-token (or any) distributions of `targets` on one axis of `width`
 * pixels. Targets with no completed call have no bar. */
export function latencyChart(
  targets: { target: string; distribution: Distribution }[],
  width: number,
): LatencyChart {
  const drawn = targets.filter(
    ({ distribution }) => distribution.p50 !== null && distribution.min !== null && distribution.max !== null,
  );
  const largest = Math.max(0, ...drawn.map(({ distribution }) => distribution.max ?? 0));
  if (drawn.length === 0 || largest <= 0) {
    return { width, axisMs: 0, ticks: [], bars: [] };
  }
  const step = tickStep(largest);
  const axisMs = Math.ceil(largest / step) * step;
  const x = (ms: number): number => (Math.max(0, ms) / axisMs) * width;
  const ticks = [];
  for (let ms = 0; ms <= axisMs + step / 2; ms += step) {
    ticks.push({ x: x(ms), label: formatMilliseconds(ms) });
  }
  const bars = drawn.map(({ target, distribution }) => {
    const p50 = distribution.p50 ?? 0;
    const interval = distribution.p50_ci ?? [p50, p50];
    return {
      target,
      min: x(distribution.min ?? p50),
      max: x(distribution.max ?? p50),
      p25: x(distribution.p25 ?? p50),
      p75: x(distribution.p75 ?? p50),
      p50: x(p50),
      p50Low: x(interval[0]),
      p50High: x(interval[1]),
      p95: x(distribution.p95 ?? p50),
    };
  });
  return { width, axisMs, ticks, bars };
}

/** A target's pass share on one test as shown in the per-test table: `67%`, or a dash when no
 * repeat could be graded. */
export function passShare(share: number | null): string {
  return share === null ? DASH : `${Math.round(100 * share)}%`;
}

/** The answers of a test that failed: their checks said no, or the call ended in an error. */
export function failingAnswers(answers: TestAnswers): TestAnswer[] {
  return answers.answers.filter((answer) => answer.passed === false || answer.error !== null);
}

/** An answer's name in the per-test table and the diff: `target #repeat`. */
export function answerLabel(answer: TestAnswer): string {
  return `${answer.target} #${answer.repeat}`;
}

/** A test's answers with words, as the Diff panel compares them (every one on the same prompt). */
export function comparedAnswers(answers: TestAnswers): Compared[] {
  return answers.answers
    .filter((answer) => answer.text !== '')
    .map((answer) => ({
      id: answerLabel(answer),
      key: { prompt_index: 0 },
      target: { name: answerLabel(answer) },
      answer: () => answer.text,
    }));
}
