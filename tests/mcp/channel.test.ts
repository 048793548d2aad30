import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { assertError, eventually } from '../helpers/assert.ts';
import { deployed } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { mcpClient, mcpPost, structured } from '../helpers/mcp.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
let echoNode: string;
let echoPython: string;
let thrower: string;
let sleeper: string;
let undeployed: string;
let other: string;

const ECHO_NODE = 'module.exports.handler = async (e) => ({ statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ rt: "node", method: e.method, path: e.path, q: e.query, ct: e.headers["content-type"], body: e.body }) });';
const ECHO_PY = 'import json\ndef handler(event):\n    return {"statusCode": 202, "body": json.dumps({"rt": "python", "body": event["body"]})}\n';

// A call with the admin key.
function api(method: string, path: string, body?: unknown) {
  return call(node.url, method, path, { key: node.adminKey, body });
}

// Rename a function (the test's names drive the tool names).
async function named(id: string, name: string, description?: string): Promise<string> {
  const r = await api('PUT', `/api/v1/functions/${id}`, { name, ...(description !== undefined && { description }) });
  assert.equal(r.status, 200, r.text);
  return id;
}

// POST /channels; returns the created channel with its token.
async function channel(body: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const r = await api('POST', '/api/v1/channels', body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

before(async () => {
  node = await startNode({ env: { ORVA_KEY_TOUCH_INTERVAL_MS: '200' } });
  echoNode = await named(await deployed(node, ECHO_NODE), 'echo-node', 'Echoes the request back as JSON.');
  echoPython = await named(await deployed(node, ECHO_PY, { runtime: 'python' }), '2fast-echo');
  thrower = await named(await deployed(node, 'module.exports.handler = async () => { throw new Error("boom in handler"); };'), 'thrower');
  sleeper = await named(await deployed(node, 'const worker = Math.random(); module.exports.handler = async (e) => { if (e.body === "slow") await new Promise((r) => setTimeout(r, 60000)); return { worker }; };', { timeout_ms: 1500 }), 'sleeper');
  const u = await api('POST', '/api/v1/functions', { name: 'undeployed', runtime: 'node' });
  undeployed = u.json.id;
  other = await named(await deployed(node, 'module.exports.handler = async () => "other";'), 'other-channel-fn');
});
after(async () => {
  await node.stop();
});

test('mcp channel - tools/list is exactly the bundled functions under their sanitised names, titles and descriptions, with a strict call schema', async () => {
  const ch = await channel({ name: 'toolkit', function_ids: [echoNode, echoPython, thrower], descriptions: { [thrower]: 'Always fails.' } });
  await channel({ name: 'elsewhere', function_ids: [other] });
  const client = await mcpClient(node.url, ch.token);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ['echo_node', 'fn_2fast_echo', 'thrower']);
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assert.equal(byName.echo_node.title, 'echo-node');
  assert.equal(byName.echo_node.description, 'Echoes the request back as JSON.', "the function's own description");
  assert.equal(byName.thrower.description, 'Always fails.', "the channel's override");
  assert.match(byName.fn_2fast_echo.description ?? '', /2fast-echo/, 'a generated description names the function');
  for (const t of tools) {
    assert.deepEqual(t.annotations, { title: t.title, readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true });
    assert.equal(t.inputSchema.additionalProperties, false);
    assert.deepEqual(t.inputSchema.required, ['method']);
    assert.deepEqual(Object.keys(t.inputSchema.properties ?? {}).sort(), ['body', 'headers', 'method', 'path', 'query', 'timeout_ms']);
  }
  // Nothing but tools: no resources, no prompts, no management.
  assert.deepEqual(Object.keys(client.getServerCapabilities() ?? {}), ['tools']);
  await assert.rejects(client.callTool({ name: 'list_functions', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32602);
  await assert.rejects(client.callTool({ name: 'other_channel_fn', arguments: { method: 'GET' } }), (e: unknown) => e instanceof McpError && e.code === -32602, "another channel's function is unknown here");
});

test('mcp channel - tools/call runs the real node and python handlers; the execution is listed with trigger mcp and the channel id', async () => {
  const ch = await channel({ name: 'runs', function_ids: [echoNode, echoPython] });
  const client = await mcpClient(node.url, ch.token, 'x-orva-api-key');
  const r = await client.callTool({ name: 'echo_node', arguments: { method: 'POST', path: '/orders/7', query: { page: '2' }, body: { type: 'json', json: { item: 'tea' } } } });
  assert.equal(r.isError, undefined, JSON.stringify(r));
  const out = structured(r);
  assert.equal(out.status_code, 200);
  assert.deepEqual(JSON.parse(out.body), { rt: 'node', method: 'POST', path: '/orders/7', q: { page: '2' }, ct: 'application/json', body: '{"item":"tea"}' });
  const py = structured(await client.callTool({ name: 'fn_2fast_echo', arguments: { method: 'POST', body: { type: 'string', string: 'plain text' } } }));
  assert.equal(py.status_code, 202);
  assert.deepEqual(JSON.parse(py.body), { rt: 'python', body: 'plain text' });
  const listed = (await api('GET', `/api/v1/executions?function_id=${echoNode}&limit=50`)).json.executions;
  const rec = listed.find((e: { id: string }) => e.id === out.execution_id);
  assert.ok(rec, 'the MCP call is in /api/v1/executions');
  assert.equal(rec.trigger, 'mcp');
  assert.equal(rec.channel_id, ch.id);
  assert.equal(rec.status, 'succeeded');
  assert.equal((await api('GET', `/api/v1/executions/${py.execution_id}`)).json.channel_id, ch.id);
});

test('mcp channel - a throwing handler is a tool result with isError and status 500, its stack only in the execution logs', async () => {
  const ch = await channel({ name: 'fails', function_ids: [thrower] });
  const r = await (await mcpClient(node.url, ch.token)).callTool({ name: 'thrower', arguments: { method: 'GET' } });
  assert.equal(r.isError, true);
  const out = structured(r);
  assert.equal(out.status_code, 500);
  assert.equal(out.error.code, 'FUNCTION_ERROR');
  assert.ok(!JSON.stringify(r).includes('boom in handler'), 'the stack stays out of the answer');
  const logs = (await api('GET', `/api/v1/executions/${out.execution_id}/logs`)).json.logs;
  assert.match(logs, /boom in handler/);
});

test('mcp channel - a timeout is a tool error, the worker is replaced, and timeout_ms may only shorten the function\'s', async () => {
  const ch = await channel({ name: 'slow', function_ids: [sleeper] });
  const client = await mcpClient(node.url, ch.token);
  const first = structured(await client.callTool({ name: 'sleeper', arguments: { method: 'POST' } }));
  const slow = await client.callTool({ name: 'sleeper', arguments: { method: 'POST', body: { type: 'string', string: 'slow' }, timeout_ms: 300 } });
  assert.equal(slow.isError, true);
  assert.equal(structured(slow).error.code, 'TIMEOUT');
  assert.equal(structured(slow).status_code, 504);
  const after = structured(await client.callTool({ name: 'sleeper', arguments: { method: 'POST' } }));
  assert.equal(after.status_code, 200);
  // Calls one after another reuse the one idle worker: the slow call had it, so a new one answers now.
  assert.notEqual(JSON.parse(after.body).worker, JSON.parse(first.body).worker, 'the timed-out worker was replaced');
  assert.equal((await api('GET', `/api/v1/executions/${structured(slow).execution_id}`)).json.status, 'timeout');
  assert.ok(first.execution_id !== after.execution_id);
  const tooLong = await client.callTool({ name: 'sleeper', arguments: { method: 'POST', timeout_ms: 1501 } });
  assert.equal(tooLong.isError, true);
  assert.equal(structured(tooLong).error.code, 'VALIDATION');
});

test('mcp channel - an inactive or undeployed function answers a clear tool error', async () => {
  const ch = await channel({ name: 'not-ready', function_ids: [undeployed, echoNode] });
  const client = await mcpClient(node.url, ch.token);
  const none = await client.callTool({ name: 'undeployed', arguments: { method: 'GET' } });
  assert.equal(none.isError, true);
  assert.equal(structured(none).error.code, 'NOT_FOUND');
  assert.match(structured(none).error.message, /no deployed code/);
  assert.equal((await api('PUT', `/api/v1/functions/${echoNode}`, { status: 'inactive' })).status, 200);
  try {
    const off = await client.callTool({ name: 'echo_node', arguments: { method: 'GET' } });
    assert.equal(off.isError, true);
    assert.equal(structured(off).error.code, 'NOT_ACTIVE');
    assert.equal(structured(off).status_code, 409);
  } finally {
    assert.equal((await api('PUT', `/api/v1/functions/${echoNode}`, { status: 'active' })).status, 200);
  }
});

test('mcp channel - bad call arguments are tool errors; a rename shows at once under the new tool name', async () => {
  const ch = await channel({ name: 'args', function_ids: [echoPython] });
  const client = await mcpClient(node.url, ch.token);
  for (const args of [{}, { method: 'FETCH' }, { method: 'GET', extra: 1 }, { method: 'GET', path: 'no-slash' }, { method: 'POST', body: { type: 'json' } }, { method: 'GET', headers: { 'bad header': 'x' } }]) {
    const r = await client.callTool({ name: 'fn_2fast_echo', arguments: args });
    assert.equal(r.isError, true, JSON.stringify(args));
    assert.equal(structured(r).error.code, 'VALIDATION', JSON.stringify(args));
  }
  await named(echoPython, 'py-echo');
  try {
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['py_echo']);
    assert.equal(structured(await client.callTool({ name: 'py_echo', arguments: { method: 'GET' } })).status_code, 202);
  } finally {
    await named(echoPython, '2fast-echo');
  }
});

test('mcp channel - rotation refuses the old token with 401, the new one works; delete and expiry refuse it too', async () => {
  const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
  const ch = await channel({ name: 'rotating', function_ids: [echoNode] });
  assert.equal((await mcpPost(node.url, list, { authorization: `Bearer ${ch.token}` })).status, 200);
  const rotated = (await api('POST', `/api/v1/channels/${ch.id}/rotate`)).json;
  const old = await mcpPost(node.url, list, { authorization: `Bearer ${ch.token}` });
  assertError(old, 401, 'UNAUTHORIZED');
  assert.equal(old.headers.get('www-authenticate'), 'Bearer realm="orva"');
  const fresh = await mcpPost(node.url, list, { authorization: `Bearer ${rotated.token}` });
  assert.equal(fresh.status, 200);
  assert.deepEqual(fresh.json.result.tools.map((t: { name: string }) => t.name), ['echo_node']);
  assert.equal((await api('DELETE', `/api/v1/channels/${ch.id}`)).status, 200);
  assertError(await mcpPost(node.url, list, { authorization: `Bearer ${rotated.token}` }), 401, 'UNAUTHORIZED');

  const expiring = await channel({ name: 'expiring', function_ids: [echoNode], expires_at: new Date(Date.now() + 1500).toISOString() });
  assert.equal((await mcpPost(node.url, list, { authorization: `Bearer ${expiring.token}` })).status, 200);
  await eventually('the token to expire', async () => ((await mcpPost(node.url, list, { authorization: `Bearer ${expiring.token}` })).status === 401 ? true : undefined));
});

test('mcp channel - calls through a channel token show in its last_used_at (flushed every ORVA_KEY_TOUCH_INTERVAL_MS)', async () => {
  const ch = await channel({ name: 'used', function_ids: [echoNode] });
  assert.equal((await api('GET', `/api/v1/channels/${ch.id}`)).json.last_used_at, null);
  const client = await mcpClient(node.url, ch.token);
  for (let i = 0; i < 5; i++) await client.callTool({ name: 'echo_node', arguments: { method: 'GET' } });
  const used = await eventually('last_used_at', async () => (await api('GET', `/api/v1/channels/${ch.id}`)).json.last_used_at ?? undefined);
  assert.ok(Date.parse(used) <= Date.now());
});
