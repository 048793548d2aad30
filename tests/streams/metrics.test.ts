import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, eventually } from '../helpers/assert.ts';
import { deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
let okFn: string;
let throwingFn: string;
before(async () => {
  node = await startNode();
  okFn = await deployed(node, `exports.handler = async () => ({ ok: true });`);
  throwingFn = await deployed(node, `exports.handler = async () => { throw new Error('boom'); };`);
});
after(async () => {
  await node.stop();
});

interface Exposition {
  types: Map<string, string>;
  /** `name{label="v",…}` (labels as exposed) → value. */
  samples: Map<string, number>;
}

/** Parse the Prometheus text format; throws on a line that is neither a comment nor a sample. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    else if (line.startsWith('# HELP ')) continue;
    else {
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
      assert.ok(sample, `not an exposition line: ${line}`);
      samples.set(sample[1], Number(sample[2]));
    }
  }
  return { types, samples };
}

/** The value of `name` whose labels include all of `labels`, or undefined. */
function sample(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const [key, value] of e.samples) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    const have = (m[2] ?? '').split(',');
    if (m[1] === name && wanted.every((w) => have.includes(w))) return value;
  }
  return undefined;
}

async function scrape(): Promise<Exposition> {
  const r = await call(node.url, 'GET', '/api/v1/system/metrics', { key: node.adminKey });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.text);
}

/** Call `fnId` `n` times; answers are not checked (the throwing function answers 500). */
async function invokeTimes(fnId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await invoke(node, fnId);
}

test('metrics - the Prometheus text parses and declares every Orva metric with its type, plus process metrics', async () => {
  const e = await scrape();
  const expected: Record<string, string> = {
    orva_invocations_total: 'counter',
    orva_invoke_duration_seconds: 'histogram',
    orva_cold_starts_total: 'counter',
    orva_pool_workers: 'gauge',
    orva_pool_waiting_calls: 'gauge',
    orva_builds_total: 'counter',
    orva_pool_events_total: 'counter',
    orva_meta_apply_lag_commands: 'gauge',
    orva_autoscaler_desired_workers: 'gauge',
    orva_autoscaler_panic: 'gauge',
    process_cpu_user_seconds_total: 'counter',
    process_resident_memory_bytes: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
  };
  for (const [name, type] of Object.entries(expected)) assert.equal(e.types.get(name), type, name);
  assert.equal(sample(e, 'orva_builds_total', { result: 'succeeded' }), 2, 'the two builds of this file');
  const lag = sample(e, 'orva_meta_apply_lag_commands');
  assert.ok(lag !== undefined && lag >= 0, `META lag ${lag}`);
});

test('metrics - invocations are counted by function and status, timed in histogram buckets, and cold starts and pools show', async () => {
  const before = await scrape();
  const ok0 = sample(before, 'orva_invocations_total', { function: okFn, status: 'succeeded' }) ?? 0;
  const count0 = sample(before, 'orva_invoke_duration_seconds_count', { function: okFn }) ?? 0;
  await invokeTimes(okFn, 3);
  await invokeTimes(throwingFn, 2);
  const e = await eventually('the counters to move', async () => {
    const s = await scrape();
    return sample(s, 'orva_invocations_total', { function: throwingFn, status: 'failed' }) === 2 ? s : undefined;
  });
  assert.equal(sample(e, 'orva_invocations_total', { function: okFn, status: 'succeeded' }), ok0 + 3);
  assert.equal(sample(e, 'orva_invoke_duration_seconds_count', { function: okFn }), count0 + 3);
  assert.equal(sample(e, 'orva_invoke_duration_seconds_bucket', { function: okFn, le: '+Inf' }), count0 + 3);
  assert.ok(sample(e, 'orva_invoke_duration_seconds_bucket', { function: okFn, le: '0.005' }) !== undefined, 'fine-grained buckets');
  assert.ok((sample(e, 'orva_invoke_duration_seconds_sum', { function: okFn }) ?? 0) > 0);
  assert.ok((sample(e, 'orva_cold_starts_total', { function: okFn }) ?? 0) >= 1, 'the first call was cold');
  assert.ok((sample(e, 'orva_pool_workers', { function: okFn, state: 'idle' }) ?? 0) >= 1, 'a warm worker waits');
  assert.equal(sample(e, 'orva_pool_workers', { function: okFn, state: 'busy' }), 0);
  assert.equal(sample(e, 'orva_pool_waiting_calls', { function: okFn }), 0);
  assert.ok((sample(e, 'orva_pool_events_total', { type: 'worker-spawned' }) ?? 0) >= 1);
});

