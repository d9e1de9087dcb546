import { describe, expect, it } from 'vitest';

import { RunStore } from '../src/lib/run-store.svelte';
import type { TextSink } from '../src/lib/run-store/pane.svelte';
import { statusOf } from '../src/lib/run-store/status';
import type { RunMessage, StoredRun } from '../src/lib/types';
import { ManualScheduler, live, providerError, record, stamped, target, text } from './helpers';

function recordingSink(): TextSink & { resets: string[]; appends: string[]; settles: number } {
  const sink = {
    resets: [] as string[],
    appends: [] as string[],
    settles: 0,
    reset(value: string) {
      sink.resets.push(value);
    },
    append(value: string) {
      sink.appends.push(value);
    },
    settle() {
      sink.settles += 1;
    },
  };
  return sink;
}

function setup(names: string[] = ['a', 'b', 'c']) {
  const scheduler = new ManualScheduler();
  const store = new RunStore({ scheduler, applyDom: () => undefined });
  const handle = store.begin();
  const started: RunMessage = { kind: 'started', run_id: 'run-1', targets: names.map((name) => target(name)) };
  handle(started);
  return { scheduler, store, handle };
}

describe('statusOf', () => {
  it('is streaming until the final record, then done, incomplete or error', () => {
    expect(statusOf(null, true)).toBe('streaming');
    expect(statusOf(record(0, 'a', { complete: true }), true)).toBe('done');
    expect(statusOf(record(0, 'a', { complete: false, error: providerError() }), true)).toBe('incomplete');
    expect(statusOf(record(0, 'a', { complete: false, error: providerError() }), false)).toBe('error');
  });
});

