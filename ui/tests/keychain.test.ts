// A desktop with no Secret Service: the keychain fails, and only what needs it is affected.

import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import type { Backend } from '../src/lib/backend';
import { keychainMarkTitle } from '../src/lib/keychain';
import { MOCK_KEYCHAIN_ERROR, createMockBackend, mockOptionsFromQuery, type MockOptions } from './doubles/mock-backend';
import type { Target } from '../src/lib/types';

const NOTICE = 'Keychain unavailable: keys from environment variables still work. How to enable…';

/** What a user keeps in the database: keys from the environment, a cloud chain, a local model,
 * and one target whose key is in the keychain. */
const SAVED: Target[] = [
  { name: 'gpt env', provider: 'openai', model: 'gpt-5.4', api_key_ref: 'env:OPENAI_WORK_KEY' },
  { name: 'claude default env', provider: 'anthropic', model: 'claude-opus-4-7' },
  { name: 'bedrock chain', provider: 'bedrock', model: 'us.anthropic.claude-opus-4-7-v1:0', region: 'us-east-1' },
  { name: 'llama local', provider: 'ollama', model: 'llama3.3' },
  { name: 'gpt keychain', provider: 'openai', model: 'gpt-5.4', key: 'openai-work', api_key_ref: 'env:OPENAI_WORK_KEY' },
];
const KEYED = 'gpt keychain';
const UNKEYED = SAVED.map((target) => target.name).filter((name) => name !== KEYED);

async function openApp(options: MockOptions = {}) {
  const backend = createMockBackend({ targets: SAVED, keychainUnavailable: true, tokensPerSecond: 4000, latencyScale: 0.02, ...options });
  const app = new AppState(backend);
  render(App, { app });
  await waitFor(() => expect(app.targetsLoaded).toBe(true));
  return { app, backend };
}

function normalised(text: string | null | undefined): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

function marked(): string[] {
  return [...document.querySelectorAll('[data-testid^="keychain-unavailable-"]')].map((mark) =>
    (mark.getAttribute('data-testid') ?? '').slice('keychain-unavailable-'.length),
  );
}