test('metrics - metrics.json carries the same counts, recent-window percentiles, per-function pools, META lag and the process', async () => {
  await invokeTimes(okFn, 5);
  const r = await call(node.url, 'GET', '/api/v1/system/metrics.json', { key: node.adminKey });
  assert.equal(r.status, 200, r.text);
  const m = r.json;
  assert.ok(m.invocations.by_status.succeeded >= 5);
  assert.ok(m.invocations.by_status.failed >= 2);
  assert.equal(m.invocations.total, Object.values(m.invocations.by_status as Record<string, number>).reduce((a, b) => a + b, 0));
  for (const lat of [m.latency_ms, m.functions[okFn].latency_ms]) {
    assert.equal(lat.window_s, 60);
    assert.ok(lat.samples >= 5);
    assert.ok(lat.p50 > 0 && lat.p50 <= lat.p95 && lat.p95 <= lat.p99, JSON.stringify(lat));
  }
  const fn = m.functions[okFn];
  assert.ok(fn.invocations.succeeded >= 5);
  assert.ok(fn.cold_starts >= 1);
  assert.deepEqual(Object.keys(fn.pool).sort(), ['busy', 'idle', 'starting', 'waiting']);
  assert.ok(fn.pool.idle >= 1);
  assert.ok('autoscaler' in fn, 'the latest autoscaler decision, or null before its first');
  assert.equal(m.functions[throwingFn].invocations.failed, 2);
  assert.deepEqual(m.builds, { succeeded: 2, failed: 0 });
  assert.ok(m.pool_events['worker-spawned'] >= 1);
  assert.equal(m.meta.lag, 0);
  assert.equal(m.meta.stream_last_seq, m.meta.applied_seq);
  assert.ok(m.process.rss_bytes > 0 && m.process.heap_used_bytes > 0 && m.process.cpu_user_s > 0);
  assert.equal(typeof m.process.cpu_percent, 'number');
  assert.ok(m.uptime_s > 0);
  assert.ok(!Number.isNaN(Date.parse(m.at)));
});

test('metrics - a deleted function drops out of the metrics', async () => {
  const fn = await deployed(node, `exports.handler = async () => 1;`);
  await invokeTimes(fn, 1);
  assert.ok(sample(await scrape(), 'orva_invocations_total', { function: fn }) !== undefined);
  assert.equal((await call(node.url, 'DELETE', `/api/v1/functions/${fn}`, { key: node.adminKey })).status, 200);
  await eventually('the series to go', async () => (sample(await scrape(), 'orva_invocations_total', { function: fn }) === undefined ? true : undefined));
  assert.equal((await call(node.url, 'GET', '/api/v1/system/metrics.json', { key: node.adminKey })).json.functions[fn], undefined);
});

test('metrics - both endpoints need read: no credential is 401, an invoke-only key is 403', async () => {
  const key = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body: { name: 'invoker', permissions: ['invoke'] } });
  assert.equal(key.status, 201, key.text);
  for (const path of ['/api/v1/system/metrics', '/api/v1/system/metrics.json', '/api/v1/runtimes']) {
    assertError(await call(node.url, 'GET', path), 401, 'UNAUTHORIZED');
    assertError(await call(node.url, 'GET', path, { key: key.json.key }), 403, 'FORBIDDEN');
  }
});

test('runtimes - node and python are listed with their interpreter versions, default entrypoints and extensions', async () => {
  const r = await call(node.url, 'GET', '/api/v1/runtimes', { key: node.adminKey });
  assert.equal(r.status, 200, r.text);
  const byId = Object.fromEntries((r.json.runtimes as Array<{ id: string; version: string }>).map((x) => [x.id, x]));
  assert.deepEqual(Object.keys(byId).sort(), ['node', 'python']);
  assert.deepEqual(byId.node, { id: 'node', name: 'Node.js', version: byId.node.version, default_entrypoint: 'handler.js', extensions: ['.js', '.mjs', '.cjs'] });
  assert.deepEqual(byId.python, { id: 'python', name: 'Python', version: byId.python.version, default_entrypoint: 'handler.py', extensions: ['.py'] });
  assert.match(byId.node.version, /^20\.\d+\.\d+$/);
  assert.match(byId.python.version, /^3\.\d+\.\d+$/);
});
