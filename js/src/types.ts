// The shapes the client takes and returns. Field names are the JavaScript spelling of the server's
// (max_output_tokens -> maxTokens, ttft_ms -> ttftMs).

/** A prompt: text (tokenized by the server, BOS added as the model says) or token ids. */
export type Prompt = string | readonly number[];

/** A chat message as /v1/chat/completions takes it. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string | null;
  [extra: string]: unknown;
}

/** Options of every generation method. Unset fields take the server's defaults. */
export interface GenerateOptions {
  /** Tokens to generate at most (default: until EOS or the end of the context). */
  maxTokens?: number;
  /** 0: greedy; default 1. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Token id -> bias added to its logit. */
  logitBias?: Record<number, number>;
  /** The same seed gives the same output. */
  seed?: number;
  /** The text ends before the first of these strings. */
  stop?: string | string[];
  stopTokenIds?: number[];
  ignoreEos?: boolean;
  /** 0: each token's log-probability; k: plus the k most likely alternatives (at most 20). */
  logprobs?: number;
  /** N-gram speculative decoding for this request (it changes the speed, never the output). */
  speculation?: boolean;
  /** Draft tokens per step at most (1-31). */
  maxDraft?: number;
  /** Template variables for chat(), e.g. { enable_thinking: false }. */
  chatTemplateKwargs?: Record<string, unknown>;
  /** Aborts the request (a stream stops; the server cancels the request). */
  signal?: AbortSignal;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the prefix cache. */
  cachedTokens: number;
}

export interface Timings {
  /** Submitted -> first scheduled. */
  queueMs: number;
  /** Submitted -> first generated token. */
  ttftMs: number;
  totalMs: number;
  decodeTokensPerS: number;
  preemptions: number;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
  /** The most likely tokens at this position, most likely first. */
  top: { token: number; logprob: number }[];
}

export type FinishReason = 'stop' | 'length';

/** A finished request. */
export interface Generation {
  text: string;
  tokenIds: number[];
  finishReason: FinishReason;
  usage: Usage;
  timings: Timings;
  /** Present when logprobs was asked for. */
  logprobs?: TokenLogprob[];
}

/** What one engine step added to a streamed request: final text (complete UTF-8, never part of a
 * stop string) and its token ids (several when speculation accepted a draft). */
export interface StreamChunk {
  text: string;
  tokenIds: number[];
  logprobs?: TokenLogprob[];
}

export interface TokenizeResult {
  tokens: number[];
  count: number;
  /** The longest sequence the server runs (prompt plus generation). */
  maxModelLen: number;
}

export interface ModelCard {
  id: string;
  created: number;
  ownedBy: string;
  maxModelLen: number;
}

export type Health = 'ok' | 'loading' | 'shutting_down';

/** GET /info: the served model and how it is served (the web console's "Model" panel). */
export interface ServerInfo {
  model: {
    id: string; path: string; architecture: string; vocab_size: number; hidden_size: number;
    intermediate_size: number; num_layers: number; num_heads: number; num_kv_heads: number; head_dim: number;
    max_position_embeddings: number; tokenizer: string; chat_template: boolean; embedding_pooling: string;
    experts?: { count: number; per_token: number };
  };
  engine: { backend: string; kv_cache: string; max_context: number; max_num_seqs: number; speculation: string;
            max_draft: number };
  server: { max_concurrent: number; aliases: string[]; started: number };
}

/** One generation request running on the server (GET /requests). */
export interface RunningRequest {
  id: string;
  route: string;
  ageS: number;
  /** Null until its first token. */
  ttftS: number | null;
  choices: number;
  promptTokens: number;
  completionTokens: number;
}
