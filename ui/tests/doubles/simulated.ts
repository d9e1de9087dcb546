// The mock backend's simulated clouds: what each target answers, how fast, and how it fails.
// Like the engine's `modelbench demo`, every target is labelled "simulated"; two of them fail (one
// before any text, one mid-stream) and one answers with HTML, which must stay literal text.

import type { ErrorKind, ProviderKind, Target } from '../../src/lib/types';

const GPT_ANSWER =
  'Running the same model on several clouds lets a team pick the **region, price and latency** that suit each workload, and keeps a second provider ready when one has an outage or a quota limit.\n\nIt also turns procurement into a measured choice: the same prompts, the same model, and numbers that show where it answers fastest and cheapest.';
const CLAUDE_ANSWER =
  'Hosting one model on multiple clouds gives a team *resilience* against a single provider’s outages and rate limits, and lets data stay in the region where it must live.\n\nIt also creates real price and latency competition between the clouds, which only shows up when the same prompt is measured on each:\n\n- time to first token\n- tokens per second\n- cost per answer';
const GEMINI_ANSWER =
  'Different clouds offer the same model with different quotas, regions and prices, so measuring them side by side shows which one fits each workload.\n\nA second cloud is also insurance: when one endpoint is throttled or down, traffic can move without changing the prompt. See [the docs](https://example.com/docs) for details.';
const LLAMA_ANSWER =
  'Because each cloud offers different latency, pricing, regions and limits for the same model, and comparing them side by side shows which fits best.\nA second cloud is also a fallback when the first one is slow or down.';
/** A model that answers with markup: the UI must show it as literal text in every mode. */
export const HTML_ANSWER = '<img src=x onerror=alert(1)> and <script>alert("xss")</script> are shown as text.';

export interface SimulatedFailure {
  /** Tokens streamed before the failure (0: it fails before any text). */
  afterTokens: number;
  kind: ErrorKind;
  status: number | null;
  code: string | null;
  message: string;
}

export interface SimulatedBehaviour {
  answer: string;
  /** Time to first token at latency scale 1. */
  firstTokenMs: number;
  /** Multiplies the backend's tokens per second. */
  speed: number;
  failure?: SimulatedFailure;
  /** US dollars per million output tokens; `undefined`: no price known. */
  outputPricePerMillion?: number;
  inputPricePerMillion?: number;
  region?: string;
}

const SIMULATED_BASE_URL = 'http://127.0.0.1:8787';

function simulated(name: string, provider: ProviderKind, model: string, fields: Partial<Target> = {}): Target {
  return { name, provider, model, base_url: SIMULATED_BASE_URL, label: 'simulated', ...fields };
}

/** The targets `startDemo` adds, in the order they are shown. */
export function simulatedTargets(count?: number): Target[] {
  const scripted = scriptedTargets();
  if (count === undefined) {
    return scripted;
  }
  // Extra panes (the UI benchmark wants 16) copy the well-behaved first six, numbered.
  const wellBehaved = scripted.slice(0, 6);
  const copies = Array.from({ length: Math.max(0, count - scripted.length) }, (_, index) => {
    const source = wellBehaved[index % wellBehaved.length] as Target;
    return { ...source, name: `${source.name} #${Math.floor(index / wellBehaved.length) + 2}` };
  });
  return [...scripted, ...copies].slice(0, count);
}

