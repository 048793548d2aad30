import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createFn, deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode({ env: { ORVA_POOL_MAX_WORKERS: '8', ORVA_POOL_IDLE_TTL_S: '300' } });
});
after(async () => {
  await node.stop();
});

const getConfig = (id: string) => call(node.url, 'GET', `/api/v1/pool/config?function_id=${id}`, { key: node.adminKey });
const putConfig = (body: unknown) => call(node.url, 'PUT', '/api/v1/pool/config', { key: node.adminKey, body });

// Workers of a function as the handler reports them: each worker has its own random id.
const WHO = `const me = Math.random().toString(36).slice(2); exports.handler = async () => { await new Promise((r) => setTimeout(r, 50)); return me; };`;

test('pool config - defaults, partial updates that keep prior values, and validated bounds', async () => {
  const id = await createFn(node);
  assert.deepEqual((await getConfig(id)).json, { function_id: id, min_warm: 0, max_warm: 8, idle_ttl_seconds: 300, target_concurrency: 1, scale_to_zero: true });
  assert.equal((await putConfig({ function_id: id, max_warm: 16 })).json.max_warm, 16);
  const second = await putConfig({ function_id: id, idle_ttl_seconds: 60 });
  assert.equal(second.json.max_warm, 16, 'a partial update keeps the prior value');
  assert.equal(second.json.idle_ttl_seconds, 60);
  for (const body of [
    { function_id: id, max_warm: 0 },
    { function_id: id, min_warm: -1 },
    { function_id: id, target_concurrency: 0 },
    { function_id: id, scale_to_zero: 'no' },
    { function_id: id, bogus: 1 },
    { max_warm: 3 },
  ]) {
    const r = await putConfig(body);
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  const minOverMax = await putConfig({ function_id: id, min_warm: 20 });
  assert.equal(minOverMax.status, 400);
  assert.equal(minOverMax.json.error.code, 'VALIDATION');
  assert.equal((await getConfig(id)).json.min_warm, 0, 'nothing changed');
  assert.equal((await putConfig({ function_id: '00000000-0000-7000-8000-000000000000', max_warm: 2 })).status, 404);
  assert.equal((await getConfig('00000000-0000-7000-8000-000000000000')).status, 404);
  assert.equal((await call(node.url, 'GET', '/api/v1/pool/config', { key: node.adminKey })).status, 400);
});

test('pool config - min_warm keeps workers warm, so the first call is not a cold start', async () => {
  const id = await deployed(node, WHO);
  await putConfig({ function_id: id, min_warm: 2 });
  await new Promise((r) => setTimeout(r, 1500));
  const r = await invoke(node, id);
  const exec = await call(node.url, 'GET', `/api/v1/executions/${r.headers.get('x-orva-execution-id')}`, { key: node.adminKey });
  assert.equal(exec.json.cold_start, false);
});
