import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { call } from '../helpers/http.ts';
import { startNode } from '../helpers/processes.ts';

test('node - a single node on embedded NATS answers health and a created function reads back', async () => {
  const node = await startNode();
  assert.equal((await call(node.url, 'GET', '/api/v1/system/health')).json.status, 'ok');
  const created = await call(node.url, 'POST', '/api/v1/functions', { key: node.adminKey, body: { name: 'hello', runtime: 'node' } });
  assert.equal(created.status, 201);
  const got = await call(node.url, 'GET', `/api/v1/functions/${created.json.id}`, { key: node.adminKey });
  assert.equal(got.json.name, 'hello');
  assert.equal(await node.stop(), 0);
});

test('node - `npm start` runs the node itself, so a SIGTERM to npm stops it gracefully and leaves nothing behind', async () => {
  const node = await startNode({ npmStart: true });
  assert.equal((await call(node.url, 'GET', '/api/v1/system/health')).json.status, 'ok');
  assert.equal(await node.stop(), 0);
  assert.match(node.output(), /"msg":"stopped"/);
  const left = spawnSync('pgrep', ['-f', node.dataDir], { encoding: 'utf8' }).stdout.trim();
  assert.equal(left, '', `processes still running for ${node.dataDir}: ${left}`);
});
