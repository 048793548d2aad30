import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { assertError, eventually } from '../helpers/assert.ts';
import { call, sessionCookie } from '../helpers/http.ts';
import { type NatsHandle, type NodeHandle, startNats, startNode } from '../helpers/processes.ts';

const ADMIN = { username: 'admin', password: 'AdminPass123!Secure' };
/** Tables every node must hold identically, each with the column it is ordered by. */
const REPLICATED: Record<string, string> = { functions: 'id', api_keys: 'id', users: 'id', sessions: 'token_hash' };
/** Writes fired at each node in the burst. */
const BURST_PER_NODE = 100;

let nats: NatsHandle;
let a: NodeHandle;
let b: NodeHandle;
/** The bootstrap admin key; only node a wrote it to a file. */
let key = '';

// A call with the admin key to node `n`.
function api(n: NodeHandle, method: string, path: string, body?: unknown) {
  return call(n.url, method, path, { key, body });
}

// The function list of a node, as JSON text for comparison.
async function functionsOf(n: NodeHandle): Promise<string> {
  const r = await api(n, 'GET', '/api/v1/functions');
  assert.equal(r.status, 200, r.text);
  return JSON.stringify(r.json.functions);
}

// Every replicated row of a stopped node's SQLite file, read-only, plus its applied sequence.
function dump(dataDir: string): Record<string, unknown[]> {
  const db = new Database(join(dataDir, 'orva.db'), { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const [table, order] of Object.entries(REPLICATED)) out[table] = db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all();
    out.applied_seq = [db.prepare("SELECT value FROM meta_state WHERE key = 'applied_seq'").get()];
    return out;
  } finally {
    db.close();
  }
}

// Assert a status is one of the expected ones (never a 5xx or an auth failure).
function expectStatus(r: { status: number; text: string }, allowed: number[], what: string): void {
  assert.ok(allowed.includes(r.status), `${what}: ${r.status} ${r.text}`);
}

before(async () => {
  nats = await startNats();
  a = await startNode({ natsUrl: nats.url, expectAdminKey: true });
  b = await startNode({ natsUrl: nats.url, expectAdminKey: false });
  key = a.adminKey;
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await nats?.stop();
});

test('cluster - only the first node creates the bootstrap key, and the second node accepts it', async () => {
  assert.match(key, /^orva_[0-9a-f]{40}$/);
  assert.equal(b.adminKey, '');
  assert.ok(!existsSync(join(b.dataDir, 'admin.key')), 'the second node wrote an admin.key');
  const keys = await api(b, 'GET', '/api/v1/keys');
  assert.equal(keys.status, 200, keys.text);
  assert.deepEqual(keys.json.keys.map((k: { name: string }) => k.name), ['bootstrap-admin']);
  assert.ok(!b.output().includes(key) && !a.output().includes(key), 'the admin key leaked into a log');
});

test('cluster - two nodes started together on an empty log make one bootstrap key, and concurrent onboardings one user', async () => {
  const fresh = await startNats();
  const [x, y] = await Promise.all([startNode({ natsUrl: fresh.url }), startNode({ natsUrl: fresh.url })]);
  try {
    const keys = [x.adminKey, y.adminKey].filter(Boolean);
    assert.equal(keys.length, 1, 'exactly one node writes admin.key');
    for (const n of [x, y]) {
      const r = await call(n.url, 'GET', '/api/v1/keys', { key: keys[0] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.keys.length, 1);
    }
    const [ox, oy] = await Promise.all([
      call(x.url, 'POST', '/api/v1/auth/onboard', { body: ADMIN }),
      call(y.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'other', password: 'Second-Pass-12345' } }),
    ]);
    assert.deepEqual([ox.status, oy.status].sort(), [201, 409], `${ox.text} / ${oy.text}`);
  } finally {
    await Promise.all([x.stop(), y.stop()]);
    await fresh.stop();
  }
});

test('cluster - a write on one node is readable on the other', async () => {
  const created = await api(a, 'POST', '/api/v1/functions', { name: 'cross', runtime: 'node' });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  const onB = await eventually('the function on node b', async () => {
    const r = await api(b, 'GET', `/api/v1/functions/${id}`);
    return r.status === 200 ? r.json : undefined;
  }, 5_000);
  assert.deepEqual(onB, created.json);
  const updated = await api(b, 'PUT', `/api/v1/functions/${id}`, { memory_mb: 512 });
  assert.equal(updated.status, 200, updated.text);
  await eventually('the update on node a', async () => ((await api(a, 'GET', `/api/v1/functions/${id}`)).json.memory_mb === 512 ? true : undefined), 5_000);
  assert.equal((await api(b, 'DELETE', `/api/v1/functions/${id}`)).status, 200);
  await eventually('the delete on node a', async () => ((await api(a, 'GET', `/api/v1/functions/${id}`)).status === 404 ? true : undefined), 5_000);
});

test('cluster - a key created on one node works on the other, and its revocation too', async () => {
  const created = await api(b, 'POST', '/api/v1/keys', { name: 'from-b', permissions: ['read'] });
  assert.equal(created.status, 201, created.text);
  await eventually('the new key to work on node a', async () => ((await call(a.url, 'GET', '/api/v1/functions', { key: created.json.key })).status === 200 ? true : undefined), 5_000);
  assertError(await call(a.url, 'POST', '/api/v1/functions', { key: created.json.key, body: { name: 'nope', runtime: 'node' } }), 403, 'FORBIDDEN');
  assert.equal((await api(a, 'DELETE', `/api/v1/keys/${created.json.id}`)).status, 200);
  await eventually('the revoked key to fail on node b', async () => ((await call(b.url, 'GET', '/api/v1/functions', { key: created.json.key })).status === 401 ? true : undefined), 5_000);
});

