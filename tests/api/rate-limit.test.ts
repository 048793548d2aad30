/** rate_limit_per_min: a per-address budget of calls a minute, checked before a worker is taken. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError } from '../helpers/assert.ts';
import { deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode();
});
after(async () => {
  await node?.stop();
});

test('rate limit - a burst past rate_limit_per_min gets 429 RATE_LIMITED with Retry-After, and the next minute serves again', async () => {
  const id = await deployed(node, 'exports.handler = async () => "ok";');
  const put = await call(node.url, 'PUT', `/api/v1/functions/${id}`, { key: node.adminKey, body: { rate_limit_per_min: 3 } });
  assert.equal(put.json.rate_limit_per_min, 3);
  const answers = [];
  for (let n = 0; n < 5; n++) answers.push(await invoke(node, id));
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 429, 429]);
  const limited = answers[4];
  assertError(limited, 429, 'RATE_LIMITED');
  const wait = Number(limited.headers.get('retry-after'));
  assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
  assert.equal(limited.json.error.details.limit_per_min, 3);
  // Refused calls ran nothing: they left no execution record.
  const records = await call(node.url, 'GET', `/api/v1/executions?function_id=${id}`, { key: node.adminKey });
  assert.equal(records.json.executions.length, 3);

  await new Promise((r) => setTimeout(r, wait * 1000));
  assert.equal((await invoke(node, id)).status, 200);

  // Lifting the limit serves every call.
  await call(node.url, 'PUT', `/api/v1/functions/${id}`, { key: node.adminKey, body: { rate_limit_per_min: null } });
  for (let n = 0; n < 6; n++) assert.equal((await invoke(node, id)).status, 200);
});

test('rate limit - a bad rate_limit_per_min is 400 VALIDATION on create and on PUT', async () => {
  for (const rate_limit_per_min of [0, -1, 1.5, '10', 1_000_001]) {
    assertError(await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, body: { name: 'rl-bad', runtime: 'node', rate_limit_per_min } }), 400, 'VALIDATION');
  }
  const created = await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, body: { name: 'rl-ok', runtime: 'node', rate_limit_per_min: 600 } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.rate_limit_per_min, 600);
  assertError(await call(node.url, 'PUT', `/api/v1/functions/${created.json.id}`, { key: node.adminKey, body: { rate_limit_per_min: 0 } }), 400, 'VALIDATION');
  assert.equal((await call(node.url, 'GET', `/api/v1/functions/${created.json.id}`, { key: node.adminKey })).json.rate_limit_per_min, 600);
});
