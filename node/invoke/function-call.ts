/**
 * One call of a function, whoever makes it: /fn/{id}, a custom route, or an
 * MCP tool. Everything it reads is in memory (registry, pool); the only I/O
 * is the frame to the worker and back. The execution record is queued,
 * written in a batch later, with what triggered the call.
 */
import { isUtf8 } from 'node:buffer';
import type { Lease } from '../../actors/function-supervisor.ts';
import type { CallResult } from '../../actors/worker.ts';
import { ERRORS, OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import type { InvokeEvent } from '../../protocol/worker-input.ts';
import type { ExecutionStatus, ExecutionTrigger } from '../executions/execution-log.ts';
import type { FunctionEntry } from '../registry.ts';
import { noDeployedCode } from '../resources/lookups.ts';
import type { Services } from '../services.ts';
import { CallRateLimiter } from './call-rate-limiter.ts';

/** What a caller asks of a function. The event fields are the handler's, already stripped of credentials. */
export interface CallRequest {
  method: string;
  /** The path below the function's mount point. */
  path: string;
  /** The path as the caller sent it, before routing. */
  rawPath: string;
  /** Lower-cased names; the execution and function ids are added here. */
  headers: Record<string, string>;
  query: Record<string, string>;
  body: Buffer;
  /** When the request arrived (epoch ms): the record's start and the rate limit's clock. */
  nowMs: number;
  /** The client's address, read only for a function with a rate limit (a syscall on uWS). */
  readonly remoteAddress: string;
  /** At most the function's timeout_ms; a shorter one bounds this call only. */
  timeoutMs?: number;
  trigger: ExecutionTrigger;
  channelId: string | null;
  /** The function's own access rule (its auth_mode), checked after the rate limit and before any work. */
  authorize?: () => void;
}

/** A call the handler answered, whatever its status. */
export interface CallOutcome {
  status: number;
  /** The handler's headers the ingress may write, plus x-orva-execution-id. */
  headers: Record<string, string>;
  body: Buffer;
  durationMs: number;
  coldStart: boolean;
  executionId: string;
}

/** Response headers a handler may not set: framing is the ingress's job. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'date', 'x-request-id', 'x-orva-execution-id']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Calls under load start many to a millisecond: format each millisecond once. */
let isoMs = -1;
let isoText = '';
function isoAt(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** The handler's response headers the ingress will write, plus the execution id. */
function sanitizeHeaders(h: Record<string, string>, executionId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name) || !HEADER_NAME.test(k) || !HEADER_VALUE.test(h[k])) continue;
    out[name] = h[k];
  }
  out['x-orva-execution-id'] = executionId;
  return out;
}

const ms3 = (started: number) => Math.round((performance.now() - started) * 1000) / 1000;

export type FunctionCaller = (entry: FunctionEntry, req: CallRequest) => Promise<CallOutcome>;

/**
 * The node's one way to call a function. It throws the call's OrvaError
 * (NOT_ACTIVE, RATE_LIMITED, BUILDING, POOL_AT_CAPACITY, FUNCTION_ERROR,
 * TIMEOUT, WORKER_CRASHED, …); one thrown after an execution id was taken
 * carries it in `details.execution_id`.
 */
