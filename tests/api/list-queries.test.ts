import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployed, invoke } from '../helpers/functions.ts';
import { call, errorCode } from '../helpers/http.ts';
import { startNode } from '../helpers/processes.ts';

test('lists - bad queries on /executions and /functions/{id}/deployments answer 400 VALIDATION; unknown executions 404', async () => {
  const node = await startNode();
  const id = await deployed(node, `exports.handler = async () => 'ok';`);
  const execution = (await invoke(node, id)).headers.get('x-orva-execution-id')!;
  const get = (path: string) => call(node.url, 'GET', path, { key: node.adminKey });

  for (const query of ['limit=0', 'limit=-1', 'limit=1001', 'limit=abc', 'limit=1.5', 'limit=', 'since=yesterday', `function_id=${'f'.repeat(65)}`]) {
    const r = await get(`/api/v1/executions?${query}`);
    assert.equal(r.status, 400, `/executions?${query}`);
    assert.equal(errorCode(r), 'VALIDATION', `/executions?${query}`);
    assert.equal(r.json.error.request_id, r.headers.get('x-request-id'), 'the envelope carries the request id');
    assert.ok(Array.isArray(r.json.error.details?.issues), 'and says which field is wrong');
  }
  for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'status=failed']) {
    const r = await get(`/api/v1/functions/${id}/deployments?${query}`);
    assert.equal(r.status, 400, `/deployments?${query}`);
    assert.equal(errorCode(r), 'VALIDATION', `/deployments?${query}`);
  }

  // The edges of what is allowed, and a function with no calls: an empty list, not an error.
  assert.equal((await get(`/api/v1/executions?limit=1000`)).json.executions.length, 1);
  assert.deepEqual((await get(`/api/v1/executions?function_id=no-such-function&limit=1`)).json, { executions: [], next_cursor: null });
  assert.equal((await get(`/api/v1/executions?function_id=${id}&limit=1`)).json.executions[0].id, execution);

  for (const path of ['/api/v1/executions/00000000-0000-7000-8000-000000000000', '/api/v1/executions/00000000-0000-7000-8000-000000000000/logs', '/api/v1/executions/not-an-id']) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    assert.equal(errorCode(r), 'NOT_FOUND', path);
  }
  await node.stop();
});
