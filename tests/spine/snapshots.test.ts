import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { call } from '../helpers/http.ts';
import { startNats, startNode } from '../helpers/processes.ts';

test('snapshots - a node with an empty data dir restores the newest snapshot after the stream was purged, and ends identical', async () => {
  const nats = await startNats();
  const env = { ORVA_SNAPSHOT_EVERY: '20' };
  const a = await startNode({ natsUrl: nats.url, env });
  const names: string[] = [];
  for (let i = 0; i < 70; i++) {
    const r = await call(a.url, 'POST', '/api/v1/functions', { key: a.adminKey, body: { name: `snap-${i}`, runtime: 'node' } });
    assert.equal(r.status, 201, r.text);
    names.push(r.json.name);
  }
  // Snapshots are taken off the apply path: wait until the stream has been purged.
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const deadline = Date.now() + 10_000;
  let first = 1;
  while (Date.now() < deadline && first <= 1) {
    first = (await jsm.streams.info('ORVA_META')).state.first_seq;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(first > 1, 'the stream was purged below a snapshot');
  await nc.close();

  const b = await startNode({ natsUrl: nats.url, env });
  assert.match(b.output(), /metadata restored from snapshot/);
  const listA = await call(a.url, 'GET', '/api/v1/functions', { key: a.adminKey });
  const listB = await call(b.url, 'GET', '/api/v1/functions', { key: a.adminKey });
  assert.equal(listB.json.functions.length, 70);
  assert.deepEqual(listB.json.functions, listA.json.functions);
  // And it keeps tailing: a new write on A shows up on B.
  const late = await call(a.url, 'POST', '/api/v1/functions', { key: a.adminKey, body: { name: 'after-restore', runtime: 'python' } });
  let seen = 0;
  for (const until = Date.now() + 5_000; seen !== 200 && Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    seen = (await call(b.url, 'GET', `/api/v1/functions/${late.json.id}`, { key: a.adminKey })).status;
  }
  assert.equal(seen, 200);
  await b.stop();
  await a.stop();
  await nats.stop();
});
