import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { authRoutes } from '../../node/resources/auth.ts';
import { channelRoutes } from '../../node/resources/channels.ts';
import { functionRoutes } from '../../node/resources/functions.ts';
import { keyRoutes } from '../../node/resources/keys.ts';
import { systemRoutes } from '../../node/resources/system.ts';
import type { Services } from '../../node/services.ts';
import { PERMISSIONS } from '../../protocol/permissions.ts';
import { assertError } from '../helpers/assert.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MISSING_ID = '01900000-0000-7000-8000-000000000000';

/**
 * The permission map the README documents: every management route and what
 * it needs. `public` needs no credential, `session` only a session cookie.
 */
const PERMISSION_MAP: Record<string, string> = {
  'GET /api/v1/system/health': 'public',
  'GET /api/v1/auth/status': 'public',
  'POST /api/v1/auth/onboard': 'public',
  'POST /api/v1/auth/login': 'public',
  'GET /api/v1/auth/me': 'session',
  'POST /api/v1/auth/refresh': 'session',
  'POST /api/v1/auth/logout': 'session',
  'GET /api/v1/keys': 'admin',
  'POST /api/v1/keys': 'admin',
  'DELETE /api/v1/keys/:id': 'admin',
  'GET /api/v1/functions': 'read',
  'POST /api/v1/functions': 'write',
  'GET /api/v1/functions/:id': 'read',
  'PUT /api/v1/functions/:id': 'write',
  'DELETE /api/v1/functions/:id': 'write',
  'GET /api/v1/channels': 'read',
  'POST /api/v1/channels': 'write',
  'GET /api/v1/channels/:id': 'read',
  'PATCH /api/v1/channels/:id': 'write',
  'PUT /api/v1/channels/:id/functions': 'write',
  'POST /api/v1/channels/:id/rotate': 'write',
  'DELETE /api/v1/channels/:id': 'write',
};

let node: NodeHandle;

// POST /keys with the admin key; asserts 201 and returns the body.
async function createKey(body: Record<string, unknown>) {
  const r = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// The key listing, as the admin key sees it.
async function listKeys(): Promise<Array<Record<string, unknown>>> {
  const r = await call(node.url, 'GET', '/api/v1/keys', { key: node.adminKey });
  assert.equal(r.status, 200, r.text);
  return r.json.keys;
}

// A request that passes the permission check without changing anything (404 or 400 at worst).
function harmlessRequest(method: string, path: string): { path: string; body?: unknown } {
  return { path: path.replace(':id', MISSING_ID), body: method === 'POST' || method === 'PUT' ? {} : undefined };
}

before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

test('keys - the bootstrap admin key sits in a 0600 file in the data dir and carries all four permissions', async () => {
  const st = statSync(join(node.dataDir, 'admin.key'));
  assert.equal(st.mode & 0o777, 0o600);
  assert.match(node.adminKey, /^orva_[0-9a-f]{40}$/);
  const keys = await listKeys();
  assert.equal(keys.length, 1);
  assert.equal(keys[0].prefix, node.adminKey.slice(0, 13));
  assert.deepEqual([...(keys[0].permissions as string[])].sort(), [...PERMISSIONS].sort());
  assert.equal(keys[0].expires_at, null);
});

test('keys - the bootstrap key plaintext never appears in the node log, only its prefix', async () => {
  const out = node.output();
  assert.ok(!out.includes(node.adminKey), 'admin key plaintext in the log');
  assert.ok(!out.includes(node.adminKey.slice(13)), 'admin key secret part in the log');
  assert.ok(out.includes(node.adminKey.slice(0, 13)), 'the log should name the prefix');
});

test('keys - a created key is returned once in plaintext and works; the listing never shows key or hash', async () => {
  const created = await createKey({ name: 'ci-deployer', permissions: ['invoke', 'read', 'write'] });
  assert.match(created.key, /^orva_[0-9a-f]{40}$/);
  assert.match(created.id, UUID7);
  assert.equal(created.prefix, created.key.slice(0, 13));
  assert.deepEqual(created.permissions, ['invoke', 'read', 'write']);
  assert.equal(created.expires_at, null);
  assert.equal(created.last_used_at, null);
  assert.equal(created.name, 'ci-deployer');
  assert.equal((await call(node.url, 'GET', '/api/v1/functions', { key: created.key })).status, 200);
  const listed = (await listKeys()).find((k) => k.id === created.id);
  assert.ok(listed);
  assert.deepEqual(Object.keys(listed).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'permissions', 'prefix']);
  const raw = (await call(node.url, 'GET', '/api/v1/keys', { key: node.adminKey })).text;
  assert.ok(!raw.includes(created.key.slice(13)) && !raw.includes(node.adminKey.slice(13)), 'a key secret leaked into the listing');
  assert.ok(!node.output().includes(created.key.slice(13)), 'a created key leaked into the log');
});

