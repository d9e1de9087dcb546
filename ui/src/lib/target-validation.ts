// The engine's target rules (`Target::validate` in crates/engine/src/model/target.rs), checked in the
// form so a mistake is named beside its field before anything is saved. The shell validates again
// on save; this copy exists for the feedback, not for trust. Errors are keyed by field name.

import type { Api, ProviderKind, Target } from './types';

export type FieldErrors = Partial<Record<keyof Target | 'timeouts.connect_ms' | 'timeouts.first_token_ms' | 'timeouts.idle_ms' | 'timeouts.total_ms', string>>;

/** Which `api` values each provider accepts; a provider without an entry takes none. */
export const APIS_BY_PROVIDER: Partial<Record<ProviderKind, readonly Api[]>> = {
  openai: ['chat', 'responses'],
  azure: ['chat', 'responses'],
  bedrock: ['converse', 'invoke', 'mantle-responses', 'mantle-chat', 'mantle-messages'],
};

const MANTLE_APIS: readonly Api[] = ['mantle-responses', 'mantle-chat', 'mantle-messages'];

/** Fields that only some providers accept (the engine rejects them elsewhere). */
const PROVIDER_ONLY: Partial<Record<keyof Target, readonly ProviderKind[]>> = {
  region: ['bedrock'],
  profile: ['bedrock'],
  location: ['vertex'],
  publisher: ['vertex'],
  project: ['openai', 'vertex', 'bedrock'],
  deployment_type: ['azure'],
  resource: ['azure'],
  deployment: ['azure'],
  api_version: ['azure'],
  organization: ['openai'],
  anthropic_version: ['anthropic'],
};

const SECRET_HEADERS = new Set(['authorization', 'api-key', 'x-api-key', 'x-goog-api-key', 'x-amz-security-token']);

/** AWS regions, Google project ids and Vertex locations: letters, digits, `-`, `_`, `.`. */
function isCloudName(value: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(value);
}

function isBlank(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}

export function validateTarget(target: Target): FieldErrors {
  const errors: FieldErrors = {};
  if (target.name.trim() === '') {
    errors.name = 'a target needs a name';
  }
  if (target.model.trim() === '' && target.deployment === undefined) {
    errors.model = 'model is empty';
  }
  if (target.api !== undefined) {
    const allowed = APIS_BY_PROVIDER[target.provider] ?? [];
    if (!allowed.includes(target.api)) {
      errors.api =
        allowed.length === 0
          ? `api does not apply to ${target.provider} targets`
          : `${target.provider} takes api ${allowed.join(' or ')}`;
    }
  }
  if (target.provider === 'bedrock' && target.project !== undefined && !MANTLE_APIS.includes(target.api ?? 'converse')) {
    errors.project = 'project applies to bedrock targets only with a Mantle api (it is sent as OpenAI-Project)';
  }
  if (target.base_model !== undefined && (target.base_model.trim() === '' || /\p{Cc}/u.test(target.base_model))) {
    errors.base_model = 'base_model must name a model (for example gpt-5.4)';
  }
  if (target.key !== undefined && (target.key.trim() === '' || /\p{Cc}/u.test(target.key))) {
    errors.key = 'key must name a keychain entry';
  }
  for (const [field, providers] of Object.entries(PROVIDER_ONLY) as [keyof Target, readonly ProviderKind[]][]) {
    if (target[field] !== undefined && !providers.includes(target.provider)) {
      errors[field] = `${field} applies only to ${providers.join(' and ')} targets`;
    }
  }
  if (target.provider === 'bedrock') {
    if (isBlank(target.region)) {
      errors.region = 'bedrock targets need a region (for example us-east-1)';
    } else if (!isCloudName(target.region ?? '')) {
      errors.region = `'${target.region}' is not an AWS region name`;
    }
  }
  if (target.provider === 'vertex') {
    if (isBlank(target.project)) {
      errors.project = 'vertex targets need a project (the Google Cloud project id)';
    } else if (!isCloudName(target.project ?? '')) {
      errors.project = `'${target.project}' is not a Google Cloud project id`;
    }
    if (isBlank(target.location)) {
      errors.location = 'vertex targets need a location (for example us-east5 or global)';
    } else if (!isCloudName(target.location ?? '')) {
      errors.location = `'${target.location}' is not a Vertex location`;
    }
  }
  if (target.base_url !== undefined && !/^https?:\/\//.test(target.base_url)) {
    errors.base_url = 'base_url must start with http:// or https://';
  }
  if (target.provider === 'azure') {
    if (target.base_url === undefined && isBlank(target.resource)) {
      errors.resource = 'azure targets need a resource (or a base_url)';
    }
    if ((target.deployment !== undefined) !== (target.api_version !== undefined)) {
      const missing = target.deployment === undefined ? 'deployment' : 'api_version';
      errors[missing] = 'the classic path needs both deployment and api_version (omit both for the v1 path)';
    }
    if (target.deployment !== undefined && target.api === 'responses') {
      errors.api = 'responses uses the v1 path: leave deployment and api_version empty';
    }
  }
  for (const name of Object.keys(target.headers ?? {})) {
    if (SECRET_HEADERS.has(name.toLowerCase())) {
      errors.headers = `header '${name}' would hold a secret; use a key instead`;
    }
  }
  if (target.api_key_ref !== undefined && !/^env:.+$/.test(target.api_key_ref)) {
    errors.api_key_ref = 'api_key_ref must be env:VARIABLE (keys are never written into targets)';
  }
  for (const [field, value] of Object.entries(target.timeouts ?? {})) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      errors[`timeouts.${field}` as keyof FieldErrors] = 'a timeout is a positive number of milliseconds';
    }
  }
  return errors;
}
