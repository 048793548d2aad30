import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { assertError, eventually } from '../helpers/assert.ts';
import { call, sessionCookie } from '../helpers/http.ts';
import { mcpClient, mcpPost, structured } from '../helpers/mcp.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

const TOOL_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const ALLOWED = 'https://agents.example.com';

let node: NodeHandle;

// An API key with exactly these permissions.
async function key(permissions: string[]): Promise<string> {
  const r = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body: { name: `k-${permissions.join('-')}`, permissions } });
  assert.equal(r.status, 201, r.text);
  return r.json.key;
}

// Every key in every schema object, so "additionalProperties: false" can be checked on each nested object.
function objectsOf(schema: any, out: any[] = []): any[] {
  if (schema && typeof schema === 'object') {
    if (schema.type === 'object' && schema.properties) out.push(schema);
    for (const v of Object.values(schema)) objectsOf(v, out);
  }
  return out;
}

before(async () => {
  node = await startNode({ env: { ORVA_MCP_ALLOWED_ORIGINS: ALLOWED } });
});
after(async () => {
  await node.stop();
});

test('mcp operator - the admin key sees the whole registry: valid names, strict schemas, honest annotations, confirm on every destructive tool', async () => {
  const { tools } = await (await mcpClient(node.url, node.adminKey)).listTools();
  const names = tools.map((t) => t.name);
  for (const n of ['list_functions', 'create_function', 'deploy_inline', 'get_deployment', 'rollback', 'get_source', 'diff', 'invoke_function', 'list_executions', 'get_execution_logs', 'set_secret', 'delete_secret', 'create_route', 'get_pool_config', 'set_pool_config', 'create_channel', 'rotate_channel_token', 'create_key', 'revoke_key', 'get_health', 'get_metrics', 'list_runtimes', 'list_syscalls']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
  assert.equal(new Set(names).size, names.length, 'tool names are unique');
  for (const t of tools) {
    assert.match(t.name, TOOL_NAME);
    assert.equal(t.inputSchema.type, 'object');
    for (const o of objectsOf(t.inputSchema)) assert.equal(o.additionalProperties, false, `${t.name}: an object schema admits unknown fields`);
    const destructive = t.annotations?.destructiveHint === true;
    assert.equal(destructive, 'confirm' in (t.inputSchema.properties ?? {}), `${t.name}: confirm exactly on destructive tools`);
    if (t.annotations?.readOnlyHint) assert.equal(destructive, false);
  }
  for (const n of ['delete_function', 'rollback', 'delete_secret', 'revoke_key', 'delete_channel']) {
    assert.equal(tools.find((t) => t.name === n)?.annotations?.destructiveHint, true, `${n} is destructive`);
  }
  // Never a function's own tool: those belong to channel tokens.
  assert.ok(tools.every((t) => !t.name.startsWith('fn_')));
});

test('mcp operator - a read key lists no write, invoke or admin tool, and a write tool called anyway is a permission error', async () => {
  const client = await mcpClient(node.url, await key(['read']));
  const { tools } = await client.listTools();
  assert.ok(tools.length > 0);
  assert.ok(tools.every((t) => t.annotations?.readOnlyHint === true), `not read-only: ${tools.filter((t) => !t.annotations?.readOnlyHint).map((t) => t.name)}`);
  assert.ok(!tools.some((t) => ['create_function', 'invoke_function', 'list_keys'].includes(t.name)));
  const before = (await call(node.url, 'GET', '/api/v1/functions', { key: node.adminKey })).json;
  const r = await client.callTool({ name: 'create_function', arguments: { name: 'not-allowed', runtime: 'node' } });
  assert.equal(r.isError, true);
  assert.equal(structured(r).error.code, 'FORBIDDEN');
  assert.equal(structured(r).status_code, 403);
  assert.deepEqual((await call(node.url, 'GET', '/api/v1/functions', { key: node.adminKey })).json, before, 'nothing was written');
});

test('mcp operator - an invoke key sees only invoke_function', async () => {
  const { tools } = await (await mcpClient(node.url, await key(['invoke']), 'x-orva-api-key')).listTools();
  assert.deepEqual(tools.map((t) => t.name), ['invoke_function']);
  assert.equal(tools[0].annotations?.openWorldHint, true);
});

test('mcp operator - create_function, deploy_inline and invoke_function through MCP serve the function on /fn too', async () => {
  const client = await mcpClient(node.url, node.adminKey);
  const created = await client.callTool({ name: 'create_function', arguments: { name: 'made-by-agent', runtime: 'node' } });
  assert.equal(created.isError, undefined, JSON.stringify(created));
  const fn = structured(created);
  assert.equal(fn.name, 'made-by-agent');
  const code = 'module.exports.handler = async (event) => ({ statusCode: 201, headers: { "x-seen": event.path }, body: JSON.stringify({ got: JSON.parse(event.body), q: event.query.q, m: event.method }) });';
  const dep = structured(await client.callTool({ name: 'deploy_inline', arguments: { function_id: fn.id, code } }));
  assert.equal(dep.status, 'queued');
  const done = await eventually('the build', async () => {
    const d = structured(await client.callTool({ name: 'get_deployment', arguments: { deployment_id: dep.deployment_id } }));
    return d.status === 'succeeded' || d.status === 'failed' ? d : undefined;
  }, 120_000, 100);
  assert.equal(done.status, 'succeeded');
  const r = await client.callTool({ name: 'invoke_function', arguments: { function_id: fn.id, method: 'PUT', path: '/x/y', query: { q: 'z' }, body: { type: 'json', json: { a: 1 } } } });
  assert.equal(r.isError, undefined, JSON.stringify(r));
  const out = structured(r);
  assert.equal(out.status_code, 201);
  assert.equal(out.headers['x-seen'], '/x/y');
  assert.deepEqual(JSON.parse(out.body), { got: { a: 1 }, q: 'z', m: 'PUT' });
  assert.equal(out.body_encoding, 'utf8');
  assert.equal(typeof out.duration_ms, 'number');
  assert.equal(typeof out.cold_start, 'boolean');
  assert.deepEqual(JSON.parse((r.content as Array<{ text: string }>)[0].text), out, 'the text content is the structured content');
  const rec = structured(await client.callTool({ name: 'get_execution', arguments: { execution_id: out.execution_id } }));
  assert.equal(rec.trigger, 'mcp');
  assert.equal(rec.channel_id, null);
  const direct = await call(node.url, 'POST', `/fn/${fn.id}`, { key: node.adminKey, body: { b: 2 } });
  assert.equal(direct.status, 201);
  const viaHttp = (await call(node.url, 'GET', `/api/v1/executions/${direct.headers.get('x-orva-execution-id')}`, { key: node.adminKey })).json;
  assert.equal(viaHttp.trigger, 'http');
});

test('mcp operator - a destructive tool without confirm: true is refused and changes nothing; with it, it runs', async () => {
  const client = await mcpClient(node.url, node.adminKey);
  const fn = structured(await client.callTool({ name: 'create_function', arguments: { name: 'to-delete', runtime: 'python' } }));
  for (const args of [{ function_id: fn.id }, { function_id: fn.id, confirm: false }]) {
    const r = await client.callTool({ name: 'delete_function', arguments: args });
    assert.equal(r.isError, true);
    assert.equal(structured(r).error.code, 'VALIDATION');
    assert.match(structured(r).error.message, /confirm: true/);
    assert.equal((await call(node.url, 'GET', `/api/v1/functions/${fn.id}`, { key: node.adminKey })).status, 200);
  }
  const r = await client.callTool({ name: 'delete_function', arguments: { function_id: fn.id, confirm: true } });
  assert.deepEqual(structured(r), { id: fn.id, deleted: true });
  assert.equal((await call(node.url, 'GET', `/api/v1/functions/${fn.id}`, { key: node.adminKey })).status, 404);
});

test('mcp operator - bad arguments and unknown ids are tool errors with the REST code; an unknown tool is JSON-RPC -32602', async () => {
  const client = await mcpClient(node.url, node.adminKey);
  const extra = await client.callTool({ name: 'get_function', arguments: { function_id: 'x', surprise: 1 } });
  assert.equal(extra.isError, true);
  assert.equal(structured(extra).error.code, 'VALIDATION');
  const missing = await client.callTool({ name: 'get_function', arguments: { function_id: '01900000-0000-7000-8000-000000000000' } });
  assert.equal(missing.isError, true);
  assert.equal(structured(missing).error.code, 'NOT_FOUND');
  assert.equal(structured(missing).status_code, 404);
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32602);
  const secretValue = 'sk-never-shown';
  const fn = structured(await client.callTool({ name: 'create_function', arguments: { name: 'with-secret', runtime: 'node' } }));
  const set = await client.callTool({ name: 'set_secret', arguments: { function_id: fn.id, key: 'API_TOKEN', value: secretValue } });
  assert.equal(set.isError, undefined, JSON.stringify(set));
  const listed = await client.callTool({ name: 'list_secrets', arguments: { function_id: fn.id } });
  assert.deepEqual(structured(listed).secrets.map((s: { key: string }) => s.key), ['API_TOKEN']);
  assert.ok(!JSON.stringify([set, listed]).includes(secretValue), 'a secret value never comes back');
});

