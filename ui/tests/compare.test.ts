import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import { createMockBackend, type MockOptions } from './doubles/mock-backend';
import { HTML_ANSWER, behaviourOf, simulatedTargets, tokenize } from './doubles/simulated';

const GPT = 'openai/gpt-5.4';
const HTML = 'gemini/html-echo';
const BAD_KEY = 'openai/gpt-5.4 (bad key)';
const OVERLOADED = 'anthropic/claude-sonnet-4-6 (overloaded)';
const CHOSEN = [GPT, HTML, BAD_KEY, OVERLOADED];

async function openApp(options: MockOptions = {}) {
  const backend = createMockBackend({ targets: simulatedTargets(), tokensPerSecond: 4000, latencyScale: 0.02, ...options });
  const app = new AppState(backend);
  render(App, { app });
  await screen.findByTestId(`target-toggle-${GPT}`);
  return { app, backend };
}

async function chooseTargets(names: string[]): Promise<void> {
  await fireEvent.click(screen.getByTestId('targets-none'));
  for (const name of names) {
    await fireEvent.click(screen.getByTestId(`target-toggle-${name}`));
  }
}

function statusOf(name: string): string | null {
  return screen.queryByTestId(`pane-status-${name}`)?.textContent ?? null;
}

describe('Compare', () => {
  it('runs with Ctrl+Enter and brings every pane to its final status with the right text', async () => {
    await openApp();
    await fireEvent.input(screen.getByTestId('system-input'), { target: { value: 'Be brief.' } });
    await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Why several clouds?' } });
    await chooseTargets(CHOSEN);
    expect((screen.getByTestId(`target-toggle-${GPT}`) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByTestId('target-toggle-ollama/llama3.3') as HTMLInputElement).checked).toBe(false);

    await fireEvent.keyDown(screen.getByTestId('prompt-input'), { key: 'Enter', ctrlKey: true });
    await screen.findByTestId(`pane-${GPT}`);
    expect(screen.queryByTestId('pane-ollama/llama3.3')).toBeNull();

    await waitFor(
      () => {
        expect(CHOSEN.map(statusOf)).toEqual(['done', 'done', 'error', 'incomplete']);
      },
      { timeout: 5000 },
    );

    const gptAnswer = behaviourOf(simulatedTargets()[0]!).answer;
    expect(screen.getByTestId(`pane-text-${GPT}`).textContent).toBe(gptAnswer);
    expect(screen.getByTestId(`pane-ttft-${GPT}`).textContent).toMatch(/^\d+ ms$/);

    const html = screen.getByTestId(`pane-text-${HTML}`);
    expect(html.textContent).toBe(HTML_ANSWER);
    expect(document.querySelector('img, script')).toBeNull();

    expect(screen.getByTestId(`pane-text-${BAD_KEY}`).textContent).toBe('');
    expect(screen.getByTestId(`pane-error-${BAD_KEY}`).textContent).toContain('auth: HTTP 401 [invalid_api_key]');

    const partial = tokenize(behaviourOf(simulatedTargets()[6]!).answer).slice(0, 18).join('');
    expect(screen.getByTestId(`pane-text-${OVERLOADED}`).textContent).toBe(partial);
    expect(screen.getByTestId(`pane-error-${OVERLOADED}`).textContent).toContain('overloaded');

    await waitFor(() => expect(screen.getByTestId('run-phase').textContent).toBe('finished'));
    expect((screen.getByTestId('run-button') as HTMLButtonElement).disabled).toBe(false);
  });

  it('sends the parameters and the system prompt it was given', async () => {
    const { app } = await openApp();
    await chooseTargets([GPT]);
    await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Count.' } });
    await fireEvent.input(screen.getByTestId('param-max-tokens'), { target: { value: '5' } });
    await fireEvent.input(screen.getByTestId('param-temperature'), { target: { value: '0.3' } });
    await fireEvent.click(screen.getByTestId('run-button'));
    await waitFor(() => expect(statusOf(GPT)).toBe('done'), { timeout: 5000 });
    expect(screen.getByTestId(`pane-text-${GPT}`).textContent).toBe(tokenize(behaviourOf(simulatedTargets()[0]!).answer).slice(0, 5).join(''));
    const [summary] = await app.backend.listRuns();
    const stored = await app.backend.loadRun(summary!.id);
    expect(stored.record.parameters).toEqual({ temperature: 0.3, max_output_tokens: 5 });
  });

  it('stops a run with the Stop button, keeping partial answers', async () => {
    await openApp({ tokensPerSecond: 30, latencyScale: 0.01 });
    await chooseTargets([GPT, 'ollama/llama3.3']);
    await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Go slowly.' } });
    await fireEvent.keyDown(window, { key: 'Enter', metaKey: true });
    await waitFor(() => expect((screen.getByTestId(`pane-text-${GPT}`).textContent ?? '').length).toBeGreaterThan(0), {
      timeout: 5000,
    });
    expect(statusOf(GPT)).toBe('streaming');

    await fireEvent.click(screen.getByTestId('stop-button'));
    await waitFor(() => expect(statusOf(GPT)).toBe('incomplete'));
    expect(screen.getByTestId(`pane-error-${GPT}`).textContent).toContain('cancelled');
    // The summary follows the panes, in a frame of its own.
    await waitFor(() => expect(screen.getByTestId('run-phase').textContent).toBe('finished'));
  });

  it('says Starting… on the Run button only when a run takes a while to start', async () => {
    const { backend } = await openApp();
    const start = backend.startRun.bind(backend);
    let release: () => void = () => undefined;
    backend.startRun = async (request, onEvent) => {
      await new Promise<void>((resolve) => (release = resolve));
      return start(request, onEvent);
    };
    await chooseTargets([GPT]);
    await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Hello?' } });
    const button = screen.getByTestId('run-button') as HTMLButtonElement;
    await fireEvent.click(button);
    expect(button.disabled).toBe(true);
    expect(button.textContent?.trim()).toBe('Run');
    await waitFor(() => expect(button.textContent?.trim()).toBe('Starting…'), { timeout: 2000 });
    release();
    await waitFor(() => expect(statusOf(GPT)).toBe('done'), { timeout: 5000 });
    expect(button.textContent?.trim()).toBe('Run');
  });

  it('stops with Escape', async () => {
    await openApp({ tokensPerSecond: 5, latencyScale: 5 });
    await chooseTargets([GPT]);
    await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Wait.' } });
    await fireEvent.click(screen.getByTestId('run-button'));
    await waitFor(() => expect(statusOf(GPT)).toBe('streaming'));
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(statusOf(GPT)).toBe('error'));
    expect(screen.getByTestId(`pane-error-${GPT}`).textContent).toBe('cancelled: cancelled');
  });

  it('says what is missing instead of running', async () => {
    await openApp();
    await fireEvent.click(screen.getByTestId('run-button'));
    expect(screen.getByTestId('run-error').textContent).toBe('Write a prompt first.');
    await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Hi' } });
    await fireEvent.click(screen.getByTestId('targets-none'));
    await fireEvent.click(screen.getByTestId('run-button'));
    expect(screen.getByTestId('run-error').textContent).toBe('Choose at least one target.');
    await fireEvent.click(screen.getByTestId(`target-toggle-${GPT}`));
    await fireEvent.input(screen.getByTestId('param-temperature'), { target: { value: 'hot' } });
    await fireEvent.click(screen.getByTestId('run-button'));
    expect(screen.getByTestId('run-error').textContent).toBe('temperature: a number from 0 to 2');
    expect(screen.queryByTestId(`pane-${GPT}`)).toBeNull();
  });

  it('offers the simulated clouds on first launch', async () => {
    const app = new AppState(createMockBackend({ tokensPerSecond: 4000, latencyScale: 0.02 }));
    render(App, { app });
    const demo = await screen.findByTestId('demo-button');
    expect(screen.getByTestId('demo-offer').textContent).toContain('simulated');
    await fireEvent.click(demo);
    await screen.findByTestId(`target-toggle-${GPT}`);
    expect(screen.queryByTestId('demo-offer')).toBeNull();
    expect((screen.getByTestId(`target-toggle-${GPT}`) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByTestId('prompt-input') as HTMLTextAreaElement).value).not.toBe('');
    expect(screen.getByTestId('mock-badge').textContent).toBe('mock backend');
  });
});
