import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import type { Backend } from '../src/lib/backend';
import { createMockBackend } from './doubles/mock-backend';
import { simulatedTargets } from './doubles/simulated';
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

/** The run rows' test ids, in the order shown. */
function listedRuns(list: HTMLElement): (string | undefined)[] {
  return [...list.querySelectorAll<HTMLElement>('[data-testid^="history-item-"]')].map((item) => item.dataset.testid);
}

/** The app on `backend`, showing History once `runs` runs are listed; returns the list. */
async function showHistory(backend: Backend, runs: number): Promise<HTMLElement> {
  render(App, { app: new AppState(backend) });
  await fireEvent.click(screen.getByTestId('nav-history'));
  const list = await screen.findByTestId('history-list');
  await waitFor(() => expect(listedRuns(list)).toHaveLength(runs));
  return list;
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
    const list = await showHistory(backend, 2);
    expect(listedRuns(list)).toEqual([`history-item-${second}`, `history-item-${first}`]);

    await fireEvent.input(screen.getByTestId('search-input'), { target: { value: 'alpha' } });
    await waitFor(() => expect(listedRuns(list)).toEqual([`history-item-${first}`]));

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

describe('deleting runs', () => {
  it('the mock deletes a finished run, and refuses a running or unknown one', async () => {
    const { backend, first, second } = await withTwoRuns();
    await backend.deleteRun(first);
    expect((await backend.listRuns()).map((run) => run.id)).toEqual([second]);
    await expect(backend.loadRun(first)).rejects.toMatchObject({ kind: 'not_found' });
    await expect(backend.deleteRun(first)).rejects.toMatchObject({ kind: 'not_found' });

    const running = await backend.startRun({ targets: ['openai/gpt-5.4'], prompt: 'Still going', parameters: {} }, () => {});
    await expect(backend.deleteRun(running)).rejects.toMatchObject({ message: expect.stringContaining('still running') });
    expect((await backend.listRuns()).map((run) => run.id)).toContain(running);
    await backend.stopRun(running);
  });

  it('asks once more in place, then removes the run from the list and closes it', async () => {
    const { backend, first, second } = await withTwoRuns();
    const list = await showHistory(backend, 2);
    await fireEvent.click(screen.getByTestId(`history-item-${second}`));
    await screen.findByTestId('history-prompt');

    // Cancel keeps it.
    await fireEvent.click(screen.getByTestId(`history-delete-${second}`));
    expect(screen.getByTestId(`history-delete-ask-${second}`).textContent).toContain('cannot be undone');
    expect(screen.queryByTestId(`history-item-${second}`)).toBeNull();
    await fireEvent.click(screen.getByTestId('history-delete-cancel'));
    expect(listedRuns(list)).toEqual([`history-item-${second}`, `history-item-${first}`]);
    expect((await backend.listRuns()).length).toBe(2);

    // Confirm deletes it, in the shell's database too, and closes the opened run.
    await fireEvent.click(screen.getByTestId(`history-delete-${second}`));
    await fireEvent.click(screen.getByTestId('history-delete-confirm'));
    await waitFor(() => expect(listedRuns(list)).toEqual([`history-item-${first}`]));
    expect((await backend.listRuns()).map((run) => run.id)).toEqual([first]);
    expect(screen.queryByTestId('history-prompt')).toBeNull();
    expect(screen.queryByTestId('history-error')).toBeNull();
  });

  it('shows why a delete was refused and keeps the run', async () => {
    const { backend, first } = await withTwoRuns();
    const refusing: Backend = {
      ...backend,
      deleteRun: () => Promise.reject({ kind: 'validation', message: `run ${first} is still running`, retryable: false }),
    };
    const list = await showHistory(refusing, 2);
    await fireEvent.click(screen.getByTestId(`history-delete-${first}`));
    await fireEvent.click(screen.getByTestId('history-delete-confirm'));
    expect((await screen.findByTestId('history-error')).textContent).toContain('still running');
    expect(listedRuns(list)).toContain(`history-item-${first}`);
  });
});
