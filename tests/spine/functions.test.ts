import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertError, eventually } from '../helpers/assert.ts';
import { call, rawHttp } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MISSING_ID = '01900000-0000-7000-8000-000000000000';
const MiB = 1024 * 1024;

let node: NodeHandle;

// A call with the admin key.
function api(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  return call(node.url, method, path, { key: node.adminKey, body, headers });
}

// Create a function; asserts 201 and returns the record.
async function create(body: Record<string, unknown>) {
  const r = await api('POST', '/api/v1/functions', body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// Every function as listed: the store snapshot "nothing changed" compares against.
async function snapshot(): Promise<unknown> {
  const r = await api('GET', '/api/v1/functions');
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Run `bad` (which asserts its own errors), then assert the function list is unchanged.
async function changesNothing(bad: () => Promise<void>): Promise<void> {
  const before = await snapshot();
  await bad();
  assert.deepEqual(await snapshot(), before);
}

// A raw HTTP/1.1 request head with an admin key and the given extra header lines.
function head(method: string, path: string, extra: string[]): string {
  return [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${node.port}`, `X-Orva-API-Key: ${node.adminKey}`, 'Content-Type: application/json', ...extra, '', ''].join('\r\n');
}

before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

test('functions - create fills the documented defaults and a UUIDv7 id', async () => {
  const t0 = Date.now();
  const fn = await create({ name: 'defaults-node', runtime: 'node' });
  assert.match(fn.id, UUID7);
  assert.ok(Math.abs(parseInt(fn.id.replace(/-/g, '').slice(0, 12), 16) - t0) < 10_000, 'UUIDv7 time is not now');
  const defaults = {
    name: 'defaults-node',
    runtime: 'node',
    entrypoint: 'handler.js',
    memory_mb: 128,
    cpus: 1,
    timeout_ms: 30000,
    env_vars: {},
    network_mode: 'none',
    auth_mode: 'platform_key',
    rate_limit_per_min: null,
    description: null,
    status: 'created',
    version: 1,
  };
  for (const [k, v] of Object.entries(defaults)) assert.deepEqual(fn[k], v, k);
  assert.equal(fn.created_at, fn.updated_at);
  const py = await create({ name: 'defaults-py', runtime: 'python' });
  assert.equal(py.entrypoint, 'handler.py');
});

test('functions - create keeps every given field', async () => {
  const spec = {
    name: 'explicit',
    runtime: 'node',
    entrypoint: 'src/main.mjs',
    memory_mb: 256,
    cpus: 0.5,
    timeout_ms: 1000,
    env_vars: { NODE_ENV: 'production', _X: '' },
    network_mode: 'egress',
    auth_mode: 'none',
    description: 'Sends the weekly report. Takes {"week": "2026-W49"}.',
  };
  const fn = await create(spec);
  for (const [k, v] of Object.entries(spec)) assert.deepEqual(fn[k], v, k);
  const got = await api('GET', `/api/v1/functions/${fn.id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.json, fn);
});

test('functions - list filters by ?status and ?runtime; a bad filter is 400 VALIDATION', async () => {
  const off = await create({ name: 'list-off', runtime: 'python' });
  assert.equal((await api('PUT', `/api/v1/functions/${off.id}`, { status: 'inactive' })).status, 200);
  const names = async (q: string) => ((await api('GET', `/api/v1/functions${q}`)).json.functions as Array<{ name: string }>).map((f) => f.name);
  const all = await names('');
  assert.ok(all.includes('list-off') && all.includes('defaults-node'));
  assert.deepEqual(await names('?status=inactive'), ['list-off']);
  assert.ok(!(await names('?status=active')).includes('list-off'));
  const py = await names('?runtime=python');
  assert.ok(py.includes('list-off') && py.includes('defaults-py') && !py.includes('defaults-node'));
  assert.deepEqual(await names('?runtime=python&status=inactive'), ['list-off']);
  assert.deepEqual(await names('?runtime=node&status=inactive'), []);
  for (const q of ['?status=deleted', '?runtime=go', '?status=', '?sort=name']) assertError(await api('GET', `/api/v1/functions${q}`), 400, 'VALIDATION');
});

test('functions - PUT changes each whitelisted field alone and bumps the version', async () => {
  const fn = await create({ name: 'patch-me', runtime: 'node' });
  const patches: Array<Record<string, unknown>> = [
    { name: 'patched' },
    { entrypoint: 'lib/index.cjs' },
    { timeout_ms: 900_000 },
    { memory_mb: 4096 },
    { cpus: 8 },
    { env_vars: { A: '1', B: 'two' } },
    { network_mode: 'egress' },
    { status: 'inactive' },
    { status: 'active' },
    { auth_mode: 'none' },
    { auth_mode: 'signed' },
    { rate_limit_per_min: 120 },
    { rate_limit_per_min: null },
    { description: 'Résumé: 1 KiB of UTF-8 at most' },
    { description: null },
    { env_vars: {} },
  ];
  let current = fn;
  for (const patch of patches) {
    const r = await api('PUT', `/api/v1/functions/${fn.id}`, patch);
    assert.equal(r.status, 200, `${JSON.stringify(patch)}: ${r.text}`);
    // `active` returns a never-deployed function to its lifecycle state: created.
    const expected = { ...current, ...patch, ...(patch.status === 'active' && { status: 'created' }), version: current.version + 1, updated_at: r.json.updated_at };
    assert.deepEqual(r.json, expected);
    assert.deepEqual((await api('GET', `/api/v1/functions/${fn.id}`)).json, expected);
    current = r.json;
  }
  assert.equal(current.created_at, fn.created_at);
});

test('functions - PUT of a non-whitelisted field, an empty patch or a bad status is 400 and changes nothing', async () => {
  const fn = await create({ name: 'strict-put', runtime: 'node' });
  await changesNothing(async () => {
    const bad: unknown[] = [
      { runtime: 'python' },
      { id: MISSING_ID },
      { created_at: '2020-01-01T00:00:00Z' },
      { updated_at: '2020-01-01T00:00:00Z' },
      { version: 9 },
      { name: 'ok-name', runtime: 'python' },
      {},
      { status: 'deleted' },
      { status: 'ACTIVE' },
      { status: 'created' },
      { status: 'building' },
      { rate_limit_per_min: 0 },
      { rate_limit_per_min: 2.5 },
      { auth_mode: 'hmac' },
      { status: null },
      { name: null },
      [],
      'name',
    ];
    for (const body of bad) assertError(await api('PUT', `/api/v1/functions/${fn.id}`, body), 400, 'VALIDATION');
    assertError(await call(node.url, 'PUT', `/api/v1/functions/${fn.id}`, { key: node.adminKey, rawBody: '{"name":"x"', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
    assertError(await call(node.url, 'PUT', `/api/v1/functions/${fn.id}`, { key: node.adminKey }), 400, 'INVALID_JSON');
  });
});

test('functions - an entrypoint with the wrong extension, .. or an absolute path is 400 and changes nothing', async () => {
  const fn = await create({ name: 'entry-check', runtime: 'node' });
  await changesNothing(async () => {
    for (const [runtime, entrypoint] of [['python', 'handler.js'], ['node', 'handler.py'], ['node', 'handler'], ['node', '../x.js'], ['node', 'a/../x.js'], ['node', '/abs/x.js'], ['node', './x.js'], ['node', 'a//x.js'], ['node', '.hidden.js'], ['node', 'a\\b.js'], ['node', '']]) {
      assertError(await api('POST', '/api/v1/functions', { name: 'entry-bad', runtime, entrypoint }), 400, 'VALIDATION');
    }
    for (const entrypoint of ['handler.py', '../x.js', '/etc/x.js', 'x/./y.js']) {
      assertError(await api('PUT', `/api/v1/functions/${fn.id}`, { entrypoint }), 400, 'VALIDATION');
    }
  });
});

test('functions - a description over 1 KiB of UTF-8, or not a string, is 400 and changes nothing; 1 KiB itself is kept', async () => {
  const fn = await create({ name: 'described', runtime: 'node', description: 'x'.repeat(1024) });
  assert.equal(fn.description.length, 1024);
  await changesNothing(async () => {
    // 513 two-byte characters: 1026 bytes.
    for (const description of ['x'.repeat(1025), 'é'.repeat(513), 42, ['a']]) {
      assertError(await api('PUT', `/api/v1/functions/${fn.id}`, { description }), 400, 'VALIDATION');
      assertError(await api('POST', '/api/v1/functions', { name: 'described-too', runtime: 'node', description }), 400, 'VALIDATION');
    }
  });
});

test('functions - memory_mb, cpus and timeout_ms outside their bounds are 400 and change nothing; the bounds themselves are accepted', async () => {
  const fn = await create({ name: 'bounds', runtime: 'node' });
  await changesNothing(async () => {
    const bad: Array<Record<string, unknown>> = [
      { memory_mb: 63 },
      { memory_mb: 4097 },
      { memory_mb: 128.5 },
      { memory_mb: '128' },
      { cpus: 0 },
      { cpus: 0.05 },
      { cpus: 8.01 },
      { cpus: -1 },
      { timeout_ms: 99 },
      { timeout_ms: 900_001 },
      { timeout_ms: 1.5 },
      { network_mode: 'host' },
      { auth_mode: 'public' },
    ];
    for (const b of bad) {
      assertError(await api('POST', '/api/v1/functions', { name: 'bounds-bad', runtime: 'node', ...b }), 400, 'VALIDATION');
      assertError(await api('PUT', `/api/v1/functions/${fn.id}`, b), 400, 'VALIDATION');
    }
  });
  const low = await create({ name: 'bounds-low', runtime: 'node', memory_mb: 64, cpus: 0.1, timeout_ms: 100 });
  assert.deepEqual([low.memory_mb, low.cpus, low.timeout_ms], [64, 0.1, 100]);
  const high = await create({ name: 'bounds-high', runtime: 'node', memory_mb: 4096, cpus: 8, timeout_ms: 900_000 });
  assert.deepEqual([high.memory_mb, high.cpus, high.timeout_ms], [4096, 8, 900_000]);
});

test('functions - env_vars with ORVA_ names, bad names or non-string values are 400 and change nothing', async () => {
  const fn = await create({ name: 'env-check', runtime: 'node' });
  await changesNothing(async () => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, 'x']));
    for (const env_vars of [{ ORVA_SECRET: 'x' }, { ORVA_: 'x' }, { '1BAD': 'x' }, { 'A-B': 'x' }, { '': 'x' }, { 'A B': 'x' }, { A: 1 }, { A: null }, { A: 'x'.repeat(4097) }, many, ['A=1']]) {
      assertError(await api('POST', '/api/v1/functions', { name: 'env-bad', runtime: 'node', env_vars }), 400, 'VALIDATION');
      assertError(await api('PUT', `/api/v1/functions/${fn.id}`, { env_vars }), 400, 'VALIDATION');
    }
  });
});

test('functions - bad names, a missing runtime or unknown fields on create are 400 and create nothing', async () => {
  await changesNothing(async () => {
    for (const name of ['Upper', '-lead', 'trail-', 'under_score', 'dot.name', 'a'.repeat(65), '', 'spa ce', 'ünï']) {
      assertError(await api('POST', '/api/v1/functions', { name, runtime: 'node' }), 400, 'VALIDATION');
    }
    assertError(await api('POST', '/api/v1/functions', { name: 'no-runtime' }), 400, 'VALIDATION');
    assertError(await api('POST', '/api/v1/functions', { name: 'go-fn', runtime: 'go' }), 400, 'VALIDATION');
    assertError(await api('POST', '/api/v1/functions', { name: 'has-status', runtime: 'node', status: 'inactive' }), 400, 'VALIDATION');
    assertError(await api('POST', '/api/v1/functions', { name: 'has-id', runtime: 'node', id: MISSING_ID }), 400, 'VALIDATION');
    assertError(await api('POST', '/api/v1/functions', { name: 'extra', runtime: 'node', colour: 'red' }), 400, 'VALIDATION');
    assertError(await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, rawBody: "{'name': 'x'}", headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
    assertError(await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey }), 400, 'INVALID_JSON');
  });
  const one = await create({ name: 'a', runtime: 'node' });
  const longest = await create({ name: `a${'-b'.repeat(31)}c`, runtime: 'node' });
  assert.equal(one.name, 'a');
  assert.equal(longest.name.length, 64);
});

test('functions - a duplicate name on create or on rename is 409 CONFLICT and changes nothing', async () => {
  const a = await create({ name: 'dup-a', runtime: 'node' });
  const b = await create({ name: 'dup-b', runtime: 'python' });
  await changesNothing(async () => {
    const r = await api('POST', '/api/v1/functions', { name: 'dup-a', runtime: 'python' });
    assertError(r, 409, 'CONFLICT');
    assertError(await api('PUT', `/api/v1/functions/${b.id}`, { name: 'dup-a' }), 409, 'CONFLICT');
    // A conflicting rename leaves the rest of its patch unapplied too.
    assertError(await api('PUT', `/api/v1/functions/${b.id}`, { name: 'dup-a', timeout_ms: 1234 }), 409, 'CONFLICT');
  });
  // Renaming to its own name is not a conflict.
  assert.equal((await api('PUT', `/api/v1/functions/${a.id}`, { name: 'dup-a' })).status, 200);
});

test('functions - an unknown id is 404 NOT_FOUND for GET, PUT and DELETE and changes nothing', async () => {
  await changesNothing(async () => {
    for (const id of [MISSING_ID, 'not-a-uuid', '%2e%2e']) {
      assertError(await api('GET', `/api/v1/functions/${id}`), 404, 'NOT_FOUND');
      assertError(await api('PUT', `/api/v1/functions/${id}`, { timeout_ms: 1000 }), 404, 'NOT_FOUND');
      assertError(await api('DELETE', `/api/v1/functions/${id}`), 404, 'NOT_FOUND');
    }
  });
});

test('functions - DELETE removes the row and its versions dir; then GET, PUT and DELETE are 404', async () => {
  const fn = await create({ name: 'to-delete', runtime: 'node' });
  const keep = await create({ name: 'to-keep', runtime: 'node' });
  const dir = join(node.dataDir, 'versions', fn.id);
  mkdirSync(join(dir, 'v1'), { recursive: true });
  writeFileSync(join(dir, 'v1', 'handler.js'), 'module.exports = () => 1;');
  const keepDir = join(node.dataDir, 'versions', keep.id);
  mkdirSync(keepDir, { recursive: true });
  const r = await api('DELETE', `/api/v1/functions/${fn.id}`);
  assert.equal(r.status, 200, r.text);
  assertError(await api('GET', `/api/v1/functions/${fn.id}`), 404, 'NOT_FOUND');
  assertError(await api('PUT', `/api/v1/functions/${fn.id}`, { timeout_ms: 1000 }), 404, 'NOT_FOUND');
  assertError(await api('DELETE', `/api/v1/functions/${fn.id}`), 404, 'NOT_FOUND');
  assert.ok(!existsSync(dir), 'versions dir left behind');
  assert.ok(existsSync(keepDir), 'another function lost its versions dir');
  assert.ok(!((await snapshot()) as { functions: Array<{ id: string }> }).functions.some((f) => f.id === fn.id));
  // The name is free again.
  await create({ name: 'to-delete', runtime: 'python' });
});

test('functions - a wrong method is 405 METHOD_NOT_ALLOWED with an Allow header; an unknown path is 404', async () => {
  const fn = await create({ name: 'methods', runtime: 'node' });
  await changesNothing(async () => {
    const r1 = await api('PATCH', `/api/v1/functions/${fn.id}`, { timeout_ms: 1000 });
    assertError(r1, 405, 'METHOD_NOT_ALLOWED');
    assert.deepEqual(r1.headers.get('allow')?.split(/,\s*/).sort(), ['DELETE', 'GET', 'PUT']);
    const r2 = await api('DELETE', '/api/v1/functions');
    assertError(r2, 405, 'METHOD_NOT_ALLOWED');
    assert.deepEqual(r2.headers.get('allow')?.split(/,\s*/).sort(), ['GET', 'POST']);
    const r3 = await call(node.url, 'PUT', '/api/v1/system/health');
    assertError(r3, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(r3.headers.get('allow'), 'GET');
    assertError(await api('GET', '/api/v1/nothing-here'), 404, 'NOT_FOUND');
    assertError(await api('GET', `/api/v1/functions/${fn.id}/nope`), 404, 'NOT_FOUND');
    assertError(await call(node.url, 'GET', '/api/v2/functions'), 404, 'NOT_FOUND');
  });
});

test('functions - a body over the 6 MiB default limit is 413 PAYLOAD_TOO_LARGE and creates nothing; 6 MiB itself is read', async () => {
  await changesNothing(async () => {
    const r = await rawHttp(node.port, head('POST', '/api/v1/functions', [`Content-Length: ${6 * MiB + 1}`]));
    assertError(r, 413, 'PAYLOAD_TOO_LARGE');
    assert.equal(r.json.error.details.limit_bytes, 6 * MiB);
    // Exactly at the limit the body is read and judged on its content.
    const big = JSON.stringify({ name: 'big!', runtime: 'node', env_vars: { A: 'x' } });
    const padded = big.slice(0, -1) + ' '.repeat(6 * MiB - big.length) + '}';
    assert.equal(Buffer.byteLength(padded), 6 * MiB);
    const atLimit = await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, rawBody: padded, headers: { 'content-type': 'application/json' } });
    assertError(atLimit, 400, 'VALIDATION');
  });
});