export function functionCaller(d: Services): FunctionCaller {
  const nodeId = d.config.nodeId;
  const rateLimiter = new CallRateLimiter();

  /** Why there is nothing to run yet: a build in flight, a failed first build, or no deploy at all. */
  function noCode(id: string): OrvaError {
    const latest = d.store.latestDeployment(id);
    if (latest && (latest.status === 'queued' || latest.status === 'building')) {
      return new OrvaError('BUILDING', `function ${id} is still building its first version`, { function_id: id, deployment_id: latest.id });
    }
    if (latest?.status === 'failed') return new OrvaError('BUILD_FAILED', `the build of function ${id} failed: ${latest.error ?? 'see the build logs'}`, { function_id: id, deployment_id: latest.id });
    return noDeployedCode(id);
  }

  return async function call(entry: FunctionEntry, req: CallRequest): Promise<CallOutcome> {
    const started = performance.now();
    const id = entry.row.id;
    if (entry.row.status === 'inactive') throw new OrvaError('NOT_ACTIVE', `function ${id} is inactive`, { function_id: id });
    const limit = entry.row.rate_limit_per_min;
    if (limit !== null) {
      const waitS = rateLimiter.take(id, req.remoteAddress, limit, req.nowMs);
      if (waitS > 0) throw new OrvaError('RATE_LIMITED', `more than ${limit} calls a minute to function ${id} from this address`, { function_id: id, limit_per_min: limit }, { retryAfterS: waitS, hint: 'wait Retry-After seconds; the limit is rate_limit_per_min of the function' });
    }
    req.authorize?.();
    if (!entry.row.code_hash) throw noCode(id);

    const executionId = uuidv7();
    const headers = req.headers;
    headers['x-orva-execution-id'] = executionId;
    headers['x-orva-function-id'] = id;
    const text = isUtf8(req.body);
    const event: InvokeEvent = {
      method: req.method,
      httpMethod: req.method,
      path: req.path,
      rawPath: req.rawPath,
      headers,
      query: req.query,
      body: text ? req.body.toString('utf8') : req.body.toString('base64'),
      isBase64Encoded: !text,
    };

    const sup = d.pools.get(id);
    let lease: Lease;
    try {
      lease = await sup.acquire();
    } catch (err) {
      const e = err instanceof OrvaError ? err : new OrvaError('SANDBOX_ERROR', (err as Error).message);
      record(req, entry, executionId, started, 'rejected', e.status, false, 0, e.code, '');
      throw e;
    }
    let result: CallResult;
    try {
      result = await lease.worker.invoke(executionId, event, Math.min(req.timeoutMs ?? entry.row.timeout_ms, entry.row.timeout_ms));
    } finally {
      sup.release(lease.worker);
    }
    const outcome = outcomeOf(result, id, executionId);
    const logs = result.kind === 'error' ? `${result.logs}${result.stack || `${result.name}: ${result.message}`}\n` : result.kind === 'crashed' ? `${result.logs}${result.detail}\n` : result.logs;
    if (outcome.error) {
      const status: ExecutionStatus = result.kind === 'timeout' ? 'timeout' : result.kind === 'crashed' ? 'crashed' : 'failed';
      record(req, entry, executionId, started, status, outcome.error.status, lease.coldStart, 0, outcome.error.code, logs);
      throw outcome.error;
    }
    const durationMs = record(req, entry, executionId, started, 'succeeded', outcome.status, lease.coldStart, outcome.body.length, null, logs);
    return { status: outcome.status, headers: outcome.headers, body: outcome.body, durationMs, coldStart: lease.coldStart, executionId };
  };

  /** Queue the call's record; returns its duration. */
  function record(req: CallRequest, entry: FunctionEntry, executionId: string, started: number, status: ExecutionStatus, httpStatus: number, cold: boolean, responseBytes: number, errorCode: string | null, logs: string): number {
    const durationMs = ms3(started);
    d.executions.record(
      {
        id: executionId,
        function_id: entry.row.id,
        deployment_id: entry.row.active_deployment_id,
        status,
        http_status: httpStatus,
        duration_ms: durationMs,
        cold_start: cold,
        node: nodeId,
        request_bytes: req.body.length,
        response_bytes: responseBytes,
        error_code: errorCode,
        fault: errorCode === null ? null : (ERRORS[errorCode as keyof typeof ERRORS]?.fault ?? null),
        started_at: isoAt(req.nowMs),
        trigger: req.trigger,
        channel_id: req.channelId,
      },
      logs,
    );
    return durationMs;
  }
}

type Outcome = { status: number; headers: Record<string, string>; body: Buffer; error?: undefined } | { error: OrvaError };

function outcomeOf(result: CallResult, id: string, executionId: string): Outcome {
  const details = { function_id: id, execution_id: executionId };
  switch (result.kind) {
    case 'ok': {
      if (!Number.isInteger(result.status) || result.status < 100 || result.status > 599) {
        return { error: new OrvaError('FUNCTION_ERROR', `the handler returned an invalid statusCode ${result.status}`, details) };
      }
      const body = Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength);
      return { status: result.status, headers: sanitizeHeaders(result.headers, executionId), body };
    }
    case 'error':
      // The stack stays in the execution's logs: callers of a public function must not see it.
      return { error: new OrvaError('FUNCTION_ERROR', 'the handler threw an error', details) };
    case 'timeout':
      return { error: new OrvaError('TIMEOUT', `the handler exceeded timeout_ms`, details) };
    case 'crashed':
      // The detail (out of memory, a refused system call, an exit code) goes to the execution's logs.
      return {
        error: result.oom
          ? new OrvaError('WORKER_CRASHED', 'the worker ran out of memory during the call', { ...details, reason: 'out_of_memory' }, { hint: 'out of memory: the worker exceeded 1.5 × memory_mb; raise memory_mb via PUT /api/v1/functions/{id}' })
          : new OrvaError('WORKER_CRASHED', 'the worker died during the call', details),
      };
  }
}
