/**
 * Calling a function from a tool (channel tools and invoke_function alike):
 * the input (protocol/tool-call.ts) turned into a call, and the result it
 * gives. The call itself is invoke/function-call.ts, the one /fn/{id} makes.
 */
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { OrvaError } from '../../protocol/errors.ts';
import { FUNCTION_LIMITS } from '../../protocol/schemas.ts';
import { type ToolCallArgs, toolCallFields } from '../../protocol/tool-call.ts';
import { invalidField } from '../http/context.ts';
import type { CallOutcome } from '../invoke/function-call.ts';
import type { FunctionEntry } from '../registry.ts';
import { mustGetEntry } from '../resources/lookups.ts';
import { id, tool, type ToolContext } from './tool.ts';

/** The request body a tool call describes, and the content type it implies. */
function bodyOf(b: ToolCallArgs['body']): { body: Buffer; type?: string } {
  if (b === undefined || b.type === 'empty') return { body: EMPTY };
  if (b.type === 'string') {
    if (b.string === undefined) throw invalidField('body.string', 'body.type string needs body.string');
    return { body: Buffer.from(b.string, 'utf8'), type: 'text/plain; charset=utf-8' };
  }
  if (b.json === undefined) throw invalidField('body.json', 'body.type json needs body.json');
  return { body: Buffer.from(JSON.stringify(b.json), 'utf8'), type: 'application/json' };
}
const EMPTY = Buffer.alloc(0);

/** Call `entry` as a tool asked; `channelId` marks the execution record of a channel token's call. */
export async function callFromTool(ctx: ToolContext, entry: FunctionEntry, args: ToolCallArgs, channelId: string | null): Promise<ReturnType<typeof callResult>> {
  const { body, type } = bodyOf(args.body);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(args.headers ?? {})) headers[k.toLowerCase()] = v;
  if (type !== undefined) headers['content-type'] ??= type;
  const path = args.path ?? '/';
  const outcome = await ctx.call(entry, {
    method: args.method,
    path,
    rawPath: path,
    headers,
    query: { ...args.query },
    body,
    nowMs: ctx.nowMs,
    get remoteAddress() {
      return ctx.remoteAddress;
    },
    timeoutMs: args.timeout_ms,
    trigger: 'mcp',
    channelId,
  });
  return callResult(outcome);
}

/** What a tool call of a function returns: the handler's answer, text when it is UTF-8, base64 otherwise. */
export function callResult(o: CallOutcome) {
  const text = isUtf8(o.body);
  return {
    status_code: o.status,
    headers: o.headers,
    body: text ? o.body.toString('utf8') : o.body.toString('base64'),
    body_encoding: text ? ('utf8' as const) : ('base64' as const),
    duration_ms: o.durationMs,
    cold_start: o.coldStart,
    execution_id: o.executionId,
  };
}

export const invokeTools = [
  tool({
    name: 'invoke_function',
    title: 'Invoke a function',
    description: 'Call a deployed function with an HTTP-like request (method, path, query, headers, body) and get its status, headers, body, duration and execution id. Runs in the same sandbox and pool as /fn/{id}.',
    input: z.strictObject({ function_id: id('function'), ...toolCallFields(FUNCTION_LIMITS.timeout_ms.max) }),
    permission: 'invoke',
    destructive: false,
    readOnly: false,
    handler: (ctx, { function_id, ...args }) => {
      const entry = mustGetEntry(ctx.s.registry, function_id);
      if (args.timeout_ms !== undefined && args.timeout_ms > entry.row.timeout_ms) {
        throw invalidField('timeout_ms', `timeout_ms is at most the function's ${entry.row.timeout_ms}`);
      }
      return callFromTool(ctx, entry, args, null);
    },
  }),
];

/** A failed call as a tool error's structured content: the status a /fn caller would get, the code, and the execution if one ran. */
export function callError(e: OrvaError) {
  return {
    status_code: e.status,
    error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) },
    ...(typeof e.details?.execution_id === 'string' ? { execution_id: e.details.execution_id } : {}),
  };
}
