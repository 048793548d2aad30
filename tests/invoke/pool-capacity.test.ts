import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError } from '../helpers/assert.ts';
import { deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

const QUEUE_TIMEOUT_MS = 400;
let node: NodeHandle;
before(async () => {
  node = await startNode({ env: { ORVA_POOL_MAX_WORKERS: '1', ORVA_POOL_QUEUE_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS) } });
});
after(async () => {
  await node.stop();
});

test('pool - calls that wait past the queue timeout get 503 POOL_AT_CAPACITY with Retry-After; the pool serves again after', async () => {
  const id = await deployed(node, `exports.handler = async (e) => { if (e.body === 'slow') await new Promise((r) => setTimeout(r, 2500)); return { ok: true }; };`);
  assert.equal((await invoke(node, id, { rawBody: 'fast' })).status, 200); // the one worker is warm
  const slow = invoke(node, id, { rawBody: 'slow' });
  await new Promise((r) => setTimeout(r, 200));
  // Queued in turn, each gives up one queue timeout after it arrived.
  const queued: Array<Promise<Awaited<ReturnType<typeof invoke>>>> = [];
  for (let i = 0; i < 3; i++) {
    queued.push(invoke(node, id, { rawBody: 'fast' }));
    await new Promise((r) => setTimeout(r, 150));
  }
  for (const r of await Promise.all(queued)) {
    assertError(r, 503, 'POOL_AT_CAPACITY');
    assert.equal(r.headers.get('retry-after'), '5');
    assert.equal(r.json.error.details.function_id, id);
    assert.equal(r.json.error.details.limit, 1);
  }
  assert.equal((await slow).status, 200, 'the call holding the worker is not disturbed');
  assert.equal((await invoke(node, id, { rawBody: 'fast' })).status, 200);

  const list = await call(node.url, 'GET', `/api/v1/executions?function_id=${id}&limit=10`, { key: node.adminKey });
  const rejected = list.json.executions.filter((e: { status: string }) => e.status === 'rejected');
  assert.equal(rejected.length, 3);
  for (const e of rejected) assert.equal(e.error_code, 'POOL_AT_CAPACITY');
});
