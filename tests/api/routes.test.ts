import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deployed } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
let echo: string;
let other: string;
before(async () => {
  node = await startNode();
  echo = await deployed(node, `exports.handler = async (e) => ({ fn: 'echo', method: e.method, path: e.path, rawPath: e.rawPath, query: e.query, body: e.body });`, { auth_mode: 'none' });
  other = await deployed(node, `exports.handler = async (e) => ({ fn: 'other', path: e.path });`, { auth_mode: 'none' });
});
after(async () => {
  await node.stop();
});

const addRoute = (body: unknown) => call(node.url, 'POST', '/api/v1/routes', { key: node.adminKey, body });

test('routes - a routed call reaches the handler with the same event shape', async () => {
  assert.equal((await addRoute({ path: '/webhooks/stripe', function_id: echo, methods: 'POST' })).status, 201);
  const r = await fetch(`${node.url}/webhooks/stripe?a=1`, { method: 'POST', body: 'payload' });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { fn: 'echo', method: 'POST', path: '/', rawPath: '/webhooks/stripe', query: { a: '1' }, body: 'payload' });
  const wrong = await fetch(`${node.url}/webhooks/stripe`, { method: 'GET' });
  assert.equal(wrong.status, 405);
  assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'METHOD_NOT_ALLOWED');
});

test('routes - an exact route beats a prefix, and the longest prefix wins', async () => {
  await addRoute({ path: '/hooks/*', function_id: echo, methods: '*' });
  await addRoute({ path: '/hooks/github/*', function_id: other, methods: 'GET,POST' });
  await addRoute({ path: '/hooks/github/special', function_id: echo, methods: '*' });
  const get = async (p: string) => (await (await fetch(`${node.url}${p}`)).json()) as { fn: string; path: string };
  assert.deepEqual(await get('/hooks/github/x/y'), { fn: 'other', path: '/x/y' });
  assert.equal((await get('/hooks/github/special')).fn, 'echo');
  assert.equal((await get('/hooks/gitlab')).fn, 'echo');
  assert.equal((await get('/hooks')).fn, 'echo');
  assert.equal((await fetch(`${node.url}/hooksx`)).status, 404);
  assert.equal((await fetch(`${node.url}/hooks/github/x`, { method: 'PUT' })).status, 405);
});

test('routes - reserved prefixes, duplicates and bad input are refused; delete removes', async () => {
  for (const path of ['/api/x', '/fn/x', '/mcp/x', '/web/x', '/_orva/x', '/api', '/web']) {
    const r = await addRoute({ path, function_id: echo });
    assert.equal(r.status, 400, path);
    assert.equal(r.json.error.code, 'VALIDATION');
  }
  for (const body of [{ path: 'no-slash', function_id: echo }, { path: '/a/../b', function_id: echo }, { path: '/a/*/b', function_id: echo }, { path: '/ok', function_id: echo, methods: 'FETCH' }, { path: '/ok' }]) {
    assert.equal((await addRoute(body)).status, 400, JSON.stringify(body));
  }
  assert.equal((await addRoute({ path: '/ok', function_id: '00000000-0000-7000-8000-000000000000' })).status, 404);
  assert.equal((await addRoute({ path: '/dup', function_id: echo })).status, 201);
  const dup = await addRoute({ path: '/dup', function_id: other });
  assert.equal(dup.status, 409);
  assert.equal(dup.json.error.code, 'CONFLICT');
  const list = await call(node.url, 'GET', '/api/v1/routes', { key: node.adminKey });
  assert.ok(list.json.routes.some((r: { path: string; function_id: string }) => r.path === '/dup' && r.function_id === echo));
  assert.equal((await fetch(`${node.url}/dup`)).status, 200);
  assert.equal((await call(node.url, 'DELETE', '/api/v1/routes?path=/dup', { key: node.adminKey })).status, 200);
  assert.equal((await fetch(`${node.url}/dup`)).status, 404);
  assert.equal((await call(node.url, 'DELETE', '/api/v1/routes?path=/dup', { key: node.adminKey })).status, 404);
});
