import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import Leaderboard from '../src/components/Leaderboard.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import type { Backend } from '../src/lib/backend';
import {
  firstOpenCell,
  intervalBar,
  progressLine,
  rateAction,
  rubricCells,
  rubricComplete,
  strengthAxis,
  withScore,
} from '../src/lib/rate-view';
import { RatingWorkspace } from '../src/lib/rating.svelte';
import type {
  GivenRating,
  Leaderboard as LeaderboardData,
  LeaderboardRow,
  PanelStatus,
  RatingItem,
  SessionSummary,
} from '../src/lib/types';
import { createMockBackend } from './doubles/mock-backend';

const SESSION: SessionSummary = {
  id: 's1',
  created_at_ms: 1_790_000_000_000,
  finished_at_ms: 1_790_000_060_000,
  status: 'completed',
  stop_reason: null,
  suite_name: 'Sample',
  suite_hash: 'abc',
  budget_usd: null,
  planned: 8,
  responses: 8,
};

/** A shell with one finished session and a pairwise panel of `items` items kept in memory, as
 * the workbench keeps it: ratings stored as given, a later one replacing the earlier. */
function scriptedShell(items = 3) {
  const ratings = new Map<number, GivenRating>();
  const calls: { command: string; args: unknown[] }[] = [];
  let panel: PanelStatus | null = null;
  const item = (n: number, rater: string): RatingItem => ({
    panel_id: 'p1',
    rater,
    kind: 'pairwise',
    title: 'Blind rating: Sample',
    criteria: [],
    n,
    items,
    rated: ratings.size,
    next_unrated: [...Array(items).keys()].map((index) => index + 1).find((number) => !ratings.has(number)) ?? null,
    prompt: { messages: [{ role: 'user', content: `Question ${n}?` }] },
    answers: [
      { label: 'A', text: `first answer ${n}` },
      { label: 'B', text: `second answer ${n}` },
    ],
    given: ratings.get(n) ?? null,
  });
  const backend: Backend = {
    ...createMockBackend(),
    listSessions: async () => [SESSION],
    listPanels: async () => (panel ? [panel] : []),
    createRatingPanel: async (sessionId, kind, rater) => {
      calls.push({ command: 'createRatingPanel', args: [sessionId, kind, rater] });
      panel = {
        id: 'p1',
        session_id: sessionId,
        kind,
        title: 'Blind rating: Sample',
        created_at_ms: 1,
        items,
        raters: [{ rater, rated: 0, items, last_import_ms: null }],
      };
      return panel;
    },
    joinPanel: async (panelId, rater) => item(1, rater),
    ratingItem: async (panelId, rater, n) => item(n, rater),
    rateItem: async (panelId, rater, n, rating) => {
      calls.push({ command: 'rateItem', args: [n, rating] });
      ratings.set(n, rating);
      return item(n, rater);
    },
  };
  return { backend, ratings, calls };
}

describe('the Rate view, as functions', () => {
  it('maps A / B / T, 1–5 and the arrows by the panel kind', () => {
    expect(rateAction('a', 'pairwise')).toEqual({ kind: 'choose', choice: 'a' });
    expect(rateAction('B', 'pairwise')).toEqual({ kind: 'choose', choice: 'b' });
    expect(rateAction('t', 'pairwise')).toEqual({ kind: 'choose', choice: 'tie' });
    expect(rateAction('3', 'pairwise')).toBeNull();
    expect(rateAction('3', 'rubric')).toEqual({ kind: 'score', score: 3 });
    expect(rateAction('6', 'rubric')).toBeNull();
    expect(rateAction('a', 'rubric')).toBeNull();
    expect(rateAction('ArrowLeft', 'rubric')).toEqual({ kind: 'move', by: -1 });
    expect(rateAction('ArrowRight', 'pairwise')).toEqual({ kind: 'move', by: 1 });
  });

  it('fills a rubric answer by answer, criterion by criterion', () => {
    const item: RatingItem = {
      ...scriptedItem(),
      kind: 'rubric',
      criteria: [
        { name: 'accuracy', description: '' },
        { name: 'clarity', description: '' },
      ],
      answers: [
        { label: '1', text: 'x' },
        { label: '2', text: 'y' },
      ],
    };
    expect(rubricCells(item)).toEqual([
      { label: '1', criterion: 'accuracy' },
      { label: '1', criterion: 'clarity' },
      { label: '2', criterion: 'accuracy' },
      { label: '2', criterion: 'clarity' },
    ]);
    let given: GivenRating = { choice: null, scores: {}, reason: null };
    given = withScore(given, { label: '1', criterion: 'accuracy' }, 4);
    given = withScore(given, { label: '1', criterion: 'clarity' }, 2);
    expect(given.scores).toEqual({ '1': { accuracy: 4, clarity: 2 } });
    expect(firstOpenCell(item, given)).toBe(2);
    expect(rubricComplete(item, given)).toBe(false);
    given = withScore(withScore(given, { label: '2', criterion: 'accuracy' }, 5), { label: '2', criterion: 'clarity' }, 1);
    expect(rubricComplete(item, given)).toBe(true);
    expect(firstOpenCell(item, given)).toBe(3);
  });

  it('places intervals on their axis and says the progress', () => {
    expect(intervalBar(0.75, 0.5, 1, 0, 1, 120)).toEqual({ low: 60, high: 120, value: 90 });
    expect(intervalBar(null, 0.5, 1, 0, 1, 120)).toBeNull();
    expect(intervalBar(2, 1, 5, 0, 4, 100)).toEqual({ low: 25, high: 100, value: 50 });
    const row = (lower: number | null, upper: number | null): LeaderboardRow => ({
      ...leaderboardRow('x', 1),
      strength_lower: lower,
      strength_upper: upper,
    });
    expect(strengthAxis([row(-1.5, 0.2), row(0.1, 2)])).toEqual({ min: -1.5, max: 2 });
    expect(strengthAxis([row(null, null)])).toEqual({ min: -1, max: 1 });
    expect(progressLine({ ...scriptedItem(), rated: 5, items: 8, n: 6 })).toBe('5 rated of 8 · item 6');
  });
});

