// The UI's side of the contract with the desktop shell: every command the UI calls, and the one
// channel a run streams through. Two implementations: `tauriBackend` (the real shell, over
// Tauri's `invoke` and `Channel`) and the in-memory mock in `mock-backend.ts` (a plain browser
// for `npm run dev`, the visual check, and the tests).
//
// Commands are snake_case; their arguments are camelCase because Tauri converts them to the
// Rust parameters' snake_case names (`runId` -> `run_id`, `onEvent` -> `on_event`). The payloads
// themselves (targets, records, parameters) cross unchanged, with serde's snake_case fields.
// A command rejects with a `CommandError` ({kind, message, retryable}) or a string.

import { Channel, invoke } from '@tauri-apps/api/core';

import type {
  CommandError,
  Diff,
  DiffMode,
  ReportFormat,
  ResponseRecord,
  RunId,
  RunMessage,
  RunRequest,
  RunSummary,
  SimilarityMatrix,
  StoredRun,
  Target,
} from './types';

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
}

/** The shell's command names, in one place for the Rust side to match. */
export const COMMANDS = {
  listTargets: 'list_targets',
  saveTarget: 'save_target',
  removeTarget: 'remove_target',
  setKey: 'set_key',
  listKeys: 'list_keys',
  testTarget: 'test_target',
  startRun: 'start_run',
  stopRun: 'stop_run',
  listRuns: 'list_runs',
  loadRun: 'load_run',
  deleteRun: 'delete_run',
  startDemo: 'start_demo',
  diffTexts: 'diff_texts',
  similarity: 'similarity',
  exportRun: 'export_run',
} as const;

export const tauriBackend: Backend = {
  kind: 'tauri',
  listTargets: () => invoke<Target[]>(COMMANDS.listTargets),
  saveTarget: (target, original) => invoke<void>(COMMANDS.saveTarget, { target, original }),
  removeTarget: (name) => invoke<void>(COMMANDS.removeTarget, { name }),
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
};

/** Whether the page runs inside the Tauri shell (its IPC bridge is injected before any script). */
export function insideTauri(scope: object = globalThis): boolean {
  return '__TAURI_INTERNALS__' in scope;
}

/** The real shell when there is one and `?mock` is absent; otherwise the in-memory mock, loaded
 * as its own chunk so the shell never runs it by accident. */
export async function selectBackend(location: { search: string } = window.location): Promise<Backend> {
  const wantsMock = new URLSearchParams(location.search).has('mock');
  if (insideTauri() && !wantsMock) {
    return tauriBackend;
  }
  const { createMockBackend, mockOptionsFromQuery } = await import('./mock-backend');
  return createMockBackend(mockOptionsFromQuery(location.search));
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
