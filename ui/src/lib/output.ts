// The DOM side of a pane's text: text sinks that the run store feeds once per frame.
//
// Raw mode only ever creates text nodes. New text is appended to the last text node while it is
// small and to a fresh node after that, so a frame's work is proportional to the text it adds,
// never to the whole answer. Markdown mode re-renders the whole (sanitized) answer, so it is
// throttled while the answer grows. Auto-scroll follows the end only while the user is there.

import { renderMarkdown } from './markdown';
import type { Pane, TextSink } from './run-store.svelte';

export type OutputMode = 'raw' | 'markdown';

/** Above this a text node is left alone and the next text starts a new one. */
const TEXT_NODE_CHARS = 8192;
/** The least time between two Markdown renders of one pane while its text grows. */
const MARKDOWN_INTERVAL_MS = 120;
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

export function rawSink(element: HTMLElement): TextSink {
  return {
    reset(text) {
      element.replaceChildren(document.createTextNode(text));
    },
    append(text) {
      const last = element.lastChild;
      if (last instanceof Text && last.length < TEXT_NODE_CHARS) {
        last.appendData(text);
      } else {
        element.appendChild(document.createTextNode(text));
      }
    },
  };
}

export function markdownSink(element: HTMLElement, pane: Pane): TextSink & { dispose(): void } {
  let lastRender = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const render = (): void => {
    timer = undefined;
    lastRender = performance.now();
    element.replaceChildren(renderMarkdown(pane.text()));
  };
  const schedule = (): void => {
    if (timer !== undefined) {
      return;
    }
    const wait = lastRender + MARKDOWN_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      render();
    } else {
      timer = setTimeout(render, wait);
    }
  };
  return {
    reset: render,
    append: schedule,
    dispose() {
      clearTimeout(timer);
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
    const sink: TextSink & { dispose?(): void } = mode === 'raw' ? rawSink(element) : markdownSink(element, pane);
    const detach = pane.attach({ ...sink, settle: scroll.settle });
    disconnect = () => {
      detach();
      sink.dispose?.();
    };
    scroll.settle();
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

/** Copies text to the clipboard, falling back to a hidden textarea where the API is missing. */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
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
