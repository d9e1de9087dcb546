import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import Pane from '../src/components/Pane.svelte';
import PaneGrid from '../src/components/PaneGrid.svelte';
import { renderMarkdown } from '../src/lib/markdown';
import { MarkdownView, rawSink } from '../src/lib/output';
import { RunStore } from '../src/lib/run-store.svelte';
import { ManualScheduler, record, target, text } from './helpers';

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>alert("xss")</script>';

function html(fragment: DocumentFragment): { element: HTMLElement; markup: string } {
  const element = document.createElement('div');
  element.append(fragment);
  return { element, markup: element.innerHTML };
}

/** Rendered Markdown's text, without the newlines between blocks. */
function textOf(element: Element): string {
  return (element.textContent ?? '').trim();
}

function elementsIn(element: Element): string[] {
  return [...element.querySelectorAll('*')].map((node) => node.tagName.toLowerCase());
}

describe('renderMarkdown', () => {
  it('keeps an <img onerror> answer as literal text', () => {
    const { element } = html(renderMarkdown(IMG));
    expect(element.querySelector('img')).toBeNull();
    expect(textOf(element)).toBe(IMG);
  });

  it('keeps a <script> answer as literal text', () => {
    const { element } = html(renderMarkdown(SCRIPT));
    expect(element.querySelector('script')).toBeNull();
    expect(textOf(element)).toBe(SCRIPT);
  });

  it('escapes inline HTML inside Markdown', () => {
    const { element } = html(renderMarkdown(`Some **bold** and <b onclick="x()">tag</b> then ${IMG} inline.`));
    expect(elementsIn(element)).toEqual(['p', 'strong']);
    expect(textOf(element)).toBe(`Some bold and <b onclick="x()">tag</b> then ${IMG} inline.`);
  });

  it('renders ordinary Markdown', () => {
    const { element } = html(renderMarkdown('# Title\n\n- one\n- `two`\n\n```\ncode <b>\n```'));
    expect(elementsIn(element)).toEqual(['h1', 'ul', 'li', 'li', 'code', 'pre', 'code']);
    expect(element.querySelector('pre')?.textContent).toBe('code <b>\n');
  });

  it('keeps http(s) links and drops every other href and attribute', () => {
    const { element } = html(
      renderMarkdown(
        '[ok](https://example.com/a "title") [js](javascript:alert(1)) [data](data:text/html,hi) [file](file:///etc/passwd) <https://auto.example>',
      ),
    );
    const links = [...element.querySelectorAll('a')];
    expect(links.map((link) => link.getAttribute('href'))).toEqual(['https://example.com/a', null, null, null, 'https://auto.example']);
    for (const node of element.querySelectorAll('*')) {
      const names = node.getAttributeNames();
      expect(names.every((name) => name === 'href'), `${node.tagName} has ${names.join(',')}`).toBe(true);
    }
  });

  it('never loads an image: it becomes a link, or text', () => {
    const { element } = html(renderMarkdown('![chart](https://cdn.example/c.png) ![x](javascript:alert(1))'));
    expect(element.querySelector('img')).toBeNull();
    expect(element.querySelector('a')?.getAttribute('href')).toBe('https://cdn.example/c.png');
    expect(textOf(element)).toBe('image: chart image: x');
  });

  it('re-renders only the blocks whose source changed, freezing closed ones', () => {
    const element = document.createElement('div');
    const view = new MarkdownView(element);
    view.render('# Title\n\nFirst paragraph.\n\nSecond');
    const [title, first] = [element.querySelector('h1'), element.querySelectorAll('p')[0]];
    view.render('# Title\n\nFirst paragraph.\n\nSecond paragraph, longer.\n\n- a\n- b');
    expect(element.querySelector('h1')).toBe(title);
    expect(element.querySelectorAll('p')[0]).toBe(first);
    expect(element.querySelectorAll('p')[1]?.textContent).toBe('Second paragraph, longer.');
    expect(element.querySelectorAll('li')).toHaveLength(2);
    expect(textOf(element).replace(/\s+/g, ' ')).toBe('Title First paragraph. Second paragraph, longer. a b');

    view.reset();
    view.render(`${IMG}\n\ndone`);
    expect(element.querySelector('h1')).toBeNull();
    expect(element.querySelector('img')).toBeNull();
    expect(textOf(element)).toMatch(/^<img src=x onerror=alert\(1\)>\s*done$/);
  });

  it('keeps a loose list whole while it grows', () => {
    const element = document.createElement('div');
    const view = new MarkdownView(element);
    view.render('1. one\n\n2. two\n\nafter');
    view.render('1. one\n\n2. two\n\nafter\n\nthe end');
    expect(element.querySelectorAll('ol')).toHaveLength(1);
    expect(element.querySelectorAll('li')).toHaveLength(2);
  });

  it('does not go back to frozen blocks until a reset', () => {
    const element = document.createElement('div');
    const view = new MarkdownView(element);
    view.render('See [the docs][r].\n\nMore.\n\nEven more');
    view.render('See [the docs][r].\n\nMore.\n\nEven more\n\n[r]: https://example.com/docs');
    // The first paragraph was frozen before its reference arrived.
    expect(element.querySelector('a')).toBeNull();
    view.reset();
    view.render('See [the docs][r].\n\nMore.\n\nEven more\n\n[r]: https://example.com/docs');
    expect(element.querySelector('a')?.getAttribute('href')).toBe('https://example.com/docs');
  });

  it('shows task lists without form controls', () => {
    const { element } = html(renderMarkdown('- [x] done\n- [ ] todo'));
    expect(element.querySelector('input')).toBeNull();
    expect(textOf(element)).toContain('☑ done');
  });
});

