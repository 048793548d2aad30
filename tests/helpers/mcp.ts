/** MCP clients for the tests: the SDK's own Client over Streamable HTTP, and raw JSON-RPC posts. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { after } from 'node:test';
import { call, type CallResult } from './http.ts';

const open = new Set<Client>();
after(async () => {
  await Promise.all([...open].map((c) => c.close().catch(() => {})));
});

/** A connected SDK client for `base`/mcp with `token` as Bearer (or in X-Orva-API-Key); closed when the test file ends. */
export async function mcpClient(base: string, token: string, via: 'bearer' | 'x-orva-api-key' = 'bearer'): Promise<Client> {
  const headers: Record<string, string> = via === 'bearer' ? { authorization: `Bearer ${token}` } : { 'x-orva-api-key': token };
  const client = new Client({ name: 'orva-tests', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers } }));
  open.add(client);
  return client;
}

/** The headers a Streamable HTTP client sends with every POST after initialize. */
export const MCP_HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18' };

/** POST one raw body to /mcp (a JSON-RPC message unless testing bad input). */
export function mcpPost(base: string, body: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
  return call(base, 'POST', '/mcp', { headers: { ...MCP_HEADERS, ...headers }, ...(typeof body === 'string' ? { rawBody: body } : { body }) });
}

/** A tool result's structured content, asserting it is there. */
// biome-ignore lint: test code reads arbitrary JSON
export function structured(r: unknown): any {
  const s = (r as { structuredContent?: unknown }).structuredContent;
  if (s === undefined) throw new Error(`no structuredContent in ${JSON.stringify(r)}`);
  return s;
}
