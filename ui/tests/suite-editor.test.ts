import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import App from '../src/App.svelte';
import { AppState } from '../src/lib/app-state.svelte';
import type { Backend } from '../src/lib/backend';
import {
  errorsAt,
  errorsPerTest,
  fieldErrorId,
  fieldPaths,
  freshTestId,
  newTest,
  parseThreshold,
  parseValue,
  testIndexOf,
  typeChoices,
  unplacedErrors,
  valueText,
} from '../src/lib/suite-editor';
import { SuiteEditor } from '../src/lib/suite-editor.svelte';
import type { DryCheck, DryCheckRequest, SuiteDocument, SuiteDraft, SuiteFieldError, SuiteInfo } from '../src/lib/types';
import { createMockBackend } from './doubles/mock-backend';
import { target } from './helpers';

function sampleDocument(): SuiteDocument {
  return {
    name: 'Sample',
    description: null,
    system: 'Answer in two sentences.',
    parameters: [{ key: 'max_output_tokens', value: 200 }],
    prompts: ['{{question}}'],
    tests: [
      {
        id: 'latency',
        description: null,
        vars: [{ key: 'question', value: 'Why measure?' }],
        prompt: null,
        messages: null,
        checks: [{ type: 'icontains', value: 'latency', threshold: null, other: [] }],
        other: [],
      },
      {
        id: 'outages',
        description: null,
        vars: [{ key: 'question', value: 'What does a second cloud protect against?' }],
        prompt: null,
        messages: null,
        checks: [{ type: 'regex', value: '(?i)outage|down', threshold: null, other: [] }],
        other: [],
      },
    ],
    other: [],
  };
}

const SUITE: SuiteInfo = {
  hash: 'h1',
  name: 'Sample',
  description: null,
  format: 'yaml',
  path: null,
  tests: 2,
  cases: 2,
  checks: 2,
  max_output_tokens: 200,
  notes: [],
};

/** A stand-in for the engine's checks: a regex check whose value opens a group it never closes
 * is a problem at its value (the real rules are the engine's, tested in Rust). */
function problemsOf(document: SuiteDocument): SuiteFieldError[] {
  const errors: SuiteFieldError[] = [];
  document.tests.forEach((test, testIndex) =>
    test.checks.forEach((check, checkIndex) => {
      if (check.type === 'regex' && typeof check.value === 'string' && check.value.startsWith('(unclosed')) {
        errors.push({
          path: `tests[${testIndex}].checks[${checkIndex}].value`,
          line: 12,
          message: 'bad regex: unclosed group',
        });
      }
    }),
  );
  return errors;
}

function draftOf(document: SuiteDocument | null, text: string): SuiteDraft {
  return {
    text,
    document,
    errors: document === null ? [{ path: null, line: 2, message: 'not valid YAML' }] : problemsOf(document),
    notes: [],
    check_types: ['icontains', 'regex', 'equals'],
  };
}

function scriptedBackend() {
  const base = createMockBackend({ targets: [target('simulated/openai'), target('simulated/azure')] });
  const calls = {
    documents: [] as SuiteDocument[],
    texts: [] as string[],
    saved: [] as string[],
    dry: [] as DryCheckRequest[],
  };
  const backend: Backend = {
    ...base,
    kind: 'mock',
    listSuites: async () => [SUITE],
    openSuiteDraft: async () => draftOf(sampleDocument(), 'name: Sample\n'),
    checkSuiteDocument: async (document) => {
      calls.documents.push(structuredClone(document));
      return draftOf(document, `name: ${document.name}\n`);
    },
    checkSuiteText: async (text) => {
      calls.texts.push(text);
      if (text.includes('[')) {
        return draftOf(null, text);
      }
      return draftOf({ ...sampleDocument(), name: text.replace('name: ', '').trim() }, text);
    },
    saveSuiteDraft: async (text) => {
      calls.saved.push(text);
      return { ...SUITE, hash: 'h2' };
    },
    dryCheckSuite: async (request): Promise<DryCheck> => {
      calls.dry.push(request);
      return {
        target: request.target,
        test_id: request.test_id,
        cases: [
          {
            case_id: request.test_id,
            text: 'Outages happen.',
            time_to_first_token_ms: 120,
            total_ms: 300,
            cost_usd: 0.0001,
            checks: [{ type: 'regex', passed: true, reason: 'output matches the regex' }],
            passed: true,
            reason: 'all 1 evaluated checks passed',
          },
        ],
      };
    },
  };
  return { backend, calls };
}

