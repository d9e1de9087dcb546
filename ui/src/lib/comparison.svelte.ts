// What the Diff panel and the panes' outlier marks show about one run's answers: the engine's
// similarity matrix of the answers to one prompt, and the diff of the pair the user picked (two
// panes, or a pane and the run's majority: the answer closest to all the others).
//
// Only answers with text take part. Requests race (the mode changes, a new run starts): each
// answer is applied only if nothing newer was asked since.

import { errorMessage, type Backend } from './backend';
import type { Diff, DiffMode, SimilarityMatrix } from './types';

/** What a comparison reads of an answer: a run's pane, or a stored session's answer. */
export interface Compared {
  readonly id: string;
  readonly key: { prompt_index: number };
  readonly target: { name: string };
  answer(): string;
}

/** `b` may name the run's majority instead of a pane. */
export const MAJORITY = 'majority';

export interface Pair {
  a: string;
  b: string;
}

export class Comparison {
  mode = $state<DiffMode>('words');
  /** The prompt whose answers are compared (a run with several prompts). */
  prompt = $state(0);
  /** The panes compared, in the matrix's order. */
  panes = $state.raw<Compared[]>([]);
  matrix = $state.raw<SimilarityMatrix | null>(null);
  matrixError = $state<string | null>(null);
  pair = $state<Pair | null>(null);
  diff = $state.raw<Diff | null>(null);
  diffError = $state<string | null>(null);
  busy = $state(false);

  #backend: Backend;
  #asked = 0;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** The pane farthest from the others, if one is. */
  get outlier(): Compared | null {
    const index = this.matrix?.outlier;
    return index === null || index === undefined ? null : (this.panes[index] ?? null);
  }

  /** The answer closest to all the others, if there are three or more. */
  get majority(): Compared | null {
    const index = this.matrix?.majority;
    return index === null || index === undefined ? null : (this.panes[index] ?? null);
  }

  /** Forgets the last run's comparison. */
  clear(): void {
    this.#asked += 1;
    this.panes = [];
    this.matrix = null;
    this.matrixError = null;
    this.pair = null;
    this.diff = null;
    this.diffError = null;
    this.busy = false;
  }

  /** Compares the answers of `all` to the current prompt; keeps the picked pair when its panes
   * are still there, else picks the first two. */
  async compare(all: readonly Compared[]): Promise<void> {
    const asked = ++this.#asked;
    const panes = all.filter((pane) => pane.key.prompt_index === this.prompt && pane.answer() !== '');
    this.panes = panes;
    this.matrix = null;
    this.matrixError = null;
    if (panes.length < 2) {
      this.matrixError = panes.length === 0 ? 'no answers to compare yet' : 'one answer: nothing to compare it with';
      this.pair = null;
      this.diff = null;
      return;
    }
    this.busy = true;
    try {
      const matrix = await this.#backend.similarity(
        panes.map((pane) => pane.answer()),
        this.mode,
      );
      if (asked !== this.#asked) {
        return;
      }
      this.matrix = matrix;
    } catch (error) {
      if (asked === this.#asked) {
        this.matrixError = errorMessage(error);
      }
    } finally {
      if (asked === this.#asked) {
        this.busy = false;
      }
    }
    const ids = new Set(panes.map((pane) => pane.id));
    const pair = this.pair;
    const kept = pair !== null && ids.has(pair.a) && (pair.b === MAJORITY ? this.majority !== null : ids.has(pair.b));
    await this.pick(kept ? pair : { a: panes[0]!.id, b: panes[1]!.id });
  }

  /** Shows the diff of `pair` (`b` may be `MAJORITY`). */
  async pick(pair: Pair): Promise<void> {
    const asked = ++this.#asked;
    this.pair = pair;
    this.diff = null;
    this.diffError = null;
    const a = this.panes.find((pane) => pane.id === pair.a);
    const b = pair.b === MAJORITY ? this.majority : this.panes.find((pane) => pane.id === pair.b);
    if (!a || !b) {
      this.diffError = pair.b === MAJORITY ? 'no majority: it takes three answers or more' : 'pick two answers';
      return;
    }
    try {
      const diff = await this.#backend.diffTexts(a.answer(), b.answer(), this.mode);
      if (asked === this.#asked) {
        this.diff = diff;
      }
    } catch (error) {
      if (asked === this.#asked) {
        this.diffError = errorMessage(error);
      }
    }
  }

  /** The pane a pair side names, for labels. */
  nameOf(id: string): string {
    if (id === MAJORITY) {
      const majority = this.majority;
      return majority ? `majority (${majority.target.name})` : 'majority';
    }
    return this.panes.find((pane) => pane.id === id)?.target.name ?? id;
  }
}
