// The Session and Results views' state: the stored suites, the session form (suite, targets,
// repeats, concurrency, budget) with the engine's estimate, the session running now with its
// progress as the shell sends it (at most every 250 ms), the stored sessions, and the analysis of
// the one opened in Results. Every figure comes from the engine; this only asks and keeps.

import { SvelteSet } from 'svelte/reactivity';

import { errorMessage, type Backend } from './backend';
import { Comparison } from './comparison.svelte';
import { parseBudget, parseCount } from './session-view';
import type {
  Analysis,
  Estimate,
  Leaderboard,
  ReportFormat,
  RunId,
  SessionMessage,
  SessionProgress,
  SessionRequest,
  SessionSummary,
  SuiteInfo,
  TestAnswers,
} from './types';

/** The session this window started or resumed, as its channel tells it. */
export interface LiveSession {
  sessionId: RunId | null;
  /** `running` until the end message says `completed`, `stopped`, `paused` or `cancelled`. */
  status: string;
  /** Pause was asked: the calls in flight are finishing. */
  pausing?: boolean;
  progress: SessionProgress | null;
  error: string | null;
}

export class SessionWorkspace {
  readonly #backend: Backend;

  suites = $state.raw<SuiteInfo[]>([]);
  suiteHash = $state<string | null>(null);
  chosen = new SvelteSet<string>();
  repeatText = $state('1');
  concurrencyText = $state('8');
  budgetText = $state('');
  estimate = $state.raw<Estimate | null>(null);
  estimateError = $state<string | null>(null);
  /** Why the last Start, import or resume did not happen. */
  formError = $state<string | null>(null);

  live = $state<LiveSession | null>(null);
  sessions = $state.raw<SessionSummary[]>([]);

  resultsId = $state<RunId | null>(null);
  analysis = $state.raw<Analysis | null>(null);
  resultsError = $state<string | null>(null);
  resultsLoading = $state(false);
  exported = $state<string | null>(null);
  /** The test expanded in Results' per-test table, and its answers as the workbench graded them. */
  openTest = $state<string | null>(null);
  testAnswers = $state.raw<TestAnswers | null>(null);
  testError = $state<string | null>(null);
  /** The Diff panel over the open test's answers, when asked for. */
  testDiff = $state<Comparison | null>(null);
  /** The leaderboard of the opened session's newest rated panel, when it has one. */
  leaderboard = $state.raw<Leaderboard | null>(null);