describe('where the engine’s problems go', () => {
  const errors: SuiteFieldError[] = [
    { path: 'tests[1].checks[0].value', line: 12, message: 'bad regex' },
    { path: 'tests[3]', line: 20, message: 'no variable `question`' },
    { path: 'margins.latency_percent', line: 30, message: 'must be a non-negative number' },
    { path: null, line: 1, message: 'the suite has no tests' },
  ];

  it('places each at its field when the editor shows it, and lists the others', () => {
    const document = sampleDocument();
    const shown = fieldPaths(document, 1);
    expect(shown.has('tests[1].checks[0].value')).toBe(true);
    expect(shown.has('tests[1].vars.question')).toBe(true);
    expect(shown.has('tests[0].id')).toBe(false);
    expect(errorsAt(errors, 'tests[1].checks[0].value')).toEqual(['bad regex']);
    expect(unplacedErrors(errors, shown).map((error) => error.message)).toEqual([
      'no variable `question`',
      'must be a non-negative number',
      'the suite has no tests',
    ]);
    expect(unplacedErrors(errors, fieldPaths(document, 0))).toHaveLength(4);
    expect(fieldErrorId('tests[1].checks[0].value')).toBe('suite-field-error-tests[1].checks[0].value');
  });

  it('counts them per test', () => {
    expect([...errorsPerTest(errors)]).toEqual([
      [1, 1],
      [3, 1],
    ]);
    expect(testIndexOf('tests[12].id')).toBe(12);
    expect(testIndexOf('tests[2]')).toBe(2);
    expect(testIndexOf('testsuite')).toBeNull();
    expect(testIndexOf(null)).toBeNull();
  });
});

describe('values in text fields', () => {
  it('shows text as written and anything else as JSON, and reads it back the same way', () => {
    expect(valueText('(?i)down')).toBe('(?i)down');
    expect(valueText(['a', 'b'])).toBe('["a","b"]');
    expect(valueText(600)).toBe('600');
    expect(valueText(null)).toBe('');
    expect(parseValue('(?i)down', false, true)).toEqual({ value: '(?i)down', error: null });
    expect(parseValue('', false, true)).toEqual({ value: null, error: null });
    expect(parseValue('', false, false)).toEqual({ value: '', error: null });
    expect(parseValue('["a", "b"]', true, true)).toEqual({ value: ['a', 'b'], error: null });
    expect(parseValue('["a",', true, true).error).toMatch(/not valid JSON/);
  });

  it('reads thresholds as numbers, empty as none', () => {
    expect(parseThreshold(' 0.8 ')).toEqual({ value: 0.8, error: null });
    expect(parseThreshold('')).toEqual({ value: null, error: null });
    expect(parseThreshold('high').error).toBe('not a number');
  });

  it('makes new tests with a free id and the suite’s variables, and keeps an unknown type listed', () => {
    const document = sampleDocument();
    const test = newTest(document);
    expect(test.id).toBe('t003');
    expect(test.vars).toEqual([{ key: 'question', value: '' }]);
    expect(test.prompt).toBeNull();
    document.tests.push({ ...test, id: 't004' });
    expect(freshTestId(document)).toBe('t005');
    expect(typeChoices(['regex'], 'regexp')).toEqual(['regexp', 'regex', 'not-regex']);
    expect(typeChoices(['regex'], 'not-regex')).toEqual(['regex', 'not-regex']);
  });
});

