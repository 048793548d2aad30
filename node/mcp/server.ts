/**
 * What /mcp answers, per request and for that request's caller only
 * (stateless: nothing outlives the request, so any node answers any
 * request). A channel token sees one tool per bundled function and nothing
 * else; an operator sees the registry's tools its permissions allow.
 * Failures of a call are tool results with `isError: true`; an unknown tool
 * is JSON-RPC −32602.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, type CallToolResult, ErrorCode, ListToolsRequestSchema, McpError, type Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { OrvaError } from '../../protocol/errors.ts';
import { toolCallInput } from '../../protocol/tool-call.ts';
import { toolName } from '../../protocol/tool-names.ts';
import type { ChannelGrant } from '../channels/channel-tokens.ts';
import { validate } from '../http/context.ts';
import type { FunctionEntry } from '../registry.ts';
import { callError, callFromTool, inputJsonSchema, type Tool, type ToolContext, toolNamed, toolsFor, runTool } from '../tools/index.ts';
import type { McpCaller } from './caller.ts';

const SERVER_INFO = { name: 'orva', version: '0.1.0' };

/** A tool's answer: the JSON both as text (for clients that show only content) and as structuredContent. */
function ok(result: object, isError = false): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result as Record<string, unknown>, ...(isError ? { isError: true } : {}) };
}

/** An OrvaError as a tool error; anything else is a platform fault, logged, and shown without internals. */
function failed(err: unknown, log: ToolContext['s']['log']): CallToolResult {
  if (err instanceof OrvaError) return ok(callError(err), true);
  log.error({ err }, 'tool call failed');
  return ok(callError(new OrvaError('INTERNAL', 'internal error')), true);
}

function operatorTool(t: Tool): McpTool {
  return {
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: inputJsonSchema(t.input) as McpTool['inputSchema'],
    annotations: {
      title: t.title,
      readOnlyHint: t.readOnly,
      destructiveHint: t.destructive,
      // Only invoke_function reaches past Orva: it runs user code that may call anything.
      openWorldHint: t.permission === 'invoke',
    },
  };
}

/** A channel's tools by name, each its function's current registry entry (a rename is seen at once). */
function channelTools(grant: ChannelGrant, ctx: ToolContext): Map<string, { entry: FunctionEntry; description: string | null }> {
  const out = new Map<string, { entry: FunctionEntry; description: string | null }>();
  for (const f of grant.functions) {
    const entry = ctx.s.registry.get(f.functionId);
    if (!entry) continue;
    const name = toolName(entry.row.name);
    // The channel's writes refuse names that do not sanitise or collide; a function may only be missing between two applies.
    if (name.ok && !out.has(name.name)) out.set(name.name, { entry, description: f.description });
  }
  return out;
}

function channelTool(name: string, entry: FunctionEntry, description: string | null): McpTool {
  const fn = entry.row;
  return {
    name,
    title: fn.name,
    description: description ?? `Call the Orva function ${fn.name} (${fn.runtime}) with an HTTP-like request; returns its status code, headers and body.`,
    inputSchema: inputJsonSchema(toolCallInput(fn.timeout_ms)) as McpTool['inputSchema'],
    annotations: { title: fn.name, readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  };
}

/** What one request's handlers need: who calls, and the node. Travels in the transport's `authInfo.extra`. */
export interface RequestScope {
  caller: McpCaller;
  ctx: ToolContext;
}

function scopeOf(extra: { authInfo?: { extra?: Record<string, unknown> } }): RequestScope {
  return extra.authInfo!.extra!.scope as RequestScope;
}

async function listTools({ caller, ctx }: RequestScope): Promise<{ tools: McpTool[] }> {
  if (caller.kind === 'channel') return { tools: [...channelTools(caller.grant, ctx)].map(([name, t]) => channelTool(name, t.entry, t.description)) };
  return { tools: toolsFor(caller.permissions).map(operatorTool) };
}

async function callTool({ caller, ctx }: RequestScope, name: string, args: unknown): Promise<CallToolResult> {
  if (caller.kind === 'channel') {
    const t = channelTools(caller.grant, ctx).get(name);
    if (!t) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    try {
      const input = validate(toolCallInput(t.entry.row.timeout_ms), args ?? {}, 'body');
      return ok(await callFromTool(ctx, t.entry, input, caller.grant.channelId));
    } catch (err) {
      return failed(err, ctx.s.log);
    }
  }
  const t = toolNamed(name);
  if (!t) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  try {
    return ok(await runTool(t, caller.permissions, ctx, args));
  } catch (err) {
    return failed(err, ctx.s.log);
  }
}

/** Idle servers kept for reuse; more are made under a burst and dropped after it. */
const IDLE_MAX = 64;

/**
 * MCP servers for one request each. Building one (the SDK's Protocol and
 * its handler table) cost 0.7 ms of the request thread, twice the rest of an
 * MCP call's overhead, so a server connects to one request's transport, is
 * closed after it and kept for the next. It holds nothing of a request: its
 * handlers read the caller from the request's `authInfo`.
 */
export class McpServers {
  private readonly idle: Server[] = [];

  acquire(): Server {
    return this.idle.pop() ?? this.create();
  }

  release(server: Server): void {
    if (this.idle.length < IDLE_MAX) this.idle.push(server);
  }

  private create(): Server {
    const server = new Server(SERVER_INFO, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, (_req, extra) => listTools(scopeOf(extra)));
    server.setRequestHandler(CallToolRequestSchema, (req, extra) => callTool(scopeOf(extra), req.params.name, req.params.arguments));
    return server;
  }
}
