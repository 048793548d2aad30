import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createFn, deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

const SECRET_VALUE = 'sk_live_PLAINTEXT_MARKER_7f3a9c';

// Every file under a directory, recursively.
function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? allFiles(p) : [p];
  });
}

test('secrets - a secret change is visible on the very next call and never appears in a response, a log line or a file', async () => {
  const id = await deployed(node, `exports.handler = async () => ({ key: process.env.STRIPE_KEY ?? null });`);
  assert.deepEqual((await invoke(node, id)).json, { key: null });

  const created = await call(node.url, 'POST', `/api/v1/functions/${id}/secrets`, { key: node.adminKey, body: { key: 'STRIPE_KEY', value: SECRET_VALUE } });
  assert.equal(created.status, 200, 'an upsert answers 200 whether the key is new or replaced');
  assert.equal(created.json.key, 'STRIPE_KEY');
  assert.doesNotMatch(created.text, /PLAINTEXT_MARKER/);
  assert.equal((await invoke(node, id)).json.key, SECRET_VALUE);

  const updated = await call(node.url, 'POST', `/api/v1/functions/${id}/secrets`, { key: node.adminKey, body: { key: 'STRIPE_KEY', value: `${SECRET_VALUE}-v2` } });
  assert.equal(updated.status, 200);
  assert.equal((await invoke(node, id)).json.key, `${SECRET_VALUE}-v2`);

  const list = await call(node.url, 'GET', `/api/v1/functions/${id}/secrets`, { key: node.adminKey });
  assert.deepEqual(list.json.secrets.map((s: { key: string }) => s.key), ['STRIPE_KEY']);
  assert.doesNotMatch(list.text, /PLAINTEXT_MARKER/);

  const removed = await call(node.url, 'DELETE', `/api/v1/functions/${id}/secrets/STRIPE_KEY`, { key: node.adminKey });
  assert.equal(removed.status, 200);
  assert.deepEqual((await invoke(node, id)).json, { key: null });

  assert.doesNotMatch(node.output(), /PLAINTEXT_MARKER/, 'no log line holds the value');
  // SQLite files, the embedded NATS store (the META log) and everything else in the data dir.
  for (const f of allFiles(node.dataDir)) assert.ok(!readFileSync(f).includes('PLAINTEXT_MARKER'), `plaintext in ${f}`);
});

test('secrets - bad names, unknown functions and unknown keys are refused', async () => {
  const id = await createFn(node);
  for (const body of [{ key: 'ORVA_X', value: 'v' }, { key: '1BAD', value: 'v' }, { key: 'OK' }, { key: 'OK', value: 'v', extra: 1 }]) {
    const r = await call(node.url, 'POST', `/api/v1/functions/${id}/secrets`, { key: node.adminKey, body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, 'VALIDATION');
  }
  const unknownFn = await call(node.url, 'POST', '/api/v1/functions/00000000-0000-7000-8000-000000000000/secrets', { key: node.adminKey, body: { key: 'A', value: 'v' } });
  assert.equal(unknownFn.status, 404);
  const unknownKey = await call(node.url, 'DELETE', `/api/v1/functions/${id}/secrets/NOPE`, { key: node.adminKey });
  assert.equal(unknownKey.status, 404);
  const reader = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body: { name: 'r', permissions: ['read'] } });
  const forbidden = await call(node.url, 'POST', `/api/v1/functions/${id}/secrets`, { key: reader.json.key, body: { key: 'A', value: 'v' } });
  assert.equal(forbidden.status, 403);
  assert.deepEqual((await call(node.url, 'GET', `/api/v1/functions/${id}/secrets`, { key: node.adminKey })).json.secrets, []);
});
