import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError } from '../helpers/assert.ts';
import { createFn, waitDeployment } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';
import { type SseConnection, openSse } from '../helpers/sse.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

const QUICK = `exports.handler = async () => ({ ok: true });`;
// Loading blocks for 1.5 s, so this build holds its function's next build (builds of one function run one at a time) meanwhile.
const SLOW_TO_LOAD = `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);\nexports.handler = async () => ({ ok: true });`;
const PHASES = ['installing', 'verifying', 'packing', 'storing', 'activating'];

/** Start an inline deploy; returns the queued deployment's id. */
async function startDeploy(fnId: string, code: string): Promise<string> {
  const r = await call(node.url, 'POST', `/api/v1/functions/${fnId}/deploy-inline`, { key: node.adminKey, body: { code } });
  assert.equal(r.status, 202, r.text);
  return r.json.id;
}

/** Open a deployment's stream with the admin key. */
const streamOf = (depId: string, lastEventId?: string) => openSse(`${node.url}/api/v1/deployments/${depId}/stream`, { key: node.adminKey, lastEventId });

/** The records a stream carried, after it ended by itself. */
async function recordsUntilEnd(conn: SseConnection): Promise<any[]> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([conn.ended, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('stream did not end')), 60_000)))]);
  clearTimeout(timer);
  for (const m of conn.messages) assert.equal(m.type, 'deployment');
  return conn.messages.map((m) => JSON.parse(m.data));
}

test('deployment stream - a live subscriber sees queued, each build phase in order, then succeeded, and the stream closes', async () => {
  const fn = await createFn(node);
  const slowDep = await startDeploy(fn, SLOW_TO_LOAD);
  const depId = await startDeploy(fn, QUICK);
  const conn = await streamOf(depId);
  assert.equal(conn.status, 200);
  assert.match(conn.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(conn.headers.get('cache-control'), 'no-cache');
  assert.equal(conn.headers.get('x-accel-buffering'), 'no');

  const records = await recordsUntilEnd(conn);
  assert.equal(records[0].status, 'queued', 'the history (still queued behind the slow build) comes first');
  assert.equal(records.at(-1).status, 'succeeded');
  assert.ok(records.every((r) => r.id === depId && r.logs === undefined));
  const phases = records.filter((r) => r.status === 'building').map((r) => r.phase);
  assert.deepEqual(phases, PHASES, 'every phase, once, in order');
  assert.equal(conn.parser.retryMs, 3000, 'a reconnect hint');
  assert.equal((await waitDeployment(node, slowDep)).status, 'succeeded');
});

test('deployment stream - a subscriber joining mid-build gets where it stands first, then the rest', async () => {
  const fn = await createFn(node);
  const depId = await startDeploy(fn, SLOW_TO_LOAD);
  for (let i = 0; i < 200; i++) {
    const r = await call(node.url, 'GET', `/api/v1/deployments/${depId}`, { key: node.adminKey });
    if (r.json.phase === 'verifying') break;
    await new Promise((res) => setTimeout(res, 25));
  }
  const records = await recordsUntilEnd(await streamOf(depId));
  assert.deepEqual(
    records.map((r) => `${r.status}/${r.phase}`),
    ['building/verifying', 'building/packing', 'building/storing', 'building/activating', `succeeded/${records.at(-1).phase}`],
  );
});

test('deployment stream - after the end a late subscriber gets the final record and the close; an EventSource reconnect is told to stop (204)', async () => {
  const fn = await createFn(node);
  const depId = await startDeploy(fn, QUICK);
  await waitDeployment(node, depId);
  const conn = await streamOf(depId);
  const records = await recordsUntilEnd(conn);
  assert.equal(records.length, 1);
  assert.equal(records[0].status, 'succeeded');
  const lastId = conn.parser.lastEventId;
  assert.ok(lastId !== '', 'events carry an id');

  const again = await streamOf(depId, lastId);
  assert.equal(again.status, 204);
  // A reconnect that missed the end still gets it.
  const missed = await streamOf(depId, 'building.verifying.2020-01-01T00:00:00.000Z');
  assert.equal((await recordsUntilEnd(missed)).at(-1).status, 'succeeded');
});

test('deployment stream - a failing build ends the stream with failed and its error', async () => {
  const fn = await createFn(node);
  const depId = await startDeploy(fn, 'exports.handler = async () => {;');
  const last = (await recordsUntilEnd(await streamOf(depId))).at(-1);
  assert.equal(last.status, 'failed');
  assert.match(last.error, /failed to load/);
});

test('deployment stream - an unknown deployment is 404 NOT_FOUND, no credential is 401', async () => {
  const missing = '01900000-0000-7000-8000-000000000000';
  assertError(await call(node.url, 'GET', `/api/v1/deployments/${missing}/stream`, { key: node.adminKey }), 404, 'NOT_FOUND');
  assertError(await call(node.url, 'GET', `/api/v1/deployments/${missing}/stream`), 401, 'UNAUTHORIZED');
});
