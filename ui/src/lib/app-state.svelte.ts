// The app's state, shared by its views and kept across view switches: saved targets and key
// names, the Compare session (prompt, parameters, chosen targets, the live run), and the History
// selection. Views stay thin: they render this and call its methods.

import { SvelteSet } from 'svelte/reactivity';

import { errorMessage, type Backend } from './backend';
import { Comparison } from './comparison.svelte';
import { needsKeychain } from './keychain';
import { draftFromParameters, emptyParameterDraft, parseParameters, type ParameterDraft } from './parameters';
import { RatingWorkspace } from './rating.svelte';
import { RunStore, type RunStoreOptions } from './run-store.svelte';
import { SessionWorkspace } from './sessions.svelte';
import { SuiteEditor } from './suite-editor.svelte';
import type { RunSummary, StoredRun, Target } from './types';

export type View = 'compare' | 'targets' | 'history' | 'suites' | 'sessions' | 'results' | 'rate';

/** The prompt the first-launch demo fills in (the one `modelbench demo` asks). */
export const DEMO_PROMPT = 'In two sentences: why would a team run the same model on more than one cloud?';

export class AppState {
  readonly backend: Backend;
  view = $state<View>('compare');

  targets = $state.raw<Target[]>([]);
  targetsLoaded = $state(false);
  keys = $state.raw<string[]>([]);
  /** Why the OS keychain cannot be reached (the shell's own words), or `null` while it answers.
   * Only the key names, setting a key and targets with `key = "NAME"` depend on it: the status
   * bar shows a short notice with the fix, those targets a mark; everything else works. */
  keychainError = $state<string | null>(null);
  /** A failure to talk to the backend, shown in the status bar. */
  backendError = $state<string | null>(null);
  demoStarting = $state(false);

  // Compare
  system = $state('');
  prompt = $state('');
  parameters = $state<ParameterDraft>(emptyParameterDraft());
  selected = new SvelteSet<string>();
  /** Why the last Run did not start (nothing to send, bad parameter, command rejected). */
  runError = $state<string | null>(null);
  readonly run: RunStore;
  #stopWanted = false;

  // History
  historyQuery = $state('');
  historyRuns = $state.raw<RunSummary[]>([]);
  historyLoading = $state(false);
  historyError = $state<string | null>(null);
  openedRun = $state.raw<StoredRun | null>(null);
  readonly historyRun: RunStore;
  /** The answers of the Compare view's run and of the opened History run, compared. */
  readonly comparison: Comparison;
  readonly historyComparison: Comparison;

  // Suites, Session and Results
  readonly sessions: SessionWorkspace;
  /** The suite open in the Suites view's editor. */
  readonly suiteEditor: SuiteEditor;
  /** The Rate view: blind rating of a session's answers. */
  readonly rating: RatingWorkspace;

  constructor(backend: Backend, runOptions: RunStoreOptions = {}) {
    this.backend = backend;
    this.run = new RunStore(runOptions);
    this.historyRun = new RunStore(runOptions);
    this.comparison = new Comparison(backend);
    this.historyComparison = new Comparison(backend);
    this.sessions = new SessionWorkspace(backend);
    this.suiteEditor = new SuiteEditor(backend);
    this.rating = new RatingWorkspace(backend);
  }

  /** Opens session `sessionId` in the Results view. */
  async openResults(sessionId: string): Promise<void> {
    this.view = 'results';
    await this.sessions.openResults(sessionId);
  }

  get selectedTargets(): Target[] {
    return this.targets.filter((target) => this.selected.has(target.name));
  }

  get keychainAvailable(): boolean {
    return this.keychainError === null;
  }

  /** Whether `target` is marked: it names a keychain key and the keychain cannot be reached. */
  keychainBlocks(target: Target): boolean {
    return this.keychainError !== null && needsKeychain(target);
  }

  /** Loads the saved targets and the key names. Each stands alone: a keychain that cannot be
   * reached (no Secret Service) must not cost the targets, whose list lives in the database. */
  async refreshTargets(): Promise<void> {
    const [targets, keys] = await Promise.allSettled([this.backend.listTargets(), this.backend.listKeys()]);
    if (keys.status === 'fulfilled') {
      this.keys = keys.value;
      this.keychainError = null;
    } else {
      this.keys = [];
      this.keychainError = errorMessage(keys.reason);
    }
    if (targets.status === 'rejected') {
      this.backendError = errorMessage(targets.reason);
      return;
    }
    const firstLoad = !this.targetsLoaded;
    this.targets = targets.value;
    this.targetsLoaded = true;
    this.backendError = null;
    for (const name of [...this.selected]) {
      if (!targets.value.some((target) => target.name === name)) {
        this.selected.delete(name);
      }
    }
    if (firstLoad && this.selected.size === 0) {
      // A target that needs the unreachable keychain would stop the whole run before anything is
      // sent; it stays listed (and marked) for the user to choose knowingly.
      for (const target of targets.value) {
        if (!this.keychainBlocks(target)) {
          this.selected.add(target.name);
        }
      }
    }
  }

