// How numbers and errors read in the UI. Formatting only: every value shown comes from the engine
// (final records) or from the stream's own timestamps (live estimates); nothing is recomputed here.

import type { ProviderError, Target } from './types';

export const DASH = '—';

export function formatMilliseconds(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return DASH;
  }
  if (value < 1000) {
    return `${Math.round(value)} ms`;
  }
  if (value < 60_000) {
    return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  }
  const minutes = Math.floor(value / 60_000);
  const seconds = Math.round((value % 60_000) / 1000);
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

export function formatRate(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return DASH;
  }
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function formatCost(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return DASH;
  }
  if (value === 0) {
    return '$0';
  }
  if (value < 0.01) {
    return `$${value.toPrecision(2)}`;
  }
  return `$${value.toFixed(value < 1 ? 4 : 2)}`;
}

export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return DASH;
  }
  return value.toLocaleString('en-US');
}

/** The engine's `Display` of a provider error: `target 'x' (provider): HTTP 401 [code] message`. */
export function describeProviderError(error: ProviderError): string {
  const who = error.target === '' ? `${error.provider}: ` : `target '${error.target}' (${error.provider}): `;
  const status = error.status === null ? '' : `HTTP ${error.status} `;
  const code = error.code === null ? '' : `[${error.code}] `;
  return `${who}${status}${code}${error.message}`;
}

/** A provider error inside its own pane, where the target is already named. */
export function describePaneError(error: ProviderError): string {
  const status = error.status === null ? '' : `HTTP ${error.status} `;
  const code = error.code === null ? '' : `[${error.code}] `;
  return `${error.kind}: ${status}${code}${error.message}`;
}

export function formatDateTime(unixMs: number): string {
  const date = new Date(unixMs);
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Provider, model and where it runs, as one line for pane headers and lists. */
export function targetSummary(target: Target): string {
  return `${target.provider} · ${target.model}`;
}
