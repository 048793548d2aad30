import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { z } from 'zod';
import { credentialsBody, entrypoint, FUNCTION_LIMITS, functionCreateBody, functionListQuery, functionName, functionUpdateBody, keyCreateBody } from '../../protocol/schemas.ts';

// True when `schema` accepts `value`.
const ok = (schema: z.ZodType, value: unknown) => schema.safeParse(value).success;
// Parse JSON text the way the ingress does, then validate: keys like __proto__ stay own keys.
const okJson = (schema: z.ZodType, json: string) => schema.safeParse(JSON.parse(json)).success;

test('schemas - function names are lower-case slugs of 1-64 characters', () => {
  for (const n of ['a', '0', 'my-fn', 'a1-b2', `a${'b'.repeat(62)}c`]) assert.ok(ok(functionName, n), n);
  for (const n of ['', '-a', 'a-', 'A', 'a_b', 'a.b', 'a b', `a${'b'.repeat(63)}c`, 'é', 'a\n']) assert.ok(!ok(functionName, n), JSON.stringify(n));
});

test('schemas - entrypoints are relative paths without empty, . or .. segments', () => {
  for (const p of ['handler.js', 'src/main.mjs', 'a/b/c.cjs', 'x_y-z.py', 'a/.hidden.js', `${'a'.repeat(125)}.js`]) assert.ok(ok(entrypoint, p), p);
  for (const p of ['', '/abs.js', '../x.js', 'a/../x.js', './x.js', 'a/./x.js', 'a//x.js', 'a/', '.x.js', '-x.js', 'a\\b.js', 'a b.js', `${'a'.repeat(126)}.js`, 'a/..']) {
    assert.ok(!ok(entrypoint, p), p);
  }
});

test('schemas - create fills defaults and the runtime’s entrypoint, and refuses a mismatched extension', () => {
  const node = functionCreateBody.parse({ name: 'n', runtime: 'node' });
  assert.deepEqual(node, { name: 'n', runtime: 'node', entrypoint: 'handler.js', memory_mb: 128, cpus: 1, timeout_ms: 30_000, env_vars: {}, network_mode: 'none', auth_mode: 'platform_key', rate_limit_per_min: null });
  assert.equal(functionCreateBody.parse({ name: 'p', runtime: 'python' }).entrypoint, 'handler.py');
  for (const e of ['h.mjs', 'h.cjs', 'h.js']) assert.ok(ok(functionCreateBody, { name: 'n', runtime: 'node', entrypoint: e }), e);
  assert.ok(!ok(functionCreateBody, { name: 'n', runtime: 'python', entrypoint: 'h.js' }));
  assert.ok(!ok(functionCreateBody, { name: 'n', runtime: 'node', entrypoint: 'h.py' }));
  assert.ok(!ok(functionCreateBody, { name: 'n', runtime: 'node', entrypoint: 'h.jsx' }));
  // Two creates never share the default env_vars object.
  const a = functionCreateBody.parse({ name: 'a', runtime: 'node' });
  (a.env_vars as Record<string, string>).X = '1';
  assert.deepEqual(functionCreateBody.parse({ name: 'b', runtime: 'node' }).env_vars, {});
});

test('schemas - limits accept their bounds and refuse one step outside', () => {
  const L = FUNCTION_LIMITS;
  const base = { name: 'n', runtime: 'node' };
  for (const [k, lo, hi, below, above] of [
    ['memory_mb', L.memory_mb.min, L.memory_mb.max, L.memory_mb.min - 1, L.memory_mb.max + 1],
    ['cpus', L.cpus.min, L.cpus.max, 0.09, 8.001],
    ['timeout_ms', L.timeout_ms.min, L.timeout_ms.max, L.timeout_ms.min - 1, L.timeout_ms.max + 1],
  ] as const) {
    assert.ok(ok(functionCreateBody, { ...base, [k]: lo }), `${k}=${lo}`);
    assert.ok(ok(functionCreateBody, { ...base, [k]: hi }), `${k}=${hi}`);
    assert.ok(!ok(functionCreateBody, { ...base, [k]: below }), `${k}=${below}`);
    assert.ok(!ok(functionCreateBody, { ...base, [k]: above }), `${k}=${above}`);
    assert.ok(!ok(functionCreateBody, { ...base, [k]: String(lo) }), `${k} as a string`);
    assert.ok(!ok(functionUpdateBody, { [k]: above }), `PUT ${k}=${above}`);
  }
  assert.ok(!ok(functionCreateBody, { ...base, memory_mb: 100.5 }));
  assert.ok(ok(functionCreateBody, { ...base, cpus: 0.25 }));
});