function scriptedItem(): RatingItem {
  return {
    panel_id: 'p',
    rater: 'r',
    kind: 'pairwise',
    title: 't',
    criteria: [],
    n: 1,
    items: 1,
    rated: 0,
    next_unrated: 1,
    prompt: { messages: [] },
    answers: [],
    given: null,
  };
}

function leaderboardRow(target: string, rank: number): LeaderboardRow {
  return {
    rank,
    target,
    comparisons: 8,
    wins: 6,
    ties: 2,
    losses: 0,
    win_rate: 0.875,
    win_rate_lower: 0.53,
    win_rate_upper: 0.98,
    strength: 1.2,
    strength_lower: 0.4,
    strength_upper: 2.1,
    mean_score: null,
  };
}

describe('the rating workspace', () => {
  it('creates a panel for the rater, stores each choice at once and moves on; arrows go back to revise', async () => {
    const shell = scriptedShell();
    const rating = new RatingWorkspace(shell.backend);
    await rating.chooseSession('s1');
    expect(rating.panelId).toBeNull();
    await rating.start();
    expect(rating.error).toBe('give your name as a rater');
    rating.rater = ' alice ';
    await rating.start();
    expect(shell.calls[0]).toEqual({ command: 'createRatingPanel', args: ['s1', 'pairwise', 'alice'] });
    expect(rating.item?.n).toBe(1);

    expect(rating.key('a')).toBe(true);
    await waitFor(() => expect(rating.item?.n).toBe(2));
    expect(rating.saveState).toBe('saved');
    expect(shell.ratings.get(1)?.choice).toBe('a');
    await rating.choose('tie');
    expect(rating.item?.n).toBe(3);
    expect(rating.item?.rated).toBe(2);

    expect(rating.key('ArrowLeft')).toBe(true);
    await waitFor(() => expect(rating.item?.n).toBe(2));
    expect(rating.item?.given?.choice).toBe('tie');
    await rating.choose('b');
    expect(shell.ratings.get(2)?.choice).toBe('b');
    expect(shell.ratings.size).toBe(2);
    expect(rating.key('x')).toBe(false);
  });
});

describe('the Rate view and the leaderboard', () => {
  it('rates from the keyboard and the buttons, shows progress and saved', async () => {
    const shell = scriptedShell(5);
    render(App, { app: new AppState(shell.backend) });
    await fireEvent.click(screen.getByTestId('nav-rate'));
    const view = await screen.findByTestId('rate-view');
    await waitFor(() => expect((screen.getByTestId('rate-session') as HTMLSelectElement).value).toBe('s1'));
    await fireEvent.input(screen.getByTestId('rate-rater'), { target: { value: 'bob' } });
    await fireEvent.click(screen.getByTestId('rate-start'));
    await screen.findByTestId('rate-progress');
    expect(view.textContent).toContain('first answer 1');
    await fireEvent.keyDown(window, { key: 'b' });
    await waitFor(() => expect(screen.getByTestId('rate-progress').textContent).toBe('1 rated of 5 · item 2'));
    await fireEvent.click(screen.getByTestId('rate-tie'));
    await waitFor(() => expect(screen.getByTestId('rate-progress').textContent).toBe('2 rated of 5 · item 3'));
    expect(screen.getByTestId('rate-saved').textContent).toBe('saved');
    // Typing in the reason field is not a choice.
    await fireEvent.keyDown(screen.getByTestId('rate-reason'), { key: 'a' });
    expect(shell.ratings.size).toBe(2);
    await fireEvent.keyDown(window, { key: 'ArrowLeft' });
    await waitFor(() => expect(screen.getByTestId('rate-progress').textContent).toBe('2 rated of 5 · item 2'));
    expect(screen.getByTestId('rate-tie').classList.contains('chosen')).toBe(true);
  });

  it('draws the leaderboard rows with their intervals, the agreement and the position note', () => {
    const leaderboard: LeaderboardData = {
      panel_id: 'p1',
      title: 'Blind rating: Sample',
      kind: 'pairwise',
      items: 4,
      raters: ['alice', 'bob'],
      ratings: 8,
      rows: [leaderboardRow('zeta-verbose', 1), { ...leaderboardRow('acme-terse', 2), win_rate: 0.125, strength: -1.2 }],
      alpha: 1,
      alpha_level: 'nominal',
      alpha_reading: 'reliable',
      units: 4,
      agreement_note: null,
      position_bias: { share: 0.5, lower: 0.2, upper: 0.8, decided: 6, p_value: 1, biased: false },
      notes: [],
    };
    render(Leaderboard, { leaderboard });
    const first = screen.getByTestId('results-leaderboard-zeta-verbose');
    expect(first.textContent).toContain('88% [53%–98%]');
    expect(first.querySelectorAll('svg rect.interval')).toHaveLength(2);
    expect(screen.getByTestId('results-leaderboard-acme-terse').textContent).toContain('13%');
    expect(screen.getByTestId('results-panel-agreement').textContent).toContain('1.000 over 4');
    expect(screen.getByTestId('results-panel-agreement').textContent).toContain('reliable');
    expect(screen.getByTestId('results-panel-position').textContent).toContain('no position bias shown');
  });
});
