// The data the UI exchanges with the shell, mirroring the engine's serde output exactly.
//
// These hand-written types are a stopgap: they will be replaced by types generated from the Rust
// definitions (ts-rs) into `ui/src/lib/bindings/`, and a CI check will fail when the generated
// files drift from the Rust types. So every name here is the Rust type's name, every field is the
// serde field name (snake_case), and optionality follows serde exactly:
//   - `field?: T`        the Rust field is `skip_serializing_if` (omitted when None/empty);
//   - `field: T | null`  the Rust field is a plain `Option<T>` (always present, `null` when None).
// Rust integers (u32, u64, i64) arrive as JSON numbers; the values involved stay far below 2^53.
//
// Sources: crates/engine/src/{target,event,record,error,request,store}.rs. `RunRequest` and
// `RunMessage` at the end are the shell's IPC types (src-tauri), defined here first.

/** `serde_json::Value`: kept verbatim, never interpreted by the UI. */
export type JsonValue = unknown;

// ---- target.rs -------------------------------------------------------------------------------

/** `#[serde(rename_all = "lowercase")]` */
export type ProviderKind = 'openai' | 'azure' | 'anthropic' | 'ollama' | 'bedrock' | 'gemini' | 'vertex';

export const PROVIDER_KINDS: readonly ProviderKind[] = [
  'openai',
  'azure',
  'anthropic',
  'ollama',
  'bedrock',
  'gemini',
  'vertex',
];

/** `chat`/`responses` for OpenAI and Azure, `converse`/`invoke` for Bedrock. */
export type Api = 'chat' | 'responses' | 'converse' | 'invoke';

/** Who publishes a Vertex model. */
export type Publisher = 'google' | 'anthropic';

/** Per-target timeouts in milliseconds; every field is omitted when unset. */
export interface TimeoutOverrides {
  connect_ms?: number;
  first_token_ms?: number;
  idle_ms?: number;
  total_ms?: number;
}

/** A named place to send a prompt. Never holds a secret: `key` names a keychain entry and
 * `api_key_ref` an environment variable. `headers` and `timeouts` are omitted when empty. */
export interface Target {
  name: string;
  provider: ProviderKind;
  model: string;
  api?: Api;
  base_url?: string;
  resource?: string;
  deployment?: string;
  api_version?: string;
  key?: string;
  api_key_ref?: string;
  organization?: string;
  project?: string;
  region?: string;
  profile?: string;
  location?: string;
  publisher?: Publisher;
  anthropic_version?: string;
  headers?: Record<string, string>;
  timeouts?: TimeoutOverrides;
  label?: string;
}

// ---- request.rs ------------------------------------------------------------------------------

export type Role = 'user' | 'assistant';

export interface Message {
  role: Role;
  content: string;
}

export interface Prompt {
  system?: string;
  messages: Message[];
}

/** Sampling parameters; an omitted field means "the cloud's default". */
export interface Parameters {
  temperature?: number;
  top_p?: number;
  max_output_tokens?: number;
  stop_sequences?: string[];
  seed?: number;
}

// ---- error.rs --------------------------------------------------------------------------------

/** `#[serde(rename_all = "snake_case")]` */
export type ErrorKind =
  | 'auth'
  | 'quota'
  | 'rate_limited'
  | 'overloaded'
  | 'server'
  | 'validation'
  | 'content_filter'
  | 'connect'
  | 'timeout'
  | 'network'
  | 'protocol'
  | 'cancelled';

/** A failure of one target's request, before or during its stream. */
export interface ProviderError {
  kind: ErrorKind;
  target: string;
  provider: string;
  status: number | null;
  code: string | null;
  message: string;
  retryable: boolean;
  retry_after_ms?: number;
}

// ---- event.rs --------------------------------------------------------------------------------

export interface ResponseMeta {
  request_id: string | null;
  reported_model: string | null;
  region: string | null;
}

export interface Usage {
  input_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  cached_input_tokens: number | null;
  cache_creation_input_tokens: number | null;
  total_tokens: number | null;
  /** The cloud's own usage object; omitted when null. */
  raw?: JsonValue;
}

/** `#[serde(rename_all = "snake_case")]` */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'refusal' | 'error' | 'other';

/** `#[serde(tag = "type", rename_all = "snake_case")]`: newtype variants (`started`, `usage`,
 * `error`) carry their struct's fields beside the tag. */
