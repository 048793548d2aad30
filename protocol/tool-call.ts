/**
 * The input of a tool that calls a function (a channel's tool, and
 * invoke_function with a function_id beside it): an HTTP-like request the
 * handler receives as its event. zod, so MCP publishes it as JSON Schema
 * (`additionalProperties: false`) and the node validates the same rules.
 */
import { z } from 'zod';
import { HTTP_METHODS } from './schemas.ts';

/** The fields, with `timeout_ms` bounded by the function's own. */
export const toolCallFields = (maxTimeoutMs: number) => ({
  method: z.enum(HTTP_METHODS).describe('the HTTP method the handler sees'),
  path: z.string().max(2048).regex(/^\/[^?#]*$/, 'starts with /, no ? or #: give query parameters in query').optional().describe('the path below the function, default /'),
  query: z.record(z.string().max(256), z.string().max(8192)).optional().describe('query parameters'),
  headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/, 'an HTTP header name'), z.string().max(8192)).optional().describe('request headers'),
  body: z
    .strictObject({
      type: z.enum(['json', 'string', 'empty']),
      json: z.unknown().optional().describe('the JSON value, when type is json'),
      string: z.string().optional().describe('the text, when type is string'),
    })
    .optional()
    .describe('the request body; none when absent'),
  timeout_ms: z.number().int().min(1).max(maxTimeoutMs).optional().describe(`at most the function's timeout_ms (${maxTimeoutMs})`),
});

/** One schema per bound, kept: tools/list describes every function of a channel on each request. */
const byTimeout = new Map<number, z.ZodObject<ReturnType<typeof toolCallFields>>>();

export function toolCallInput(maxTimeoutMs: number): z.ZodObject<ReturnType<typeof toolCallFields>> {
  let s = byTimeout.get(maxTimeoutMs);
  if (s === undefined) byTimeout.set(maxTimeoutMs, (s = z.strictObject(toolCallFields(maxTimeoutMs))));
  return s;
}

export type ToolCallArgs = z.output<ReturnType<typeof toolCallInput>>;
