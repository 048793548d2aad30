/**
 * POST|GET|… /fn/{id}[/{path…}]: the hot path. Everything it reads is in
 * memory (registry, key cache, pool); the only I/O is the frame to the
 * worker and back. The execution record is queued, written in a batch later.
 */
import { isUtf8 } from 'node:buffer';
import type { Lease } from '../../actors/function-supervisor.ts';
import type { CallResult } from '../../actors/worker.ts';
import { ERRORS, OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import type { InvokeEvent } from '../../protocol/worker-input.ts';
import { checkSameOrigin, resolvePrincipal, SESSION_COOKIE } from '../auth/principal.ts';
import type { ExecutionStatus } from '../executions/execution-log.ts';
import { addField, type Ctx, type Reply } from '../http/context.ts';
import type { Handler } from '../http/server.ts';
import type { FunctionEntry } from '../registry.ts';
import { CallRateLimiter } from '../invoke/call-rate-limiter.ts';
import { verifySignature } from '../invoke/signature.ts';
import { RouteTable } from '../route-table.ts';
import { secretSlot } from '../secret-box.ts';
import { SIGNING_SECRET } from '../../protocol/schemas.ts';
import type { Services } from '../services.ts';
import { mustGetEntry, noDeployedCode } from './lookups.ts';

/** Response headers a handler may not set: framing is the ingress's job. */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'date', 'x-request-id', 'x-orva-execution-id']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Credentials of every kind: the caller's key, a signed call's proof. */
const CREDENTIAL_HEADERS = new Set(['x-orva-api-key', 'x-orva-timestamp', 'x-orva-signature']);

/** The caller's headers as the handler sees them, plus the call's ids. Credentials never reach it: it is untrusted code. */
function handlerHeaders(headers: Record<string, string>, executionId: string, functionId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) {
    if (CREDENTIAL_HEADERS.has(k)) continue;
    if (k === 'cookie') {
      const kept = headers.cookie
        .split(';')
        .filter((c) => c.trim().split('=')[0] !== SESSION_COOKIE)
        .join(';')
        .trim();
      if (kept) out.cookie = kept;
      continue;
    }
    addField(out, k, headers[k], ''); // names are unique by now: this only keeps a "__proto__" one as data
  }
  out['x-orva-execution-id'] = executionId;
  out['x-orva-function-id'] = functionId;
  return out;
}

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

/** Only ever encoded into the worker's frame, never changed: one instance serves every call without a query. */
const NO_QUERY: Record<string, string> = Object.freeze({});

function queryObject(raw: string): Record<string, string> {
  if (raw === '') return NO_QUERY;
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) addField(out, k, v, ',');
  return out;
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