export type StreamEvent =
  | ({ type: 'started' } & ResponseMeta)
  | { type: 'text_delta'; text: string }
  | { type: 'reasoning_delta'; text: string }
  | { type: 'tool_call_delta'; index: number; id?: string; name?: string; arguments: string }
  | ({ type: 'usage' } & Usage)
  | { type: 'server_timing'; latency_ms?: number; first_byte_latency_ms?: number }
  | { type: 'finished'; reason: FinishReason; raw_reason?: string }
  | ({ type: 'error' } & ProviderError);

/** Which prompt, which target (index into the run's targets), which repeat. */
export interface ResponseKey {
  prompt_index: number;
  target_index: number;
  repeat_index: number;
}

export interface StampedEvent {
  response_key: ResponseKey;
  target: string;
  /** 0-based; retries before first content start a new attempt. */
  attempt: number;
  /** Within the response, across attempts. */
  sequence: number;
  /** Microseconds since the response's first attempt started (monotonic). */
  elapsed_us: number;
  event: StreamEvent;
}

// ---- record.rs -------------------------------------------------------------------------------

/** `RunId` is `#[serde(transparent)]` over a UUIDv7: its canonical string. */
export type RunId = string;

export interface RunRecord {
  id: RunId;
  started_at_ms: number;
  parameters: Parameters;
  prompts: Prompt[];
  targets: Target[];
  repeat: number;
}

export interface ToolCall {
  index: number;
  id: string | null;
  name: string | null;
  arguments: string;
}

/** Measured by the engine on a monotonic clock from the first attempt's request. */
export interface Metrics {
  time_to_first_token_ms: number | null;
  total_ms: number;
  output_tokens_per_second: number | null;
  content_chunks: number;
  gap_p50_ms: number | null;
  gap_p95_ms: number | null;
  gap_max_ms: number | null;
  server_latency_ms: number | null;
  server_first_byte_ms: number | null;
}

export interface ResponseRecord {
  run_id: RunId;
  key: ResponseKey;
  target: string;
  provider: string;
  model: string;
  request_id: string | null;
  reported_model: string | null;
  region: string | null;
  text: string;
  reasoning: string;
  tool_calls: ToolCall[];
  finish_reason: FinishReason | null;
  raw_finish_reason: string | null;
  usage: Usage;
  metrics: Metrics;
  /** `null` when the cost cannot be known; never a silent 0. */
  cost_usd: number | null;
  /** The price's origin, or why there is no cost. */
  cost_source: string | null;
  /** True only when the cloud ended the stream normally. Partial output is kept either way. */
  complete: boolean;
  error: ProviderError | null;
  attempts: number;
  unsupported_parameters: string[];
  started_at_ms: number;
  finished_at_ms: number;
}

// ---- store.rs --------------------------------------------------------------------------------

/** One line of the run list. */
export interface RunSummary {
  id: RunId;
  started_at_ms: number;
  finished_at_ms: number | null;
  /** `running`, `completed` or `cancelled`. */
  status: string;
  first_prompt: string;
  prompt_count: number;
  target_names: string[];
  repeat: number;
  response_count: number;
  failed_count: number;
}

/** A run as stored, with its responses ordered by prompt, target, repeat. */
export interface StoredRun {
  record: RunRecord;
  finished_at_ms: number | null;
  status: string;
  responses: ResponseRecord[];
}

export interface StoredEvent {
  sequence: number;
  attempt: number;
  elapsed_us: number;
  event: StreamEvent;
}

/** A full-text match; `snippet` marks matches `[like this]`. */
export interface SearchHit {
  run_id: RunId;
  /** `prompt`, `system` or `response`. */
  kind: string;
  target: string | null;
  prompt_index: number;
  snippet: string;
}

// ---- the shell's IPC types (src-tauri) ---------------------------------------------------------

/** What `start_run` asks for: one prompt to the named saved targets. */
export interface RunRequest {
  targets: string[];
  system?: string;
  prompt: string;
  parameters: Parameters;
}

/** What the run channel carries, tagged on `kind`. `events` batches are sent at most every
 * ~16 ms; each response ends with one `response`; the run ends with `finished` or `failed`. */
export type RunMessage =
  | { kind: 'started'; run_id: RunId; targets: Target[] }
  | { kind: 'events'; events: StampedEvent[] }
  | { kind: 'response'; response: ResponseRecord }
  | { kind: 'finished'; run_id: RunId }
  | { kind: 'failed'; message: string };

/** How a command rejects: the shell's error edge sends `{kind, message, retryable}`; a plain
 * string is accepted too. */
export interface CommandError {
  kind: string;
  message: string;
  retryable?: boolean;
}
