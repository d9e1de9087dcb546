// The Suites editor's plain logic: where each of the engine's problems is shown (at its field's
// slot, on the tests list, or in the list above the editor), how a value is shown in a text field
// and read back, and new rows. The problems themselves are the engine's (`check_suite_document`,
// `check_suite_text`): nothing here decides whether a suite is valid.

import type { DocumentCheck, DocumentTest, JsonValue, SuiteDocument, SuiteFieldError } from './types';

/** The `data-testid` of the error slot at `path` (`tests[1].checks[0].value`). */
export function fieldErrorId(path: string): string {
  return `suite-field-error-${path}`;
}

/** The prefix of every path inside test `index`. */
export function testPath(index: number): string {
  return `tests[${index}]`;
}

/** The test a path is inside (`tests[3].checks[0]` is 3), or null. */
export function testIndexOf(path: string | null): number | null {
  const match = path === null ? null : /^tests\[(\d+)\](?:$|[.[])/.exec(path);
  return match ? Number(match[1]) : null;
}

/** The paths the editor has a slot for: the suite's own fields, and those of the open test. */
export function fieldPaths(document: SuiteDocument, openTest: number | null): Set<string> {
  const paths = new Set(['name', 'description', 'defaults.system']);
  const test = openTest === null ? undefined : document.tests[openTest];
  if (openTest === null || test === undefined) {
    return paths;
  }
  const at = testPath(openTest);
  for (const field of ['', '.id', '.prompt', '.vars', '.checks']) {
    paths.add(`${at}${field}`);
  }
  for (const entry of test.vars) {
    paths.add(`${at}.vars.${entry.key}`);
  }
  test.checks.forEach((_, index) => {
    for (const field of ['', '.type', '.value', '.threshold']) {
      paths.add(`${at}.checks[${index}]${field}`);
    }
  });
  return paths;
}

/** The messages of the problems at exactly `path`. */
export function errorsAt(errors: readonly SuiteFieldError[], path: string): string[] {
  return errors.filter((error) => error.path === path).map((error) => error.message);
}

/** The problems the editor has no slot for: the whole suite's, and those in closed tests or in
 * fields without an editor (parameters, margins, messages). */
export function unplacedErrors(errors: readonly SuiteFieldError[], shown: ReadonlySet<string>): SuiteFieldError[] {
  return errors.filter((error) => error.path === null || !shown.has(error.path));
}

/** How many problems each test has, by test index. */
export function errorsPerTest(errors: readonly SuiteFieldError[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const error of errors) {
    const index = testIndexOf(error.path);
    if (index !== null) {
      counts.set(index, (counts.get(index) ?? 0) + 1);
    }
  }
  return counts;
}

/** Whether a value is edited as JSON text (lists, objects, numbers) rather than as plain text. */
export function isJsonValue(value: JsonValue | null | undefined): boolean {
  return value !== null && value !== undefined && typeof value !== 'string';
}

/** A value as its text field shows it: text as written, anything else as JSON. */
export function valueText(value: JsonValue | null | undefined): string {
  if (value === null || value === undefined) {
    return '';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A text field's content back into a value: plain text stays text (empty is no value when
 * `emptyIsNone`); a field edited as JSON must hold JSON. */
export function parseValue(
  text: string,
  asJson: boolean,
  emptyIsNone: boolean,
): { value: JsonValue | null; error: string | null } {
  if (text.trim() === '' && (emptyIsNone || asJson)) {
    return { value: null, error: null };
  }
  if (!asJson) {
    return { value: text, error: null };
  }
  try {
    return { value: JSON.parse(text) as JsonValue, error: null };
  } catch {
    return { value: null, error: 'not valid JSON (write a list as ["a", "b"])' };
  }
}

/** A threshold field's text: empty is none. */
export function parseThreshold(text: string): { value: number | null; error: string | null } {
  const trimmed = text.trim();
  if (trimmed === '') {
    return { value: null, error: null };
  }
  const value = Number(trimmed);
  return Number.isFinite(value) ? { value, error: null } : { value: null, error: 'not a number' };
}

/** An id no test of `document` has: `t` and the next position, three digits. */
export function freshTestId(document: SuiteDocument): string {
  const taken = new Set(document.tests.map((test) => test.id));
  let position = document.tests.length + 1;
  let id = `t${String(position).padStart(3, '0')}`;
  while (taken.has(id)) {
    position += 1;
    id = `t${String(position).padStart(3, '0')}`;
  }
  return id;
}

export function newCheck(type = 'icontains'): DocumentCheck {
  return { type, value: '', threshold: null, other: [] };
}

/** A new test: the variables the suite's first test has (empty), one check. */
export function newTest(document: SuiteDocument): DocumentTest {
  const vars = (document.tests[0]?.vars ?? []).map((entry) => ({ key: entry.key, value: '' }));
  return {
    id: freshTestId(document),
    description: null,
    vars,
    prompt: document.prompts.length === 0 ? '' : null,
    messages: null,
    checks: [newCheck()],
    other: [],
  };
}

/** A new suite with one test, for "New suite". */
export function newSuite(): SuiteDocument {
  const document: SuiteDocument = {
    name: 'New suite',
    description: null,
    system: null,
    parameters: [],
    prompts: [],
    tests: [],
    other: [],
  };
  document.tests.push(newTest(document));
  return document;
}

/** The check types a type list offers: the engine's, plus the one a check has if it is not
 * among them (so an unknown type stays visible with its error). */
export function typeChoices(checkTypes: readonly string[], current: string): string[] {
  const choices = [...checkTypes];
  for (const type of checkTypes) {
    choices.push(`not-${type}`);
  }
  if (current !== '' && !choices.includes(current)) {
    choices.unshift(current);
  }
  return choices;
}