  /** Bumped by each estimate request, so an older answer never replaces a newer one. */
  #estimateGeneration = 0;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get suite(): SuiteInfo | null {
    return this.suites.find((suite) => suite.hash === this.suiteHash) ?? null;
  }

  get running(): boolean {
    return this.live?.status === 'running';
  }

  /** The request the form describes, or the first thing wrong with it. */
  request(): { request: SessionRequest | null; error: string | null } {
    if (this.suiteHash === null) {
      return { request: null, error: 'choose a suite, or import one' };
    }
    if (this.chosen.size === 0) {
      return { request: null, error: 'choose at least one target' };
    }
    const repeat = parseCount(this.repeatText, 'repeats');
    const concurrency = parseCount(this.concurrencyText, 'concurrency');
    const budget = parseBudget(this.budgetText);
    const error = repeat.error ?? concurrency.error ?? budget.error;
    if (error !== null || repeat.value === null || concurrency.value === null) {
      return { request: null, error };
    }
    const request: SessionRequest = {
      suite_hash: this.suiteHash,
      targets: [...this.chosen],
      repeat: repeat.value,
      concurrency: concurrency.value,
    };
    if (budget.value !== null) {
      request.budget_usd = budget.value;
    }
    return { request, error: null };
  }

  /** Loads the stored suites and sessions; picks the newest suite when none is chosen. */
  async refresh(): Promise<void> {
    try {
      const [suites, sessions] = await Promise.all([this.#backend.listSuites(), this.#backend.listSessions()]);
      this.suites = suites;
      this.sessions = sessions;
      if (this.suiteHash === null || !suites.some((suite) => suite.hash === this.suiteHash)) {
        this.suiteHash = suites[0]?.hash ?? null;
      }
    } catch (error) {
      this.formError = errorMessage(error);
    }
  }

  /** Chooses `names` as the session's targets (the form starts with every saved target). */
  chooseTargets(names: string[]): void {
    this.chosen.clear();
    for (const name of names) {
      this.chosen.add(name);
    }
  }

  toggleTarget(name: string): void {
    if (this.chosen.has(name)) {
      this.chosen.delete(name);
    } else {
      this.chosen.add(name);
    }
  }

  async importSuite(): Promise<void> {
    this.formError = null;
    try {
      const suite = await this.#backend.importSuite();
      if (suite === null) {
        return;
      }
      await this.refresh();
      this.suiteHash = suite.hash;
    } catch (error) {
      this.formError = errorMessage(error);
    }
  }

  /** Asks the engine for the estimate of the form as it is now. */
  async updateEstimate(): Promise<void> {
    const generation = ++this.#estimateGeneration;
    const { request, error } = this.request();
    if (request === null) {
      this.estimate = null;
      this.estimateError = error;
      return;
    }
    try {
      const estimate = await this.#backend.estimateSession(request);
      if (generation === this.#estimateGeneration) {
        this.estimate = estimate;
        this.estimateError = null;
      }
    } catch (caught) {
      if (generation === this.#estimateGeneration) {
        this.estimate = null;
        this.estimateError = errorMessage(caught);
      }
    }
  }

  async start(): Promise<void> {
    const { request, error } = this.request();
    if (request === null) {
      this.formError = error;
      return;
    }
    this.formError = null;
    this.live = { sessionId: null, status: 'running', progress: null, error: null };
    try {
      const sessionId = await this.#backend.startSession(request, (message) => this.apply(message));
      if (this.live !== null && this.live.sessionId === null) {
        this.live.sessionId = sessionId;
      }
      this.sessions = await this.#backend.listSessions();
    } catch (caught) {
      this.live = null;
      this.formError = errorMessage(caught);
    }
  }

  async cancel(): Promise<void> {
    const sessionId = this.live?.sessionId;
    if (!sessionId) {
      return;
    }
    try {
      await this.#backend.cancelSession(sessionId);
    } catch (error) {
      this.formError = errorMessage(error);
    }
  }

  /** Pauses the running session; its end message then says `paused`. */
  async pause(): Promise<void> {
    const sessionId = this.live?.sessionId;
    if (!sessionId || this.live === null) {
      return;
    }
    this.live = { ...this.live, pausing: true };
    try {
      await this.#backend.pauseSession(sessionId);
    } catch (error) {
      if (this.live !== null) {
        this.live = { ...this.live, pausing: false };
      }
      this.formError = errorMessage(error);
    }
  }

  /** Sends what session `sessionId` is missing, with the form's budget if one is set. */
  async resume(sessionId: RunId): Promise<void> {
    const budget = parseBudget(this.budgetText);
    if (budget.error !== null) {
      this.formError = budget.error;
      return;
    }
    this.formError = null;
    this.live = { sessionId, status: 'running', progress: null, error: null };
    try {
      const resumed = await this.#backend.resumeSession(sessionId, budget.value, (message) => this.apply(message));
      if (resumed === null) {
        this.live = { sessionId, status: 'completed', progress: null, error: null };
      }
    } catch (caught) {
      this.live = null;
      this.formError = errorMessage(caught);
    }
    this.sessions = await this.#backend.listSessions().catch(() => this.sessions);
  }

  /** One message of the session's channel. */
  apply(message: SessionMessage): void {
    const live = this.live ?? { sessionId: null, status: 'running', progress: null, error: null };
    switch (message.kind) {
      case 'started':
        this.live = { ...live, sessionId: message.session_id, progress: message.progress };
        break;
      case 'progress':
        this.live = { ...live, progress: message.progress };
        break;
      case 'finished':
        this.live = {
          ...live,
          sessionId: message.session_id,
          status: message.status,
          progress: message.progress,
          pausing: false,
        };
        void this.#backend.listSessions().then((sessions) => (this.sessions = sessions)).catch(() => {});
        break;
      case 'failed':
        this.live = { ...live, sessionId: message.session_id, status: 'interrupted', error: message.message };
        break;
    }
  }

  /** Opens session `sessionId` in Results: the engine's analysis of what it stored. */
  async openResults(sessionId: RunId): Promise<void> {
    this.resultsId = sessionId;
    this.resultsLoading = true;
    this.resultsError = null;
    this.exported = null;
    this.openTest = null;
    this.testAnswers = null;
    this.testDiff = null;
    try {
      const analysis = await this.#backend.sessionAnalysis(sessionId);
      if (this.resultsId === sessionId) {
        this.analysis = analysis;
      }
    } catch (error) {
      this.analysis = null;
      this.resultsError = errorMessage(error);
    } finally {
      this.resultsLoading = false;
    }
    await this.#openLeaderboard(sessionId);
  }

  async #openLeaderboard(sessionId: RunId): Promise<void> {
    this.leaderboard = null;
    try {
      const leaderboard = await this.#backend.sessionLeaderboard(sessionId);
      if (this.resultsId === sessionId) {
        this.leaderboard = leaderboard;
      }
    } catch (error) {
      this.resultsError = errorMessage(error);
    }
  }

  /** Expands test `caseId` of the session in Results (collapses it when it is open). */
  async toggleTest(caseId: string): Promise<void> {
    this.testDiff = null;
    if (this.openTest === caseId) {
      this.openTest = null;
      this.testAnswers = null;
      return;
    }
    const sessionId = this.resultsId;
    if (sessionId === null) {
      return;
    }
    this.openTest = caseId;
    this.testAnswers = null;
    this.testError = null;
    try {
      const answers = await this.#backend.sessionAnswers(sessionId, caseId);
      if (this.openTest === caseId && this.resultsId === sessionId) {
        this.testAnswers = answers;
      }
    } catch (error) {
      if (this.openTest === caseId) {
        this.testError = errorMessage(error);
      }
    }
  }

  /** Opens the Diff panel on the open test's answers (the first two picked); closes it if open. */
  toggleTestDiff(): Comparison | null {
    this.testDiff = this.testDiff === null && this.testAnswers !== null ? new Comparison(this.#backend) : null;
    return this.testDiff;
  }

  async exportResults(format: ReportFormat): Promise<void> {
    if (this.resultsId === null) {
      return;
    }
    try {
      const path = await this.#backend.exportSession(this.resultsId, format);
      this.exported = path === null ? null : `saved to ${path}`;
    } catch (error) {
      this.resultsError = errorMessage(error);
    }
  }
}