/** Raw output: plain wrapper divs (pages of blocks, no attributes) around text nodes only. */
function expectTextOnly(element: Element): void {
  for (const wrapper of element.querySelectorAll('*')) {
    expect(wrapper.tagName).toBe('DIV');
    expect(wrapper.getAttributeNames()).toEqual([]);
  }
  for (const block of element.querySelectorAll(':scope > div > div')) {
    expect([...block.childNodes].every((node) => node.nodeType === Node.TEXT_NODE)).toBe(true);
  }
  expect(element.querySelectorAll(':scope > div > div > *')).toHaveLength(0);
}

/** The text of each raw block, in order. */
function blocksOf(element: Element): string[] {
  return [...element.querySelectorAll(':scope > div > div')].map((block) => block.textContent ?? '');
}

describe('raw output', () => {
  it('creates text nodes only', () => {
    const element = document.createElement('div');
    const sink = rawSink(element);
    sink.reset('');
    sink.append(IMG);
    sink.append(` ${SCRIPT}`);
    expect(element.textContent).toBe(`${IMG} ${SCRIPT}`);
    expect(element.querySelector('img, script')).toBeNull();
    expectTextOnly(element);
  });

  it('cuts long text into small blocks at line ends, so appending never relays out everything', () => {
    const element = document.createElement('div');
    const sink = rawSink(element);
    const line = `${'x'.repeat(99)}\n`;
    sink.reset(line.repeat(30));
    for (let index = 0; index < 70; index += 1) {
      sink.append(line.slice(0, 50));
      sink.append(line.slice(50));
    }
    expect(element.textContent).toBe(line.repeat(100));
    const blocks = blocksOf(element);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...blocks.map((block) => block.length))).toBeLessThanOrEqual(2048 + line.length);
    // Every cut is right after a line end, which pre-wrap does not draw as an extra line.
    expect(blocks.slice(0, -1).every((block) => block.endsWith('\n'))).toBe(true);
    expectTextOnly(element);
  });

  it('groups blocks into pages', () => {
    const element = document.createElement('div');
    rawSink(element).reset(`${'y'.repeat(2048)}\n`.repeat(70));
    expect([...element.children].map((page) => page.childElementCount)).toEqual([32, 32, 7]);
    expect(blocksOf(element).at(-1)).toBe('');
    expect(element.textContent).toBe(`${'y'.repeat(2048)}\n`.repeat(70));
  });
});

