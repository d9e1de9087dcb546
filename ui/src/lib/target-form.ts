// The target editor's model: which fields each provider shows (the engine's field table, generated
// into ./bindings/rules.ts), and the conversion between a `Target` and the form's strings. Fields a provider does not use are dropped on save, empty
// fields are omitted (as serde omits `None`), so a saved target holds only what applies.

import type { FieldError } from './bindings/FieldError';
import type { FieldSpec as EngineFieldSpec } from './bindings/FieldSpec';
import type { ProviderFields } from './bindings/ProviderFields';
import { FIELD_TABLE } from './bindings/rules';
import type { Api, AzureAuth, DeploymentType, ProviderKind, Publisher, Target, TimeoutOverrides } from './types';

export type TimeoutField = keyof TimeoutOverrides;
export type DraftField =
  | 'name'
  | 'model'
  | 'api'
  | 'base_url'
  | 'resource'
  | 'deployment'
  | 'api_version'
  | 'key'
  | 'api_key_ref'
  | 'organization'
  | 'project'
  | 'region'
  | 'profile'
  | 'location'
  | 'publisher'
  | 'anthropic_version'
  | 'label'
  | 'base_model'
  | 'deployment_type'
  | 'auth'
  | 'compartment_id'
  | TimeoutField;

export type TargetDraft = { provider: ProviderKind; headers: Record<string, string> } & Record<DraftField, string>;

/** One field of the form, as the engine's field table describes it. */
export type FieldSpec = EngineFieldSpec & { field: DraftField };

/** Problems with a target, keyed by field (`region`, `timeouts.idle_ms`): the engine's
 * `validate_target` answer, plus the form's own "this is not a number" for text it cannot send. */
export type FieldErrors = Partial<Record<string, string>>;

function providerEntry(provider: ProviderKind): ProviderFields {
  const entry = FIELD_TABLE.providers.find((candidate) => candidate.provider === provider);
  if (entry === undefined) {
    throw new Error(`the engine's field table has no ${provider} entry`);
  }
  return entry;
}

/** Every provider, in the order the engine lists them (and the target form offers them). */
export const PROVIDER_KINDS: readonly ProviderKind[] = FIELD_TABLE.providers.map((entry) => entry.provider);

/** The environment variable a provider's key comes from when a target names none. Bedrock and
 * Vertex fall back to their cloud's chain. */
export function defaultKeyVariable(provider: ProviderKind): string | undefined {
  return providerEntry(provider).default_key_variable;
}

export const TIMEOUT_FIELDS = FIELD_TABLE.timeouts as readonly FieldSpec[];

const TIMEOUT_KEYS: readonly TimeoutField[] = ['connect_ms', 'first_token_ms', 'idle_ms', 'total_ms'];

export function emptyDraft(provider: ProviderKind = 'openai'): TargetDraft {
  return {
    provider,
    headers: {},
    name: '',
    model: '',
    api: '',
    base_url: '',
    resource: '',
    deployment: '',
    api_version: '',
    key: '',
    api_key_ref: '',
    organization: '',
    project: '',
    region: '',
    profile: '',
    location: '',
    publisher: '',
    anthropic_version: '',
    label: '',
    base_model: '',
    deployment_type: '',
    auth: '',
    compartment_id: '',
    connect_ms: '',
    first_token_ms: '',
    idle_ms: '',
    total_ms: '',
  };
}

export function draftFromTarget(target: Target): TargetDraft {
  const draft = emptyDraft(target.provider);
  draft.headers = { ...(target.headers ?? {}) };
  for (const field of Object.keys(draft) as (keyof TargetDraft)[]) {
    if (field === 'provider' || field === 'headers') {
      continue;
    }
    const value = target[field as keyof Target];
    if (typeof value === 'string') {
      draft[field] = value;
    }
  }
  for (const field of TIMEOUT_KEYS) {
    const value = target.timeouts?.[field];
    draft[field] = value === undefined ? '' : String(value);
  }
  return draft;
}

/** The fields the form shows for `provider`, in order (the engine's field table). */
export function fieldsFor(provider: ProviderKind): readonly FieldSpec[] {
  return providerEntry(provider).fields as readonly FieldSpec[];
}

/** The engine's field errors keyed by field, the first message of each. */
export function errorsByField(errors: readonly FieldError[]): FieldErrors {
  const byField: FieldErrors = {};
  for (const error of errors) {
    byField[error.field] ??= error.message;
  }
  return byField;
}

/** The target a draft describes (only the fields its provider shows), and the fields whose text
 * is not a value at all (a timeout that is not a whole number). Whether the target is good is
 * the engine's to say (`Backend.validateTarget`). */
export function targetFromDraft(draft: TargetDraft): { target: Target; errors: FieldErrors } {
  const shown = new Set<DraftField>(fieldsFor(draft.provider).map((spec) => spec.field));
  const value = (field: DraftField): string | undefined => {
    const text = draft[field].trim();
    return shown.has(field) && text !== '' ? text : undefined;
  };
  const target: Target = { name: draft.name.trim(), provider: draft.provider, model: draft.model.trim() };
  const optional: Exclude<DraftField, 'name' | 'model' | TimeoutField>[] = [
    'api',
    'base_url',
    'resource',
    'deployment',
    'api_version',
    'key',
    'api_key_ref',
    'organization',
    'project',
    'region',
    'profile',
    'location',
    'publisher',
    'anthropic_version',
    'label',
    'base_model',
    'deployment_type',
    'auth',
    'compartment_id',
  ];
  for (const field of optional) {
    const text = value(field);
    if (text === undefined) {
      continue;
    }
    if (field === 'api') {
      target.api = text as Api;
    } else if (field === 'publisher') {
      target.publisher = text as Publisher;
    } else if (field === 'deployment_type') {
      target.deployment_type = text as DeploymentType;
    } else if (field === 'auth') {
      target.auth = text as AzureAuth;
    } else {
      target[field] = text;
    }
  }
  if (Object.keys(draft.headers).length > 0) {
    target.headers = { ...draft.headers };
  }
  const timeouts: TimeoutOverrides = {};
  const errors: FieldErrors = {};
  for (const field of TIMEOUT_KEYS) {
    const text = draft[field].trim();
    if (text === '') {
      continue;
    }
    if (/^\d+$/.test(text)) {
      timeouts[field] = Number(text);
    } else {
      errors[`timeouts.${field}`] = 'a timeout is a whole number of milliseconds';
    }
  }
  if (Object.keys(timeouts).length > 0) {
    target.timeouts = timeouts;
  }
  return { target, errors };
}

/** Where a target lives, for pane headers and the target list: region, location, deployment
 * or resource, whichever the provider uses. */
export function targetPlace(target: Target): string | undefined {
  switch (target.provider) {
    case 'bedrock':
    case 'oci':
      return target.region;
    case 'vertex':
      return target.location;
    case 'azure':
      return target.deployment ?? target.resource ?? 'v1';
    default:
      return undefined;
  }
}
