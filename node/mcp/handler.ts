/**
 * POST /mcp: MCP Streamable HTTP behind the uWS ingress. The ingress has
 * already read the body (under ORVA_BODY_LIMIT_BYTES, 413 otherwise); this
 * bridge hands it to the SDK's web-standard transport as a `Request` and
 * writes its `Response` back. Stateless with JSON responses: every request
 * gets its own server and transport, chosen by its token, so any node of a
 * cluster answers any request and nothing stays behind. There is no
 * server-to-client stream to keep (GET) and no session to end (DELETE): both
 * answer 405.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { OrvaError } from '../../protocol/errors.ts';
import type { Ctx, Reply } from '../http/context.ts';
import type { Handler } from '../http/server.ts';
import type { FunctionCaller } from '../invoke/function-call.ts';
import type { Services } from '../services.ts';
import type { ToolContext } from '../tools/index.ts';
import { mcpCaller } from './caller.ts';
import { checkMcpOrigin } from './origin.ts';
import { McpServers, type RequestScope } from './server.ts';

/** What a 401 tells an MCP client (RFC 6750): where to get a bearer token from is the operator's business. */
const WWW_AUTHENTICATE = 'Bearer realm="orva"';

const MCP_URL = 'http://localhost/mcp';

/** The headers the transport reads; copying every request header into a WHATWG Headers cost more than the rest of the Request. */
const TRANSPORT_HEADERS = ['accept', 'content-type', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id'];

function transportHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of TRANSPORT_HEADERS) if (h[k] !== undefined) out[k] = h[k];
  return out;
}

/**
 * Detach a server from its finished transport. Closing builds an McpError for
 * pending outgoing requests, which a server that only answers never has; its
 * stack trace was 5 % of the request thread's time under MCP load, so none is
 * captured. The close runs synchronously to that point (no await before it).
 */
function closeQuietly(server: Server): void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    void server.close();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Distinct header sets kept; a client sends the same few on every call, so this is reached only by a variety of clients. */
const REQUESTS_MAX = 256;

/**
 * The `Request`s the transport reads when the body is already parsed: only
 * their headers, method and URL (read, never consumed or changed), so one per
 * distinct set of transport headers serves every call that sends it. Building
 * a WHATWG Request per call was 5.6 % of the request thread's samples in a
 * CPU profile under MCP load.
 */
class BodylessRequests {
  private readonly byHeaders = new Map<string, Request>();

  get(h: Record<string, string>): Request {
    const headers = transportHeaders(h);
    const key = JSON.stringify(headers);
    let req = this.byHeaders.get(key);
    if (req === undefined) {
      if (this.byHeaders.size >= REQUESTS_MAX) this.byHeaders.clear();
      // The URL only fills the handlers' request info; a client's Host header could make it unparsable.
      req = new Request(MCP_URL, { method: 'POST', headers });
      this.byHeaders.set(key, req);
    }
    return req;
  }
}

export function mcpHandler(s: Services, call: FunctionCaller): Handler {
  const allowedOrigins = new Set(s.config.mcpAllowedOrigins);
  const servers = new McpServers();
  const requests = new BodylessRequests();

  async function serve(ctx: Ctx): Promise<Reply> {
    if (ctx.method !== 'POST') throw new OrvaError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on /mcp: this server is stateless, POST JSON-RPC messages`, { allow: ['POST'] });
    checkMcpOrigin(ctx.headers, allowedOrigins);
    const caller = mcpCaller(s, ctx.headers, ctx.nowMs);
    const toolCtx: ToolContext = {
      s,
      call,
      nowMs: ctx.nowMs,
      get remoteAddress() {
        return ctx.remoteAddress;
      },
    };
    const scope: RequestScope = { caller, ctx: toolCtx };
    const server = servers.acquire();
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true, maxRequestBodySize: s.config.bodyLimitBytes });
    await server.connect(transport);
    try {
      // Parsed once here; a body that is not JSON goes to the transport as it came, which answers −32700.
      let parsedBody: unknown;
      try {
        parsedBody = JSON.parse(ctx.body.toString('utf8'));
      } catch {}
      const res = await transport.handleRequest(
        parsedBody === undefined ? new Request(MCP_URL, { method: 'POST', headers: transportHeaders(ctx.headers), body: ctx.body.length === 0 ? null : ctx.body }) : requests.get(ctx.headers),
        { parsedBody, authInfo: { token: '', clientId: caller.kind, scopes: [], extra: { scope } } },
      );
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      return { status: res.status, raw: Buffer.from(await res.arrayBuffer()), headers };
    } finally {
      closeQuietly(server);
      servers.release(server);
    }
  }

  return async (ctx) => {
    try {
      return await serve(ctx);
    } catch (err) {
      if (!(err instanceof OrvaError)) throw err;
      // The envelope, as every endpoint answers; a 401 also says how to authenticate, as MCP's authorization spec asks.
      const headers: Record<string, string> = {};
      if (err.status === 401) headers['www-authenticate'] = WWW_AUTHENTICATE;
      if (err.code === 'METHOD_NOT_ALLOWED') headers.allow = 'POST';
      if (err.retryAfterS !== undefined) headers['retry-after'] = String(err.retryAfterS);
      return { status: err.status, json: err.envelope(ctx.requestId), headers };
    }
  };
}
