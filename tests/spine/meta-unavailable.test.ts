import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call } from '../helpers/http.ts';
import { startNats, startNode } from '../helpers/processes.ts';

test('meta log - with NATS gone a write answers 503 UNAVAILABLE with Retry-After, changes nothing, and the cause is logged once under the request id', async () => {
  const nats = await startNats();
  const node = await startNode({ natsUrl: nats.url });
  const ok = await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, body: { name: 'before', runtime: 'node' } });
  assert.equal(ok.status, 201);
  await nats.stop();
  const r = await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, body: { name: 'during', runtime: 'node' } });
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error.code, 'UNAVAILABLE');
  assert.equal(r.headers.get('retry-after'), '2');
  const reqId = r.headers.get('x-request-id')!;
  // The log line was written before the answer, but the node's stdout pipe may be read after it.
  const errorLine = () =>
    node
      .output()
      .split('\n')
      .filter((l) => l.includes(reqId))
      .map((l) => JSON.parse(l) as { level: number; err?: unknown })
      .some((l) => l.level === 50 && l.err !== undefined);
  for (const until = Date.now() + 3_000; !errorLine() && Date.now() < until; ) await new Promise((res) => setTimeout(res, 50));
  assert.ok(errorLine(), `an error line with the cause under ${reqId}`);
  // Reads never leave the node: they still answer, without the refused write.
  const list = await call(node.url, 'GET', '/api/v1/functions', { key: node.adminKey });
  assert.deepEqual(list.json.functions.map((f: { name: string }) => f.name), ['before']);
  await node.kill9();
});