test('mcp - no credential or a bad one is 401 with WWW-Authenticate; GET and DELETE are 405', async () => {
  const init = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
  for (const headers of [{}, { authorization: 'Bearer orva_nope' }, { 'x-orva-api-key': 'orva_nope' }, { authorization: 'Basic abc' }, { authorization: 'Bearer orva_chn_00000000000000000000000000000000' }] as Record<string, string>[]) {
    const r = await mcpPost(node.url, init, headers);
    assertError(r, 401, 'UNAUTHORIZED');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="orva"');
  }
  for (const method of ['GET', 'DELETE']) {
    const r = await call(node.url, method, '/mcp', { headers: { authorization: `Bearer ${node.adminKey}`, accept: 'application/json, text/event-stream' } });
    assertError(r, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(r.headers.get('allow'), 'POST');
  }
});

test('mcp - Origin: the node\'s own and ORVA_MCP_ALLOWED_ORIGINS pass, any other is 403 (DNS rebinding)', async () => {
  const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
  const auth = { authorization: `Bearer ${node.adminKey}` };
  for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:1', 'not a url']) {
    assertError(await mcpPost(node.url, list, { ...auth, origin }), 403, 'FORBIDDEN');
  }
  for (const origin of [ALLOWED, node.url]) {
    const r = await mcpPost(node.url, list, { ...auth, origin });
    assert.equal(r.status, 200, `${origin}: ${r.text}`);
    assert.ok(r.json.result.tools.length > 0);
  }
});

