// The UI's side of the contract with the desktop shell: every command the UI calls, and the one
// channel a run streams through. The command names come from the shell's own list (generated into
// ./bindings/commands.ts). `tauriBackend` is the one implementation the app runs; the tests drive
// the UI through an in-memory test double (ui/tests/doubles/), which is never bundled.
//
// Commands are snake_case; their arguments are camelCase because Tauri converts them to the
// Rust parameters' snake_case names (`runId` -> `run_id`, `onEvent` -> `on_event`). The payloads
// themselves (targets, records, parameters) cross unchanged, with serde's snake_case fields.
// A command rejects with a `CommandError` ({kind, message, retryable}) or a string.

import { Channel, invoke } from '@tauri-apps/api/core';

import { COMMANDS } from './bindings/commands';

import type {
  Analysis,
  CommandError,
  Diff,
  DiffMode,
  DryCheck,
  DryCheckRequest,
  Estimate,
  FieldError,
  GivenRating,
  Leaderboard,
  PanelKind,
  PanelStatus,
  RatingItem,
  ReportFormat,
  ResponseRecord,
  RunId,
  RunMessage,
  RunRequest,
  RunSummary,
  SessionMessage,
  SessionRequest,
  SessionSummary,
  SimilarityMatrix,
  StoredRun,
  SuiteDocument,
  SuiteDraft,
  SuiteInfo,
  Target,
} from './types';
import type { TestAnswers } from './types';

export interface ListRunsQuery {
  /** Full-text search over prompts, system prompts and answers; empty lists every run. */
  query?: string;
  limit?: number;
}

