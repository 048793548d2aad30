/**
 * The one closed catalog of error codes. Every 4xx/5xx the node answers uses
 * one of these, in the envelope below. `fault` says whose fault it is:
 * `caller` (bad request or credentials), `platform` (Orva could not serve it)
 * or `function` (the user's handler failed) — kept apart in metrics and
 * execution records. `retryAfterS` is set where retrying later can succeed.
 */
export const ERRORS = {
  INVALID_JSON: { status: 400, fault: 'caller', hint: 'send a valid JSON body with Content-Type: application/json' },
  VALIDATION: { status: 400, fault: 'caller', hint: 'fix the fields listed in details.issues' },
  TOOL_NAME_COLLISION: { status: 400, fault: 'caller', hint: 'rename one of the functions so their snake_case tool names differ' },
  UNAUTHORIZED: { status: 401, fault: 'caller', hint: 'send X-Orva-API-Key: orva_… or log in for a session cookie' },
  FORBIDDEN: { status: 403, fault: 'caller', hint: 'use a key that carries the required permission' },
  NOT_FOUND: { status: 404, fault: 'caller', hint: 'check the id or path' },
  VERSION_NOT_FOUND: { status: 404, fault: 'caller', hint: 'list deployments via GET /api/v1/functions/{id}/deployments' },
  METHOD_NOT_ALLOWED: { status: 405, fault: 'caller', hint: 'use one of the methods this endpoint or route accepts' },
  CONFLICT: { status: 409, fault: 'caller', hint: 'the resource already exists or changed meanwhile; read it and retry' },
  NOT_ACTIVE: { status: 409, fault: 'caller', hint: 'set status to active via PUT /api/v1/functions/{id}' },
  VERSION_GCD: { status: 410, fault: 'caller', hint: 'roll back to one of details.available_hashes' },
  PAYLOAD_TOO_LARGE: { status: 413, fault: 'caller', hint: 'send a smaller body (limit in details.limit_bytes)' },
  TOO_MANY_REQUESTS: { status: 429, fault: 'caller', hint: 'slow down and retry after Retry-After seconds', retryAfterS: 1 },
  RATE_LIMITED: { status: 429, fault: 'caller', hint: 'too many attempts; retry after Retry-After seconds', retryAfterS: 60 },
  INTERNAL: { status: 500, fault: 'platform', hint: 'retry; if it persists, check the node logs for the request_id' },
  BUILD_FAILED: { status: 500, fault: 'function', hint: 'read the build logs via GET /api/v1/deployments/{id}/logs' },
  FUNCTION_ERROR: { status: 500, fault: 'function', hint: 'the handler threw; read GET /api/v1/executions/{id}/logs' },
  WORKER_CRASHED: { status: 502, fault: 'function', hint: 'the worker died during the call; read the execution logs' },
  BUILDING: { status: 503, fault: 'platform', hint: 'the first build is still running; retry shortly', retryAfterS: 5 },
  BUILD_QUEUE_FULL: { status: 503, fault: 'platform', hint: 'too many builds queued; retry later', retryAfterS: 10 },
  POOL_AT_CAPACITY: { status: 503, fault: 'platform', hint: 'raise pool_config.max_warm via PUT /api/v1/pool/config', retryAfterS: 5 },
  MEMORY_EXHAUSTED: { status: 503, fault: 'platform', hint: 'the host memory budget is used up; retry later or lower memory_mb', retryAfterS: 30 },
  SHUTTING_DOWN: { status: 503, fault: 'platform', hint: 'this node is draining; retry against another node', retryAfterS: 1 },
  UNAVAILABLE: { status: 503, fault: 'platform', hint: 'the metadata log is unreachable; retry shortly', retryAfterS: 2 },
  SANDBOX_ERROR: { status: 500, fault: 'platform', hint: 'the sandbox could not start; check the node logs' },
  TIMEOUT: { status: 504, fault: 'function', hint: 'the handler exceeded timeout_ms; raise it or make the handler faster' },
} as const satisfies Record<string, { status: number; fault: 'caller' | 'platform' | 'function'; hint: string; retryAfterS?: number }>;

export type ErrorCode = keyof typeof ERRORS;
export type Fault = (typeof ERRORS)[ErrorCode]['fault'];

/** The seed's error envelope. */
export interface ErrorEnvelope {
  error: {
    code: ErrorCode;
    message: string;
    request_id: string;
    hint?: string;
    retry_after_s?: number;
    details?: Record<string, unknown>;
  };
}

/** A failure with a catalog code; thrown anywhere, rendered once by the ingress. */
export class OrvaError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  readonly retryAfterS?: number;
  readonly hint?: string;

  /** `cause`: the underlying failure, for the log only — never rendered into the envelope. */
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, opts: { retryAfterS?: number; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OrvaError';
    this.code = code;
    this.details = details;
    const entry = ERRORS[code] as { retryAfterS?: number };
    this.retryAfterS = opts.retryAfterS ?? entry.retryAfterS;
    this.hint = opts.hint;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  envelope(requestId: string): ErrorEnvelope {
    const error: ErrorEnvelope['error'] = {
      code: this.code,
      message: this.message,
      request_id: requestId,
      hint: this.hint ?? ERRORS[this.code].hint,
    };
    if (this.retryAfterS !== undefined) error.retry_after_s = this.retryAfterS;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
