import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployed, executionLogs, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { startNode } from '../helpers/processes.ts';

test('executions - records survive a graceful stop', async () => {
  const node = await startNode();
  const id = await deployed(node, `exports.handler = async () => 'ok';`);
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) ids.push((await invoke(node, id)).headers.get('x-orva-execution-id')!);
  assert.equal(await node.stop(), 0);
  const again = await startNode({ dataDir: node.dataDir });
  const list = await call(again.url, 'GET', `/api/v1/executions?function_id=${id}&limit=1000`, { key: node.adminKey });
  const stored = new Set(list.json.executions.map((e: { id: string }) => e.id));
  for (const e of ids) assert.ok(stored.has(e), `execution ${e} lost`);
  // The version is still active after a restart and serves without a rebuild.
  const r = await invoke(again, id);
  assert.equal(r.status, 200);
  await again.stop();
});

test('executions - a node keeps at most ORVA_EXECUTION_MAX_RECORDS records, the newest', async () => {
  const node = await startNode({ env: { ORVA_EXECUTION_MAX_RECORDS: '100' } });
  const id = await deployed(node, `exports.handler = async () => 'ok';`);
  const ids: string[] = [];
  for (let i = 0; i < 140; i++) ids.push((await invoke(node, id)).headers.get('x-orva-execution-id')!);
  const list = await call(node.url, 'GET', `/api/v1/executions?limit=1000`, { key: node.adminKey });
  const stored = list.json.executions.map((e: { id: string }) => e.id);
  assert.equal(stored.length, 100);
  assert.deepEqual(new Set(stored), new Set(ids.slice(-100)));
  assert.equal((await call(node.url, 'GET', `/api/v1/executions/${ids[0]}`, { key: node.adminKey })).status, 404);
  await node.stop();
});

test('executions - a node keeps at most ORVA_EXECUTION_LOGS_MAX_MB of logs, dropping the oldest first', async () => {
  const node = await startNode({ env: { ORVA_EXECUTION_LOGS_MAX_MB: '1' } });
  // About 200 KiB of output a call: five calls pass the 1 MiB budget.
  const id = await deployed(node, `exports.handler = async () => { console.log('x'.repeat(200 * 1024)); return 'ok'; };`);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await invoke(node, id)).headers.get('x-orva-execution-id')!);
  assert.deepEqual(await executionLogs(node, ids[0]), { execution_id: ids[0], logs: '', logs_dropped: true }, 'the oldest logs went, and the answer says so');
  const newest = await executionLogs(node, ids[5]);
  assert.equal(newest.logs.length, 200 * 1024 + 1);
  assert.equal(newest.logs_dropped, false);
  const record = await call(node.url, 'GET', `/api/v1/executions/${ids[0]}`, { key: node.adminKey });
  assert.equal(record.status, 200, 'its record stays');
  assert.equal(record.json.logs_dropped, true);
  await node.stop();
});