describe('SuiteEditor', () => {
  it('sends the fields once the typing pauses, and never lets an older answer win', async () => {
    const { backend, calls } = scriptedBackend();
    const editor = new SuiteEditor(backend, 5);
    await editor.openStored('h1');
    expect(editor.document?.tests).toHaveLength(2);
    expect(editor.dryTest).toBe('latency');
    const document = editor.document;
    if (document === null) {
      throw new Error('opened');
    }
    const check = document.tests[1]?.checks[0];
    if (check === undefined) {
      throw new Error('the sample has a second test with a check');
    }
    check.value = '(unclosed';
    editor.editedFields();
    document.name = 'Edited';
    editor.editedFields();
    expect(editor.pending).toBe(true);
    await waitFor(() => expect(editor.pending).toBe(false));
    expect(calls.documents).toHaveLength(1);
    expect(editor.text).toBe('name: Edited\n');
    expect(editor.errors.map((error) => error.path)).toEqual(['tests[1].checks[0].value']);
  });

  it('reads edited YAML into the fields, and keeps the text when it does not read', async () => {
    const { backend } = scriptedBackend();
    const editor = new SuiteEditor(backend, 0);
    await editor.openStored('h1');
    editor.editedText('name: From YAML');
    await waitFor(() => expect(editor.document?.name).toBe('From YAML'));
    editor.editedText('name: [');
    await waitFor(() => expect(editor.document).toBeNull());
    expect(editor.text).toBe('name: [');
    expect(editor.errors.map((error) => error.message)).toEqual(['not valid YAML']);
  });

  it('sends a waiting edit before saving or a dry check', async () => {
    const { backend, calls } = scriptedBackend();
    const editor = new SuiteEditor(backend, 10_000);
    await editor.openStored('h1');
    if (editor.document === null) {
      throw new Error('opened');
    }
    editor.document.name = 'Renamed';
    editor.editedFields();
    await editor.save();
    expect(calls.saved).toEqual(['name: Renamed\n']);
    expect(editor.saved).toMatch(/Saved “Sample”/);
    editor.dryTarget = 'simulated/azure';
    editor.dryTest = 'outages';
    await editor.dryRun();
    expect(calls.dry).toEqual([{ text: 'name: Renamed\n', test_id: 'outages', target: 'simulated/azure' }]);
    expect(editor.dryResult?.cases[0]?.checks[0]?.passed).toBe(true);
  });
});

describe('the Suites view', () => {
  it('opens a suite, shows a problem at its field, and a dry check’s verdict per check', async () => {
    const { backend, calls } = scriptedBackend();
    const app = new AppState(backend);
    await app.refreshTargets();
    render(App, { app });
    await fireEvent.click(screen.getByTestId('nav-suites'));
    const row = await screen.findByTestId('suite-row-Sample');
    await fireEvent.click(within(row).getByTestId('suite-open'));
    await screen.findByTestId('suite-editor');
    await fireEvent.click(screen.getByTestId('suite-test-item-1'));
    expect((screen.getByTestId('suite-test-id') as HTMLInputElement).value).toBe('outages');
    const value = screen.getByTestId('suite-check-value-0') as HTMLInputElement;
    expect(value.value).toBe('(?i)outage|down');
    await fireEvent.input(value, { target: { value: '(unclosed' } });
    const error = await screen.findByTestId('suite-field-error-tests[1].checks[0].value');
    expect(error.textContent).toContain('bad regex');
    expect(within(screen.getByTestId('suite-test-item-1')).getByText('1')).toBeTruthy();
    expect((screen.getByTestId('suite-dry-run') as HTMLButtonElement).disabled).toBe(true);

    await fireEvent.input(value, { target: { value: '(?i)outage' } });
    await waitFor(() => expect(screen.queryByTestId('suite-field-error-tests[1].checks[0].value')).toBeNull());
    expect(calls.documents.at(-1)?.tests[1]?.checks[0]?.value).toBe('(?i)outage');

    await fireEvent.click(screen.getByTestId('suite-tab-raw'));
    expect((screen.getByTestId('suite-raw') as HTMLTextAreaElement).value).toBe('name: Sample\n');
    await fireEvent.click(screen.getByTestId('suite-tab-fields'));

    await fireEvent.change(screen.getByTestId('suite-dry-test'), { target: { value: 'outages' } });
    await fireEvent.click(screen.getByTestId('suite-dry-run'));
    const result = await screen.findByTestId('suite-dry-result');
    expect(within(result).getByTestId('suite-dry-check-0').textContent).toContain('pass');
    expect(within(result).getByTestId('suite-dry-answer').textContent).toBe('Outages happen.');
    expect(calls.dry[0]).toEqual({ text: 'name: Sample\n', test_id: 'outages', target: 'simulated/azure' });
  });
});