  /** First launch: adds the simulated clouds (with their sample suite), chooses them all and
   * fills in a prompt; then shows `view` (Compare unless the offer came from another view). */
  async startDemo(view: View = 'compare'): Promise<void> {
    this.demoStarting = true;
    try {
      const added = await this.backend.startDemo();
      await this.refreshTargets();
      for (const target of added) {
        this.selected.add(target.name);
      }
      this.sessions.chooseTargets(added.map((target) => target.name));
      if (this.prompt.trim() === '') {
        this.prompt = DEMO_PROMPT;
      }
      this.view = view;
      await this.sessions.refresh();
    } catch (error) {
      this.backendError = errorMessage(error);
    } finally {
      this.demoStarting = false;
    }
  }

  toggleTarget(name: string, on: boolean): void {
    if (on) {
      this.selected.add(name);
    } else {
      this.selected.delete(name);
    }
  }

  async startRun(): Promise<void> {
    if (this.run.running) {
      return;
    }
    const { parameters, errors } = parseParameters(this.parameters);
    const firstError = Object.entries(errors)[0];
    const targets = this.selectedTargets.map((target) => target.name);
    this.runError = firstError
      ? `${firstError[0]}: ${firstError[1]}`
      : this.prompt.trim() === ''
        ? 'Write a prompt first.'
        : targets.length === 0
          ? 'Choose at least one target.'
          : null;
    if (this.runError !== null) {
      return;
    }
    this.#stopWanted = false;
    const handle = this.run.begin();
    try {
      const runId = await this.backend.startRun(
        {
          targets,
          ...(this.system.trim() === '' ? {} : { system: this.system }),
          prompt: this.prompt,
          parameters,
        },
        handle,
      );
      if (this.run.runId === null && this.run.running) {
        this.run.runId = runId;
      }
      if (this.#stopWanted && this.run.running) {
        await this.backend.stopRun(runId);
      }
    } catch (error) {
      this.run.fail(errorMessage(error));
    }
  }

  async stop(): Promise<void> {
    if (!this.run.running) {
      return;
    }
    const runId = this.run.runId;
    if (runId === null) {
      this.#stopWanted = true;
      return;
    }
    try {
      await this.backend.stopRun(runId);
    } catch (error) {
      this.runError = errorMessage(error);
    }
  }

  async searchHistory(): Promise<void> {
    const query = this.historyQuery.trim();
    this.historyLoading = true;
    try {
      const runs = await this.backend.listRuns({ ...(query === '' ? {} : { query }), limit: 200 });
      // A slower, older search must not overwrite a newer one.
      if (query === this.historyQuery.trim()) {
        this.historyRuns = runs;
        this.historyError = null;
      }
    } catch (error) {
      this.historyError = errorMessage(error);
    } finally {
      this.historyLoading = false;
    }
  }

  async openRun(runId: string): Promise<void> {
    try {
      const run = await this.backend.loadRun(runId);
      this.openedRun = run;
      this.historyRun.load(run);
      this.historyError = null;
    } catch (error) {
      this.historyError = errorMessage(error);
    }
  }

  /** Deletes a stored run (the History view asks first); the list and the opened run follow. */
  async deleteRun(runId: string): Promise<boolean> {
    try {
      await this.backend.deleteRun(runId);
    } catch (error) {
      this.historyError = errorMessage(error);
      return false;
    }
    this.historyRuns = this.historyRuns.filter((run) => run.id !== runId);
    // Its panes stay loaded until the next run opens, but nothing shows them.
    if (this.openedRun?.record.id === runId) {
      this.openedRun = null;
    }
    this.historyError = null;
    return true;
  }

  /** Puts a stored run's settings back into Compare and runs them again. */
  async rerun(run: StoredRun): Promise<void> {
    const prompt = run.record.prompts[0];
    this.system = prompt?.system ?? '';
    this.prompt = prompt?.messages.findLast((message) => message.role === 'user')?.content ?? '';
    this.parameters = draftFromParameters(run.record.parameters);
    this.selected.clear();
    const saved = new Set(this.targets.map((target) => target.name));
    const missing = run.record.targets.filter((target) => !saved.has(target.name)).map((target) => target.name);
    for (const target of run.record.targets) {
      if (saved.has(target.name)) {
        this.selected.add(target.name);
      }
    }
    this.view = 'compare';
    await this.startRun();
    if (missing.length > 0 && this.runError === null) {
      this.runError = `Not saved any more, left out: ${missing.join(', ')}`;
    }
  }
}
