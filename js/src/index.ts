// ax-engine-client: a typed client for the ax-engine server's own routes (see client.ts).
export { AxClient, GenerationStream, generateBody } from './client.js';
export type { ClientOptions } from './client.js';
export { APIConnectionError, APIError, APITimeoutError, APIUserAbortError, AxError } from './errors.js';
export { Metrics, parseMetrics } from './metrics.js';
export type { MetricSample } from './metrics.js';
export type {
  ChatMessage, FinishReason, GenerateOptions, Generation, Health, ModelCard, Prompt, RunningRequest, ServerInfo,
  StreamChunk, Timings, TokenizeResult, TokenLogprob, Usage,
} from './types.js';
