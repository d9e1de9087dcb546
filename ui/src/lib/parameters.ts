// The parameter fields of the Compare view: strings as typed, turned into `Parameters` with empty
// fields omitted ("the cloud's default"), and back for a re-run.

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
  const number = (field: keyof ParameterDraft, low: number, high: number, integer: boolean): number | undefined => {
    const text = draft[field].trim();
    if (text === '') {
      return undefined;
    }
    const value = Number(text);
    if (!Number.isFinite(value) || value < low || value > high || (integer && !Number.isInteger(value))) {
      errors[field] = integer ? `a whole number from ${low} to ${high}` : `a number from ${low} to ${high}`;
      return undefined;
    }
    return value;
  };
  const temperature = number('temperature', 0, 2, false);
  const topP = number('top_p', 0, 1, false);
  const maxOutputTokens = number('max_output_tokens', 1, 4_294_967_295, true);
  const seed = number('seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true);
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
