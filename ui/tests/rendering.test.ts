import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import Pane from '../src/components/Pane.svelte';
import { renderMarkdown } from '../src/lib/markdown';
import { rawSink } from '../src/lib/output';
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

  it('shows task lists without form controls', () => {
    const { element } = html(renderMarkdown('- [x] done\n- [ ] todo'));
    expect(element.querySelector('input')).toBeNull();
    expect(textOf(element)).toContain('☑ done');
  });
});

describe('raw output', () => {
  it('creates text nodes only', () => {
    const element = document.createElement('div');
    const sink = rawSink(element);
    sink.reset('');
    sink.append(IMG);
    sink.append(` ${SCRIPT}`);
    expect(element.textContent).toBe(`${IMG} ${SCRIPT}`);
    expect(element.children.length).toBe(0);
    expect([...element.childNodes].every((node) => node.nodeType === Node.TEXT_NODE)).toBe(true);
  });

  it('appends to the last text node until it is large, then starts another', () => {
    const element = document.createElement('div');
    const sink = rawSink(element);
    sink.reset('');
    for (let index = 0; index < 100; index += 1) {
      sink.append('x'.repeat(100));
    }
    expect(element.childNodes.length).toBe(2);
    expect(element.textContent?.length).toBe(10_000);
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
    handle({ kind: 'events', events: [text(0, 'evil', 0, 5000, answer.slice(0, 10)), text(0, 'evil', 1, 6000, answer.slice(10))] });
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
    expect(output.children.length).toBe(0);

    await fireEvent.click(screen.getByTestId('pane-markdown-evil'));
    expect(textOf(output)).toBe(answer);
    expect(output.querySelector('img, script')).toBeNull();

    await fireEvent.click(screen.getByTestId('pane-raw-evil'));
    expect(output.textContent).toBe(answer);
    expect(output.children.length).toBe(0);
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
