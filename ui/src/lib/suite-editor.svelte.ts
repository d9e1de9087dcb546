// The Suites editor's state: the suite being edited as fields (the engine's `SuiteDocument`) and
// as YAML, kept in step through the engine (each edit of the fields asks it for their YAML and
// problems; each edit of the YAML asks it for the fields), saving, and the dry check of one test
// on one target. Edits are sent once the typing pauses; an older answer never replaces a newer.

import { errorMessage, type Backend } from './backend';
import { newSuite } from './suite-editor';
import type { DryCheck, SuiteDocument, SuiteDraft, SuiteFieldError, SuiteInfo } from './types';

export type EditorTab = 'fields' | 'raw';

export class SuiteEditor {
  readonly #backend: Backend;
  readonly #delayMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by each check sent, so only the newest answer is applied. */
  #generation = 0;
  /** The check an edit scheduled, until it is sent. */
  #pendingCheck: (() => Promise<void>) | null = null;

  /** Whether a suite is open (a stored one, or a new one). */
  open = $state(false);
  /** The stored suite opened, if any. */
  openedHash = $state<string | null>(null);
  document = $state<SuiteDocument | null>(null);
  text = $state('');
  errors = $state.raw<SuiteFieldError[]>([]);
  notes = $state.raw<string[]>([]);
  checkTypes = $state.raw<string[]>([]);
  tab = $state<EditorTab>('fields');
  openTest = $state<number | null>(0);
  /** Why the suite could not be opened, saved or checked. */
  error = $state<string | null>(null);
  /** An edit is waiting for (or being checked by) the engine. */
  pending = $state(false);
  saved = $state<string | null>(null);

  dryTarget = $state('');
  dryTest = $state('');
  dryRunning = $state(false);
  dryResult = $state.raw<DryCheck | null>(null);
  dryError = $state<string | null>(null);

  constructor(backend: Backend, delayMs = 200) {
    this.#backend = backend;
    this.#delayMs = delayMs;
  }

  /** The open suite's test ids, in order. */
  get testIds(): string[] {
    return this.document?.tests.map((test) => test.id) ?? [];
  }

  async openStored(hash: string): Promise<void> {
    this.#reset();
    try {
      const draft = await this.#backend.openSuiteDraft(hash);
      this.openedHash = hash;
      this.open = true;
      this.#apply(draft, 'open');
      this.tab = draft.document === null ? 'raw' : 'fields';
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  async openNew(): Promise<void> {
    this.#reset();
    this.open = true;
    this.document = newSuite();
    await this.checkDocument();
  }

  close(): void {
    this.#reset();
  }

  /** The fields changed: their YAML and problems are asked for once the typing pauses. */
  editedFields(): void {
    this.saved = null;
    this.#schedule(() => this.checkDocument());
  }

  /** The YAML changed: its fields and problems are asked for once the typing pauses. */
  editedText(text: string): void {
    this.text = text;
    this.saved = null;
    this.#schedule(() => this.checkText());
  }

  async checkDocument(): Promise<void> {
    const document = this.document;
    if (document === null) {
      return;
    }
    // Typed loosely: `$state.snapshot`'s type recurses through JsonValue without end.
    const snapshot = ($state.snapshot as (value: unknown) => unknown)(document) as SuiteDocument;
    await this.#check(() => this.#backend.checkSuiteDocument(snapshot), false);
  }

  async checkText(): Promise<void> {
    const text = this.text;
    await this.#check(() => this.#backend.checkSuiteText(text), true);
  }

  /** Stores the suite as it is now (the engine refuses one with errors, naming them). */
  async save(): Promise<SuiteInfo | null> {
    await this.#settle();
    this.saved = null;
    this.error = null;
    try {
      const info = await this.#backend.saveSuiteDraft(this.text);
      this.openedHash = info.hash;
      this.saved = `Saved “${info.name}” (${info.tests} tests).`;
      return info;
    } catch (error) {
      this.error = errorMessage(error);
      return null;
    }
  }

  /** Writes the suite's YAML where the user says in the native save dialog. */
  async saveFile(): Promise<void> {
    await this.#settle();
    this.error = null;
    try {
      const path = await this.#backend.exportSuiteDraft(this.document?.name ?? 'suite', this.text);
      if (path !== null) {
        this.saved = `Written to ${path}.`;
      }
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Sends the chosen test to the chosen target and keeps the engine's grading of the answer. */
  async dryRun(): Promise<void> {
    await this.#settle();
    this.dryError = null;
    this.dryResult = null;
    if (this.dryTarget === '' || this.dryTest === '') {
      this.dryError = 'choose a target and a test';
      return;
    }
    this.dryRunning = true;
    try {
      this.dryResult = await this.#backend.dryCheckSuite({
        text: this.text,
        test_id: this.dryTest,
        target: this.dryTarget,
      });
    } catch (error) {
      this.dryError = errorMessage(error);
    } finally {
      this.dryRunning = false;
    }
  }

  #reset(): void {
    clearTimeout(this.#timer);
    this.#pendingCheck = null;
    this.#generation += 1;
    this.open = false;
    this.openedHash = null;
    this.document = null;
    this.text = '';
    this.errors = [];
    this.notes = [];
    this.error = null;
    this.pending = false;
    this.saved = null;
    this.openTest = 0;
    this.dryResult = null;
    this.dryError = null;
  }

  #schedule(check: () => Promise<void>): void {
    clearTimeout(this.#timer);
    this.pending = true;
    this.#pendingCheck = check;
    this.#timer = setTimeout(() => {
      this.#pendingCheck = null;
      void check();
    }, this.#delayMs);
  }

  /** Sends a waiting edit now, so a save or a dry check sees the suite as it is on screen. */
  async #settle(): Promise<void> {
    const check = this.#pendingCheck;
    if (check !== null) {
      clearTimeout(this.#timer);
      this.#pendingCheck = null;
      await check();
    }
  }

  async #check(ask: () => Promise<SuiteDraft>, fromText: boolean): Promise<void> {
    const generation = ++this.#generation;
    this.pending = true;
    try {
      const draft = await ask();
      if (generation === this.#generation) {
        this.error = null;
        this.#apply(draft, fromText ? 'text' : 'fields');
      }
    } catch (error) {
      if (generation === this.#generation) {
        this.error = errorMessage(error);
      }
    } finally {
      if (generation === this.#generation) {
        this.pending = false;
      }
    }
  }

  /** Shows `draft`: the YAML the engine wrote for fields, the fields it read from YAML (the
   * side being typed in stays the user's own). */
  #apply(draft: SuiteDraft, from: 'open' | 'fields' | 'text'): void {
    this.errors = draft.errors;
    this.notes = draft.notes;
    this.checkTypes = draft.check_types;
    if (from !== 'text') {
      this.text = draft.text;
    }
    if (from !== 'fields') {
      this.document = draft.document;
      const tests = draft.document?.tests.length ?? 0;
      if (this.openTest === null || this.openTest >= tests) {
        this.openTest = tests > 0 ? 0 : null;
      }
    }
    if (!this.testIds.includes(this.dryTest)) {
      this.dryTest = this.testIds[0] ?? '';
    }
  }
}
