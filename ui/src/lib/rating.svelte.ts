// The Rate view's state: the session and panel chosen, the rater's name, the item shown and the
// rating being given. Every rating goes to the shell as it is given (no Save button); the item
// that comes back says what is stored. Blind: what the shell sends for an item holds only its
// number, the prompt and the labelled answers, and nothing here asks for more.

import { errorMessage, type Backend } from './backend';
import { firstOpenCell, rateAction, rubricCells, rubricComplete, withScore } from './rate-view';
import type { Choice, GivenRating, PanelKind, PanelStatus, RatingItem, RunId } from './types';

const EMPTY: GivenRating = { choice: null, scores: {}, reason: null };

export class RatingWorkspace {
  readonly #backend: Backend;

  sessionId = $state<RunId | null>(null);
  panels = $state.raw<PanelStatus[]>([]);
  /** The panel to rate; null: create a new one. */
  panelId = $state<string | null>(null);
  newKind = $state<PanelKind>('pairwise');
  rater = $state('');
  item = $state.raw<RatingItem | null>(null);
  /** The rating being given for `item` (a rubric's scores fill in one by one). */
  draft = $state.raw<GivenRating>(EMPTY);
  /** The rubric cell the next 1–5 scores. */
  cell = $state(0);
  /** `saved` once the shell stored the last rating given. */
  saveState = $state<'idle' | 'saving' | 'saved'>('idle');
  error = $state<string | null>(null);

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Picks session `sessionId` and loads its panels (the newest chosen). */
  async chooseSession(sessionId: RunId | null): Promise<void> {
    this.sessionId = sessionId;
    this.item = null;
    this.error = null;
    this.panels = [];
    this.panelId = null;
    if (sessionId === null) {
      return;
    }
    try {
      const panels = await this.#backend.listPanels(sessionId);
      if (this.sessionId === sessionId) {
        this.panels = panels;
        this.panelId = panels[0]?.id ?? null;
      }
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Opens the chosen panel for the rater (creating the panel first when none is chosen). */
  async start(): Promise<void> {
    const rater = this.rater.trim();
    if (this.sessionId === null) {
      this.error = 'choose a finished session';
      return;
    }
    if (rater === '') {
      this.error = 'give your name as a rater';
      return;
    }
    this.error = null;
    try {
      let panelId = this.panelId;
      if (panelId === null) {
        const created = await this.#backend.createRatingPanel(this.sessionId, this.newKind, rater);
        this.panels = [created, ...this.panels];
        panelId = created.id;
        this.panelId = panelId;
      }
      this.show(await this.#backend.joinPanel(panelId, rater));
      this.saveState = 'idle';
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** Shows item `n` (1-based), when there is one. */
  async go(n: number): Promise<void> {
    const item = this.item;
    if (item === null || n < 1 || n > item.items || n === item.n) {
      return;
    }
    try {
      this.show(await this.#backend.ratingItem(item.panel_id, item.rater, n));
    } catch (error) {
      this.error = errorMessage(error);
    }
  }

  /** A pairwise choice: stored at once, then the next item. */
  async choose(choice: Choice): Promise<void> {
    if (this.item?.kind !== 'pairwise') {
      return;
    }
    await this.#save({ ...this.draft, choice });
  }

  /** A rubric score for the current cell; the rating is stored once every cell has one. */
  async score(score: number): Promise<void> {
    const item = this.item;
    if (item?.kind !== 'rubric') {
      return;
    }
    const cells = rubricCells(item);
    const cell = cells[Math.min(this.cell, cells.length - 1)];
    if (cell === undefined) {
      return;
    }
    this.draft = withScore(this.draft, cell, score);
    if (rubricComplete(item, this.draft)) {
      await this.#save(this.draft);
    } else {
      this.cell = firstOpenCell(item, this.draft);
    }
  }

  /** The reason typed for the current item, stored with its rating (now if it has one). */
  async setReason(reason: string): Promise<void> {
    this.draft = { ...this.draft, reason: reason.trim() === '' ? null : reason };
    const given = this.item?.given;
    if (given) {
      await this.#save({ ...given, reason: this.draft.reason }, false);
    }
  }

  /** A key pressed outside any text field; true when the view used it. */
  key(key: string): boolean {
    const item = this.item;
    if (item === null) {
      return false;
    }
    const action = rateAction(key, item.kind);
    if (action === null) {
      return false;
    }
    switch (action.kind) {
      case 'move':
        void this.go(item.n + action.by);
        break;
      case 'choose':
        void this.choose(action.choice);
        break;
      case 'score':
        void this.score(action.score);
        break;
    }
    return true;
  }

  show(item: RatingItem): void {
    this.item = item;
    this.draft = item.given ?? EMPTY;
    this.cell = item.kind === 'rubric' ? firstOpenCell(item, this.draft) : 0;
  }

  async #save(rating: GivenRating, advance = true): Promise<void> {
    const item = this.item;
    if (item === null) {
      return;
    }
    this.saveState = 'saving';
    this.error = null;
    try {
      const saved = await this.#backend.rateItem(item.panel_id, item.rater, item.n, rating);
      this.saveState = 'saved';
      if (advance && saved.n < saved.items) {
        this.show(await this.#backend.ratingItem(saved.panel_id, saved.rater, saved.n + 1));
      } else {
        this.show(saved);
      }
    } catch (error) {
      this.saveState = 'idle';
      this.error = errorMessage(error);
    }
  }
}
