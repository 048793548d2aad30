import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError } from '../helpers/assert.ts';
import { createFn, deployed, invoke } from '../helpers/functions.ts';
import { call, sessionCookie } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';
import { type SseConnection, type SseMessage, openSse } from '../helpers/sse.ts';

let node: NodeHandle;
let fnId: string;
before(async () => {
  node = await startNode();
  fnId = await deployed(node, `exports.handler = async () => { console.log('secret log line'); return { ok: true }; };`);
});
after(async () => {
  await node.stop();
});

/** Open /events with the admin key (or the given options). */
const events = (opts: Parameters<typeof openSse>[1] = { key: node.adminKey }) => openSse(`${node.url}/api/v1/events`, opts);

/** Invoke the test function; returns the execution id. */
async function invokeOnce(): Promise<string> {
  const r = await invoke(node, fnId);
  assert.equal(r.status, 200, r.text);
  return r.headers.get('x-orva-execution-id')!;
}

const executionOf = (execId: string) => (m: SseMessage) => m.type === 'execution' && JSON.parse(m.data).id === execId;

/** Run `fn` with the stream open; close it whatever happens. */
async function withStream<T>(conn: SseConnection, fn: (c: SseConnection) => Promise<T>): Promise<T> {
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}

test('events - an invocation arrives as an execution event with the record but not its logs', async () => {
  await withStream(await events(), async (conn) => {
    assert.equal(conn.status, 200);
    assert.match(conn.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(conn.headers.get('cache-control'), 'no-cache');
    const execId = await invokeOnce();
    const m = await conn.next(executionOf(execId));
    const record = JSON.parse(m.data);
    assert.equal(record.function_id, fnId);
    assert.equal(record.status, 'succeeded');
    assert.equal(typeof record.duration_ms, 'number');
    assert.equal(record.logs, undefined, 'logs stay behind /executions/:id/logs');
    assert.ok(!m.data.includes('secret log line'));
    assert.match(m.lastEventId, /^[0-9a-z]+-\d+$/);
  });
});

test('events - a deploy arrives as deployment events, each status and phase change, ending in succeeded', async () => {
  await withStream(await events(), async (conn) => {
    const fn = await createFn(node);
    const r = await call(node.url, 'POST', `/api/v1/functions/${fn}/deploy-inline`, { key: node.adminKey, body: { code: 'exports.handler = async () => 1;' } });
    assert.equal(r.status, 202, r.text);
    const ofThis = (m: SseMessage) => m.type === 'deployment' && JSON.parse(m.data).id === r.json.id;
    await conn.next((m) => ofThis(m) && JSON.parse(m.data).status === 'succeeded', 60_000);
    const seen = conn.messages.filter(ofThis).map((m) => JSON.parse(m.data));
    assert.deepEqual(
      seen.map((d) => d.status),
      ['queued', 'building', 'building', 'building', 'building', 'building', 'succeeded'],
    );
    assert.ok(seen.every((d) => d.logs === undefined));
  });
});

test('events - a metrics snapshot comes at once and then every 5 s', async () => {
  await withStream(await events(), async (conn) => {
    const first = await conn.next((m) => m.type === 'metrics', 2_000);
    const snap = JSON.parse(first.data);
    assert.equal(typeof snap.invocations.total, 'number');
    assert.ok('p99' in snap.latency_ms);
    const firstIndex = conn.messages.indexOf(first);
    const t0 = Date.now();
    await conn.next((m) => m.type === 'metrics', 6_500, firstIndex + 1);
    assert.ok(Date.now() - t0 <= 6_500);
  });
});

test('events - event ids increase, and a reconnect with Last-Event-ID replays exactly what was missed', async () => {
  let lastId = '';
  const seenBefore = await invokeOnce();
  await withStream(await events(), async (conn) => {
    const beforeDrop = await invokeOnce();
    const m = await conn.next(executionOf(beforeDrop));
    lastId = m.lastEventId;
    const seqs = conn.messages.map((x) => Number(x.lastEventId.split('-')[1]));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'ids are monotonic');
  });
  const missed = [await invokeOnce(), await invokeOnce()];
  await withStream(await events({ key: node.adminKey, lastEventId: lastId }), async (conn) => {
    for (const id of missed) await conn.next(executionOf(id), 2_000);
    const replayed = conn.messages.filter((m) => m.type === 'execution').map((m) => JSON.parse(m.data).id);
    assert.deepEqual(replayed.slice(0, 2), missed, 'the missed ones, in order, first');
    assert.ok(!replayed.includes(seenBefore) && !conn.messages.some(executionOf(seenBefore)), 'nothing seen before is repeated');
  });
});

test('events - a fresh connection replays nothing; an id from another boot replays all that is kept', async () => {
  const execId = await invokeOnce();
  await withStream(await events(), async (conn) => {
    await conn.next((m) => m.type === 'metrics');
    assert.ok(!conn.messages.some(executionOf(execId)));
  });
  await withStream(await events({ key: node.adminKey, lastEventId: 'zzzz-5' }), async (conn) => {
    await conn.next(executionOf(execId), 2_000);
  });
});

test('events - a session cookie works (EventSource cannot send headers); no credential is 401, a key without read is 403', async () => {
  const onboard = await call(node.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'admin', password: 'AdminPass123!Secure' } });
  assert.equal(onboard.status, 201, onboard.text);
  await withStream(await events({ cookie: sessionCookie(onboard) }), async (conn) => {
    assert.equal(conn.status, 200);
    await conn.next((m) => m.type === 'metrics');
  });
  assertError(await call(node.url, 'GET', '/api/v1/events'), 401, 'UNAUTHORIZED');
  const key = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body: { name: 'invoker', permissions: ['invoke'] } });
  assert.equal(key.status, 201, key.text);
  assertError(await call(node.url, 'GET', '/api/v1/events', { key: key.json.key }), 403, 'FORBIDDEN');
});