function scriptedTargets(): Target[] {
  return [
    simulated('openai/gpt-5.4', 'openai', 'gpt-5.4', { base_url: `${SIMULATED_BASE_URL}/v1` }),
    simulated('azure/gpt-5.4 swedencentral', 'azure', 'gpt54-swedencentral', {
      deployment: 'gpt54-swedencentral',
      api_version: '2024-10-21',
    }),
    simulated('anthropic/claude-opus-4-7', 'anthropic', 'claude-opus-4-7'),
    simulated('bedrock/claude-opus-4-7 us-east-1', 'bedrock', 'us.anthropic.claude-opus-4-7-v1:0', {
      region: 'us-east-1',
    }),
    simulated('vertex/gemini-2.5-pro global', 'vertex', 'gemini-2.5-pro', {
      project: 'acme-evals',
      location: 'global',
    }),
    simulated('ollama/llama3.3', 'ollama', 'llama3.3:70b'),
    simulated('anthropic/claude-sonnet-4-6 (overloaded)', 'anthropic', 'claude-sonnet-4-6'),
    simulated('openai/gpt-5.4 (bad key)', 'openai', 'gpt-5.4-badkey', { base_url: `${SIMULATED_BASE_URL}/v1` }),
    simulated('gemini/html-echo', 'gemini', 'gemini-2.5-flash'),
  ];
}

const BEHAVIOURS: Record<string, SimulatedBehaviour> = {
  'openai/gpt-5.4': { answer: GPT_ANSWER, firstTokenMs: 380, speed: 1.1, outputPricePerMillion: 10, inputPricePerMillion: 1.25 },
  'azure/gpt-5.4 swedencentral': {
    answer: GPT_ANSWER,
    firstTokenMs: 290,
    speed: 0.8,
    outputPricePerMillion: 10,
    inputPricePerMillion: 1.25,
    region: 'swedencentral',
  },
  'anthropic/claude-opus-4-7': { answer: CLAUDE_ANSWER, firstTokenMs: 620, speed: 0.9, outputPricePerMillion: 25, inputPricePerMillion: 5 },
  'bedrock/claude-opus-4-7 us-east-1': {
    answer: CLAUDE_ANSWER,
    firstTokenMs: 540,
    speed: 0.75,
    outputPricePerMillion: 25,
    inputPricePerMillion: 5,
    region: 'us-east-1',
  },
  'vertex/gemini-2.5-pro global': { answer: GEMINI_ANSWER, firstTokenMs: 450, speed: 1.3, outputPricePerMillion: 10, inputPricePerMillion: 1.25 },
  'ollama/llama3.3': { answer: LLAMA_ANSWER, firstTokenMs: 150, speed: 0.5 },
  'anthropic/claude-sonnet-4-6 (overloaded)': {
    answer: CLAUDE_ANSWER,
    firstTokenMs: 500,
    speed: 1,
    outputPricePerMillion: 15,
    inputPricePerMillion: 3,
    failure: {
      afterTokens: 18,
      kind: 'overloaded',
      status: null,
      code: 'overloaded_error',
      message: 'Overloaded',
    },
  },
  'openai/gpt-5.4 (bad key)': {
    answer: GPT_ANSWER,
    firstTokenMs: 210,
    speed: 1,
    failure: {
      afterTokens: 0,
      kind: 'auth',
      status: 401,
      code: 'invalid_api_key',
      message: 'Incorrect API key provided: sk-simu****bad.',
    },
  },
  'gemini/html-echo': { answer: HTML_ANSWER, firstTokenMs: 330, speed: 0.7, outputPricePerMillion: 2.5, inputPricePerMillion: 0.3 },
};

const DEFAULT_ANSWERS: Record<ProviderKind, string> = {
  openai: GPT_ANSWER,
  azure: GPT_ANSWER,
  anthropic: CLAUDE_ANSWER,
  bedrock: CLAUDE_ANSWER,
  vertex: GEMINI_ANSWER,
  gemini: GEMINI_ANSWER,
  ollama: LLAMA_ANSWER,
  oci: GPT_ANSWER,
};

/** What a target does in the mock: the demo's scripted behaviour, or a plain answer by provider. */
export function behaviourOf(target: Target): SimulatedBehaviour {
  const original = target.name.replace(/ #\d+$/, '');
  return (
    BEHAVIOURS[original] ?? {
      answer: DEFAULT_ANSWERS[target.provider],
      firstTokenMs: 300,
      speed: 1,
    }
  );
}

/** Splits an answer into token-sized pieces (a word with its leading whitespace). */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}
