// What the UI says and does when the OS keychain cannot be reached (a Linux desktop with no
// Secret Service: a minimal window manager, WSL, a VM, a fresh install). Only what needs the
// keychain is affected: the key names, setting a key, and targets that name a key
// (`key = "NAME"`); targets keyed by environment variables, the cloud chains and Ollama work as
// usual. The shell's raw error stays available as the detail of the help, not as the message.

import { defaultKeyVariable } from './target-form';
import type { Target } from './types';

/** The status-bar notice, in place of the shell's raw error. */
export const KEYCHAIN_NOTICE = 'Keychain unavailable: keys from environment variables still work.';

/** The link that opens the fix. */
export const KEYCHAIN_HELP_LABEL = 'How to enable…';

/** The fix, shown under "How to enable…" (README: "Troubleshooting: no keychain"). */
export const KEYCHAIN_HELP =
  'Start a Secret Service for your session, then restart ModelBench: gnome-keyring ' +
  '(gnome-keyring-daemon --start --components=secrets), or KeePassXC with Settings › Secret Service ' +
  'Integration enabled. Until then, give targets their keys through environment variables ' +
  '(api_key_ref = "env:VARIABLE"). See "Troubleshooting: no keychain" in the README.';

/** The per-target mark's label. */
export const KEYCHAIN_UNAVAILABLE_MARK = 'keychain unavailable';

/** Whether `target` takes its key from the keychain (`key = "NAME"`); such a target cannot run
 * while the keychain is unavailable unless its environment variable stands in. */
export function needsKeychain(target: Target): boolean {
  return target.key !== undefined && target.key.trim() !== '';
}

/** The mark's tooltip for `target`: what it falls back to, as the engine resolves it
 * (`KeychainCredentials`): the environment variable, then Bedrock's, Vertex's and OCI's cloud chains. */
export function keychainMarkTitle(target: Target): string {
  const named = target.api_key_ref?.startsWith('env:') ? target.api_key_ref.slice('env:'.length) : undefined;
  const variable = named ?? defaultKeyVariable(target.provider);
  const chain =
    target.provider === 'bedrock'
      ? ' or the AWS credential chain'
      : target.provider === 'vertex'
        ? ' or Google Application Default Credentials'
        : target.provider === 'oci'
          ? ' or OCI request signing (~/.oci/config)'
          : '';
  const fallback = variable
    ? `it runs only with the environment variable ${variable}${chain}`
    : 'it cannot run until the keychain is back';
  return `Its key “${target.key ?? ''}” is in the OS keychain, which cannot be reached: ${fallback}.`;
}