describe('RunStore', () => {
  it('creates one streaming pane per target when the run starts', () => {
    const { store } = setup();
    expect(store.phase).toBe('running');
    expect(store.runId).toBe('run-1');
    expect(store.panes.map((pane) => pane.target.name)).toEqual(['a', 'b', 'c']);
    expect(store.panes.every((pane) => pane.status === 'streaming')).toBe(true);
  });

  it('applies batches in order and hands each frame only the new text', () => {
    const { store, scheduler, handle } = setup(['a']);
    const pane = store.panes[0]!;
    const sink = recordingSink();
    pane.attach(sink);
    expect(sink.resets).toEqual(['']);

    handle({ kind: 'events', live: [], events: [text(0, 'a', 0, 100_000, 'Hel'), text(0, 'a', 1, 110_000, 'lo')] });
    handle({ kind: 'events', live: [], events: [text(0, 'a', 2, 120_000, ', ')] });
    scheduler.frame();
    handle({ kind: 'events', live: [], events: [text(0, 'a', 3, 130_000, 'world')] });
    scheduler.frame();

    expect(sink.appends).toEqual(['Hello, ', 'world']);
    expect(pane.text()).toBe('Hello, world');
    expect(pane.textLength).toBe('Hello, world'.length);
    expect(sink.settles).toBe(2);
  });

  it('with many panes draws one grid row per frame, each row in turn', () => {
    const names = Array.from({ length: 16 }, (_, index) => `p${index}`);
    const { store, scheduler, handle } = setup(names);
    scheduler.frame();
    expect(store.panes.map((pane) => pane.row)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    const renders = () => store.panes.map((pane) => pane.renders);
    handle({ kind: 'events', live: [], events: names.map((name, index) => text(index, name, 0, 1000, name)) });

    const drawn: number[][] = [];
    for (let frame = 0; frame < 4; frame += 1) {
      const before = renders();
      scheduler.frame();
      drawn.push(renders().flatMap((count, index) => (count > before[index]! ? [index] : [])));
    }
    expect(drawn).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
      [12, 13, 14, 15],
    ]);
    expect(store.panes.map((pane) => pane.text())).toEqual(names);
    // Everything drawn: no frame left to ask for.
    const requested = scheduler.requested;
    scheduler.frame();
    expect(scheduler.requested).toBe(requested);

    // Only the last row changed: the next frame draws it rather than waiting for its turn.
    handle({ kind: 'events', live: [], events: [text(14, 'p14', 1, 2000, '!')] });
    scheduler.frame();
    expect(store.panes[14]!.text()).toBe('p14!');
  });

  it('shows the run finished, and its counts, in a frame after every pane shows its final state', () => {
    const names = Array.from({ length: 16 }, (_, index) => `p${index}`);
    const { store, scheduler, handle } = setup(names);
    expect(store.counts).toEqual({ streaming: 16, done: 0, incomplete: 0, error: 0 });
    for (const [index, name] of names.entries()) {
      handle({ kind: 'response', response: record(index, name, { text: name }) });
    }
    handle({ kind: 'finished', run_id: 'run-1' });
    expect(store.phase).toBe('running');

    const seen: [string, number, number][] = [];
    for (let frame = 0; frame < 5; frame += 1) {
      scheduler.frame();
      seen.push([store.phase, store.counts.done, store.panes.filter((pane) => pane.status === 'done').length]);
    }
    // A row of panes per frame; the summary (above the grid) alone in the frame after them.
    expect(seen).toEqual([
      ['running', 0, 4],
      ['running', 0, 8],
      ['running', 0, 12],
      ['running', 0, 16],
      ['finished', 16, 16],
    ]);
    const requested = scheduler.requested;
    scheduler.frame();
    expect(scheduler.requested).toBe(requested);
  });

  it('shows a status change in the counts within 250 ms while every frame draws panes', () => {
    const names = Array.from({ length: 16 }, (_, index) => `p${index}`);
    const { store, scheduler, handle } = setup(names);
    handle({ kind: 'response', response: record(0, 'p0', { complete: false, error: providerError() }) });
    let sequence = 0;
    let shownAt: number | null = null;
    const start = scheduler.time;
    for (let frame = 0; frame < 30 && shownAt === null; frame += 1) {
      sequence += 1;
      handle({ kind: 'events', live: [], events: names.slice(1).map((name, index) => text(index + 1, name, sequence, sequence * 1000, 'x')) });
      scheduler.frame();
      if (store.counts.error === 1) {
        shownAt = scheduler.time - start;
      }
    }
    expect(store.panes[0]!.status).toBe('error');
    expect(shownAt).not.toBeNull();
    expect(shownAt!).toBeGreaterThanOrEqual(250);
    expect(shownAt!).toBeLessThanOrEqual(250 + 16 * 4);
    expect(store.counts).toEqual({ streaming: 15, done: 0, incomplete: 0, error: 1 });
  });

  it('draws up to four panes in every frame', () => {
    const { store, scheduler, handle } = setup(['a', 'b', 'c', 'd']);
    scheduler.frame();
    expect(store.panes.map((pane) => pane.row)).toEqual([0, 0, 0, 0]);
    handle({ kind: 'events', live: [], events: ['a', 'b', 'c', 'd'].map((name, index) => text(index, name, 0, 1000, name)) });
    scheduler.frame();
    expect(store.panes.map((pane) => pane.text())).toEqual(['a', 'b', 'c', 'd']);
  });

  it('draws each pane at most once per frame, and only the panes that changed', () => {
    const { store, scheduler, handle } = setup(['a', 'b', 'c']);
    scheduler.frame(); // the panes' creation frame, if any
    const [a, b, c] = store.panes;
    const before = { requested: scheduler.requested, a: a!.renders, b: b!.renders, c: c!.renders };

    for (let index = 0; index < 50; index += 1) {
      handle({
        kind: 'events',
        live: [],
        events: [text(0, 'a', index, index * 1000, 'x'), text(1, 'b', index, index * 1000, 'y')],
      });
    }
    // Fifty batches, one frame requested.
    expect(scheduler.requested - before.requested).toBe(1);
    scheduler.frame();
    expect(a!.renders - before.a).toBe(1);
    expect(b!.renders - before.b).toBe(1);
    expect(c!.renders - before.c).toBe(0);
    expect(a!.text()).toBe('x'.repeat(50));

    handle({ kind: 'events', live: [], events: [text(2, 'c', 0, 1000, 'z')] });
    scheduler.frame();
    expect(a!.renders - before.a).toBe(1);
    expect(c!.renders - before.c).toBe(1);
    // Nothing changed: the next frame draws nothing and none is requested.
    const requested = scheduler.requested;
    scheduler.frame();
    expect(scheduler.requested).toBe(requested);
  });

  it('shows the engine’s live figures with the batch, then the record’s', () => {
    const { store, scheduler, handle } = setup(['a']);
    const pane = store.panes[0]!;
    handle({
      kind: 'events',
      live: [live(0, 'a', { time_to_first_token_ms: 380, output_tokens: 2, output_tokens_per_second: 50 })],
      events: [
        stamped(0, 'a', 0, 150_000, { type: 'started', request_id: 'r', reported_model: 'gpt-test-2026', region: 'eu' }),
        stamped(0, 'a', 1, 380_000, { type: 'reasoning_delta', text: 'hmm' }),
        text(0, 'a', 2, 400_000, 'Hi'),
      ],
    });
    scheduler.frame();
    expect(pane.timeToFirstTokenMs).toBe(380);
    expect(pane.reportedModel).toBe('gpt-test-2026');
    expect(pane.region).toBe('eu');
    expect(pane.outputTokens).toBe(2);
    expect(pane.tokensEstimated).toBe(true);
    expect(pane.tokensPerSecond).toBe(50);

    handle({ kind: 'response', response: record(0, 'a', { text: 'Hi' }) });
    scheduler.frame();
    expect(pane.timeToFirstTokenMs).toBe(420);
    expect(pane.elapsedMs).toBe(900);
    expect(pane.outputTokens).toBe(3);
    expect(pane.tokensEstimated).toBe(false);
    expect(pane.costUsd).toBe(0.0012);
    expect(pane.status).toBe('done');
  });

  it('marks partial output incomplete and keeps it; an error without text is an error', () => {
    const { store, scheduler, handle } = setup(['a', 'b']);
    const [a, b] = store.panes;
    handle({ kind: 'events', live: [], events: [text(0, 'a', 0, 1000, 'partial answer')] });
    scheduler.frame();
    expect(a!.status).toBe('streaming');

    const overloaded = providerError({ kind: 'overloaded', status: null, code: 'overloaded_error', message: 'Overloaded', retryable: true });
    handle({ kind: 'events', live: [], events: [stamped(0, 'a', 1, 2000, { type: 'error', ...overloaded })] });
    scheduler.frame();
    // An error event alone does not end the pane: a retry may follow.
    expect(a!.status).toBe('streaming');
    expect(a!.notice).toContain('overloaded');

    handle({ kind: 'response', response: record(0, 'a', { text: 'partial answer', complete: false, error: overloaded }) });
    handle({ kind: 'response', response: record(1, 'b', { text: '', complete: false, error: providerError() }) });
    scheduler.frame();
    expect(a!.status).toBe('incomplete');
    expect(a!.text()).toBe('partial answer');
    expect(a!.errorText).toBe('overloaded: [overloaded_error] Overloaded');
    expect(b!.status).toBe('error');
    expect(b!.errorText).toBe('auth: HTTP 401 [invalid_api_key] Incorrect API key provided');
  });

  it('ends panes without a record when the run finishes or fails', () => {
    const { store, scheduler, handle } = setup(['a', 'b']);
    handle({ kind: 'events', live: [], events: [text(0, 'a', 0, 1000, 'some')] });
    handle({ kind: 'failed', message: 'the database is locked' });
    scheduler.frame();
    expect(store.phase).toBe('failed');
    expect(store.failure).toBe('the database is locked');
    expect(store.panes.map((pane) => pane.status)).toEqual(['incomplete', 'error']);
    expect(store.panes[1]!.errorText).toBe('the database is locked');
    expect(scheduler.tickers).toBe(0);
  });

  it('replaces the streamed text when the final record disagrees', () => {
    const { store, scheduler, handle } = setup(['a']);
    const pane = store.panes[0]!;
    const sink = recordingSink();
    pane.attach(sink);
    handle({ kind: 'events', live: [], events: [text(0, 'a', 0, 1000, 'Hel')] });
    scheduler.frame();
    handle({ kind: 'response', response: record(0, 'a', { text: 'Hello' }) });
    scheduler.frame();
    expect(sink.resets).toEqual(['', 'Hello']);
    expect(pane.text()).toBe('Hello');
  });

  it('gives a newly attached view the text drawn so far', () => {
    const { store, scheduler, handle } = setup(['a']);
    const pane = store.panes[0]!;
    handle({ kind: 'events', live: [], events: [text(0, 'a', 0, 1000, 'one '), text(0, 'a', 1, 2000, 'two')] });
    scheduler.frame();
    handle({ kind: 'events', live: [], events: [text(0, 'a', 2, 3000, ' three')] });
    const sink = recordingSink();
    pane.attach(sink);
    expect(sink.resets).toEqual(['one two']);
    scheduler.frame();
    expect(sink.appends).toEqual([' three']);
  });

  it('ignores messages of an earlier run', () => {
    const { store, scheduler, handle } = setup(['a']);
    const next = store.begin();
    next({ kind: 'started', run_id: 'run-2', targets: [target('b')] });
    handle({ kind: 'events', live: [], events: [text(0, 'a', 0, 1000, 'late')] });
    handle({ kind: 'finished', run_id: 'run-1' });
    scheduler.frame();
    expect(store.runId).toBe('run-2');
    expect(store.phase).toBe('running');
    expect(store.panes.map((pane) => pane.target.name)).toEqual(['b']);
    expect(store.panes[0]!.text()).toBe('');
  });

  it('changes the live counters at most every 250 ms, the first token at once', () => {
    const { store, scheduler, handle } = setup(['a']);
    const pane = store.panes[0]!;
    const figures = (tokens: number) => [live(0, 'a', { time_to_first_token_ms: 100, output_tokens: tokens })];
    handle({ kind: 'events', live: figures(1), events: [text(0, 'a', 0, 100_000, 'x')] });
    scheduler.frame();
    expect(pane.timeToFirstTokenMs).toBe(100);
    expect(pane.outputTokens).toBe(1);

    // Fifteen more frames of 16 ms, a token each: the text follows, the counter waits.
    for (let index = 1; index <= 15; index += 1) {
      handle({ kind: 'events', live: figures(index + 1), events: [text(0, 'a', index, 100_000 + index * 16_000, 'x')] });
      scheduler.frame();
    }
    expect(pane.text()).toBe('x'.repeat(16));
    expect(pane.outputTokens).toBe(1);
    handle({ kind: 'events', live: figures(17), events: [text(0, 'a', 16, 400_000, 'x')] });
    scheduler.frame();
    expect(pane.outputTokens).toBe(17);
  });

  it('keeps elapsed time moving for streaming panes only', () => {
    const { store, scheduler, handle } = setup(['a', 'b']);
    const [a, b] = store.panes;
    handle({ kind: 'response', response: record(1, 'b', { text: '' }) });
    scheduler.frame();
    const bRenders = b!.renders;
    scheduler.time = 2500;
    scheduler.tick();
    scheduler.frame(0);
    expect(a!.elapsedMs).toBe(2500);
    expect(b!.renders).toBe(bRenders);
    handle({ kind: 'finished', run_id: 'run-1' });
    expect(scheduler.tickers).toBe(0);
  });

  it('loads a stored run as finished panes', () => {
    const scheduler = new ManualScheduler();
    const store = new RunStore({ scheduler, applyDom: () => undefined });
    const run: StoredRun = {
      record: {
        id: 'run-9',
        started_at_ms: 1,
        parameters: { temperature: 0.2 },
        prompts: [{ messages: [{ role: 'user', content: 'hi' }] }],
        targets: [target('a'), target('b', { provider: 'bedrock', region: 'us-east-1' })],
        repeat: 1,
      },
      finished_at_ms: 2,
      status: 'completed',
      planned_count: 2,
      responses: [
        record(0, 'a', { text: 'Hello' }),
        record(1, 'b', { text: 'Part', complete: false, error: providerError({ kind: 'network', status: null, code: null, message: 'reset' }) }),
      ],
    };
    store.load(run);
    expect(store.phase).toBe('finished');
    expect(store.panes.map((pane) => [pane.target.name, pane.status, pane.text()])).toEqual([
      ['a', 'done', 'Hello'],
      ['b', 'incomplete', 'Part'],
    ]);
    expect(store.panes[1]!.target.region).toBe('us-east-1');
  });
});