test('functions - ORVA_BODY_LIMIT_BYTES lowers the limit, for declared and for chunked bodies', async () => {
  const small = await startNode({ env: { ORVA_BODY_LIMIT_BYTES: '2048' } });
  try {
    const h = (extra: string[]) => [`POST /api/v1/functions HTTP/1.1`, `Host: 127.0.0.1:${small.port}`, `X-Orva-API-Key: ${small.adminKey}`, 'Content-Type: application/json', ...extra, '', ''].join('\r\n');
    const declared = await rawHttp(small.port, h(['Content-Length: 2049']));
    assertError(declared, 413, 'PAYLOAD_TOO_LARGE');
    assert.equal(declared.json.error.details.limit_bytes, 2048);
    const chunk = ' '.repeat(1000);
    const chunked = await rawHttp(small.port, h(['Transfer-Encoding: chunked']) + [1, 2, 3].map(() => `${(1000).toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n');
    assertError(chunked, 413, 'PAYLOAD_TOO_LARGE');
    const body = JSON.stringify({ name: 'fits', runtime: 'node', env_vars: { PAD: 'x'.repeat(1500) } });
    assert.ok(body.length < 2048);
    const ok = await call(small.url, 'POST', '/api/v1/functions', { key: small.adminKey, rawBody: body, headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 201, ok.text);
    const list = await call(small.url, 'GET', '/api/v1/functions', { key: small.adminKey });
    assert.deepEqual(list.json.functions.map((f: { name: string }) => f.name), ['fits']);
  } finally {
    await small.stop();
  }
});

test('functions - every success carries an X-Request-Id and no Retry-After', async () => {
  const r = await api('GET', '/api/v1/functions');
  assert.match(r.headers.get('x-request-id') ?? '', /^req_/);
  assert.equal(r.headers.get('retry-after'), null);
  const ids = new Set<string>();
  for (let i = 0; i < 5; i++) ids.add((await api('GET', `/api/v1/functions/${MISSING_ID}`)).json.error.request_id);
  assert.equal(ids.size, 5, 'request ids must be unique');
});

test('functions - the node logs each request as a JSON line bound to its request id', async () => {
  const r = await api('GET', `/api/v1/functions/${MISSING_ID}`);
  const reqId = r.headers.get('x-request-id');
  const line = await eventually('the request log line', () =>
    node
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.reqId === reqId),
  5_000);
  assert.equal(line.status, 404);
  assert.equal(line.method, 'GET');
  assert.ok(!JSON.stringify(node.output()).includes(node.adminKey), 'the admin key leaked into the log');
});