test('keys - a key created without permissions gets all four', async () => {
  const created = await createKey({ name: 'full' });
  assert.deepEqual(created.permissions, [...PERMISSIONS]);
});

test('keys - expires_in_days and expires_at set the expiry', async () => {
  const t0 = Date.now();
  const inDays = await createKey({ name: 'ninety', expires_in_days: 90 });
  assert.ok(Math.abs(Date.parse(inDays.expires_at) - (t0 + 90 * 86_400_000)) < 60_000, inDays.expires_at);
  const at = new Date(t0 + 3 * 86_400_000).toISOString();
  const fixed = await createKey({ name: 'fixed', expires_at: at });
  assert.equal(fixed.expires_at, at);
  const offset = await createKey({ name: 'offset', expires_at: '2099-01-01T02:00:00+02:00' });
  assert.equal(offset.expires_at, '2099-01-01T00:00:00.000Z');
});

test('keys - bad create bodies are 400 and create nothing', async () => {
  const before = await listKeys();
  const future = new Date(Date.now() + 86_400_000).toISOString();
  const bad: Array<[unknown, string]> = [
    [{ name: 'both', expires_in_days: 1, expires_at: future }, 'VALIDATION'],
    [{ name: 'past', expires_at: new Date(Date.now() - 60_000).toISOString() }, 'VALIDATION'],
    [{ name: 'not-iso', expires_at: 'tomorrow' }, 'VALIDATION'],
    [{ name: 'zero-days', expires_in_days: 0 }, 'VALIDATION'],
    [{ name: 'frac-days', expires_in_days: 1.5 }, 'VALIDATION'],
    [{ name: 'no-perms', permissions: [] }, 'VALIDATION'],
    [{ name: 'bad-perm', permissions: ['root'] }, 'VALIDATION'],
    [{ name: '   ' }, 'VALIDATION'],
    [{}, 'VALIDATION'],
    [{ name: 'extra', hash: 'ab' }, 'VALIDATION'],
    [{ name: 42 }, 'VALIDATION'],
  ];
  for (const [body, code] of bad) assertError(await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body }), 400, code);
  assertError(await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, rawBody: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
  assert.deepEqual(await listKeys(), before);
});

test('keys - a missing, garbage or channel-token key is 401 UNAUTHORIZED', async () => {
  assertError(await call(node.url, 'GET', '/api/v1/functions'), 401, 'UNAUTHORIZED');
  for (const key of ['', 'garbage', `orva_${'0'.repeat(40)}`, `${node.adminKey.slice(0, 13)}${'f'.repeat(32)}`, `orva_chn_${'a'.repeat(32)}`, `${node.adminKey}x`, node.adminKey.toUpperCase()]) {
    assertError(await call(node.url, 'GET', '/api/v1/functions', { key }), 401, 'UNAUTHORIZED');
  }
});

test('keys - a revoked key is 401 UNAUTHORIZED and disappears from the listing', async () => {
  const k = await createKey({ name: 'to-revoke' });
  assert.equal((await call(node.url, 'GET', '/api/v1/functions', { key: k.key })).status, 200);
  const r = await call(node.url, 'DELETE', `/api/v1/keys/${k.id}`, { key: node.adminKey });
  assert.equal(r.status, 200, r.text);
  assertError(await call(node.url, 'GET', '/api/v1/functions', { key: k.key }), 401, 'UNAUTHORIZED');
  assert.ok(!(await listKeys()).some((x) => x.id === k.id));
  assertError(await call(node.url, 'DELETE', `/api/v1/keys/${k.id}`, { key: node.adminKey }), 404, 'NOT_FOUND');
});

test('keys - revoking an unknown id is 404 NOT_FOUND and changes nothing', async () => {
  const before = await listKeys();
  assertError(await call(node.url, 'DELETE', `/api/v1/keys/${MISSING_ID}`, { key: node.adminKey }), 404, 'NOT_FOUND');
  assertError(await call(node.url, 'DELETE', '/api/v1/keys/not-a-uuid', { key: node.adminKey }), 404, 'NOT_FOUND');
  assert.deepEqual(await listKeys(), before);
});

test('keys - an expired key is 401 UNAUTHORIZED', async () => {
  const expiresAt = Date.now() + 1_500;
  const k = await createKey({ name: 'short-lived', expires_at: new Date(expiresAt).toISOString() });
  assert.equal((await call(node.url, 'GET', '/api/v1/functions', { key: k.key })).status, 200);
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
  assertError(await call(node.url, 'GET', '/api/v1/functions', { key: k.key }), 401, 'UNAUTHORIZED');
});

