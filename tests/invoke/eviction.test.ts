import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, eventually } from '../helpers/assert.ts';
import { deployed, executionIdOf, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';
import { openSse } from '../helpers/sse.ts';

// Every function here has memory_mb 64: a worker reserves 96 MiB (1.5 x), so a budget of 200 MB holds two.
const TWO_WORKERS_MB = '200';

/** A handler that answers at once, or after `?ms=` milliseconds (a call kept in flight). */
const SLEEPY = `exports.handler = async (e) => { await new Promise((r) => setTimeout(r, Number(e.query.ms ?? 0))); return 'ok'; };`;

/** A node whose budget holds two workers, with `n` deployed (not yet called) functions. */
async function nodeWith(n: number): Promise<{ node: NodeHandle; fns: string[] }> {
  const node = await startNode({ env: { ORVA_MEMORY_BUDGET_MB: TWO_WORKERS_MB } });
  const fns: string[] = [];
  // Deployed before any call: a build loads the handler once in a sandbox, which needs room too.
  for (let i = 0; i < n; i++) fns.push(await deployed(node, SLEEPY, { memory_mb: 64 }));
  return { node, fns };
}

/** Call `fn` and expect 200; returns the answer. */
async function ok(node: NodeHandle, fn: string, ms = 0) {
  const r = await invoke(node, fn, { method: 'GET', path: `?ms=${ms}` });
  assert.equal(r.status, 200, r.text);
  return r;
}

const metricsJson = async (node: NodeHandle) => (await call(node.url, 'GET', '/api/v1/system/metrics.json', { key: node.adminKey })).json;

/** Evictions per function, from metrics.json. */
async function evictions(node: NodeHandle, fns: string[]): Promise<number[]> {
  const m = await metricsJson(node);
  return fns.map((f) => m.functions[f]?.evictions ?? 0);
}

/** Wait until `fn`'s pool on the node has `busy` calls in flight. */
const busy = (node: NodeHandle, fn: string, n: number) =>
  eventually(`${n} busy worker(s) of ${fn}`, async () => ((await metricsJson(node)).functions[fn]?.pool?.busy === n ? true : undefined));

/** The execution record of a call, once the batch writer has stored it. */
const record = (node: NodeHandle, execId: string) =>
  eventually(`execution ${execId}`, async () => {
    const r = await call(node.url, 'GET', `/api/v1/executions/${execId}`, { key: node.adminKey });
    return r.status === 200 ? r.json : undefined;
  });

test('eviction - a call on a full budget evicts the least recently used idle worker of another function; the evicted function cold-starts on its next call and answers', async () => {
  const { node, fns } = await nodeWith(3);
  const [a, b, c] = fns as [string, string, string];
  await ok(node, a);
  await ok(node, b);
  await ok(node, c); // the budget is full: a, the least recently used, goes
  assert.deepEqual(await evictions(node, fns), [1, 0, 0]);
  assert.equal((await record(node, executionIdOf(await ok(node, b)))).cold_start, false, 'b kept its warm worker');
  const again = await record(node, executionIdOf(await ok(node, a)));
  assert.equal(again.cold_start, true, 'a had lost its worker');
  assert.equal(again.status, 'succeeded');
  assert.deepEqual(await evictions(node, fns), [1, 0, 1], 'c was now the least recently used (b was called after it)');
  await node.stop();
});

test('eviction - a busy worker is never evicted: with nothing idle the call answers 503 MEMORY_EXHAUSTED, and is served once a worker is idle again', async () => {
  const { node, fns } = await nodeWith(3);
  const [a, b, c] = fns as [string, string, string];
  const inFlight = [ok(node, a, 8_000), ok(node, b, 8_000)];
  await busy(node, a, 1);
  await busy(node, b, 1);
  const refused = await invoke(node, c, { method: 'GET' });
  assertError(refused, 503, 'MEMORY_EXHAUSTED');
  assert.match(refused.json.error.message, /not enough idle workers of other functions/);
  assert.deepEqual(await evictions(node, fns), [0, 0, 0]);
  await Promise.all(inFlight);
  await ok(node, c);
  assert.deepEqual(await evictions(node, fns), [1, 0, 0], 'a, idle again, was evicted for c');
  await node.stop();
});

test('eviction - workers kept for min_warm are evicted only after every other idle worker', async () => {
  const { node, fns } = await nodeWith(3);
  const [warm, b, c] = fns as [string, string, string];
  const set = await call(node.url, 'PUT', '/api/v1/pool/config', { key: node.adminKey, body: { function_id: warm, min_warm: 1 } });
  assert.equal(set.status, 200, set.text);
  await eventually('the min_warm worker', async () => ((await metricsJson(node)).functions[warm]?.pool?.idle === 1 ? true : undefined));
  await ok(node, b);
  await ok(node, c); // warm's worker is the least recently used, but min_warm keeps it: b goes
  assert.deepEqual(await evictions(node, fns), [0, 1, 0]);
  // With c busy, the min_warm worker is the only idle one left: now it goes.
  const inFlight = ok(node, c, 8_000);
  await busy(node, c, 1);
  await ok(node, b);
  assert.deepEqual(await evictions(node, fns), [1, 1, 0]);
  await inFlight;
  await node.stop();
});

test('eviction - evictions are counted in the Prometheus metrics and metrics.json, and show as evicted pool events on /api/v1/events', async () => {
  const { node, fns } = await nodeWith(3);
  const [a, b, c] = fns as [string, string, string];
  await ok(node, a);
  await ok(node, b);
  await ok(node, c);
  const prom = await call(node.url, 'GET', '/api/v1/system/metrics', { key: node.adminKey });
  assert.equal(prom.status, 200);
  assert.match(prom.text, /# TYPE orva_worker_evictions_total counter/);
  assert.match(prom.text, new RegExp(`orva_worker_evictions_total\\{function="${a}"\\} 1\\n`));
  assert.match(prom.text, /orva_pool_events_total\{type="evicted"\} 1\n/);
  const m = await metricsJson(node);
  assert.equal(m.evictions, 1);
  assert.equal(m.functions[a].evictions, 1);
  assert.equal(m.functions[c].evictions, 0);
  assert.equal(m.pool_events.evicted, 1);
  // An id from no boot of this node replays the feed's whole buffer.
  const conn = await openSse(`${node.url}/api/v1/events`, { key: node.adminKey, lastEventId: 'none-0' });
  try {
    // The eviction itself: who went, for whom.
    const evicted = JSON.parse((await conn.next((x) => x.type === 'pool')).data);
    assert.deepEqual([evicted.type, evicted.functionId, evicted.forFunctionId, evicted.keptWarm], ['evicted', a, c, false]);
    const snap = JSON.parse((await conn.next((x) => x.type === 'metrics')).data);
    assert.equal(snap.evictions, 1);
    assert.equal(snap.pool_events.evicted, 1);
  } finally {
    conn.close();
  }
  await node.stop();
});

test('eviction - a deploy on a full budget evicts an idle worker to load its handler, rather than fail its build', async () => {
  const { node, fns } = await nodeWith(2);
  const [a, b] = fns as [string, string];
  await ok(node, a);
  await ok(node, b); // two idle workers: the budget is full
  const c = await deployed(node, SLEEPY, { memory_mb: 64 });
  assert.deepEqual(await evictions(node, fns), [1, 0], 'the least recently used idle worker made room for the build');
  await ok(node, c);
  await node.stop();
});