test('cluster - onboarding on one node lets the user log in on the other, and the session works on both', async () => {
  const onboard = await call(a.url, 'POST', '/api/v1/auth/onboard', { body: ADMIN });
  assert.equal(onboard.status, 201, onboard.text);
  assertError(await call(b.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'other', password: 'Second-Pass-12345' } }), 409, 'CONFLICT');
  const login = await call(b.url, 'POST', '/api/v1/auth/login', { body: ADMIN });
  assert.equal(login.status, 200, login.text);
  const cookie = sessionCookie(login);
  await eventually('the session from node b on node a', async () => ((await call(a.url, 'GET', '/api/v1/auth/me', { cookie })).status === 200 ? true : undefined), 5_000);
  assert.equal((await call(a.url, 'POST', '/api/v1/auth/logout', { cookie })).status, 200);
  await eventually('the logout on node b', async () => ((await call(b.url, 'GET', '/api/v1/auth/me', { cookie })).status === 401 ? true : undefined), 5_000);
});

test('cluster - the same name created concurrently on both nodes: exactly one 201 and one 409 CONFLICT', async () => {
  for (let round = 0; round < 5; round++) {
    const name = `race-${round}`;
    const [ra, rb] = await Promise.all([
      api(a, 'POST', '/api/v1/functions', { name, runtime: 'node' }),
      api(b, 'POST', '/api/v1/functions', { name, runtime: 'python' }),
    ]);
    assert.deepEqual([ra.status, rb.status].sort(), [201, 409], `${name}: ${ra.text} / ${rb.text}`);
    const winner = ra.status === 201 ? ra : rb;
    assertError(ra.status === 409 ? ra : rb, 409, 'CONFLICT');
    for (const n of [a, b]) {
      const got = await eventually(`${name} on ${n.url}`, async () => {
        const r = await api(n, 'GET', `/api/v1/functions/${winner.json.id}`);
        return r.status === 200 ? r.json : undefined;
      }, 5_000);
      assert.equal(got.runtime, winner.json.runtime);
    }
  }
});

test('cluster - a burst of concurrent writes to both nodes ends with identical metadata', async () => {
  // Functions both nodes then update and delete concurrently.
  const seeds: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await api(a, 'POST', '/api/v1/functions', { name: `seed-${i}`, runtime: 'node' });
    assert.equal(r.status, 201, r.text);
    seeds.push(r.json.id);
  }
  await eventually('node b to see the seeds', async () => ((await functionsOf(b)) === (await functionsOf(a)) ? true : undefined), 5_000);

  const ops: Array<Promise<void>> = [];
  for (const [tag, n] of [['a', a], ['b', b]] as const) {
    for (let i = 0; i < BURST_PER_NODE; i++) {
      const seed = seeds[i % seeds.length];
      const op = (async () => {
        switch (i % 5) {
          case 0: {
            // Every other create uses a name the other node creates too.
            const name = i % 10 === 0 ? `shared-${i}` : `burst-${tag}-${i}`;
            expectStatus(await api(n, 'POST', '/api/v1/functions', { name, runtime: 'node', env_vars: { FROM: tag } }), [201, 409], `create ${name}`);
            break;
          }
          case 1:
          case 2:
            expectStatus(await api(n, 'PUT', `/api/v1/functions/${seed}`, { timeout_ms: 1000 + i, env_vars: { FROM: tag, I: String(i) } }), [200, 404], `update ${seed}`);
            break;
          case 3:
            expectStatus(await api(n, 'POST', '/api/v1/keys', { name: `burst-${tag}-${i}`, permissions: ['read'] }), [201], 'key create');
            break;
          case 4:
            // Both nodes delete the same few seeds; one of each pair gets 404.
            if (i % 20 === 4) expectStatus(await api(n, 'DELETE', `/api/v1/functions/${seed}`), [200, 404], `delete ${seed}`);
            else expectStatus(await api(n, 'PUT', `/api/v1/functions/${seed}`, { name: `renamed-${i % 20}` }), [200, 404, 409], `rename ${seed}`);
            break;
        }
      })();
      ops.push(op);
    }
  }
  await Promise.all(ops);
  await eventually('both nodes to list the same functions', async () => ((await functionsOf(a)) === (await functionsOf(b)) ? true : undefined), 10_000);

  // Stop both, then start and stop them once more: each replays what the other
  // logged during its stop (the last key-use flush), so both end at the stream's end.
  await Promise.all([a.stop(), b.stop()]);
  a = await startNode({ natsUrl: nats.url, dataDir: a.dataDir });
  b = await startNode({ natsUrl: nats.url, dataDir: b.dataDir });
  await Promise.all([a.stop(), b.stop()]);
  const da = dump(a.dataDir);
  const db = dump(b.dataDir);
  for (const table of Object.keys(da)) assert.deepEqual(db[table], da[table], `table ${table} differs`);
  assert.ok(da.functions.length > 20 && da.api_keys.length > 40, `the burst wrote too little: ${da.functions.length} functions, ${da.api_keys.length} keys`);
  // Restart both for the `after` hook and any later test.
  [a, b] = await Promise.all([startNode({ natsUrl: nats.url, dataDir: a.dataDir }), startNode({ natsUrl: nats.url, dataDir: b.dataDir })]);
});
