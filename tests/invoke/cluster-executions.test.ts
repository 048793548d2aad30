import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { startNats, startNode } from '../helpers/processes.ts';

test('executions - any node answers for the whole cluster: list, get and logs of a call served by another node', async () => {
  const nats = await startNats();
  const a = await startNode({ natsUrl: nats.url });
  const b = await startNode({ natsUrl: nats.url });
  const key = a.adminKey;
  const id = await deployed(a, `exports.handler = async (e) => { console.log('served here: ' + e.body); return 'ok'; };`);
  const onA = await invoke(a, id, { rawBody: 'from-a', key });
  const execA = onA.headers.get('x-orva-execution-id')!;
  // b serves one too (it materialises the version from the object store).
  const onB = await invoke(b, id, { rawBody: 'from-b', key });
  assert.equal(onB.status, 200, onB.text);
  const execB = onB.headers.get('x-orva-execution-id')!;

  // Membership heartbeats: both nodes must see each other before a query counts on two answers.
  const deadline = Date.now() + 10_000;
  let ids: string[] = [];
  while (Date.now() < deadline) {
    ids = (await call(b.url, 'GET', `/api/v1/executions?function_id=${id}`, { key })).json.executions.map((e: { id: string }) => e.id);
    if (ids.includes(execA)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(ids, [execB, execA], 'newest first, from both nodes');
  const one = await call(b.url, 'GET', `/api/v1/executions/${execA}`, { key });
  assert.equal(one.status, 200);
  assert.notEqual(one.json.node, (await call(b.url, 'GET', `/api/v1/executions/${execB}`, { key })).json.node);
  const logs = await call(b.url, 'GET', `/api/v1/executions/${execA}/logs`, { key });
  assert.match(logs.json.logs, /served here: from-a/);
  assert.equal(logs.json.logs_dropped, false, 'the flag crosses the cluster query');
  assert.equal((await call(b.url, 'GET', '/api/v1/executions/00000000-0000-7000-8000-000000000000', { key })).status, 404);
  await b.stop();
  await a.stop();
  await nats.stop();
});