test('schemas - env_vars: names, reserved ORVA_, value size in UTF-8 bytes, NUL, count, __proto__', () => {
  const env = (env_vars: unknown) => ok(functionUpdateBody, { env_vars });
  assert.ok(env({ A: '', _b: 'x', NODE_ENV: 'production', A1: 'é' }));
  assert.ok(env({ constructor: 'x', toString: 'y' }));
  for (const bad of [{ ORVA_X: '1' }, { ORVA_: '1' }, { '1A': '1' }, { 'A-B': '1' }, { '': '1' }, { A: 1 }, { A: null }, { A: ['x'] }, ['A'], 'A=1', null]) {
    assert.ok(!env(bad), JSON.stringify(bad));
  }
  assert.ok(env({ orva_lower: '1' }), 'only the upper-case ORVA_ prefix is reserved');
  assert.ok(env({ A: 'x'.repeat(4096) }));
  assert.ok(!env({ A: 'x'.repeat(4097) }));
  assert.ok(!env({ A: '€'.repeat(2000) }), '6000 UTF-8 bytes must not pass a 4096-byte limit');
  assert.ok(!env({ A: 'a\u0000b' }), 'a NUL cannot be passed in an environment');
  assert.ok(env(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`V${i}`, 'x']))));
  assert.ok(!env(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, 'x']))));
  assert.ok(!okJson(functionUpdateBody, '{"env_vars":{"__proto__":"x"}}'), '__proto__ must be refused, not dropped');
  assert.ok(!okJson(functionCreateBody, '{"name":"n","runtime":"node","env_vars":{"__proto__":{"A":"1"}}}'));
});

test('schemas - PUT accepts only the whitelisted fields and at least one of them', () => {
  for (const f of [{ name: 'x' }, { entrypoint: 'x.js' }, { timeout_ms: 1000 }, { memory_mb: 256 }, { cpus: 2 }, { env_vars: {} }, { network_mode: 'egress' }, { status: 'inactive' }, { status: 'active' }, { auth_mode: 'none' }, { auth_mode: 'signed' }, { rate_limit_per_min: 60 }, { rate_limit_per_min: null }]) {
    assert.ok(ok(functionUpdateBody, f), JSON.stringify(f));
  }
  for (const f of [{}, { runtime: 'node' }, { id: 'x' }, { created_at: 'x' }, { updated_at: 'x' }, { version: 2 }, { status: 'deleted' }, { status: 'building' }, { status: 'created' }, { auth_mode: 'hmac' }, { rate_limit_per_min: 0 }, { rate_limit_per_min: 1.5 }, { rate_limit_per_min: '60' }, { name: 'x', extra: 1 }, null, [], 'x']) {
    assert.ok(!ok(functionUpdateBody, f), JSON.stringify(f));
  }
  assert.ok(!okJson(functionUpdateBody, '{"__proto__":{"name":"x"}}'));
});

test('schemas - list query accepts only status and runtime with their enums, a limit and a cursor', () => {
  assert.ok(ok(functionListQuery, {}));
  assert.ok(ok(functionListQuery, { status: 'active', runtime: 'python' }));
  for (const status of ['created', 'building', 'active', 'error', 'inactive']) assert.ok(ok(functionListQuery, { status }), status);
  assert.deepEqual(functionListQuery.parse({ limit: '10000' }), { limit: 10000 });
  assert.deepEqual(functionListQuery.parse({}), { limit: 1000 });
  for (const q of [{ status: 'deleted' }, { runtime: 'go' }, { status: '' }, { limit: '0' }, { limit: '10001' }, { cursor: 'x' }, { sort: 'name' }]) assert.ok(!ok(functionListQuery, q), JSON.stringify(q));
});

test('schemas - key create: permissions, expiry forms and names', () => {
  assert.ok(ok(keyCreateBody, { name: 'ci' }));
  assert.equal(keyCreateBody.parse({ name: '  ci  ' }).name, 'ci');
  assert.ok(ok(keyCreateBody, { name: 'ci', permissions: ['invoke'] }));
  assert.ok(ok(keyCreateBody, { name: 'ci', expires_in_days: 1 }));
  assert.ok(ok(keyCreateBody, { name: 'ci', expires_in_days: 3650 }));
  for (const at of ['2030-01-01T00:00:00Z', '2030-01-01T00:00:00.123Z', '2030-01-01T00:00:00+05:30']) assert.ok(ok(keyCreateBody, { name: 'ci', expires_at: at }), at);
  for (const b of [
    {},
    { name: '' },
    { name: '   ' },
    { name: 'x'.repeat(101) },
    { name: 'ci', permissions: [] },
    { name: 'ci', permissions: ['root'] },
    { name: 'ci', permissions: 'read' },
    { name: 'ci', expires_in_days: 0 },
    { name: 'ci', expires_in_days: 3651 },
    { name: 'ci', expires_in_days: 1.5 },
    { name: 'ci', expires_in_days: '1' },
    { name: 'ci', expires_at: '2030-01-01' },
    { name: 'ci', expires_at: '2030-01-01T00:00:00' },
    { name: 'ci', expires_at: 'soon' },
    { name: 'ci', expires_at: 1893456000000 },
    { name: 'ci', expires_in_days: 1, expires_at: '2030-01-01T00:00:00Z' },
    { name: 'ci', key: 'orva_x' },
  ]) {
    assert.ok(!ok(keyCreateBody, b), JSON.stringify(b));
  }
});

test('schemas - credentials: username shape and a bounded password', () => {
  assert.ok(ok(credentialsBody, { username: 'admin', password: 'x' }));
  assert.ok(ok(credentialsBody, { username: 'a.b-c_d', password: 'x'.repeat(1024) }));
  for (const b of [{ username: 'ab', password: 'x' }, { username: 'a b c', password: 'x' }, { username: 'x'.repeat(65), password: 'x' }, { username: 'admin', password: '' }, { username: 'admin', password: 'x'.repeat(1025) }, { username: 'admin' }, { username: 'admin', password: 'x', extra: 1 }]) {
    assert.ok(!ok(credentialsBody, b), JSON.stringify(b));
  }
});
