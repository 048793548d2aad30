import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../node/config.ts';
import { assertError } from '../helpers/assert.ts';
import { createFn, invoke, waitDeployment } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode, tempDir } from '../helpers/processes.ts';

let node: NodeHandle;
before(async () => {
  // Four builds at once even on a 2-core machine, so the tests below see them overlap.
  node = await startNode({ env: { ORVA_BUILD_CONCURRENCY: '4', ORVA_BUILD_QUEUE_MAX: '4' } });
});
after(async () => {
  await node.stop();
});

/** A handler whose module blocks for `ms` while it loads: the build's sandbox check takes that long. */
const slowToLoad = (ms: number, value: string) => `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms});\nexports.handler = async () => (${JSON.stringify(value)});`;

/** Start an inline deploy; the raw answer. */
const startDeploy = (fnId: string, code: string) => call(node.url, 'POST', `/api/v1/functions/${fnId}/deploy-inline`, { key: node.adminKey, body: { code } });

/** A deployment's build log and its phase timestamps (the builder writes one `[time] phase` line per phase). */
async function buildLog(depId: string): Promise<{ logs: string; at: Record<string, number> }> {
  const r = await call(node.url, 'GET', `/api/v1/deployments/${depId}/logs`, { key: node.adminKey });
  assert.equal(r.status, 200, r.text);
  const at: Record<string, number> = {};
  for (const m of (r.json.logs as string).matchAll(/^\[([^\]]+)\] (\w+)$/gm)) at[m[2]!] = Date.parse(m[1]!);
  return { logs: r.json.logs, at };
}

test('parallel builds - several functions deployed at once, one failing: they build at the same time and each deployment keeps its own logs and status', async () => {
  const fns = [await createFn(node), await createFn(node), await createFn(node), await createFn(node)];
  const codes = [slowToLoad(800, 'zero'), slowToLoad(800, 'one'), `${slowToLoad(800, 'two')}\nthrow new Error('broken on purpose');`, slowToLoad(800, 'three')];
  const started = await Promise.all(fns.map((fn, i) => startDeploy(fn, codes[i]!)));
  for (const r of started) assert.equal(r.status, 202, r.text);
  const deps = await Promise.all(started.map((r) => waitDeployment(node, r.json.id)));

  assert.deepEqual(deps.map((d) => d.status), ['succeeded', 'succeeded', 'failed', 'succeeded']);
  assert.match(deps[2].error, /failed to load.*broken on purpose/);
  const logs = await Promise.all(deps.map((d) => buildLog(d.id)));
  for (const [i, d] of deps.entries()) {
    assert.equal(d.function_id, fns[i]);
    const hashes = [...logs[i]!.logs.matchAll(/^code hash (\w+)$/gm)].map((m) => m[1]);
    if (d.status === 'succeeded') assert.deepEqual(hashes, [d.code_hash], 'one build, its own hash');
    else {
      assert.deepEqual(hashes, [], 'the failed build never got to packing');
      assert.equal((logs[i]!.logs.match(/^build failed:/gm) ?? []).length, 1);
    }
    for (const [j, dj] of deps.entries()) if (j !== i && dj.code_hash) assert.ok(!logs[i]!.logs.includes(dj.code_hash), `deployment ${i}'s log mentions nothing of build ${j}`);
  }
  // They ran at the same time: every build was loading its handler while every other one was.
  const verifying = logs.map((l) => [l.at.verifying!, l.at.packing ?? Date.parse(deps[2].finished_at)] as const);
  for (const [i, [from]] of verifying.entries()) {
    for (const [j, [, to]] of verifying.entries()) if (i !== j) assert.ok(from < to, `build ${i} started verifying before build ${j} was done with it`);
  }
  // Each function serves its own version; the failed one has none, and says whose build failed.
  for (const [i, value] of ['zero', 'one', null, 'three'].entries()) {
    const r = await invoke(node, fns[i]!);
    if (value !== null) assert.equal(r.json, value);
    else assert.equal(r.json.error.details.deployment_id, deps[2].id);
  }
});

test('parallel builds - two deploys of the same function stay in order: the second starts after the first finished, and the second is what serves', async () => {
  const fn = await createFn(node);
  const first = await startDeploy(fn, slowToLoad(800, 'first'));
  const second = await startDeploy(fn, `exports.handler = async () => 'second';`);
  assert.equal(first.status, 202, first.text);
  assert.equal(second.status, 202, second.text);
  const [d1, d2] = [await waitDeployment(node, first.json.id), await waitDeployment(node, second.json.id)];
  assert.equal(d1.status, 'succeeded');
  assert.equal(d2.status, 'succeeded');
  const log2 = await buildLog(d2.id);
  assert.ok(log2.at.installing! >= Date.parse(d1.finished_at), 'the second build began once the first had finished');
  assert.ok(Date.parse(d2.finished_at) >= Date.parse(d1.finished_at));
  const fnRow = await call(node.url, 'GET', `/api/v1/functions/${fn}`, { key: node.adminKey });
  assert.equal(fnRow.json.active_deployment_id, d2.id, 'the later deploy is the active one');
  assert.equal((await invoke(node, fn)).json, 'second');
});

test('parallel builds - deploys racing for the last places of the queue: as many as fit are accepted, the rest get BUILD_QUEUE_FULL and record nothing', async () => {
  const fns = await Promise.all(Array.from({ length: 7 }, () => createFn(node)));
  const answers = await Promise.all(fns.map((fn, i) => startDeploy(fn, slowToLoad(500, `v${i}`))));
  const accepted = answers.filter((r) => r.status === 202);
  assert.equal(accepted.length, 4, 'ORVA_BUILD_QUEUE_MAX=4 builds queued or running');
  for (const [i, r] of answers.entries()) {
    if (r.status === 202) continue;
    assertError(r, 503, 'BUILD_QUEUE_FULL');
    const history = await call(node.url, 'GET', `/api/v1/functions/${fns[i]}/deployments`, { key: node.adminKey });
    assert.deepEqual(history.json.deployments, [], 'a refused deploy leaves no deployment behind');
  }
  for (const r of accepted) assert.equal((await waitDeployment(node, r.json.id)).status, 'succeeded');
});

test('parallel builds - ORVA_BUILD_CONCURRENCY defaults to the cores and must be an integer from 1 to 256', () => {
  const env = { ORVA_DATA_DIR: tempDir('config'), ORVA_NODE_ID: 'config-test' };
  assert.equal(loadConfig(env).buildConcurrency, availableParallelism());
  assert.equal(loadConfig({ ...env, ORVA_BUILD_CONCURRENCY: '3' }).buildConcurrency, 3);
  assert.equal(loadConfig({ ...env, ORVA_BUILD_CONCURRENCY: '256' }).buildConcurrency, 256);
  for (const bad of ['0', '-1', '257', '1.5', 'two']) assert.throws(() => loadConfig({ ...env, ORVA_BUILD_CONCURRENCY: bad }), /ORVA_BUILD_CONCURRENCY must be an integer in \[1, 256\]/, bad);
});
