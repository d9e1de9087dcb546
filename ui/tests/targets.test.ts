import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import { createMockBackend } from './doubles/mock-backend';
import { simulatedTargets } from './doubles/simulated';
import { draftFromTarget, emptyDraft, fieldsFor, targetFromDraft } from '../src/lib/target-form';
import type { FieldError, Target } from '../src/lib/types';
import targetsFixture from '../../tests/fixtures/targets.json';

/** The targets the engine's own test judges (crates/engine/src/model/target/fields.rs): the
 * same list, fed here through the form. */
const fixture = targetsFixture as { bad: { target: Target; fields: string[]; match: string[] }[]; good: Target[] };

/** The engine's answers for the fixture's targets, as `validate_target` gives them, keyed by the
 * exact target: what the test double answers, so the form is shown the engine's verdicts. */
function engineAnswers(target: Target): FieldError[] {
  const entry = fixture.bad.find((bad) => JSON.stringify(bad.target) === JSON.stringify(target));
  return entry === undefined ? [] : entry.fields.map((field, index) => ({ field, message: entry.match[index] ?? field }));
}

describe('the form and the engine’s rules (tests/fixtures/targets.json)', () => {
  it('hands every target the form can express to the engine unchanged, good or bad', () => {
    let expressed = 0;
    for (const target of [...fixture.bad.map((bad) => bad.target), ...fixture.good]) {
      const shown = new Set<string>(['name', 'provider', 'headers', 'timeouts', ...fieldsFor(target.provider).map((spec) => spec.field)]);
      if (!Object.keys(target).every((field) => shown.has(field))) {
        continue;
      }
      expressed += 1;
      const { target: sent, errors } = targetFromDraft(draftFromTarget(target));
      // The form's one convention: text is trimmed and a blank optional field means "unset"; the
      // rest reaches the engine verbatim, so the engine alone says what is wrong.
      const typed = Object.fromEntries(
        Object.entries(target)
          .map(([field, value]) => [field, typeof value === 'string' ? value.trim() : value])
          .filter(([field, value]) => value !== '' || field === 'name' || field === 'model'),
      );
      expect(sent).toEqual(typed);
      expect(errors).toEqual({});
    }
    expect(expressed).toBeGreaterThan(fixture.bad.length / 2);
  });

  it('shows the engine’s answer beside each field and saves nothing until it is empty', async () => {
    const { backend } = await openTargets([], engineAnswers);
    await fireEvent.change(screen.getByTestId('target-field-provider'), { target: { value: 'vertex' } });
    await type('target-field-name', 'v');
    await type('target-field-model', 'gemini-2.5-pro');
    await type('target-field-project', 'acme evals');
    await type('target-field-location', 'us/east5');
    await fireEvent.click(screen.getByTestId('target-save'));
    await waitFor(() => expect(screen.getByTestId('target-error-project').textContent).toBe('not a Google Cloud project id'));
    expect(screen.getByTestId('target-error-location').textContent).toBe('not a Vertex location');
    expect(await backend.listTargets()).toEqual([]);
    await type('target-field-project', 'acme-evals');
    await type('target-field-location', 'global');
    await fireEvent.click(screen.getByTestId('target-save'));
    await screen.findByTestId('target-row-v');
  });

  it('names an error on a field the form has no input for', async () => {
    const headers: Target = { name: 'o', provider: 'ollama', model: 'llama3.3', headers: { 'x-route': 'a\nb' } };
    await openTargets([headers], engineAnswers);
    await fireEvent.click(await screen.findByTestId('target-row-o'));
    await fireEvent.click(screen.getByTestId('target-save'));
    await waitFor(() => expect(screen.getByTestId('target-invalid').textContent).toContain('headers: not allowed in HTTP'));
  });

  it('takes an azure base model and deployment type from the engine’s options', () => {
    const azure = targetFromDraft({ ...emptyDraft('azure'), name: 'a', model: 'gpt54', resource: 'r', base_model: 'gpt-5.4', deployment_type: 'data-zone-us' });
    expect(azure.errors).toEqual({});
    expect(azure.target).toMatchObject({ base_model: 'gpt-5.4', deployment_type: 'data-zone-us' });
    expect(fieldsFor('azure').find((spec) => spec.field === 'deployment_type')?.options).toEqual(['global', 'data-zone-us', 'data-zone-eu', 'regional']);
  });

  it('says a timeout that is not a number is not one, before asking the engine', () => {
    const { errors } = targetFromDraft({ ...emptyDraft('ollama'), name: 'o', model: 'm', idle_ms: '5s' });
    expect(errors).toEqual({ 'timeouts.idle_ms': 'a timeout is a whole number of milliseconds' });
  });
});

describe('target drafts', () => {
  it('keeps only the fields the provider shows and omits empty ones', () => {
    const draft = emptyDraft('bedrock');
    Object.assign(draft, { name: ' claude ', model: 'anthropic.claude', region: 'eu-west-1', resource: 'ignored', api: 'converse', first_token_ms: '5000' });
    expect(targetFromDraft(draft)).toEqual({
      target: { name: 'claude', provider: 'bedrock', model: 'anthropic.claude', api: 'converse', region: 'eu-west-1', timeouts: { first_token_ms: 5000 } },
      errors: {},
    });
  });

  it('round-trips a target through the form', () => {
    const target: Target = {
      name: 'x',
      provider: 'vertex',
      model: 'claude-opus-4-7',
      project: 'p',
      location: 'us-east5',
      publisher: 'anthropic',
      key: 'gcp',
      headers: { 'x-route': 'a' },
      timeouts: { total_ms: 1000 },
      label: 'prod',
    };
    expect(targetFromDraft(draftFromTarget(target)).target).toEqual(target);
  });
});