test('keys - a key lacking read, write or admin gets 403 FORBIDDEN and changes nothing', async () => {
  const noRead = (await createKey({ name: 'no-read', permissions: ['invoke', 'write', 'admin'] })).key;
  const noWrite = (await createKey({ name: 'no-write', permissions: ['invoke', 'read', 'admin'] })).key;
  const noAdmin = (await createKey({ name: 'no-admin', permissions: ['invoke', 'read', 'write'] })).key;
  const keysBefore = await listKeys();
  const fnsBefore = (await call(node.url, 'GET', '/api/v1/functions', { key: node.adminKey })).json;
  const r403 = (r: Awaited<ReturnType<typeof call>>, perm: string) => {
    assertError(r, 403, 'FORBIDDEN');
    assert.equal(r.json.error.details.required, perm);
  };
  r403(await call(node.url, 'GET', '/api/v1/functions', { key: noRead }), 'read');
  r403(await call(node.url, 'POST', '/api/v1/functions', { key: noWrite, body: { name: 'nope', runtime: 'node' } }), 'write');
  r403(await call(node.url, 'GET', '/api/v1/keys', { key: noAdmin }), 'admin');
  r403(await call(node.url, 'POST', '/api/v1/keys', { key: noAdmin, body: { name: 'escalate' } }), 'admin');
  r403(await call(node.url, 'DELETE', `/api/v1/keys/${keysBefore[0].id}`, { key: noAdmin }), 'admin');
  assert.deepEqual(await listKeys(), keysBefore);
  assert.deepEqual((await call(node.url, 'GET', '/api/v1/functions', { key: node.adminKey })).json, fnsBefore);
});

test('keys - the permission map covers every route the resources declare', () => {
  const none = {} as Services;
  const declared = Object.fromEntries(
    [...systemRoutes(), ...authRoutes(none), ...keyRoutes(none), ...functionRoutes(none), ...channelRoutes(none)].map((r) => [`${r.method} ${r.path}`, r.access]),
  );
  assert.deepEqual(declared, PERMISSION_MAP);
});

test('keys - every route enforces exactly its permission from the map', async () => {
  const only = new Map<string, string>();
  const allBut = new Map<string, string>();
  for (const p of PERMISSIONS) {
    only.set(p, (await createKey({ name: `only-${p}`, permissions: [p] })).key);
    allBut.set(p, (await createKey({ name: `all-but-${p}`, permissions: PERMISSIONS.filter((x) => x !== p) })).key);
  }
  for (const [route, access] of Object.entries(PERMISSION_MAP)) {
    const [method, pattern] = route.split(' ');
    const { path, body } = harmlessRequest(method, pattern);
    if (access === 'public') {
      const r = await call(node.url, method, path, { body });
      assert.ok(r.status !== 401 && r.status !== 403, `${route} without a credential: ${r.status} ${r.text}`);
      continue;
    }
    assertError(await call(node.url, method, path, { body }), 401, 'UNAUTHORIZED');
    if (access === 'session') {
      assertError(await call(node.url, method, path, { key: node.adminKey, body }), 401, 'UNAUTHORIZED');
      continue;
    }
    const allowed = await call(node.url, method, path, { key: only.get(access)!, body });
    assert.ok(allowed.status !== 401 && allowed.status !== 403, `${route} with only ${access}: ${allowed.status} ${allowed.text}`);
    const refused = await call(node.url, method, path, { key: allBut.get(access)!, body });
    assertError(refused, 403, 'FORBIDDEN');
  }
});

test('keys - last_used_at becomes set once key uses are flushed (at the latest on a graceful stop)', async () => {
  const used = await createKey({ name: 'used' });
  const unused = await createKey({ name: 'unused' });
  assert.equal((await call(node.url, 'GET', '/api/v1/functions', { key: used.key })).status, 200);
  const t = Date.now();
  assert.equal(await node.stop(), 0);
  node = await startNode({ dataDir: node.dataDir });
  const keys = await listKeys();
  const u = keys.find((k) => k.id === used.id)!;
  assert.ok(u.last_used_at !== null, 'last_used_at not set after a use');
  assert.ok(Math.abs(Date.parse(u.last_used_at as string) - t) < 10_000);
  assert.equal(keys.find((k) => k.id === unused.id)!.last_used_at, null);
  // The restart kept the same bootstrap key and made no new one.
  assert.equal(keys.filter((k) => k.name === 'bootstrap-admin').length, 1);
});
