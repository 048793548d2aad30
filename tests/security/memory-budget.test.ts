import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { startNode } from '../helpers/processes.ts';

test('memory budget - a worker past the host budget is refused with 503 MEMORY_EXHAUSTED and Retry-After 30; it is served once memory is free', async () => {
  // 250 MB of budget: one worker of a 128 MB function reserves 192 MB (1.5 x), a second does not fit.
  const node = await startNode({ env: { ORVA_MEMORY_BUDGET_MB: '250' } });
  const a = await deployed(node, `exports.handler = async () => 'a';`, { memory_mb: 128 });
  const b = await deployed(node, `exports.handler = async () => 'b';`, { memory_mb: 128 });
  await call(node.url, 'PUT', '/api/v1/pool/config', { key: node.adminKey, body: { function_id: a, idle_ttl_seconds: 1 } });
  assert.equal((await invoke(node, a)).status, 200);
  const refused = await invoke(node, b);
  assert.equal(refused.status, 503, refused.text);
  assert.equal(refused.json.error.code, 'MEMORY_EXHAUSTED');
  assert.equal(refused.headers.get('retry-after'), '30');
  // a's idle worker goes after its 1 s TTL and gives its reservation back.
  let served = 0;
  for (const until = Date.now() + 15_000; served !== 200 && Date.now() < until; await new Promise((r) => setTimeout(r, 500))) served = (await invoke(node, b)).status;
  assert.equal(served, 200);
  await node.stop();
});