async function openTargets(targets: Target[] = [], validate?: (target: Target) => FieldError[]) {
  const backend = createMockBackend({ targets, latencyScale: 0.01, ...(validate ? { validate } : {}) });
  const app = new AppState(backend);
  app.view = 'targets';
  render(App, { app });
  await waitFor(() => expect(app.targetsLoaded).toBe(true));
  return { app, backend };
}

async function type(testId: string, value: string): Promise<void> {
  await fireEvent.input(screen.getByTestId(testId), { target: { value } });
}

describe('Targets view', () => {
  it('shows bedrock’s fields, asks the engine, and saves what it accepts', async () => {
    const { backend } = await openTargets([], engineAnswers);
    await fireEvent.change(screen.getByTestId('target-field-provider'), { target: { value: 'bedrock' } });
    expect(screen.queryByTestId('target-field-resource')).toBeNull();
    await type('target-field-name', 'b');
    await type('target-field-model', 'm');
    await fireEvent.click(screen.getByTestId('target-save'));
    await waitFor(() => expect(screen.getByTestId('target-error-region').textContent).toBe('need `region`'));
    expect(await backend.listTargets()).toEqual([]);

    await type('target-field-region', 'us-east-1');
    await fireEvent.change(screen.getByTestId('target-field-api'), { target: { value: 'invoke' } });
    await fireEvent.click(screen.getByTestId('target-save'));
    await screen.findByTestId('target-row-b');
    expect(await backend.listTargets()).toEqual([{ name: 'b', provider: 'bedrock', model: 'm', api: 'invoke', region: 'us-east-1' }]);
  });

  it('edits, renames and removes a saved target', async () => {
    const { backend } = await openTargets([{ name: 'old', provider: 'ollama', model: 'llama3.3' }]);
    await fireEvent.click(await screen.findByTestId('target-row-old'));
    expect((screen.getByTestId('target-field-model') as HTMLInputElement).value).toBe('llama3.3');
    expect(screen.queryByTestId('target-unsaved')).toBeNull();
    await type('target-field-name', 'new');
    expect(screen.getByTestId('target-unsaved')).toBeTruthy();
    await type('target-field-base_url', 'http://127.0.0.1:11434');
    await fireEvent.click(screen.getByTestId('target-save'));
    await screen.findByTestId('target-row-new');
    expect(screen.queryByTestId('target-row-old')).toBeNull();
    expect(await backend.listTargets()).toEqual([{ name: 'new', provider: 'ollama', model: 'llama3.3', base_url: 'http://127.0.0.1:11434' }]);

    await fireEvent.click(screen.getByTestId('target-remove'));
    await fireEvent.click(screen.getByTestId('target-remove-confirm'));
    await waitFor(() => expect(screen.queryByTestId('target-row-new')).toBeNull());
    expect(await backend.listTargets()).toEqual([]);
  });

  it('does not overwrite another target by creating one with its name', async () => {
    await openTargets([{ name: 'taken', provider: 'ollama', model: 'm' }]);
    await type('target-field-name', 'taken');
    await type('target-field-model', 'other');
    await fireEvent.click(screen.getByTestId('target-save'));
    expect(screen.getByTestId('target-error-name').textContent).toBe('a target with this name exists');
  });

  it('sets a key write-only', async () => {
    const { backend } = await openTargets();
    const secretInput = screen.getByTestId('key-input') as HTMLInputElement;
    expect(secretInput.type).toBe('password');
    await type('key-name', 'openai-prod');
    await type('key-input', 'sk-very-secret');
    await fireEvent.click(screen.getByTestId('key-save'));
    await waitFor(() => expect(screen.getByTestId('key-list').textContent).toContain('openai-prod'));
    expect(secretInput.value).toBe('');
    expect(document.body.innerHTML).not.toContain('sk-very-secret');
    expect(await backend.listKeys()).toEqual(['openai-prod']);
  });

  it('tests a target and shows the exact error', async () => {
    await openTargets(simulatedTargets());
    await fireEvent.click(await screen.findByTestId('target-row-openai/gpt-5.4 (bad key)'));
    await fireEvent.click(screen.getByTestId('target-test'));
    const result = await screen.findByTestId('target-test-result');
    expect(result.textContent).toBe(
      "target 'openai/gpt-5.4 (bad key)' (openai): HTTP 401 [invalid_api_key] Incorrect API key provided: sk-simu****bad.",
    );

    await fireEvent.click(screen.getByTestId('target-row-openai/gpt-5.4'));
    await fireEvent.click(screen.getByTestId('target-test'));
    await waitFor(() => expect(screen.getByTestId('target-test-result').textContent).toMatch(/^OK · first token \d+ ms .*“pong”$/));
  });
});
