// AxClient: the ax-engine server's own routes, typed. The OpenAI-compatible routes are best used
// through the official `openai` SDK; this covers what it does not: token-level generation
// (/v1/generate[/stream]: token ids, timings and log-probs back, messages or text or ids in),
// the tokenizer (/tokenize, /detokenize), the chat template (/apply-template), /metrics parsed,
// /health, /info, /requests and /v1/models.
//
//   const ax = new AxClient({ baseURL: 'http://127.0.0.1:8080' });
//   const g = await ax.generate('def fib(n):', { maxTokens: 32, temperature: 0 });
//   for await (const chunk of await ax.stream('import os\n', { maxTokens: 32 })) process.stdout.write(chunk.text);
import { APIConnectionError, APIError, APITimeoutError, APIUserAbortError, AxError, apiErrorOf } from './errors.js';
import { Metrics, parseMetrics } from './metrics.js';
import { sseData } from './sse.js';
import type {
  ChatMessage, FinishReason, GenerateOptions, Generation, Health, ModelCard, Prompt, RunningRequest, ServerInfo,
  StreamChunk, Timings, TokenizeResult, TokenLogprob, Usage,
} from './types.js';

export interface ClientOptions {
  /** The server, "http://host:port" (a trailing /v1 is fine). Default http://127.0.0.1:8080. */
  baseURL?: string;
  /** Sent as a bearer token (servers started with --api-key need it). */
  apiKey?: string;
  /** How long to wait for a response, and between two pieces of a stream (ms). Default 600000. */
  timeoutMs?: number;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
}

// ---- the wire format ------------------------------------------------------------------------

interface WireUsage { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } }
interface WireTimings { queue_ms: number; ttft_ms: number; total_ms: number; decode_tokens_per_s: number; preemptions: number }
interface WireLogprob { token: number; logprob: number; top_logprobs: { token: number; logprob: number }[] }
interface WireEvent {
  tokens?: number[]; text?: string; logprobs?: WireLogprob[];
  finish_reason?: FinishReason; usage?: WireUsage; timings?: WireTimings;
  error?: { message?: string; type?: string; param?: string; code?: string };
}

const usageOf = (u: WireUsage): Usage => ({
  promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens,
  cachedTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
});
const timingsOf = (t: WireTimings): Timings => ({
  queueMs: t.queue_ms, ttftMs: t.ttft_ms, totalMs: t.total_ms, decodeTokensPerS: t.decode_tokens_per_s,
  preemptions: t.preemptions,
});
const logprobsOf = (l: WireLogprob[]): TokenLogprob[] =>
  l.map((t) => ({ token: t.token, logprob: t.logprob, top: t.top_logprobs }));

/** The /v1/generate fields for the options (without the input). */
export function generateBody(o: GenerateOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const sampling: Record<string, unknown> = {};
  const put = (to: Record<string, unknown>, key: string, v: unknown) => {
    if (v !== undefined && v !== null) to[key] = v;
  };
  put(sampling, 'temperature', o.temperature);
  put(sampling, 'top_p', o.topP);
  put(sampling, 'top_k', o.topK);
  put(sampling, 'min_p', o.minP);
  put(sampling, 'repetition_penalty', o.repetitionPenalty);
  put(sampling, 'presence_penalty', o.presencePenalty);
  put(sampling, 'frequency_penalty', o.frequencyPenalty);
  put(sampling, 'logit_bias', o.logitBias);
  put(sampling, 'seed', o.seed);
  if (Object.keys(sampling).length > 0) body.sampling = sampling;
  put(body, 'max_output_tokens', o.maxTokens);
  put(body, 'stop', o.stop);
  put(body, 'stop_token_ids', o.stopTokenIds);
  put(body, 'ignore_eos', o.ignoreEos);
  if (o.logprobs !== undefined) {
    body.logprobs = true;
    body.top_logprobs = o.logprobs;
  }
  const speculation: Record<string, unknown> = {};
  if (o.speculation !== undefined) speculation.mode = o.speculation ? 'ngram' : 'off';
  put(speculation, 'max_draft', o.maxDraft);
  if (Object.keys(speculation).length > 0) body.speculation = speculation;
  put(body, 'chat_template_kwargs', o.chatTemplateKwargs);
  return body;
}

function inputOf(prompt: Prompt): Record<string, unknown> {
  if (typeof prompt === 'string') return { input_text: prompt };
  if (Array.isArray(prompt)) return { input_tokens: [...prompt] };
  throw new TypeError('prompt must be a string or an array of token ids');
}

// ---- a request in flight: its abort controller, its deadline --------------------------------

class Call {
  readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timedOut = false;
  private readonly onUserAbort = () => this.controller.abort();

