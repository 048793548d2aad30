import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../helpers/assert.ts';
import { waitDeployment } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNats, startNode } from '../helpers/processes.ts';

const FUNCTIONS = 200;
const DEPLOYED = 15;

/** Every function a node lists, `limit` at a time, following next_cursor. */
async function listAll(node: NodeHandle, key: string, limit: number): Promise<Array<{ id: string; name: string }>> {
  const out: Array<{ id: string; name: string }> = [];
  let cursor: string | null = null;
  do {
    const r = await call(node.url, 'GET', `/api/v1/functions?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { key });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.functions);
    cursor = r.json.next_cursor;
  } while (cursor !== null);
  return out;
}

/** Each deployed function answers with its own number. */
async function assertDeployedServe(node: NodeHandle, key: string, deployed: string[]): Promise<void> {
  for (const [n, id] of deployed.entries()) {
    const r = await call(node.url, 'POST', `/fn/${id}`, { key, body: {} });
    assert.equal(r.status, 200, `${id}: ${r.text}`);
    assert.deepEqual(r.json, { n });
  }
}

test('restart at scale - 200 functions, 15 deployed: after a restart the node lists them all and serves every deployed one; a new node joins from the snapshot and does too', async () => {
  const nats = await startNats();
  // Snapshots every 50 commands: the new node below restores one instead of replaying the whole log.
  const env = { ORVA_SNAPSHOT_EVERY: '50' };
  let a = await startNode({ natsUrl: nats.url, env, expectAdminKey: true });
  const key = a.adminKey;

  const ids: string[] = [];
  for (let batch = 0; batch < FUNCTIONS; batch += 20) {
    const made = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(a.url, 'POST', '/api/v1/functions', { key, body: { name: `scale-${batch + i}`, runtime: 'node' } })),
    );
    for (const r of made) {
      assert.equal(r.status, 201, r.text);
      ids.push(r.json.id);
    }
  }
  const deployed = ids.slice(0, DEPLOYED);
  const started = await Promise.all(deployed.map((id, n) => call(a.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key, body: { code: `exports.handler = async () => ({ n: ${n} });` } })));
  for (const r of started) assert.equal(r.status, 202, r.text);
  for (const r of started) assert.equal((await waitDeployment({ ...a, adminKey: key }, r.json.id)).status, 'succeeded');
  const before = await listAll(a, key, 1000);
  assert.equal(before.length, FUNCTIONS);

  assert.equal(await a.stop(), 0);
  a = await startNode({ natsUrl: nats.url, env, dataDir: a.dataDir, expectAdminKey: false });
  assert.deepEqual(await listAll(a, key, 1000), before, 'every function, in the same order, after the restart');
  assert.deepEqual(await listAll(a, key, 37), before, 'and the same when paged');
  await assertDeployedServe(a, key, deployed);
  const undeployed = await call(a.url, 'POST', `/fn/${ids[DEPLOYED]}`, { key, body: {} });
  assert.equal(undeployed.status, 404, 'a function never deployed still has nothing to run');

  const b = await startNode({ natsUrl: nats.url, env, expectAdminKey: false });
  assert.match(b.output(), /metadata restored from snapshot/);
  // The snapshot may be a few commands behind: the node tails the log from there.
  await eventually('the new node lists every function', async () => ((await listAll(b, key, 1000)).length === FUNCTIONS ? true : undefined));
  assert.deepEqual(await listAll(b, key, 64), before);
  await assertDeployedServe(b, key, deployed);

  await b.stop();
  await a.stop();
  await nats.stop();
});