export interface Backend {
  /** `tauri` or `mock`, shown in the status bar so nobody mistakes the mock for real clouds. */
  readonly kind: 'tauri' | 'mock';
  /** Saved targets, ordered by name. */
  listTargets(): Promise<Target[]>;
  /** Creates or replaces the target by name; `original` is the old name when it was renamed. */
  saveTarget(target: Target, original?: string): Promise<void>;
  removeTarget(name: string): Promise<void>;
  /** What is wrong with `target`, field by field: the engine's rules, the same ones saving and
   * running apply. Empty when it is good. */
  validateTarget(target: Target): Promise<FieldError[]>;
  /** Stores a secret in the OS keychain under `name`. Write-only: no command reads it back. */
  setKey(name: string, secret: string): Promise<void>;
  /** Names of the keychain entries ModelBench holds (never their values). */
  listKeys(): Promise<string[]>;
  /** Sends a tiny prompt to one saved target; the record carries the answer or the exact error. */
  testTarget(name: string): Promise<ResponseRecord>;
  /** Starts a run and resolves with its id; messages keep arriving on `onEvent` until
   * `finished` or `failed`. Messages may arrive before the promise resolves. */
  startRun(request: RunRequest, onEvent: (message: RunMessage) => void): Promise<RunId>;
  stopRun(runId: RunId): Promise<void>;
  /** Runs newest first, filtered by full-text search when `query` is set. */
  listRuns(query?: ListRunsQuery): Promise<RunSummary[]>;
  loadRun(runId: RunId): Promise<StoredRun>;
  /** Deletes a stored run with its answers, stream events and search entries; rejects while
   * the run is still running. */
  deleteRun(runId: RunId): Promise<void>;
  /** Adds the simulated clouds (fakecloud, in-process) as targets labelled "simulated". */
  startDemo(): Promise<Target[]>;
  /** The engine's diff of two answers (`a` old, `b` new); rejects in JSON mode when a side holds no JSON. */
  diffTexts(a: string, b: string, mode: DiffMode): Promise<Diff>;
  /** Every pair's similarity, the outlier and the majority of `texts`. */
  similarity(texts: string[], mode: DiffMode): Promise<SimilarityMatrix>;
  /** Asks where to save (the native dialog) and writes the run's report; the path written, or
   * null when the user cancelled. */
  exportRun(runId: RunId, format: ReportFormat): Promise<string | null>;
  /** Stored suites, newest first (imported ones and the simulated clouds' sample). */
  listSuites(): Promise<SuiteInfo[]>;
  /** Asks for a suite file in the native open dialog and stores it; null when cancelled. */
  importSuite(): Promise<SuiteInfo | null>;
  /** The engine's estimate of a session: calls, tokens and a cost range per target. */
  estimateSession(request: SessionRequest): Promise<Estimate>;
  /** Starts a session; its progress (at most every 250 ms) and its end arrive on `onEvent`. */
  startSession(request: SessionRequest, onEvent: (message: SessionMessage) => void): Promise<RunId>;
  cancelSession(sessionId: RunId): Promise<RunId>;
  /** The answers of one test of a session, each graded by the test's checks (which failed, why). */
  sessionAnswers(sessionId: RunId, caseId: string): Promise<TestAnswers>;
  /** Pauses a running session: calls in flight finish, it ends `paused` and can resume. */
  pauseSession(sessionId: RunId): Promise<RunId>;
  /** Sends what a stopped or interrupted session is missing; null when nothing was. */
  resumeSession(
    sessionId: RunId,
    budgetUsd: number | null,
    onEvent: (message: SessionMessage) => void,
  ): Promise<RunId | null>;
  /** Sessions, newest first, with the status the store knows (`interrupted` after a crash). */
  listSessions(): Promise<SessionSummary[]>;
  /** The engine's statistics of a session: per target, parity verdicts, decisions. */
  sessionAnalysis(sessionId: RunId): Promise<Analysis>;
  /** Asks where to save (the native dialog) and writes the session report; null when cancelled. */
  exportSession(sessionId: RunId, format: ReportFormat): Promise<string | null>;
  /** A stored suite opened for editing: its YAML, its fields, its problems at their fields. */
  openSuiteDraft(hash: string): Promise<SuiteDraft>;
  /** Edited fields written out as YAML, with the engine's problems at their fields. */
  checkSuiteDocument(document: SuiteDocument): Promise<SuiteDraft>;
  /** Edited YAML read into fields, with the engine's problems at their fields and lines. */
  checkSuiteText(text: string): Promise<SuiteDraft>;
  /** Stores an edited suite; rejects, naming its errors, when it has any. */
  saveSuiteDraft(text: string): Promise<SuiteInfo>;
  /** Asks where to save (the native dialog) and writes the suite's YAML; null when cancelled. */
  exportSuiteDraft(name: string, text: string): Promise<string | null>;
  /** Sends one test of a suite to one saved target and grades the answer; nothing is stored. */
  dryCheckSuite(request: DryCheckRequest): Promise<DryCheck>;
  /** The blind panels of a session, newest first, with each rater's progress. */
  listPanels(sessionId: RunId): Promise<PanelStatus[]>;
  /** Creates a blind panel over a finished session with `rater` its first rater. */
  createRatingPanel(sessionId: RunId, kind: PanelKind, rater: string): Promise<PanelStatus>;
  /** The rater's first unrated item, adding them to the panel when they are new. */
  joinPanel(panelId: string, rater: string): Promise<RatingItem>;
  /** The rater's item number `n` (1-based): the prompt and the labelled answers only. */
  ratingItem(panelId: string, rater: string, n: number): Promise<RatingItem>;
  /** Stores a rating at once (replacing an earlier one of the item) and returns the item. */
  rateItem(panelId: string, rater: string, n: number, rating: GivenRating): Promise<RatingItem>;
  /** The leaderboard of the session's newest panel with ratings; null when none has any. */
  sessionLeaderboard(sessionId: RunId): Promise<Leaderboard | null>;
}

export { COMMANDS };