export function invokeHandler(d: Services): { byId: Handler; byRoute: Handler } {
  const nodeId = d.config.nodeId;
  const rateLimiter = new CallRateLimiter();
  /** Decrypted once per registry entry: a secret change replaces the entry, and with it this key. */
  const signingKeys = new WeakMap<FunctionEntry, Buffer>();

  function signingKey(entry: FunctionEntry): Buffer | undefined {
    if (entry.signingSecret === undefined) return undefined;
    let key = signingKeys.get(entry);
    if (key === undefined) {
      key = Buffer.from(d.secretBox.decrypt(secretSlot(entry.row.id, SIGNING_SECRET), entry.signingSecret), 'utf8');
      signingKeys.set(entry, key);
    }
    return key;
  }

  function authorize(ctx: Ctx, entry: FunctionEntry): void {
    if (entry.row.auth_mode === 'none') return;
    if (entry.row.auth_mode === 'signed') return verifySignature(ctx.headers, ctx.body, signingKey(entry), ctx.nowMs, entry.row.id);
    const principal = resolvePrincipal(ctx.headers, d.keys, d.store, ctx.nowMs);
    if (!principal) throw new OrvaError('UNAUTHORIZED', 'this function needs an API key with the invoke permission');
    if (principal.kind === 'session') checkSameOrigin(ctx.method, ctx.headers);
    if (!principal.permissions.has('invoke')) throw new OrvaError('FORBIDDEN', 'this key lacks the invoke permission', { required: 'invoke' });
  }

  /** Why there is nothing to run yet: a build in flight, a failed first build, or no deploy at all. */
  function noCode(id: string): OrvaError {
    const latest = d.store.latestDeployment(id);
    if (latest && (latest.status === 'queued' || latest.status === 'building')) {
      return new OrvaError('BUILDING', `function ${id} is still building its first version`, { function_id: id, deployment_id: latest.id });
    }
    if (latest?.status === 'failed') return new OrvaError('BUILD_FAILED', `the build of function ${id} failed: ${latest.error ?? 'see the build logs'}`, { function_id: id, deployment_id: latest.id });
    return noDeployedCode(id);
  }

  /** /fn/{id}[/path]: everything after the id is the handler's path. */
  const byId: Handler = (ctx) => {
    const rest = ctx.path.slice('/fn/'.length);
    const slash = rest.indexOf('/');
    const id = slash < 0 ? rest : rest.slice(0, slash);
    return run(ctx, mustGetEntry(d.registry, id), slash < 0 ? '/' : rest.slice(slash));
  };

  /** A custom route: exact first, then the longest prefix; the path below the mount is the handler's. */
  const byRoute: Handler = (ctx) => {
    const m = d.routeTable.match(ctx.path);
    if (!m) throw new OrvaError('NOT_FOUND', `no function or route at ${ctx.path}`);
    if (!RouteTable.allows(m.route, ctx.method)) {
      throw new OrvaError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on route ${m.route.path}`, { allow: m.route.methods.split(','), path: m.route.path });
    }
    const entry = d.registry.get(m.route.function_id);
    if (!entry) throw new OrvaError('NOT_FOUND', `route ${m.route.path} points at a deleted function`);
    return run(ctx, entry, m.subPath);
  };

  async function run(ctx: Ctx, entry: FunctionEntry, subPath: string): Promise<Reply> {
    const started = performance.now();
    const id = entry.row.id;
    if (entry.row.status === 'inactive') throw new OrvaError('NOT_ACTIVE', `function ${id} is inactive`, { function_id: id });
    const limit = entry.row.rate_limit_per_min;
    if (limit !== null) {
      const waitS = rateLimiter.take(id, ctx.remoteAddress, limit, ctx.nowMs);
      if (waitS > 0) throw new OrvaError('RATE_LIMITED', `more than ${limit} calls a minute to function ${id} from this address`, { function_id: id, limit_per_min: limit }, { retryAfterS: waitS, hint: 'wait Retry-After seconds; the limit is rate_limit_per_min of the function' });
    }
    authorize(ctx, entry);
    if (!entry.row.code_hash) throw noCode(id);

    const executionId = uuidv7();
    const text = isUtf8(ctx.body);
    const event: InvokeEvent = {
      method: ctx.method,
      httpMethod: ctx.method,
      path: subPath,
      rawPath: ctx.path,
      headers: handlerHeaders(ctx.headers, executionId, id),
      query: queryObject(ctx.rawQuery),
      body: text ? ctx.body.toString('utf8') : ctx.body.toString('base64'),
      isBase64Encoded: !text,
    };

    const sup = d.pools.get(id);
    let lease: Lease;
    try {
      lease = await sup.acquire();
    } catch (err) {
      const e = err instanceof OrvaError ? err : new OrvaError('SANDBOX_ERROR', (err as Error).message);
      record(ctx, entry, executionId, started, 'rejected', e.status, false, 0, e.code, '');
      throw e;
    }
    let result: CallResult;
    try {
      result = await lease.worker.invoke(executionId, event, entry.row.timeout_ms);
    } finally {
      sup.release(lease.worker);
    }
    const reply = toReply(result, id, executionId);
    const logs = result.kind === 'error' ? `${result.logs}${result.stack || `${result.name}: ${result.message}`}\n` : result.kind === 'crashed' ? `${result.logs}${result.detail}\n` : result.logs;
    const errorCode = reply.errorCode;
    const status: ExecutionStatus = result.kind === 'ok' ? (errorCode ? 'failed' : 'succeeded') : result.kind === 'error' ? 'failed' : result.kind === 'timeout' ? 'timeout' : 'crashed';
    record(ctx, entry, executionId, started, status, reply.error?.status ?? reply.status ?? 200, lease.coldStart, reply.size, errorCode, logs);
    if (reply.error) throw reply.error;
    return reply;
  }

  return { byId, byRoute };

  function record(ctx: Ctx, entry: FunctionEntry, executionId: string, started: number, status: ExecutionStatus, httpStatus: number, cold: boolean, responseBytes: number, errorCode: string | null, logs: string): void {
    d.executions.record(
      {
        id: executionId,
        function_id: entry.row.id,
        deployment_id: entry.row.active_deployment_id,
        status,
        http_status: httpStatus,
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        cold_start: cold,
        node: nodeId,
        request_bytes: ctx.body.length,
        response_bytes: responseBytes,
        error_code: errorCode,
        fault: errorCode === null ? null : (ERRORS[errorCode as keyof typeof ERRORS]?.fault ?? null),
        started_at: isoAt(ctx.nowMs),
      },
      logs,
    );
  }

  function toReply(result: CallResult, id: string, executionId: string): Reply & { size: number; errorCode: string | null; error?: OrvaError } {
    const details = { function_id: id, execution_id: executionId };
    switch (result.kind) {
      case 'ok': {
        if (!Number.isInteger(result.status) || result.status < 100 || result.status > 599) {
          const error = new OrvaError('FUNCTION_ERROR', `the handler returned an invalid statusCode ${result.status}`, details);
          return { size: 0, errorCode: error.code, error };
        }
        const body = Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength);
        return {
          status: result.status,
          raw: body,
          headers: sanitizeHeaders(result.headers, executionId),
          size: body.length,
          errorCode: null,
        };
      }
      case 'error': {
        // The stack stays in the execution's logs: callers of a public function must not see it.
        const error = new OrvaError('FUNCTION_ERROR', 'the handler threw an error', details);
        return { size: 0, errorCode: error.code, error };
      }
      case 'timeout': {
        const error = new OrvaError('TIMEOUT', `the handler exceeded timeout_ms`, details);
        return { size: 0, errorCode: error.code, error };
      }
      case 'crashed': {
        // The detail (out of memory, a refused system call, an exit code) goes to the execution's logs.
        const error = result.oom
          ? new OrvaError('WORKER_CRASHED', 'the worker ran out of memory during the call', { ...details, reason: 'out_of_memory' }, { hint: 'out of memory: the worker exceeded 1.5 × memory_mb; raise memory_mb via PUT /api/v1/functions/{id}' })
          : new OrvaError('WORKER_CRASHED', 'the worker died during the call', details);
        return { size: 0, errorCode: error.code, error };
      }
    }
  }
}
