// What the client throws. Every class is exported so callers can tell them apart with instanceof.

/** The base class of every error this package throws. */
export class AxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error response from the server: its HTTP status and its OpenAI-shaped error object. */
export class APIError extends AxError {
  /** The HTTP status (400 a bad request, 401 a missing or wrong API key, 503 not ready...). */
  readonly status: number;
  /** The error object's type ("invalid_request_error", "authentication_error", "server_error"). */
  readonly type: string | null;
  /** The request field at fault ("temperature", "messages[0].content"), when one is. */
  readonly param: string | null;
  /** A machine-readable code ("context_length_exceeded"), when the server gives one. */
  readonly code: string | null;

  constructor(message: string, status: number, type: string | null = null, param: string | null = null,
              code: string | null = null) {
    super(message);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }
}

/** The server could not be reached, or the connection broke before the response was complete. */
export class APIConnectionError extends AxError {}

/** The request was aborted through its AbortSignal (or its stream was left early). */
export class APIUserAbortError extends AxError {}

/** The server took longer than the client's timeout to send the next data. */
export class APITimeoutError extends AxError {}

/** The error an HTTP status and a response body stand for (the server's own message when it sent one). */
export function apiErrorOf(status: number, body: string): APIError {
  try {
    const err = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
    if (err && typeof err === 'object') {
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      return new APIError(str(err.message) ?? `HTTP ${status}`, status, str(err.type), str(err.param), str(err.code));
    }
  } catch {
    // not JSON: the body itself is the message
  }
  return new APIError(body.trim() || `HTTP ${status}`, status);
}