  constructor(private readonly timeoutMs: number, private readonly userSignal?: AbortSignal) {
    if (userSignal?.aborted) this.controller.abort();
    userSignal?.addEventListener('abort', this.onUserAbort, { once: true });
    this.touch();
  }

  /** Data arrived: the timeout counts from now. */
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.timeoutMs);
  }

  done(): void {
    clearTimeout(this.timer);
    this.userSignal?.removeEventListener('abort', this.onUserAbort);
  }

  /** What an exception from fetch or a body read means. */
  translate(e: unknown, what: string): AxError {
    if (e instanceof AxError) return e;
    if (this.timedOut) return new APITimeoutError(`${what}: no data for ${this.timeoutMs} ms`, { cause: e });
    if (this.controller.signal.aborted) return new APIUserAbortError(`${what}: aborted`, { cause: e });
    const cause = (e as { cause?: { message?: string } })?.cause?.message;
    return new APIConnectionError(`${what}: ${cause ?? (e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

// ---- streams ---------------------------------------------------------------------------------

/** A streamed request: iterate it (once) for StreamChunks; once it ends finishReason, usage and
 * timings are set. Leaving the loop early (break, an exception) cancels the request on the server. */
export class GenerationStream implements AsyncIterable<StreamChunk> {
  finishReason: FinishReason | null = null;
  usage: Usage | null = null;
  timings: Timings | null = null;
  private started = false;

  /** @internal */
  constructor(private readonly events: AsyncGenerator<string>, private readonly call: Call, private readonly what: string) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<StreamChunk> {
    if (this.started) throw new AxError('a stream can be iterated only once');
    this.started = true;
    try {
      for (;;) {
        let next: IteratorResult<string>;
        try {
          next = await this.events.next();
        } catch (e) {
          throw this.call.translate(e, this.what);
        }
        if (next.done) break;
        this.call.touch();
        const ev = JSON.parse(next.value) as WireEvent;
        if (ev.error) {
          const err = ev.error;
          throw new APIError(err.message ?? 'the request failed', err.code === 'cancelled' ? 503 : 500, err.type ?? null,
                             err.param || null, err.code ?? null);
        }
        if (ev.finish_reason) {
          this.finishReason = ev.finish_reason;
          if (ev.usage) this.usage = usageOf(ev.usage);
          if (ev.timings) this.timings = timingsOf(ev.timings);
          continue;
        }
        const chunk: StreamChunk = { text: ev.text ?? '', tokenIds: ev.tokens ?? [] };
        if (ev.logprobs) chunk.logprobs = logprobsOf(ev.logprobs);
        yield chunk;
      }
      if (this.finishReason === null) throw new APIConnectionError(`${this.what}: the stream ended before the request finished`);
    } finally {
      await this.events.return(undefined);  // closes the connection if it is still open
      this.call.done();
    }
  }

  /** Reads the rest of the stream and returns its text. */
  async text(): Promise<string> {
    let out = '';
    for await (const chunk of this) out += chunk.text;
    return out;
  }

  /** Stops the request (the server cancels it). */
  abort(): void {
    this.call.controller.abort();
  }
}

// ---- the client ------------------------------------------------------------------------------

export class AxClient {
  readonly baseURL: string;
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions = {}) {
    const base = (options.baseURL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    this.baseURL = base.endsWith('/v1') ? base.slice(0, -3) : base;
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Generates from a prompt (text or token ids) and returns the finished request. */
  generate(prompt: Prompt, options: GenerateOptions = {}): Promise<Generation> {
    return this.generateFrom(inputOf(prompt), options);
  }

  /** Streams the generation from a prompt. Errors in the request (a bad parameter) throw here;
   * errors during generation throw from the iteration. */
  stream(prompt: Prompt, options: GenerateOptions = {}): Promise<GenerationStream> {
    return this.streamFrom(inputOf(prompt), options);
  }

  /** The reply to a conversation, rendered with the model's chat template as chat completions renders it. */
  chat(messages: readonly ChatMessage[], options: GenerateOptions = {}): Promise<Generation> {
    return this.generateFrom({ messages }, options);
  }

  chatStream(messages: readonly ChatMessage[], options: GenerateOptions = {}): Promise<GenerationStream> {
    return this.streamFrom({ messages }, options);
  }

  /** Token ids of a text (addSpecial: BOS/EOS as the model's config says; default true), or of a
   * conversation rendered with the chat template (tools included as chat completions includes them). */
  async tokenize(input: string | readonly ChatMessage[],
                 options: { addSpecial?: boolean; tools?: unknown[]; chatTemplateKwargs?: Record<string, unknown> } = {}):
      Promise<TokenizeResult> {
    const body: Record<string, unknown> = typeof input === 'string'
      ? { prompt: input, add_special: options.addSpecial ?? true }
      : { messages: input, tools: options.tools, chat_template_kwargs: options.chatTemplateKwargs };
    const r = await this.json<{ tokens: number[]; count: number; max_model_len: number }>('POST', '/tokenize', body);
    return { tokens: r.tokens, count: r.count, maxModelLen: r.max_model_len };
  }

  /** The text of token ids. */
  async detokenize(ids: readonly number[]): Promise<string> {
    return (await this.json<{ prompt: string }>('POST', '/detokenize', { tokens: ids })).prompt;
  }

  /** The conversation rendered with the model's chat template (the text chat completions tokenizes). */
  async applyTemplate(messages: readonly ChatMessage[],
                      options: { addGenerationPrompt?: boolean; tools?: unknown[]; chatTemplateKwargs?: Record<string, unknown> } = {}):
      Promise<string> {
    const body = { messages, add_generation_prompt: options.addGenerationPrompt ?? true, tools: options.tools,
                   chat_template_kwargs: options.chatTemplateKwargs };
    return (await this.json<{ prompt: string }>('POST', '/apply-template', body)).prompt;
  }

  /** The server's /metrics, parsed. */
  async metrics(): Promise<Metrics> {
    return parseMetrics(await this.text('GET', '/metrics'));
  }

  /** "ok" once the model is loaded, "loading" before, "shutting_down" while it drains. */
  async health(): Promise<Health> {
    const call = new Call(this.timeoutMs);
    try {
      const res = await this.send('GET', '/health', undefined, call);
      const body = await res.text();
      if (res.status !== 200 && res.status !== 503) throw apiErrorOf(res.status, body);
      return (JSON.parse(body) as { status: Health }).status;
    } catch (e) {
      throw call.translate(e, 'GET /health');
    } finally {
      call.done();
    }
  }

  /** The served model and how it is served. */
  info(): Promise<ServerInfo> {
    return this.json<ServerInfo>('GET', '/info');
  }

  /** The generation requests running now, oldest first. */
  async requests(): Promise<RunningRequest[]> {
    const r = await this.json<{ data: { id: string; route: string; age_s: number; ttft_s: number | null; choices: number;
                                        prompt_tokens: number; completion_tokens: number }[] }>('GET', '/requests');
    return r.data.map((q) => ({ id: q.id, route: q.route, ageS: q.age_s, ttftS: q.ttft_s, choices: q.choices,
                                promptTokens: q.prompt_tokens, completionTokens: q.completion_tokens }));
  }

  /** The served model(s). */
  async models(): Promise<ModelCard[]> {
    const r = await this.json<{ data: { id: string; created: number; owned_by: string; max_model_len: number }[] }>(
      'GET', '/v1/models');
    return r.data.map((m) => ({ id: m.id, created: m.created, ownedBy: m.owned_by, maxModelLen: m.max_model_len }));
  }

  // ---- internals ----

  private async generateFrom(input: Record<string, unknown>, options: GenerateOptions): Promise<Generation> {
    const r = await this.json<{
      output_text: string; output_tokens: number[]; finish_reason: FinishReason; usage: WireUsage; timings: WireTimings;
      logprobs?: WireLogprob[];
    }>('POST', '/v1/generate', { ...input, ...generateBody(options) }, options.signal);
    const g: Generation = { text: r.output_text, tokenIds: r.output_tokens, finishReason: r.finish_reason,
                            usage: usageOf(r.usage), timings: timingsOf(r.timings) };
    if (r.logprobs) g.logprobs = logprobsOf(r.logprobs);
    return g;
  }

  private async streamFrom(input: Record<string, unknown>, options: GenerateOptions): Promise<GenerationStream> {
    const what = 'POST /v1/generate/stream';
    const call = new Call(this.timeoutMs, options.signal);
    try {
      const res = await this.send('POST', '/v1/generate/stream', { ...input, ...generateBody(options) }, call);
      if (!res.ok) throw apiErrorOf(res.status, await res.text());
      if (!res.body) throw new APIConnectionError(`${what}: the response has no body`);
      return new GenerationStream(sseData(res.body), call, what);
    } catch (e) {
      call.done();
      throw call.translate(e, what);
    }
  }

  private send(method: string, path: string, body: unknown, call: Call): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    return this.fetchImpl(this.baseURL + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: call.controller.signal,
    });
  }

  private async text(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<string> {
    const call = new Call(this.timeoutMs, signal);
    try {
      const res = await this.send(method, path, body, call);
      const text = await res.text();
      if (!res.ok) throw apiErrorOf(res.status, text);
      return text;
    } catch (e) {
      throw call.translate(e, `${method} ${path}`);
    } finally {
      call.done();
    }
  }

  private async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return JSON.parse(await this.text(method, path, body, signal)) as T;
  }
}
