import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../helpers/assert.ts';
import { deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { startNode } from '../helpers/processes.ts';

test('memory budget - a worker past the host budget, with nothing idle to evict, is refused with 503 MEMORY_EXHAUSTED and Retry-After 30; it is served once memory is free', async () => {
  // 250 MB of budget: one worker of a 128 MB function reserves 192 MB (1.5 x), a second does not fit.
  const node = await startNode({ env: { ORVA_MEMORY_BUDGET_MB: '250' } });
  const a = await deployed(node, `exports.handler = async () => { await new Promise((r) => setTimeout(r, 6000)); return 'a'; };`, { memory_mb: 128 });
  const b = await deployed(node, `exports.handler = async () => 'b';`, { memory_mb: 128 });
  // a's worker is busy for its whole call, so it cannot be evicted for b.
  const slow = invoke(node, a);
  await eventually("a's call in flight", async () => {
    const m = await call(node.url, 'GET', '/api/v1/system/metrics.json', { key: node.adminKey });
    return m.json.functions[a]?.pool?.busy === 1 ? true : undefined;
  });
  const refused = await invoke(node, b);
  assert.equal(refused.status, 503, refused.text);
  assert.equal(refused.json.error.code, 'MEMORY_EXHAUSTED');
  assert.equal(refused.headers.get('retry-after'), '30');
  assert.equal((await slow).status, 200);
  // a's worker is idle now: b's call evicts it and is served.
  assert.equal((await invoke(node, b)).status, 200);
  await node.stop();
});
