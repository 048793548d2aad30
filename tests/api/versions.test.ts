import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createFn, deploy, deployed, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode({ env: { ORVA_VERSIONS_KEEP: '3' } });
});
after(async () => {
  await node.stop();
});

const v = (n: number) => `exports.handler = async () => { await new Promise((r) => setTimeout(r, 10)); return { v: ${n} }; };\n`;

test('versions - rollback under steady traffic fails no call and serves the old code', async () => {
  const id = await createFn(node);
  const d1 = await deploy(node, id, v(1));
  const d2 = await deploy(node, id, v(2));
  assert.equal((await invoke(node, id)).json.v, 2);
  let stop = false;
  const failures: string[] = [];
  const clients = Array.from({ length: 6 }, async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const r = await invoke(node, id);
      if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
    }
  });
  await new Promise((r) => setTimeout(r, 200));
  const rb = await call(node.url, 'POST', `/api/v1/functions/${id}/rollback`, { key: node.adminKey, body: { deployment_id: d1.id } });
  assert.equal(rb.status, 200, rb.text);
  assert.equal(rb.json.source, 'rollback');
  assert.equal(rb.json.status, 'succeeded');
  assert.equal(rb.json.code_hash, d1.code_hash);
  assert.equal((await invoke(node, id)).json.v, 1);
  await new Promise((r) => setTimeout(r, 200));
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(failures, []);
  const byHash = await call(node.url, 'POST', `/api/v1/functions/${id}/rollback`, { key: node.adminKey, body: { code_hash: d2.code_hash } });
  assert.equal(byHash.status, 200);
  assert.equal((await invoke(node, id)).json.v, 2);
});

test('versions - source returns the active code and dependencies', async () => {
  const id = await deployed(node, v(7), {}, { dependencies: 'is-number@7.0.0' });
  const src = await call(node.url, 'GET', `/api/v1/functions/${id}/source`, { key: node.adminKey });
  assert.equal(src.status, 200);
  assert.equal(src.json.code, v(7));
  assert.equal(src.json.filename, 'handler.js');
  assert.equal(src.json.dependencies, 'is-number@7.0.0');
  const empty = await createFn(node);
  assert.equal((await call(node.url, 'GET', `/api/v1/functions/${empty}/source`, { key: node.adminKey })).status, 404);
});

test('versions - diff as json and unified, and its errors', async () => {
  const id = await createFn(node);
  const a = await deploy(node, id, 'exports.handler = async () => 1;\n// same\n');
  const b = await deploy(node, id, 'exports.handler = async () => 2;\n// same\n', { dependencies: 'is-number@7.0.0' });
  const json = await call(node.url, 'GET', `/api/v1/functions/${id}/diff?from=${a.id}&to=${b.id}`, { key: node.adminKey });
  assert.equal(json.status, 200, json.text);
  assert.equal(json.json.from.id, a.id);
  assert.equal(json.json.to.id, b.id);
  const handler = json.json.files.find((f: { kind: string }) => f.kind === 'handler');
  assert.deepEqual([handler.path, handler.added, handler.removed], ['handler.js', 1, 1]);
  assert.match(handler.after, /async \(\) => 2/);
  const manifest = json.json.files.find((f: { kind: string }) => f.kind === 'manifest');
  assert.equal(manifest.before, '');
  assert.match(manifest.after, /is-number/);

  const unified = await call(node.url, 'GET', `/api/v1/functions/${id}/diff?from=${a.id}&to=${b.id}&format=unified`, { key: node.adminKey });
  assert.match(unified.headers.get('content-type') ?? '', /text\/x-diff/);
  assert.match(unified.text, /^diff --git a\/handler.js b\/handler.js\n--- a\/handler.js\n\+\+\+ b\/handler.js\n@@ -1,2 \+1,2 @@\n-exports.handler = async \(\) => 1;\n\+exports.handler = async \(\) => 2;\n \/\/ same\n/);
  assert.match(unified.text, /\+\+\+ b\/package.json/);

  const err = async (q: string) => call(node.url, 'GET', `/api/v1/functions/${id}/diff?${q}`, { key: node.adminKey });
  assert.equal((await err(`from=${a.id}&to=${a.id}`)).json.error.code, 'VALIDATION');
  const unknown = await err(`from=${a.id}&to=00000000-0000-7000-8000-000000000000`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'VERSION_NOT_FOUND');
  assert.equal(unknown.json.error.details.deployment_id, '00000000-0000-7000-8000-000000000000');
  const otherFn = await createFn(node);
  const foreign = await deploy(node, otherFn, 'exports.handler = async () => 3;');
  assert.equal((await err(`from=${a.id}&to=${foreign.id}`)).json.error.code, 'VALIDATION');
  const failed = await deploy(node, id, 'not javascript (');
  assert.equal((await err(`from=${a.id}&to=${failed.id}`)).json.error.code, 'VALIDATION');
  assert.equal((await err(`from=${a.id}`)).status, 400);
  assert.equal((await err(`from=${a.id}&to=${b.id}&format=xml`)).status, 400);
});

test('versions - the GC keeps the newest N; a pruned version answers 410 VERSION_GCD with the available hashes', async () => {
  const id = await createFn(node);
  const deps = [];
  for (let n = 1; n <= 5; n++) deps.push(await deploy(node, id, v(100 + n)));
  const [d1, d2, d3, d4, d5] = deps;
  assert.ok(!existsSync(join(node.dataDir, 'versions', id, d1.code_hash)), 'pruned version removed locally');
  assert.ok(existsSync(join(node.dataDir, 'versions', id, d5.code_hash)));
  const rb = await call(node.url, 'POST', `/api/v1/functions/${id}/rollback`, { key: node.adminKey, body: { deployment_id: d1.id } });
  assert.equal(rb.status, 410);
  assert.equal(rb.json.error.code, 'VERSION_GCD');
  assert.deepEqual(new Set(rb.json.error.details.available_hashes), new Set([d3.code_hash, d4.code_hash, d5.code_hash]));
  const diff = await call(node.url, 'GET', `/api/v1/functions/${id}/diff?from=${d2.id}&to=${d5.id}`, { key: node.adminKey });
  assert.equal(diff.status, 410);
  assert.ok(Array.isArray(diff.json.error.details.available_hashes));
  const byHash = await call(node.url, 'POST', `/api/v1/functions/${id}/rollback`, { key: node.adminKey, body: { code_hash: d2.code_hash } });
  assert.equal(byHash.status, 410);
  const ok = await call(node.url, 'POST', `/api/v1/functions/${id}/rollback`, { key: node.adminKey, body: { deployment_id: d3.id } });
  assert.equal(ok.status, 200);
  assert.equal((await invoke(node, id)).json.v, 103);
  for (const body of [{}, { deployment_id: d3.id, code_hash: d3.code_hash }, { code_hash: 'xyz' }]) {
    assert.equal((await call(node.url, 'POST', `/api/v1/functions/${id}/rollback`, { key: node.adminKey, body })).status, 400);
  }
  const unknown = await call(node.url, 'POST', `/api/v1/functions/${id}/rollback`, { key: node.adminKey, body: { code_hash: 'a'.repeat(64) } });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'VERSION_NOT_FOUND');
});
