import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({
  invoke: (...args: unknown[]) => invoke(...args),
  Channel: class {
    onmessage: (message: unknown) => void = () => undefined;
  },
}));

const { errorMessage, selectBackend, tauriBackend } = await import('../src/lib/backend');

describe('tauriBackend', () => {
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockResolvedValue(undefined);
  });

  it('calls the shell’s snake_case commands with camelCase arguments', async () => {
    const target = { name: 'a', provider: 'ollama' as const, model: 'm' };
    await tauriBackend.listTargets();
    await tauriBackend.saveTarget(target, 'old');
    await tauriBackend.removeTarget('a');
    await tauriBackend.validateTarget(target);
    await tauriBackend.setKey('k', 's3cret');
    await tauriBackend.listKeys();
    await tauriBackend.testTarget('a');
    await tauriBackend.stopRun('run-1');
    await tauriBackend.listRuns({ query: 'clouds', limit: 5 });
    await tauriBackend.loadRun('run-1');
    await tauriBackend.startDemo();
    expect(invoke.mock.calls).toEqual([
      ['list_targets'],
      ['save_target', { target, original: 'old' }],
      ['remove_target', { name: 'a' }],
      ['validate_target', { target }],
      ['set_key', { name: 'k', secret: 's3cret' }],
      ['list_keys'],
      ['test_target', { name: 'a' }],
      ['stop_run', { runId: 'run-1' }],
      ['list_runs', { query: 'clouds', limit: 5 }],
      ['load_run', { runId: 'run-1' }],
      ['start_demo'],
    ]);
  });

  it('starts a run with its request and a channel that delivers the messages', async () => {
    invoke.mockResolvedValue('run-7');
    const received: unknown[] = [];
    const request = { targets: ['a'], prompt: 'hi', parameters: { seed: 1 } };
    await expect(tauriBackend.startRun(request, (message) => received.push(message))).resolves.toBe('run-7');
    const [command, args] = invoke.mock.calls[0] as [string, { request: unknown; onEvent: { onmessage: (message: unknown) => void } }];
    expect(command).toBe('start_run');
    expect(args.request).toEqual(request);
    args.onEvent.onmessage({ kind: 'finished', run_id: 'run-7' });
    expect(received).toEqual([{ kind: 'finished', run_id: 'run-7' }]);
  });
});

describe('selectBackend', () => {
  it('is the shell inside Tauri, and says how to start the app outside it', () => {
    expect(() => selectBackend({})).toThrow(/desktop shell/);
    expect(selectBackend({ __TAURI_INTERNALS__: {} }).kind).toBe('tauri');
  });
});

describe('errorMessage', () => {
  it('shows what a command rejected with, verbatim', () => {
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage({ kind: 'validation', message: "target 'x': model is empty", retryable: false })).toBe(
      "target 'x': model is empty",
    );
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage({ unexpected: 1 })).toBe('{"unexpected":1}');
  });
});
