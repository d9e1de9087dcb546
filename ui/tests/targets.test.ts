import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import { createMockBackend } from '../src/lib/mock-backend';
import { simulatedTargets } from '../src/lib/simulated';
import { draftFromTarget, emptyDraft, targetFromDraft } from '../src/lib/target-form';
import { validateTarget } from '../src/lib/target-validation';
import type { Target } from '../src/lib/types';

describe('validateTarget (the engine’s rules)', () => {
  const valid = (target: Target): void => expect(validateTarget(target)).toEqual({});

  it('needs a region for bedrock', () => {
    expect(validateTarget({ name: 'b', provider: 'bedrock', model: 'm' }).region).toMatch(/need a region/);
    expect(validateTarget({ name: 'b', provider: 'bedrock', model: 'm', region: 'us east' }).region).toMatch(/not an AWS region/);
    valid({ name: 'b', provider: 'bedrock', model: 'arn:aws:bedrock:us-east-1:1:inference-profile/x', region: 'us-east-1', api: 'invoke' });
  });

  it('needs a project and a location for vertex, global included', () => {
    const errors = validateTarget({ name: 'v', provider: 'vertex', model: 'gemini-2.5-pro' });
    expect(errors.project).toMatch(/need a project/);
    expect(errors.location).toMatch(/need a location/);
    valid({ name: 'v', provider: 'vertex', model: 'claude', project: 'acme-evals', location: 'global', publisher: 'anthropic' });
  });

  it('checks azure’s two paths', () => {
    expect(validateTarget({ name: 'a', provider: 'azure', model: 'm' }).resource).toMatch(/resource/);
    expect(validateTarget({ name: 'a', provider: 'azure', model: 'm', resource: 'r', deployment: 'd' }).api_version).toMatch(/both/);
    expect(
      validateTarget({ name: 'a', provider: 'azure', model: 'm', resource: 'r', deployment: 'd', api_version: 'v', api: 'responses' }).api,
    ).toMatch(/v1 path/);
    valid({ name: 'a', provider: 'azure', model: 'm', resource: 'r', deployment: 'd', api_version: '2024-10-21' });
    valid({ name: 'a', provider: 'azure', model: 'm', base_url: 'https://gw.example/openai', api: 'responses' });
  });

  it('rejects fields and apis that do not apply, bad urls and key references', () => {
    const errors = validateTarget({
      name: 'o',
      provider: 'openai',
      model: 'm',
      region: 'us-east-1',
      api: 'converse',
      base_url: 'ftp://x',
      api_key_ref: 'OPENAI_API_KEY',
      headers: { Authorization: 'Bearer x' },
      timeouts: { idle_ms: 0 },
    });
    expect(Object.keys(errors).sort()).toEqual(['api', 'api_key_ref', 'base_url', 'headers', 'region', 'timeouts.idle_ms']);
    expect(validateTarget({ name: ' ', provider: 'ollama', model: '' })).toMatchObject({ name: expect.any(String), model: expect.any(String) });
  });

  it('takes bedrock mantle apis, a mantle project, a base model and azure deployment types', () => {
    valid({ name: 'm', provider: 'bedrock', model: 'openai.gpt-5.4', region: 'us-west-2', api: 'mantle-responses', project: 'proj_1' });
    valid({ name: 'm', provider: 'bedrock', model: 'anthropic.claude-opus-4-7', region: 'us-east-1', api: 'mantle-messages' });
    expect(validateTarget({ name: 'm', provider: 'bedrock', model: 'x', region: 'us-east-1', project: 'p' }).project).toMatch(/Mantle/);
    expect(validateTarget({ name: 'o', provider: 'openai', model: 'x', api: 'mantle-chat' }).api).toMatch(/chat or responses/);
    valid({ name: 'a', provider: 'azure', model: 'gpt54-sweden', resource: 'r', base_model: 'gpt-5.4', deployment_type: 'data-zone-eu' });
    expect(validateTarget({ name: 'o', provider: 'openai', model: 'x', deployment_type: 'global' }).deployment_type).toMatch(/azure/);
    expect(validateTarget({ name: 'o', provider: 'openai', model: 'x', base_model: ' ' }).base_model).toMatch(/must name a model/);
    const azure = targetFromDraft({ ...emptyDraft('azure'), name: 'a', model: 'gpt54', resource: 'r', base_model: 'gpt-5.4', deployment_type: 'data-zone-us' });
    expect(azure.errors).toEqual({});
    expect(azure.target).toMatchObject({ base_model: 'gpt-5.4', deployment_type: 'data-zone-us' });
  });

  it('accepts every simulated target', () => {
    for (const target of simulatedTargets()) {
      valid(target);
    }
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

async function openTargets(targets: Target[] = []) {
  const backend = createMockBackend({ targets, latencyScale: 0.01 });
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
  it('asks bedrock for a region before saving', async () => {
    const { backend } = await openTargets();
    await fireEvent.change(screen.getByTestId('target-field-provider'), { target: { value: 'bedrock' } });
    expect(screen.queryByTestId('target-field-resource')).toBeNull();
    await type('target-field-name', 'claude-bedrock');
    await type('target-field-model', 'us.anthropic.claude-opus-4-7-v1:0');
    await fireEvent.click(screen.getByTestId('target-save'));
    expect(screen.getByTestId('target-error-region').textContent).toMatch(/need a region/);
    expect(await backend.listTargets()).toEqual([]);

    await type('target-field-region', 'us-east-1');
    await fireEvent.change(screen.getByTestId('target-field-api'), { target: { value: 'invoke' } });
    await fireEvent.click(screen.getByTestId('target-save'));
    await screen.findByTestId('target-row-claude-bedrock');
    expect(await backend.listTargets()).toEqual([
      { name: 'claude-bedrock', provider: 'bedrock', model: 'us.anthropic.claude-opus-4-7-v1:0', api: 'invoke', region: 'us-east-1' },
    ]);
  });

  it('asks vertex for a project and a location', async () => {
    await openTargets();
    await fireEvent.change(screen.getByTestId('target-field-provider'), { target: { value: 'vertex' } });
    await type('target-field-name', 'gemini-vertex');
    await type('target-field-model', 'gemini-2.5-pro');
    await fireEvent.click(screen.getByTestId('target-save'));
    expect(screen.getByTestId('target-error-project').textContent).toMatch(/need a project/);
    expect(screen.getByTestId('target-error-location').textContent).toMatch(/need a location/);
    await type('target-field-project', 'acme-evals');
    await type('target-field-location', 'global');
    await fireEvent.click(screen.getByTestId('target-save'));
    await screen.findByTestId('target-row-gemini-vertex');
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
