import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFn, waitDeployment } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { startNats, startNode } from '../helpers/processes.ts';

test('deploy - past the build queue limit a deploy answers 503 BUILD_QUEUE_FULL with Retry-After, and nothing is queued for it', async () => {
  const node = await startNode({ env: { ORVA_BUILD_QUEUE_MAX: '1' } });
  const id = await createFn(node);
  // An npm install keeps the first build busy long enough for the second to find the queue full.
  const first = await call(node.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key: node.adminKey, body: { code: `exports.handler = async () => 1;`, dependencies: 'is-number@7.0.0' } });
  assert.equal(first.status, 202, first.text);
  const second = await call(node.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key: node.adminKey, body: { code: `exports.handler = async () => 2;` } });
  assert.equal(second.status, 503, second.text);
  assert.equal(second.json.error.code, 'BUILD_QUEUE_FULL');
  assert.equal(second.headers.get('retry-after'), '10');
  const deployments = await call(node.url, 'GET', `/api/v1/functions/${id}/deployments`, { key: node.adminKey });
  assert.deepEqual(deployments.json.deployments.map((d: { id: string }) => d.id), [first.json.id]);
  assert.equal((await waitDeployment(node, first.json.id)).status, 'succeeded');
  // Once the queue drains, deploys are accepted again.
  const third = await call(node.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key: node.adminKey, body: { code: `exports.handler = async () => 3;` } });
  assert.equal(third.status, 202);
  await waitDeployment(node, third.json.id);
  await node.stop();
});

test('deploy - a build interrupted by a node crash is recorded as failed on restart, not left building', async () => {
  const node = await startNode();
  const id = await createFn(node);
  const started = await call(node.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key: node.adminKey, body: { code: `exports.handler = async () => 1;`, dependencies: 'is-number@7.0.0' } });
  assert.equal(started.status, 202);
  await node.kill9();
  const again = await startNode({ dataDir: node.dataDir });
  const dep = await waitDeployment(again, started.json.id, 10_000);
  assert.equal(dep.status, 'failed');
  assert.match(dep.error, /interrupted/);
  // The function is not stuck: a new deploy builds and serves.
  const next = await call(again.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key: node.adminKey, body: { code: `exports.handler = async () => 2;` } });
  assert.equal((await waitDeployment(again, next.json.id)).status, 'succeeded');
  await again.stop();
});

test('deploy - a build whose node leaves the cluster for good is failed by the node that remains, not left building', async () => {
  const nats = await startNats();
  const a = await startNode({ natsUrl: nats.url, expectAdminKey: true });
  const b = await startNode({ natsUrl: nats.url, expectAdminKey: false });
  const key = a.adminKey;
  const id = await createFn(a);
  // Loading the handler takes 3 s (the build loads it once in the sandbox): node a is surely mid-build when it dies.
  const slow = `const end = Date.now() + 3000; while (Date.now() < end); exports.handler = async () => 1;`;
  const started = await call(a.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key, body: { code: slow } });
  assert.equal(started.status, 202, started.text);
  await a.kill9();
  const seen = await call(b.url, 'GET', `/api/v1/deployments/${started.json.id}`, { key });
  assert.ok(['queued', 'building'].includes(seen.json.status), seen.text);
  const dep = await waitDeployment({ ...b, adminKey: key }, started.json.id, 45_000);
  assert.equal(dep.status, 'failed');
  assert.match(dep.error, /left the cluster/);
  // The function is not stuck: a deploy to the remaining node builds and serves.
  const next = await call(b.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key, body: { code: `exports.handler = async () => 2;` } });
  assert.equal((await waitDeployment({ ...b, adminKey: key }, next.json.id)).status, 'succeeded');
  await b.stop();
  await nats.stop();
});
