// The target editor's model: which fields each provider shows, and the conversion between a
// `Target` and the form's strings. Fields a provider does not use are dropped on save, empty
// fields are omitted (as serde omits `None`), so a saved target holds only what applies.

import { validateTarget, type FieldErrors } from './target-validation';
import type { Api, DeploymentType, ProviderKind, Publisher, Target, TimeoutOverrides } from './types';

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
  | TimeoutField;

export type TargetDraft = { provider: ProviderKind; headers: Record<string, string> } & Record<DraftField, string>;

export interface FieldSpec {
  field: DraftField;
  label: string;
  placeholder?: string;
  hint?: string;
  required?: boolean;
  /** A select instead of a text input; the empty option means "the default". */
  options?: readonly string[];
}

const BASE_URL: FieldSpec = { field: 'base_url', label: 'Base URL', placeholder: 'https://…', hint: 'overrides the endpoint (gateways, compatible servers)' };

/** The provider-specific fields, in the order the form shows them. */
export const PROVIDER_FIELDS: Record<ProviderKind, readonly FieldSpec[]> = {
  openai: [
    { field: 'model', label: 'Model', placeholder: 'gpt-5.4', required: true },
    { field: 'api', label: 'API', options: ['chat', 'responses'], hint: 'default: chat' },
    BASE_URL,
    { field: 'organization', label: 'Organization', placeholder: 'org-…' },
    { field: 'project', label: 'Project', placeholder: 'proj_…' },
  ],
  azure: [
    { field: 'model', label: 'Model', placeholder: 'gpt-5.4', required: true, hint: 'the deployment name on the v1 path' },
    { field: 'resource', label: 'Resource', placeholder: 'contoso-sweden', hint: 'https://{resource}.openai.azure.com (or set Base URL)' },
    BASE_URL,
    { field: 'deployment', label: 'Deployment', placeholder: 'gpt54', hint: 'classic path: with API version; leave both empty for v1' },
    { field: 'api_version', label: 'API version', placeholder: '2024-10-21' },
    { field: 'api', label: 'API', options: ['chat', 'responses'], hint: 'default: chat' },
    { field: 'deployment_type', label: 'Deployment type', options: ['global', 'data-zone-us', 'data-zone-eu', 'regional'], hint: 'default: global; sets the price' },
  ],
  anthropic: [
    { field: 'model', label: 'Model', placeholder: 'claude-opus-4-7', required: true },
    { field: 'anthropic_version', label: 'anthropic-version', placeholder: '2023-06-01' },
    BASE_URL,
  ],
  ollama: [
    { field: 'model', label: 'Model', placeholder: 'llama3.3', required: true },
    { ...BASE_URL, placeholder: 'http://127.0.0.1:11434' },
  ],
  bedrock: [
    { field: 'region', label: 'Region', placeholder: 'us-east-1', required: true },
    { field: 'model', label: 'Model', placeholder: 'us.anthropic.claude-opus-4-7-v1:0', required: true, hint: 'model id, inference profile id or ARN' },
    { field: 'api', label: 'API', options: ['converse', 'invoke', 'mantle-responses', 'mantle-chat', 'mantle-messages'], hint: 'default: converse; mantle-* for Bedrock Mantle (GPT-5.x: mantle-responses)' },
    { field: 'project', label: 'Project', placeholder: 'proj_…', hint: 'Mantle only: a Bedrock project id' },
    { field: 'profile', label: 'AWS profile', placeholder: 'default chain', hint: 'a profile in ~/.aws (SSO works)' },
    BASE_URL,
  ],
  gemini: [
    { field: 'model', label: 'Model', placeholder: 'gemini-2.5-pro', required: true },
    BASE_URL,
  ],
  vertex: [
    { field: 'project', label: 'Project', placeholder: 'acme-evals', required: true },
    { field: 'location', label: 'Location', placeholder: 'us-east5 or global', required: true },
    { field: 'publisher', label: 'Publisher', options: ['google', 'anthropic'], hint: 'default: google (Gemini)' },
    { field: 'model', label: 'Model', placeholder: 'gemini-2.5-pro', required: true },
    BASE_URL,
  ],
};

/** The environment variable a provider's key comes from when a target names none
 * (`ProviderKind::default_key_variable`). Bedrock and Vertex fall back to their cloud's chain. */
export const DEFAULT_KEY_VARIABLES: Record<ProviderKind, string | undefined> = {
  openai: 'OPENAI_API_KEY',
  azure: 'AZURE_OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  gemini: 'GEMINI_API_KEY',
  bedrock: 'AWS_BEARER_TOKEN_BEDROCK',
  vertex: 'GOOGLE_OAUTH_ACCESS_TOKEN',
  ollama: undefined,
};

/** Fields every provider has. */
function commonFields(provider: ProviderKind): readonly FieldSpec[] {
  const variable = DEFAULT_KEY_VARIABLES[provider];
  return [
    { field: 'key', label: 'Keychain entry', placeholder: 'none', hint: 'the name of a key set in the keychain; looked up first' },
    {
      field: 'api_key_ref',
      label: 'Key variable',
      placeholder: variable ? `default: env:${variable}` : 'none needed',
      hint: 'env:VARIABLE, used when no keychain entry is set',
    },
    { field: 'label', label: 'Label', placeholder: 'none', hint: 'shown next to the name' },
    {
      field: 'base_model',
      label: 'Base model',
      placeholder: provider === 'azure' ? 'gpt-5.4' : 'from the model id',
      hint:
        provider === 'azure'
          ? 'the model the deployment runs: prices it and groups it with the same model on other clouds'
          : 'the model as its maker names it; resolved from the model id unless set',
    },
  ];
}

export const TIMEOUT_FIELDS: readonly FieldSpec[] = [
  { field: 'connect_ms', label: 'Connect', placeholder: '10000' },
  { field: 'first_token_ms', label: 'First token', placeholder: '120000' },
  { field: 'idle_ms', label: 'Idle', placeholder: '60000' },
  { field: 'total_ms', label: 'Total', placeholder: '600000' },
];

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

/** The fields the form shows for `provider`. */
export function fieldsFor(provider: ProviderKind): readonly FieldSpec[] {
  return [{ field: 'name', label: 'Name', placeholder: 'unique, e.g. gpt-openai', required: true }, ...PROVIDER_FIELDS[provider], ...commonFields(provider)];
}

/** The target a draft describes (only the fields its provider shows), with the engine's
 * complaints about it keyed by field. */
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
    } else {
      target[field] = text;
    }
  }
  if (Object.keys(draft.headers).length > 0) {
    target.headers = { ...draft.headers };
  }
  const timeouts: TimeoutOverrides = {};
  for (const field of TIMEOUT_KEYS) {
    const text = draft[field].trim();
    if (text !== '') {
      timeouts[field] = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    }
  }
  if (Object.keys(timeouts).length > 0) {
    target.timeouts = timeouts;
  }
  return { target, errors: validateTarget(target) };
}

/** Where a target lives, for pane headers and the target list: region, location, deployment
 * or resource, whichever the provider uses. */
export function targetPlace(target: Target): string | undefined {
  switch (target.provider) {
    case 'bedrock':
      return target.region;
    case 'vertex':
      return target.location;
    case 'azure':
      return target.deployment ?? target.resource ?? 'v1';
    default:
      return undefined;
  }
}
