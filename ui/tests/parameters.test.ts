import { describe, expect, it } from 'vitest';

import { draftFromParameters, emptyParameterDraft, parseParameters } from '../src/lib/parameters';

describe('parameters', () => {
  it('omits empty fields, so the cloud’s defaults apply', () => {
    expect(parseParameters(emptyParameterDraft())).toEqual({ parameters: {}, errors: {} });
  });

  it('parses every field and round-trips', () => {
    const draft = { temperature: '0.7', max_output_tokens: '256', top_p: '0.9', stop_sequences: 'END\n\n###', seed: '-42' };
    const { parameters, errors } = parseParameters(draft);
    expect(errors).toEqual({});
    expect(parameters).toEqual({ temperature: 0.7, max_output_tokens: 256, top_p: 0.9, stop_sequences: ['END', '###'], seed: -42 });
    expect(parseParameters(draftFromParameters(parameters)).parameters).toEqual(parameters);
  });

  it('names each bad value', () => {
    const { errors } = parseParameters({ temperature: '3', max_output_tokens: '1.5', top_p: 'x', stop_sequences: '', seed: '1e30' });
    expect(Object.keys(errors).sort()).toEqual(['max_output_tokens', 'seed', 'temperature', 'top_p']);
  });
});