describe('without a keychain', () => {
  it('still lists every saved target when listing the keys fails', async () => {
    const { app } = await openApp();
    expect(app.targets.map((target) => target.name).sort()).toEqual(SAVED.map((target) => target.name).sort());
    expect(app.keychainError).toBe(MOCK_KEYCHAIN_ERROR);
    expect(app.keys).toEqual([]);
    expect(app.backendError).toBeNull();
    for (const target of SAVED) {
      expect(screen.getByTestId(`target-toggle-${target.name}`)).toBeTruthy();
    }
    expect(screen.queryByText('No saved targets.')).toBeNull();
    expect(screen.queryByTestId('demo-offer')).toBeNull();
  });

  it('says so in a short notice with the fix instead of the raw error', async () => {
    await openApp();
    const notice = screen.getByTestId('keychain-notice');
    expect(normalised(notice.textContent)).toBe(NOTICE);
    expect(screen.queryByTestId('backend-error')).toBeNull();
    expect(document.querySelector('footer')?.textContent).not.toContain('no Secret Service is running');

    expect(screen.queryByTestId('keychain-help')).toBeNull();
    await fireEvent.click(screen.getByTestId('keychain-help-toggle'));
    const help = normalised(screen.getByTestId('keychain-help').textContent);
    expect(help).toContain('gnome-keyring');
    expect(help).toContain('KeePassXC');
    expect(help).toContain('Troubleshooting: no keychain');
    // The shell's own words stay at hand for a bug report, under the fix.
    expect(help).toContain('ServiceUnknown');
    await fireEvent.click(screen.getByTestId('keychain-help-toggle'));
    expect(screen.queryByTestId('keychain-help')).toBeNull();
  });

  it('marks only the targets that name a keychain key, in Compare and in Targets', async () => {
    const { app } = await openApp();
    expect(marked()).toEqual([KEYED]);
    expect(screen.getByTestId(`keychain-unavailable-${KEYED}`).getAttribute('title')).toBe(
      'Its key “openai-work” is in the OS keychain, which cannot be reached: it runs only with the environment variable OPENAI_WORK_KEY.',
    );
    app.view = 'targets';
    await screen.findByTestId(`target-row-${KEYED}`);
    expect(marked()).toEqual([KEYED]);
    expect(screen.getByTestId(`target-row-${KEYED}`).contains(screen.getByTestId(`keychain-unavailable-${KEYED}`))).toBe(true);
    expect(normalised(screen.getByTestId('key-list').textContent)).toBe('Keychain unavailable: keys from environment variables still work.');
  });

  it('chooses the targets that can run and runs them; the keyed one fails with the clear error', async () => {
    await openApp();
    const checked = (name: string) => (screen.getByTestId(`target-toggle-${name}`) as HTMLInputElement).checked;
    expect(UNKEYED.filter(checked)).toEqual(UNKEYED);
    expect(checked(KEYED)).toBe(false);

    await fireEvent.input(screen.getByTestId('prompt-input'), { target: { value: 'Still working?' } });
    await fireEvent.click(screen.getByTestId('run-button'));
    await waitFor(
      () => expect(UNKEYED.map((name) => screen.queryByTestId(`pane-status-${name}`)?.textContent)).toEqual(UNKEYED.map(() => 'done')),
      { timeout: 5000 },
    );

    await fireEvent.click(screen.getByTestId('targets-none'));
    await fireEvent.click(screen.getByTestId(`target-toggle-${KEYED}`));
    await fireEvent.click(screen.getByTestId('run-button'));
    const failure = await screen.findByTestId('run-failure');
    expect(failure.textContent).toBe(`target '${KEYED}': ${MOCK_KEYCHAIN_ERROR}`);
  });

  it('offers the simulated clouds on an empty database, and they run', async () => {
    const { app } = await openApp({ targets: [] });
    await screen.findByTestId('demo-offer');
    expect(normalised(screen.getByTestId('keychain-notice').textContent)).toBe(NOTICE);
    await fireEvent.click(screen.getByTestId('demo-button'));
    await screen.findByTestId('target-toggle-openai/gpt-5.4');
    expect(marked()).toEqual([]);
    expect(app.selected.size).toBe(app.targets.length);
    await fireEvent.click(screen.getByTestId('targets-none'));
    await fireEvent.click(screen.getByTestId('target-toggle-openai/gpt-5.4'));
    await fireEvent.click(screen.getByTestId('run-button'));
    await waitFor(() => expect(screen.queryByTestId('pane-status-openai/gpt-5.4')?.textContent).toBe('done'), { timeout: 5000 });
  });

  it('shows why a key cannot be set, and recovers once the keychain answers', async () => {
    const inner = createMockBackend({ targets: SAVED, keys: ['openai-work'] });
    let keychainUp = false;
    const unavailable = () => Promise.reject({ kind: 'keychain', message: MOCK_KEYCHAIN_ERROR, retryable: false });
    const backend: Backend = {
      ...inner,
      listKeys: () => (keychainUp ? inner.listKeys() : unavailable()),
      setKey: (name, secret) => (keychainUp ? inner.setKey(name, secret) : unavailable()),
    };
    const app = new AppState(backend);
    app.view = 'targets';
    render(App, { app });
    await screen.findByTestId('key-list-unavailable');
    await fireEvent.input(screen.getByTestId('key-name'), { target: { value: 'openai-work' } });
    await fireEvent.input(screen.getByTestId('key-input'), { target: { value: 'sk-not-kept' } });
    await fireEvent.click(screen.getByTestId('key-save'));
    expect((await screen.findByTestId('key-message')).textContent).toBe(MOCK_KEYCHAIN_ERROR);
    expect((screen.getByTestId('key-input') as HTMLInputElement).value).toBe('');

    // The keychain comes back (the user started gnome-keyring): the next refresh clears it all.
    keychainUp = true;
    await app.refreshTargets();
    await waitFor(() => expect(screen.queryByTestId('keychain-notice')).toBeNull());
    expect(marked()).toEqual([]);
    expect(screen.getByTestId('key-list').textContent).toContain('openai-work');
  });
});

describe('with a keychain', () => {
  it('shows no notice and no marks, and chooses every target', async () => {
    const { app } = await openApp({ keychainUnavailable: false, keys: ['openai-work'] });
    expect(screen.queryByTestId('keychain-notice')).toBeNull();
    expect(marked()).toEqual([]);
    expect(app.selected.size).toBe(SAVED.length);
  });
});

describe('the mark’s explanation', () => {
  it('names the fallback the engine would use', () => {
    const title = (target: Target) => keychainMarkTitle(target).split(': ')[1];
    expect(title({ name: 'a', provider: 'anthropic', model: 'm', key: 'k' })).toBe(
      'it runs only with the environment variable ANTHROPIC_API_KEY.',
    );
    expect(title({ name: 'b', provider: 'bedrock', model: 'm', region: 'us-east-1', key: 'k' })).toBe(
      'it runs only with the environment variable AWS_BEARER_TOKEN_BEDROCK or the AWS credential chain.',
    );
    expect(title({ name: 'o', provider: 'ollama', model: 'm', key: 'k' })).toBe('it cannot run until the keychain is back.');
  });

  it('is offered to the visual check by the query', () => {
    expect(mockOptionsFromQuery('?mock&nokeychain').keychainUnavailable).toBe(true);
    expect(mockOptionsFromQuery('?mock').keychainUnavailable).toBeUndefined();
  });
});
