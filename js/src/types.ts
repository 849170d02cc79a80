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