describe('Pane', () => {
  function paneWith(answer: string) {
    const scheduler = new ManualScheduler();
    const store = new RunStore({ scheduler });
    const handle = store.begin();
    handle({ kind: 'started', run_id: 'r', targets: [target('evil', { label: 'simulated' })] });
    const pane = store.panes[0]!;
    render(Pane, { pane });
    handle({ kind: 'events', live: [], events: [text(0, 'evil', 0, 5000, answer.slice(0, 10)), text(0, 'evil', 1, 6000, answer.slice(10))] });
    scheduler.frame();
    handle({ kind: 'response', response: record(0, 'evil', { text: answer }) });
    scheduler.frame();
    return { pane, scheduler };
  }

  it('shows HTML answers as literal text in raw and in Markdown mode', async () => {
    const answer = `${IMG} and ${SCRIPT}`;
    paneWith(answer);
    const output = screen.getByTestId('pane-text-evil');
    expect(output.textContent).toBe(answer);
    expect(output.querySelector('img, script')).toBeNull();
    expectTextOnly(output);

    await fireEvent.click(screen.getByTestId('pane-markdown-evil'));
    expect(textOf(output)).toBe(answer);
    expect(output.querySelector('img, script')).toBeNull();

    await fireEvent.click(screen.getByTestId('pane-raw-evil'));
    expect(output.textContent).toBe(answer);
    expectTextOnly(output);
  });

  it('marks timings the client was too late to measure, and only those', () => {
    const scheduler = new ManualScheduler();
    const store = new RunStore({ scheduler });
    const handle = store.begin();
    handle({ kind: 'started', run_id: 'r', targets: [target('late'), target('punctual')] });
    render(Pane, { pane: store.panes[0]! });
    render(Pane, { pane: store.panes[1]! });
    const base = record(0, 'late');
    handle({
      kind: 'response',
      response: record(0, 'late', {
        metrics: { ...base.metrics, client_lag_first_token_ms: 2.5, client_lag_end_ms: 38, client_saturated: true },
      }),
    });
    handle({ kind: 'response', response: record(1, 'punctual') });
    scheduler.frame();
    const mark = screen.getByTestId('pane-saturated-late').textContent ?? '';
    expect(mark).toContain('Client saturated');
    expect(mark).toContain('38 ms');
    expect(screen.queryByTestId('pane-saturated-punctual')).toBeNull();
  });

  it('lists tool calls and the parameters the target could not take', () => {
    const scheduler = new ManualScheduler();
    const store = new RunStore({ scheduler });
    const handle = store.begin();
    handle({ kind: 'started', run_id: 'r', targets: [target('tools')] });
    render(Pane, { pane: store.panes[0]! });
    handle({
      kind: 'response',
      response: record(0, 'tools', {
        tool_calls: [{ index: 0, id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
        unsupported_parameters: ['seed', 'top_p'],
      }),
    });
    scheduler.frame();
    const extras = screen.getByTestId('pane-extras-tools').textContent ?? '';
    expect(extras).toContain('tool call get_weather({"city":"Oslo"})');
    expect(extras).toContain('not sent: seed, top_p');
  });

  it('shows its header, metrics and final status', async () => {
    paneWith('Hello');
    const pane = screen.getByTestId('pane-evil');
    expect(pane.textContent).toContain('simulated');
    expect(pane.textContent).toContain('gpt-test');
    expect(screen.getByTestId('pane-status-evil').textContent).toBe('done');
    expect(screen.getByTestId('pane-ttft-evil').textContent).toBe('420 ms');
    expect(screen.getByTestId('pane-rate-evil').textContent).toBe('40.0');
    expect(screen.getByTestId('pane-cost-evil').textContent).toBe('$0.0012');
  });
});

describe('PaneGrid', () => {
  it('lays out every slot at once and fills them half a grid row per frame', async () => {
    const names = Array.from({ length: 16 }, (_, index) => `t${index}`);
    const store = new RunStore({ scheduler: new ManualScheduler() });
    store.begin()({ kind: 'started', run_id: 'r', targets: names.map((name) => target(name)) });
    const { container } = render(PaneGrid, { panes: store.panes });
    const shown = () => container.querySelectorAll('article[data-status]').length;
    const grid = container.querySelector('[data-testid="pane-grid"]')!;
    expect(grid.children).toHaveLength(names.length);

    const counts = [shown()];
    while (counts.at(-1)! < names.length && counts.length < 12) {
      await new Promise((resolve) => requestAnimationFrame(resolve));
      counts.push(shown());
    }
    expect(counts).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16]);
    // Each pane sits in its own slot, in the run's order.
    expect([...grid.children].map((slot) => slot.querySelector('article')?.dataset.testid)).toEqual(names.map((name) => `pane-${name}`));
    expect([...container.querySelectorAll('article')].map((pane) => pane.dataset.testid)).toEqual(names.map((name) => `pane-${name}`));
  });
});
