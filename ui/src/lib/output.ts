// The DOM side of a pane's text: text sinks that the run store feeds once per frame.
//
// Cost grows with the text added, not with the answer's length:
//   - Raw mode creates text nodes only, inside plain wrapper divs: blocks of about 2 KB cut at
//     line ends, grouped in pages. Appending touches the last block's text node, so the browser
//     lays out that block again, not the whole answer (one big text node would be re-laid out
//     every frame: measured in Chromium, 16 panes of 40 KB took 140 ms a frame, blocks 6 ms).
//   - Markdown mode freezes the blocks a blank line has closed and lexes only the text after
//     them; of those blocks it renders (and sanitizes) only the ones whose source changed. Renders
//     of all panes share one queue that spends at most a few milliseconds per frame.
// Auto-scroll follows the end only while the user is there.

import type { Links, Token } from 'marked';

import { lexMarkdown, renderBlocks } from './markdown';
import type { Pane, TextSink } from './run-store/pane.svelte';

export type OutputMode = 'raw' | 'markdown';

/** Raw text blocks are cut at the first line end after this many characters. */
const RAW_BLOCK_CHARS = 2048;
/** Raw blocks and frozen Markdown blocks are grouped in pages of this many: measured in
 * Chromium, 16 panes of 800 blocks laid out in 44 ms a frame flat, 6 ms in pages. */
const RAW_BLOCKS_PER_PAGE = 32;
/** The least time between two Markdown renders of one pane while its text grows. */
const MARKDOWN_INTERVAL_MS = 100;
/** Markdown renders stop for the frame once they have taken this long (one always runs). */
const MARKDOWN_FRAME_BUDGET_MS = 6;
/** How close to the end (in pixels) still counts as "at the bottom". */
const BOTTOM_SLACK_PX = 24;

/** Follows the end of `element` while the user has not scrolled away from it. */
export function stickToBottom(element: HTMLElement): { settle(): void; dispose(): void } {
  let atBottom = true;
  const onScroll = (): void => {
    atBottom = element.scrollHeight - element.scrollTop - element.clientHeight <= BOTTOM_SLACK_PX;
  };
  element.addEventListener('scroll', onScroll, { passive: true });
  return {
    settle() {
      if (atBottom) {
        element.scrollTop = element.scrollHeight;
      }
    },
    dispose() {
      element.removeEventListener('scroll', onScroll);
    },
  };
}

/** Where to cut `text` (after a line end) so that its head fills a block holding `held`
 * characters; -1 to keep it all in one. A block ends with its line's "\n", which pre-wrap does
 * not draw as an extra line, so the cut never shows. */
function cutAfter(text: string, held: number): number {
  const from = Math.max(0, RAW_BLOCK_CHARS - held);
  const lineEnd = text.indexOf('\n', from);
  return lineEnd === -1 ? -1 : lineEnd + 1;
}

/** A new empty block (a div holding one text node) at the end, in a page with room. */
function addBlock(element: HTMLElement): Text {
  let page = element.lastElementChild;
  if (page === null || page.childElementCount >= RAW_BLOCKS_PER_PAGE) {
    page = document.createElement('div');
    element.append(page);
  }
  const block = document.createElement('div');
  const node = document.createTextNode('');
  block.append(node);
  page.append(block);
  return node;
}

/** Raw text as text nodes only: `element > page div > block div > text`. Blocks of about 2 KB
 * (cut at line ends) and pages of 32 blocks keep the layout an append causes small: the last
 * block, its page, and the list of pages. */
export function rawSink(element: HTMLElement): TextSink {
  const append = (text: string): void => {
    const last = element.lastElementChild?.lastElementChild?.firstChild;
    let node = last instanceof Text ? last : addBlock(element);
    let rest = text;
    while (rest !== '') {
      const cut = cutAfter(rest, node.length);
      if (cut === -1) {
        node.appendData(rest);
        return;
      }
      node.appendData(rest.slice(0, cut));
      node = addBlock(element);
      rest = rest.slice(cut);
    }
  };
  return {
    reset(text) {
      element.replaceChildren();
      append(text);
    },
    append,
  };
}

/** Whether the blocks before `tokens[end]` can be frozen: a blank line separates them from
 * the rest, and the block before it cannot reach across a blank line (a loose list goes on
 * after one, and so does indented code; an HTML block is kept live to be safe). */
function canFreezeBefore(tokens: Token[], end: number): boolean {
  const gap = tokens[end - 1];
  const block = tokens[end - 2];
  if (gap?.type !== 'space' || block === undefined) {
    return false;
  }
  return block.type !== 'list' && block.type !== 'html' && !(block.type === 'code' && block.codeBlockStyle === 'indented');
}

/** Renders Markdown into `element` block by block. While an answer grows, blocks that a blank
 * line has closed are frozen: never lexed, rendered or laid out again, and kept in pages of 32
 * like raw text. Only the text after them is lexed, and of its blocks only those whose source
 * changed are rendered. Layout: `element > page… > block`, then one `live` div last. */
export class MarkdownView {
  #element: HTMLElement;
  #liveHost: HTMLElement = document.createElement('div');
  #page: HTMLElement | null = null;
  /** Characters of the source covered by frozen blocks. */
  #frozenLength = 0;
  /** Reference definitions (`[ref]: https://…`) seen so far, for blocks rendered later. */
  #links: Links = {};
  #live: { raw: string; element: HTMLElement }[] = [];

