/**
 * What a handler sees of a request: plain data captured synchronously from
 * uWS (its request object dies at the first await), plus helpers that turn
 * bad input into the seed's error codes.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import { OrvaError } from '../../protocol/errors.ts';
import type { Principal } from '../auth/principal.ts';

export interface Ctx {
  method: string;
  path: string;
  /** Raw query string without the `?`. */
  rawQuery: string;
  headers: Record<string, string>;
  readonly remoteAddress: string;
  params: Record<string, string>;
  body: Buffer;
  requestId: string;
  log: Logger;
  principal: Principal | null;
  nowMs: number;
}

/**
 * A long-lived response body (server-sent events). A client that cannot keep
 * up is dropped rather than buffered without bound; `write` then returns false.
 */
export interface StreamSink {
  write(chunk: string): boolean;
  end(): void;
  onClose(listener: () => void): void;
  readonly closed: boolean;
}

export interface Reply {
  status?: number;
  /** Serialised as JSON unless `raw` is given. */
  json?: unknown;
  raw?: Buffer | string;
  headers?: Record<string, string>;
  cookies?: string[];
  /** Keep the response open and hand its body to this function. */
  stream?: (sink: StreamSink) => void;
}

/**
 * Parse and validate the JSON body; INVALID_JSON or VALIDATION otherwise.
 * The Content-Type is not policed: `curl -d` sends form-encoded by default.
 */
export function jsonBody<S extends z.ZodType>(ctx: Ctx, schema: S): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(ctx.body.length === 0 ? '' : ctx.body.toString('utf8'));
  } catch (err) {
    throw new OrvaError('INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
  return validate(schema, value, 'body');
}

/**
 * Adds one field of request input (a header, a query parameter) to `out`. A
 * repeated name joins its values with `sep`, as HTTP combines repeated
 * fields. Any name stays plain data: "constructor" must not read the
 * prototype's, and "__proto__" must not be swallowed by the prototype setter.
 */
export function addField(out: Record<string, string>, name: string, value: string, sep: string): void {
  const joined = Object.hasOwn(out, name) ? out[name] + sep + value : value;
  if (name === '__proto__') Object.defineProperty(out, name, { value: joined, enumerable: true, writable: true, configurable: true });
  else out[name] = joined;
}

export function queryParams<S extends z.ZodType>(ctx: Ctx, schema: S): z.output<S> {
  const q = new URLSearchParams(ctx.rawQuery);
  return validate(schema, Object.fromEntries(q), 'query');
}

/** VALIDATION for one field, in the same `details.issues` shape zod failures get. */
export function invalidField(path: string, message: string, issue: string = message): OrvaError {
  return new OrvaError('VALIDATION', message, { issues: [{ path, message: issue }] });
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query'): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));
  const first = issues[0];
  throw new OrvaError('VALIDATION', `invalid ${where}: ${first.path ? `${first.path}: ` : ''}${first.message}`, { issues });
}
