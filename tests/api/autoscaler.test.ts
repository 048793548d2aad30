import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode({ env: { ORVA_POOL_MAX_WORKERS: '8' } });
});
after(async () => {
  await node.stop();
});

// Sandboxed workers are the node's direct bwrap children; this node runs one function only.
function workerCount(): number {
  try {
    return execFileSync('pgrep', ['-P', String(node.proc.pid), '-x', 'bwrap']).toString().trim().split('\n').length;
  } catch {
    return 0;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

test('autoscaler - a burst from 0 to 64 concurrent callers against min_warm 2 is served without errors, then the pool shrinks back after the TTL', async () => {
  const id = await deployed(node, `exports.handler = async () => { await new Promise((r) => setTimeout(r, 50)); return 'ok'; };`);
  const put = await call(node.url, 'PUT', '/api/v1/pool/config', { key: node.adminKey, body: { function_id: id, min_warm: 2, max_warm: 8, idle_ttl_seconds: 2 } });
  assert.equal(put.status, 200, put.text);
  assert.ok(await until(() => workerCount() === 2, 5_000), `min_warm: ${workerCount()} workers`);

  const burst = await Promise.all(Array.from({ length: 64 }, () => invoke(node, id)));
  for (const r of burst) assert.equal(r.status, 200, r.text);
  const peak = workerCount();
  assert.ok(peak > 2 && peak <= 8, `burst grew the pool to ${peak}`);
  const cold = await call(node.url, 'GET', `/api/v1/executions?function_id=${id}&limit=64`, { key: node.adminKey });
  const coldStarts = cold.json.executions.filter((e: { cold_start: boolean }) => e.cold_start).length;
  assert.ok(coldStarts <= 8, `${coldStarts} cold starts for 64 calls`);

  assert.ok(await until(() => workerCount() === 2, 15_000), `after the TTL: ${workerCount()} workers, want min_warm 2`);
});

test('autoscaler - scale_to_zero false keeps one worker after the TTL; true lets an idle function cost nothing', async () => {
  const id = await deployed(node, `exports.handler = async () => 'ok';`);
  const others = workerCount();
  await call(node.url, 'PUT', '/api/v1/pool/config', { key: node.adminKey, body: { function_id: id, min_warm: 0, idle_ttl_seconds: 1, scale_to_zero: false } });
  await Promise.all(Array.from({ length: 4 }, () => invoke(node, id)));
  assert.ok(await until(() => workerCount() === others + 1, 10_000), `kept ${workerCount() - others}, want 1`);
  await call(node.url, 'PUT', '/api/v1/pool/config', { key: node.adminKey, body: { function_id: id, scale_to_zero: true } });
  assert.ok(await until(() => workerCount() === others, 10_000), `kept ${workerCount() - others}, want 0`);
});