  constructor(element: HTMLElement) {
    this.#element = element;
    this.reset();
  }

  /** Forgets everything shown: the next render starts from the source's beginning. */
  reset(): void {
    this.#liveHost = document.createElement('div');
    this.#element.replaceChildren(this.#liveHost);
    this.#page = null;
    this.#frozenLength = 0;
    this.#links = {};
    this.#live = [];
  }

  /** Shows `source`, which extends the source of the previous render (else call `reset`). */
  render(source: string): void {
    const tail = source.slice(this.#frozenLength);
    const tokens = lexMarkdown(tail);
    Object.assign(this.#links, tokens.links);
    let kept = 0;
    while (kept < this.#live.length && kept < tokens.length && this.#live[kept]?.raw === tokens[kept]?.raw) {
      kept += 1;
    }
    for (const stale of this.#live.splice(kept)) {
      stale.element.remove();
    }
    for (const token of tokens.slice(kept)) {
      const block = document.createElement('div');
      block.append(renderBlocks([token], this.#links));
      this.#liveHost.append(block);
      this.#live.push({ raw: token.raw, element: block });
    }
    for (let end = tokens.length - 1; end >= 2; end -= 1) {
      if (!canFreezeBefore(tokens, end)) {
        continue;
      }
      const frozen = tokens.slice(0, end).map((token) => token.raw).join('');
      // Raw texts cover the source exactly unless the lexer rewrote it (CR LF): then wait.
      if (tail.startsWith(frozen)) {
        this.#frozenLength += frozen.length;
        for (const block of this.#live.splice(0, end)) {
          this.#freeze(block.element);
        }
      }
      break;
    }
  }

  #freeze(block: HTMLElement): void {
    if (this.#page === null || this.#page.childElementCount >= RAW_BLOCKS_PER_PAGE) {
      this.#page = document.createElement('div');
      this.#liveHost.before(this.#page);
    }
    this.#page.append(block);
  }
}

const markdownQueue = new Set<() => void>();
let markdownFrameRequested = false;

function runMarkdownQueue(): void {
  markdownFrameRequested = false;
  const start = performance.now();
  for (const job of markdownQueue) {
    markdownQueue.delete(job);
    job();
    if (performance.now() - start > MARKDOWN_FRAME_BUDGET_MS) {
      break;
    }
  }
  if (markdownQueue.size > 0) {
    markdownFrameRequested = true;
    requestAnimationFrame(runMarkdownQueue);
  }
}

function queueMarkdown(job: () => void): void {
  markdownQueue.add(job);
  if (!markdownFrameRequested) {
    markdownFrameRequested = true;
    requestAnimationFrame(runMarkdownQueue);
  }
}

export function markdownSink(element: HTMLElement, pane: Pane, settle: () => void): TextSink & { dispose(): void } {
  const view = new MarkdownView(element);
  let lastRender = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;
  const render = (): void => {
    if (disposed) {
      return;
    }
    lastRender = performance.now();
    // Once the answer is final, one exact render of the whole (a reference defined late
    // reaches the blocks frozen before it).
    if (pane.finished) {
      view.reset();
    }
    view.render(pane.text());
    settle();
  };
  const job = (): void => {
    timer = undefined;
    render();
  };
  return {
    // Switching to Markdown (or a corrected answer) shows at once; growth waits its turn.
    reset() {
      view.reset();
      render();
    },
    append() {
      if (timer !== undefined || markdownQueue.has(job)) {
        return;
      }
      const wait = lastRender + MARKDOWN_INTERVAL_MS - performance.now();
      if (wait <= 0) {
        queueMarkdown(job);
      } else {
        timer = setTimeout(() => queueMarkdown(job), wait);
      }
    },
    dispose() {
      disposed = true;
      clearTimeout(timer);
      markdownQueue.delete(job);
    },
  };
}

export interface OutputParameters {
  pane: Pane;
  mode: OutputMode;
}

/** Svelte action: shows `pane`'s text in `element` in the chosen mode. */
export function paneOutput(element: HTMLElement, parameters: OutputParameters): { update(next: OutputParameters): void; destroy(): void } {
  const scroll = stickToBottom(element);
  let disconnect = (): void => undefined;
  const connect = ({ pane, mode }: OutputParameters): void => {
    disconnect();
    const sink: TextSink & { dispose?(): void } = mode === 'raw' ? rawSink(element) : markdownSink(element, pane, scroll.settle);
    const detach = pane.attach({ ...sink, settle: scroll.settle });
    disconnect = () => {
      detach();
      sink.dispose?.();
    };
    // A live answer is followed from its end; a finished one opens at its start. Not at once:
    // reading the layout here, while a run's panes mount one after another, laid the grid out
    // once per pane (16 panes: a 100 ms frame); the next frame reads it once for all.
    if (!pane.finished && pane.textLength > 0) {
      requestAnimationFrame(() => scroll.settle());
    }
  };
  connect(parameters);
  return {
    update: connect,
    destroy() {
      disconnect();
      scroll.dispose();
    },
  };
}

/** Copies text to the clipboard, falling back to a hidden textarea where the API is missing or refused. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // No clipboard API, or the webview refused it: the old way still works there.
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}
