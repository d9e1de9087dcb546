import { render, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import Warmup from '../src/components/Warmup.svelte';
import { RunStore } from '../src/lib/run-store.svelte';
import { warmupRun, warmupText } from '../src/lib/warmup';

describe('warmup', () => {
  it('is a stored run with one finished answer holding every printable ASCII character', () => {
    const store = new RunStore();
    store.load(warmupRun());
    expect(store.phase).toBe('finished');
    expect(store.panes.map((pane) => [pane.target.name, pane.status])).toEqual([['warmup', 'done']]);
    const text = store.panes[0]!.text();
    expect(text).toBe(warmupText());
    for (let code = 0x20; code < 0x7f; code += 1) {
      expect(text).toContain(String.fromCharCode(code));
    }
  });

  it('draws the sample pane once, hidden from people and input, then removes it', async () => {
    const { container } = render(Warmup);
    const host = () => container.querySelector('.warmup');
    expect(host()).toBeNull();
    await waitFor(() => expect(container.querySelector('[data-testid="warmup-text-warmup"]')?.textContent).toBe(warmupText()));
    expect(host()!.getAttribute('aria-hidden')).toBe('true');
    expect(host()!.hasAttribute('inert')).toBe(true);
    await waitFor(() => expect(host()).toBeNull());
  });
});