test('mcp - malformed JSON is -32700, a message that is not JSON-RPC too, a body over the limit 413, and the node keeps serving', async () => {
  const auth = { authorization: `Bearer ${node.adminKey}` };
  for (const body of ['{"jsonrpc":', '', '{"hello":1}', '[1,2]']) {
    const r = await mcpPost(node.url, body, auth);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.equal(r.json.error.code, -32700);
  }
  const big = await mcpPost(node.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(7 * 1024 * 1024) } }), auth);
  assert.equal(big.status, 413);
  const ok = await mcpPost(node.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, auth);
  assert.equal(ok.status, 200);
  assert.equal(ok.json.id, 2);
});

test('mcp - a session cookie is an operator with every permission, from the node\'s own origin only', async () => {
  const creds = { username: 'admin', password: 'AdminPass123!Secure' };
  assert.equal((await call(node.url, 'POST', '/api/v1/auth/onboard', { body: creds })).status, 201);
  const cookie = sessionCookie(await call(node.url, 'POST', '/api/v1/auth/login', { body: creds }));
  const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
  const r = await mcpPost(node.url, list, { cookie });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.result.tools.some((t: { name: string }) => t.name === 'revoke_key'), 'admin tools included');
  assertError(await mcpPost(node.url, list, { cookie, origin: 'http://evil.example' }), 403, 'FORBIDDEN');
  assertError(await mcpPost(node.url, list, { cookie: 'session_token=not-a-session' }), 401, 'UNAUTHORIZED');
});