export const tauriBackend: Backend = {
  kind: 'tauri',
  listTargets: () => invoke<Target[]>(COMMANDS.listTargets),
  saveTarget: (target, original) => invoke<void>(COMMANDS.saveTarget, { target, original }),
  removeTarget: (name) => invoke<void>(COMMANDS.removeTarget, { name }),
  validateTarget: (target) => invoke<FieldError[]>(COMMANDS.validateTarget, { target }),
  setKey: (name, secret) => invoke<void>(COMMANDS.setKey, { name, secret }),
  listKeys: () => invoke<string[]>(COMMANDS.listKeys),
  testTarget: (name) => invoke<ResponseRecord>(COMMANDS.testTarget, { name }),
  startRun: (request, onEvent) => {
    const channel = new Channel<RunMessage>();
    channel.onmessage = onEvent;
    return invoke<RunId>(COMMANDS.startRun, { request, onEvent: channel });
  },
  stopRun: (runId) => invoke<void>(COMMANDS.stopRun, { runId }),
  listRuns: (query = {}) => invoke<RunSummary[]>(COMMANDS.listRuns, { query: query.query, limit: query.limit }),
  loadRun: (runId) => invoke<StoredRun>(COMMANDS.loadRun, { runId }),
  deleteRun: (runId) => invoke<void>(COMMANDS.deleteRun, { runId }),
  startDemo: () => invoke<Target[]>(COMMANDS.startDemo),
  diffTexts: (a, b, mode) => invoke<Diff>(COMMANDS.diffTexts, { a, b, mode }),
  similarity: (texts, mode) => invoke<SimilarityMatrix>(COMMANDS.similarity, { texts, mode }),
  exportRun: (runId, format) => invoke<string | null>(COMMANDS.exportRun, { runId, format }),
  listSuites: () => invoke<SuiteInfo[]>(COMMANDS.listSuites),
  importSuite: () => invoke<SuiteInfo | null>(COMMANDS.importSuite),
  estimateSession: (request) => invoke<Estimate>(COMMANDS.estimateSession, { request }),
  startSession: (request, onEvent) => {
    const channel = new Channel<SessionMessage>();
    channel.onmessage = onEvent;
    return invoke<RunId>(COMMANDS.startSession, { request, onEvent: channel });
  },
  cancelSession: (sessionId) => invoke<RunId>(COMMANDS.cancelSession, { sessionId }),
  sessionAnswers: (sessionId, caseId) => invoke<TestAnswers>(COMMANDS.sessionAnswers, { sessionId, caseId }),
  pauseSession: (sessionId) => invoke<RunId>(COMMANDS.pauseSession, { sessionId }),
  resumeSession: (sessionId, budgetUsd, onEvent) => {
    const channel = new Channel<SessionMessage>();
    channel.onmessage = onEvent;
    return invoke<RunId | null>(COMMANDS.resumeSession, { sessionId, budgetUsd, onEvent: channel });
  },
  listSessions: () => invoke<SessionSummary[]>(COMMANDS.listSessions),
  sessionAnalysis: (sessionId) => invoke<Analysis>(COMMANDS.sessionAnalysis, { sessionId }),
  exportSession: (sessionId, format) => invoke<string | null>(COMMANDS.exportSession, { sessionId, format }),
  openSuiteDraft: (hash) => invoke<SuiteDraft>(COMMANDS.openSuiteDraft, { hash }),
  checkSuiteDocument: (document) => invoke<SuiteDraft>(COMMANDS.checkSuiteDocument, { document }),
  checkSuiteText: (text) => invoke<SuiteDraft>(COMMANDS.checkSuiteText, { text }),
  saveSuiteDraft: (text) => invoke<SuiteInfo>(COMMANDS.saveSuiteDraft, { text }),
  exportSuiteDraft: (name, text) => invoke<string | null>(COMMANDS.exportSuiteDraft, { name, text }),
  dryCheckSuite: (request) => invoke<DryCheck>(COMMANDS.dryCheckSuite, { request }),
  listPanels: (sessionId) => invoke<PanelStatus[]>(COMMANDS.listPanels, { sessionId }),
  createRatingPanel: (sessionId, kind, rater) =>
    invoke<PanelStatus>(COMMANDS.createRatingPanel, { sessionId, kind, rater }),
  joinPanel: (panelId, rater) => invoke<RatingItem>(COMMANDS.joinPanel, { panelId, rater }),
  ratingItem: (panelId, rater, n) => invoke<RatingItem>(COMMANDS.ratingItem, { panelId, rater, n }),
  rateItem: (panelId, rater, n, rating) => invoke<RatingItem>(COMMANDS.rateItem, { panelId, rater, n, rating }),
  sessionLeaderboard: (sessionId) => invoke<Leaderboard | null>(COMMANDS.sessionLeaderboard, { sessionId }),
};

/** Whether the page runs inside the Tauri shell (its IPC bridge is injected before any script). */
export function insideTauri(scope: object = globalThis): boolean {
  return '__TAURI_INTERNALS__' in scope;
}

/** The real shell. Outside it (a plain browser) there is nothing to talk to: the UI needs the
 * engine, so it says how to start the app instead of pretending. */
export function selectBackend(scope: object = globalThis): Backend {
  if (!insideTauri(scope)) {
    throw new Error('ModelBench runs inside its desktop shell: start it with scripts/app (or the modelbench-app binary).');
  }
  return tauriBackend;
}

/** The message of whatever a command rejected with (the shell's `CommandError`, a string, an
 * `Error`), shown to the user verbatim. */
export function errorMessage(error: unknown): string {
  if (typeof error === 'string') {
    return error;
  }
  if (error instanceof Error) {
    return error.message;
  }
  if (isCommandError(error)) {
    return error.message;
  }
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

function isCommandError(value: unknown): value is CommandError {
  return (
    typeof value === 'object' &&
    value !== null &&
    'message' in value &&
    typeof (value as { message: unknown }).message === 'string'
  );
}
