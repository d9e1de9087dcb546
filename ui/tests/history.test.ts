import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import type { Backend } from '../src/lib/backend';
import { createMockBackend } from '../src/lib/mock-backend';
import { simulatedTargets } from '../src/lib/simulated';
import type { RunRequest } from '../src/lib/types';

/** Runs through the backend directly and resolves when the run has finished. */
function runToEnd(backend: Backend, request: RunRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    backend
      .startRun(request, (message) => {
        if (message.kind === 'finished') {
          resolve(message.run_id);
        } else if (message.kind === 'failed') {
          reject(new Error(message.message));
        }
      })
      .catch(reject);
  });
}

async function withTwoRuns() {
  const backend = createMockBackend({ targets: simulatedTargets(), tokensPerSecond: 4000, latencyScale: 0.02 });
  const first = await runToEnd(backend, { targets: ['openai/gpt-5.4'], prompt: 'Alpha: compare the clouds', parameters: {} });
  await new Promise((resolve) => setTimeout(resolve, 5));
  const second = await runToEnd(backend, {
    targets: ['ollama/llama3.3', 'openai/gpt-5.4 (bad key)'],
    system: 'Answer like a llama.',
    prompt: 'Beta: local models',
    parameters: { temperature: 0.5 },
  });
  return { backend, first, second };
}

describe('mock history', () => {
  it('lists runs newest first and searches prompts, system prompts and answers', async () => {
    const { backend, first, second } = await withTwoRuns();
    expect((await backend.listRuns()).map((run) => run.id)).toEqual([second, first]);
    expect((await backend.listRuns({ query: 'alpha' })).map((run) => run.id)).toEqual([first]);
    expect((await backend.listRuns({ query: 'llama' })).map((run) => run.id)).toEqual([second]);
    // Words of an answer only (the Ollama answer says "fallback").
    expect((await backend.listRuns({ query: 'fallback' })).map((run) => run.id)).toEqual([second]);
    expect(await backend.listRuns({ query: 'nowhere-to-be-found' })).toEqual([]);
    const [summary] = await backend.listRuns({ query: 'beta' });
    expect(summary).toMatchObject({ status: 'completed', target_names: ['ollama/llama3.3', 'openai/gpt-5.4 (bad key)'], response_count: 2, failed_count: 1 });
  });
});

describe('History view', () => {
  it('filters by search, reopens a run from the store and re-runs it', async () => {
    const { backend, first, second } = await withTwoRuns();
    const app = new AppState(backend);
    render(App, { app });
    await fireEvent.click(screen.getByTestId('nav-history'));

    const list = await screen.findByTestId('history-list');
    await waitFor(() => expect(within(list).getAllByRole('button')).toHaveLength(2));
    expect(within(list).getAllByRole('button').map((item) => item.dataset.testid)).toEqual([`history-item-${second}`, `history-item-${first}`]);

    await fireEvent.input(screen.getByTestId('search-input'), { target: { value: 'alpha' } });
    await waitFor(() => expect(within(list).getAllByRole('button')).toHaveLength(1));
    expect(within(list).getByRole('button').dataset.testid).toBe(`history-item-${first}`);

    await fireEvent.input(screen.getByTestId('search-input'), { target: { value: 'zzz-nothing' } });
    await screen.findByTestId('history-empty');

    await fireEvent.input(screen.getByTestId('search-input'), { target: { value: '' } });
    await fireEvent.click(await screen.findByTestId(`history-item-${second}`));
    expect((await screen.findByTestId('history-prompt')).textContent?.trim()).toBe('Beta: local models');
    expect(screen.getByTestId('history-system').textContent).toContain('Answer like a llama.');
    expect((await screen.findByTestId('history-pane-status-ollama/llama3.3')).textContent).toBe('done');
    expect((await screen.findByTestId('history-pane-status-openai/gpt-5.4 (bad key)')).textContent).toBe('error');
    expect(screen.getByTestId('history-pane-text-ollama/llama3.3').textContent).toContain('fallback');
    expect(screen.getByTestId('history-pane-ttft-ollama/llama3.3').textContent).toMatch(/ms$/);

    await fireEvent.click(screen.getByTestId('rerun-button'));
    await screen.findByTestId('pane-ollama/llama3.3');
    expect((screen.getByTestId('prompt-input') as HTMLTextAreaElement).value).toBe('Beta: local models');
    expect((screen.getByTestId('system-input') as HTMLTextAreaElement).value).toBe('Answer like a llama.');
    expect((screen.getByTestId('param-temperature') as HTMLInputElement).value).toBe('0.5');
    expect((screen.getByTestId('target-toggle-openai/gpt-5.4') as HTMLInputElement).checked).toBe(false);
    await waitFor(() => expect(screen.getByTestId('pane-status-ollama/llama3.3').textContent).toBe('done'), { timeout: 5000 });
    expect(await backend.listRuns()).toHaveLength(3);
  });
});
