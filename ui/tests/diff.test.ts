import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import { createMockBackend } from './doubles/mock-backend';
import { mockDiff, mockSimilarity } from './doubles/mock-diff';
import { HTML_ANSWER, behaviourOf, simulatedTargets } from './doubles/simulated';

const GPT = 'openai/gpt-5.4';
const AZURE = 'azure/gpt-5.4 swedencentral';
const HTML = 'gemini/html-echo';

async function runThree() {
  const backend = createMockBackend({ targets: simulatedTargets(), tokensPerSecond: 4000, latencyScale: 0.02 });
  const app = new AppState(backend);
  render(App, { app });
  await screen.findByTestId(`target-toggle-${GPT}`);
  await fireEvent.click(screen.getByTestId('targets-none'));
  for (const name of [GPT, AZURE, HTML]) {
    await fireEvent.click(screen.getByTestId(`target-toggle-${name}`));
  }
  await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Why several clouds?' } });
  await fireEvent.click(screen.getByTestId('run-button'));
  await waitFor(() => expect(screen.getByTestId('run-phase').textContent).toBe('finished'), { timeout: 5000 });
  return { app, backend };
}

describe('Diff and Export', () => {
  it('marks the answer unlike the others as the outlier, on its pane only', async () => {
    await runThree();
    await screen.findByTestId(`pane-outlier-${HTML}`);
    expect(screen.queryByTestId(`pane-outlier-${GPT}`)).toBeNull();
    expect(screen.queryByTestId(`pane-outlier-${AZURE}`)).toBeNull();
  });

  it('shows the similarity matrix and the inline diff of a picked pair, and of a pane against the majority', async () => {
    await runThree();
    await fireEvent.click(await screen.findByTestId('diff-button'));
    const matrix = await screen.findByTestId('similarity-matrix');
    // Panes in target order: Azure, the HTML echo, OpenAI. The same model on two clouds gives
    // the same answer; the HTML echo another answer altogether.
    const rows = [...matrix.querySelectorAll('th[scope=row] .name')].map((cell) => cell.textContent);
    expect(rows).toEqual([AZURE, HTML, GPT]);
    expect(screen.getByTestId('similarity-cell-0-2').textContent?.trim()).toBe('100%');
    expect(screen.getByTestId('similarity-cell-2-0').textContent?.trim()).toBe('100%');
    expect(Number.parseInt(screen.getByTestId('similarity-cell-0-1').textContent ?? '', 10)).toBeLessThan(20);
    expect(matrix.querySelector('tr.outlier th')?.textContent).toContain(HTML);

    // Click the twins' cell: identical, so no insertions or deletions.
    await fireEvent.click(screen.getByTestId('similarity-cell-0-2').querySelector('button')!);
    await waitFor(() => expect(screen.getByTestId('diff-ratio').textContent).toBe('100% alike'));
    expect(screen.getByTestId('diff-spans').querySelector('ins, del')).toBeNull();

    // The HTML echo against Azure: deletions from A and insertions from B, as text.
    await fireEvent.click(screen.getByTestId('similarity-cell-1-0').querySelector('button')!);
    await waitFor(() => expect(screen.getByTestId('diff-spans').querySelector('ins')).not.toBeNull());
    const spans = screen.getByTestId('diff-spans');
    const deleted = [...spans.querySelectorAll('del')].map((node) => node.textContent).join('');
    const inserted = [...spans.querySelectorAll('ins')].map((node) => node.textContent).join('');
    expect(deleted).toContain('<script>alert("xss")</script>');
    expect(inserted).toContain('procurement');
    expect(spans.querySelector('script, img')).toBeNull();

    // B = the run's majority.
    await fireEvent.change(screen.getByTestId('diff-b'), { target: { value: 'majority' } });
    await waitFor(() => expect(screen.getByTestId('diff-output').textContent).toMatch(/majority \((openai|azure)/));
  });

  it('exports the finished run and says where it went', async () => {
    const { app } = await runThree();
    await fireEvent.change(screen.getByTestId('export-format'), { target: { value: 'csv' } });
    await fireEvent.click(screen.getByTestId('export-button'));
    const result = await screen.findByTestId('export-result');
    expect(result.textContent).toBe(`saved mock://modelbench-${app.run.runId}.csv`);
  });
});

describe('mock diff', () => {
  it('splits into equal, deleted and inserted spans that rebuild both sides', () => {
    const diff = mockDiff('the quick brown fox', 'the slow brown fox jumps', 'words');
    if (diff.content.kind !== 'spans') {
      throw new Error('spans expected');
    }
    const side = (skip: string) =>
      diff.content.kind === 'spans' ? diff.content.spans.filter((span) => span.kind !== skip).map((span) => span.text).join('') : '';
    expect(side('insert')).toBe('the quick brown fox');
    expect(side('delete')).toBe('the slow brown fox jumps');
    expect(diff.stats).toMatchObject({ unchanged: 3, deleted: 1, inserted: 2 });
  });

  it('picks an outlier only when one answer is strictly farthest', () => {
    const gpt = behaviourOf(simulatedTargets()[0]!).answer;
    expect(mockSimilarity([gpt, gpt, HTML_ANSWER], 'words').outlier).toBe(2);
    expect(mockSimilarity([gpt, HTML_ANSWER], 'words').outlier).toBeNull();
    expect(mockSimilarity(['a', 'b', 'c'], 'words').outlier).toBeNull();
  });
});
