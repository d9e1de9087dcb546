// The parameter fields of the Compare view: strings as typed, turned into `Parameters` with empty
// fields omitted ("the cloud's default"), and back for a re-run. The ranges are the engine's
// (`PARAMETER_RANGES`, generated into ./bindings/rules.ts), which every run checks again.

import { PARAMETER_RANGES } from './bindings/rules';
import type { Parameters } from './types';

export interface ParameterDraft {
  temperature: string;
  max_output_tokens: string;
  top_p: string;
  /** One stop sequence per line. */
  stop_sequences: string;
  seed: string;
}

export type ParameterErrors = Partial<Record<keyof ParameterDraft, string>>;

export function emptyParameterDraft(): ParameterDraft {
  return { temperature: '', max_output_tokens: '', top_p: '', stop_sequences: '', seed: '' };
}

export function draftFromParameters(parameters: Parameters): ParameterDraft {
  const text = (value: number | undefined): string => (value === undefined ? '' : String(value));
  return {
    temperature: text(parameters.temperature),
    max_output_tokens: text(parameters.max_output_tokens),
    top_p: text(parameters.top_p),
    stop_sequences: (parameters.stop_sequences ?? []).join('\n'),
    seed: text(parameters.seed),
  };
}

export function parseParameters(draft: ParameterDraft): { parameters: Parameters; errors: ParameterErrors } {
  const parameters: Parameters = {};
  const errors: ParameterErrors = {};
  const number = (field: 'temperature' | 'top_p' | 'max_output_tokens' | 'seed'): number | undefined => {
    const text = draft[field].trim();
    if (text === '') {
      return undefined;
    }
    const range = PARAMETER_RANGES.find((candidate) => candidate.field === field);
    if (range === undefined) {
      throw new Error(`the engine has no range for ${field}`);
    }
    const value = Number(text);
    if (!Number.isFinite(value) || value < range.low || value > range.high || (range.integer && !Number.isInteger(value))) {
      errors[field] = range.accepts;
      return undefined;
    }
    return value;
  };
  const temperature = number('temperature');
  const topP = number('top_p');
  const maxOutputTokens = number('max_output_tokens');
  const seed = number('seed');
  if (temperature !== undefined) parameters.temperature = temperature;
  if (topP !== undefined) parameters.top_p = topP;
  if (maxOutputTokens !== undefined) parameters.max_output_tokens = maxOutputTokens;
  if (seed !== undefined) parameters.seed = seed;
  const stops = draft.stop_sequences.split('\n').filter((line) => line !== '');
  if (stops.length > 0) {
    parameters.stop_sequences = stops;
  }
  return { parameters, errors };
}
