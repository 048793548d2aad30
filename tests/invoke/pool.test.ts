import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createFn, deploy, deployed, executionIdOf, executionLogs, invoke, waitDeployment } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

const CEILING = 4;
let node: NodeHandle;
before(async () => {
  node = await startNode({ env: { ORVA_POOL_MAX_WORKERS: String(CEILING), ORVA_BODY_LIMIT_BYTES: String(64 * 1024) } });
});
after(async () => {
  await node.stop();
});

// A handler that reports which worker served it (pids are all alike inside pid namespaces).
const WHO_AM_I = `const me = Math.random().toString(36).slice(2); exports.handler = async () => { await new Promise((r) => setTimeout(r, 5)); return { worker: me, v: 1 }; };`;

test('pool - 200 concurrent calls all succeed and the pool never exceeds its ceiling', async () => {
  const id = await deployed(node, WHO_AM_I);
  const results = await Promise.all(Array.from({ length: 200 }, () => invoke(node, id)));
  for (const r of results) assert.equal(r.status, 200, r.text);
  const workers = new Set(results.map((r) => r.json.worker));
  assert.ok(workers.size <= CEILING, `${workers.size} workers > ceiling ${CEILING}`);
  assert.ok(workers.size >= 2, 'concurrency should have grown the pool');
});

test('pool - a redeploy under steady traffic fails no call and new code is served after activation', async () => {
  const id = await deployed(node, `exports.handler = async () => { await new Promise((r) => setTimeout(r, 20)); return { v: 1 }; };`);
  let stop = false;
  const seen: number[] = [];
  const failures: string[] = [];
  const clients = Array.from({ length: 8 }, async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const r = await invoke(node, id);
      if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
      else seen.push(r.json.v);
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  const dep = await deploy(node, id, `exports.handler = async () => { await new Promise((r) => setTimeout(r, 20)); return { v: 2 }; };`);
  assert.equal(dep.status, 'succeeded');
  // After activation every new call is v2.
  const afterActivation = await invoke(node, id);
  assert.equal(afterActivation.json.v, 2);
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(failures, []);
  assert.ok(seen.includes(1) && seen.includes(2));
  const lastV1 = seen.lastIndexOf(1);
  const firstV2 = seen.indexOf(2);
  assert.ok(seen.slice(firstV2).filter((v) => v === 1).length <= 8, 'only calls in flight at activation may finish on the old code');
  assert.ok(lastV1 >= 0);
});

test('pool - a worker that dies mid-call gives 502 WORKER_CRASHED and the next call succeeds', async () => {
  const id = await deployed(node, `exports.handler = async (e) => { if (e.body === 'crash') { require('fs').writeSync(2, 'last words\\n'); process.exit(3); } return 'fine'; };`);
  assert.equal((await invoke(node, id, { rawBody: 'warm' })).status, 200);
  const r = await invoke(node, id, { rawBody: 'crash' });
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'WORKER_CRASHED');
  const next = await invoke(node, id, { rawBody: 'ok' });
  assert.equal(next.status, 200);
  assert.equal(next.json, 'fine');
  const exec = await call(node.url, 'GET', `/api/v1/executions/${r.json.error.details.execution_id}`, { key: node.adminKey });
  assert.equal(exec.json.status, 'crashed');
  assert.equal(exec.json.http_status, 502, 'the record has the status the caller got');
  // What it wrote on its way down, then why it ended.
  const logs = await executionLogs(node, executionIdOf(r));
  assert.match(logs.logs, /last words\n[^]*worker exited \(code 3/);
});

test('pool - deleting a function lets its running calls finish; later calls answer 404', async () => {
  const id = await deployed(node, `exports.handler = async (e) => { if (e.body === 'slow') await new Promise((r) => setTimeout(r, 3000)); return 'done'; };`);
  await Promise.all([1, 2, 3].map(() => invoke(node, id, { rawBody: 'slow' })));
  const running = [1, 2, 3].map(() => invoke(node, id, { rawBody: 'slow' }));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await call(node.url, 'DELETE', `/api/v1/functions/${id}`, { key: node.adminKey })).status, 200);
  const answers = await Promise.all(running);
  assert.deepEqual(answers.map((r) => [r.status, r.json]), [[200, 'done'], [200, 'done'], [200, 'done']]);
  const gone = await invoke(node, id);
  assert.equal(gone.status, 404);
  for (const r of answers) {
    const exec = await call(node.url, 'GET', `/api/v1/executions/${r.headers.get('x-orva-execution-id')}`, { key: node.adminKey });
    assert.deepEqual([exec.json.status, exec.json.http_status], ['succeeded', 200]);
  }
});

test('pool - a handler past timeout_ms gives 504 TIMEOUT and the pool recovers', async () => {
  const id = await deployed(node, `exports.handler = async (e) => { if (e.body === 'hang') { require('fs').writeSync(1, 'still spinning\\n'); for (;;) {} } return 'quick'; };`, { timeout_ms: 300 });
  const r = await invoke(node, id, { rawBody: 'hang' });
  assert.equal(r.status, 504);
  assert.equal(r.json.error.code, 'TIMEOUT');
  // The adapter's own capture dies with the worker; what reached the worker's stdout survives.
  const logs = await executionLogs(node, executionIdOf(r));
  assert.equal(logs.logs, 'still spinning\n');
  const exec = await call(node.url, 'GET', `/api/v1/executions/${r.json.error.details.execution_id}`, { key: node.adminKey });
  assert.deepEqual([exec.json.status, exec.json.http_status, exec.json.error_code], ['timeout', 504, 'TIMEOUT']);
  const next = await invoke(node, id, { rawBody: 'ok' });
  assert.equal(next.status, 200);
  assert.equal(next.json, 'quick');
});

test('pool - a lowered timeout_ms applies at once to the warm worker that served under the old one', async () => {
  const id = await deployed(node, `exports.handler = async (e) => { if (e.body === 'hang') { for (;;) {} } return 'quick'; };`, { timeout_ms: 60_000 });
  assert.equal((await invoke(node, id, { rawBody: 'ok' })).status, 200);
  const put = await call(node.url, 'PUT', `/api/v1/functions/${id}`, { key: node.adminKey, body: { timeout_ms: 300 } });
  assert.equal(put.status, 200);
  const started = Date.now();
  const r = await invoke(node, id, { rawBody: 'hang' });
  assert.equal(r.status, 504);
  assert.equal(r.json.error.code, 'TIMEOUT');
  // Killed by the new 300 ms limit, not by the 60 s one the worker's timer was first armed for.
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  assert.equal((await invoke(node, id, { rawBody: 'ok' })).status, 200);
});

test('deploy - a failing build keeps the previous version serving', async () => {
  const id = await deployed(node, `exports.handler = async () => 'v1';`);
  const bad = await deploy(node, id, `exports.handler = async () => { this is not javascript`);
  assert.equal(bad.status, 'failed');
  assert.ok(bad.error);
  const logs = await call(node.url, 'GET', `/api/v1/deployments/${bad.id}/logs`, { key: node.adminKey });
  assert.match(logs.json.logs, /failed/);
  const r = await invoke(node, id);
  assert.equal(r.status, 200);
  assert.equal(r.json, 'v1');
});

test('deploy - a first build that fails answers BUILD_FAILED, and one still building answers 503 BUILDING', async () => {
  const failing = await createFn(node);
  const dep = await deploy(node, failing, `module.exports = syntax error here`);
  assert.equal(dep.status, 'failed');
  const r = await invoke(node, failing);
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, 'BUILD_FAILED');

  const slow = await createFn(node);
  const started = await call(node.url, 'POST', `/api/v1/functions/${slow}/deploy-inline`, { key: node.adminKey, body: { code: `exports.handler = async () => 'late';`, dependencies: 'is-number@7.0.0' } });
  assert.equal(started.status, 202);
  assert.equal(started.json.status, 'queued');
  const during = await invoke(node, slow);
  assert.equal(during.status, 503);
  assert.equal(during.json.error.code, 'BUILDING');
  assert.equal(during.headers.get('retry-after'), '5');
  await waitDeployment(node, started.json.id);
});

test('deploy - an npm dependency is importable inside the sandbox', async () => {
  const id = await deployed(node, `const isNumber = require('is-number'); exports.handler = async (e) => ({ yes: isNumber(5), no: isNumber('x') });`, {}, { dependencies: 'is-number@7.0.0' });
  const r = await invoke(node, id);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { yes: true, no: false });
});

test('deploy - an identical redeploy is a no-op that keeps the warm pool', async () => {
  const code = WHO_AM_I;
  const id = await deployed(node, code);
  const before = (await invoke(node, id)).json.worker;
  const dep = await deploy(node, id, code);
  assert.equal(dep.status, 'succeeded');
  const fn = await call(node.url, 'GET', `/api/v1/functions/${id}`, { key: node.adminKey });
  assert.equal(fn.json.code_hash, dep.code_hash);
  assert.equal((await invoke(node, id)).json.worker, before, 'the same warm worker still serves');
});

test('deploy - bad deploy bodies are refused with the envelope and nothing queued', async () => {
  const id = await createFn(node);
  const cases: Array<[unknown, string]> = [
    [{}, 'VALIDATION'],
    [{ code: '' }, 'VALIDATION'],
    [{ code: 'x', filename: 'other.js' }, 'VALIDATION'],
    [{ code: 'x', filename: '../handler.js' }, 'VALIDATION'],
    [{ code: 'x', dependencies: 'git+https://example.com/x.git' }, 'VALIDATION'],
    [{ code: 'x', dependencies: 'file:../../etc' }, 'VALIDATION'],
    [{ code: 'x', extra: 1 }, 'VALIDATION'],
  ];
  for (const [body, code] of cases) {
    const r = await call(node.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key: node.adminKey, body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, code);
  }
  const malformed = await call(node.url, 'POST', `/api/v1/functions/${id}/deploy-inline`, { key: node.adminKey, rawBody: '{"code":' });
  assert.equal(malformed.json.error.code, 'INVALID_JSON');
  const unknown = await call(node.url, 'POST', `/api/v1/functions/00000000-0000-7000-8000-000000000000/deploy-inline`, { key: node.adminKey, body: { code: 'x' } });
  assert.equal(unknown.status, 404);
  const list = await call(node.url, 'GET', `/api/v1/functions/${id}/deployments`, { key: node.adminKey });
  assert.deepEqual(list.json.deployments, []);
});

test('invoke - unknown function 404, inactive 409 NOT_ACTIVE, oversize body 413, auth_mode enforced', async () => {
  assert.equal((await invoke(node, '00000000-0000-7000-8000-000000000000')).status, 404);
  const id = await deployed(node, `exports.handler = async () => 'hi';`);
  await call(node.url, 'PUT', `/api/v1/functions/${id}`, { key: node.adminKey, body: { status: 'inactive' } });
  const inactive = await invoke(node, id);
  assert.equal(inactive.status, 409);
  assert.equal(inactive.json.error.code, 'NOT_ACTIVE');
  await call(node.url, 'PUT', `/api/v1/functions/${id}`, { key: node.adminKey, body: { status: 'active' } });
  const big = await invoke(node, id, { rawBody: 'x'.repeat(64 * 1024 + 1) });
  assert.equal(big.status, 413);
  assert.equal(big.json.error.code, 'PAYLOAD_TOO_LARGE');

  assert.equal((await invoke(node, id, { key: '' })).status, 401);
  const readOnly = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body: { name: 'reader', permissions: ['read'] } });
  const forbidden = await invoke(node, id, { key: readOnly.json.key });
  assert.equal(forbidden.status, 403);
  const invoker = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body: { name: 'invoker', permissions: ['invoke'] } });
  assert.equal((await invoke(node, id, { key: invoker.json.key })).status, 200);

  const pub = await deployed(node, `exports.handler = async () => 'public';`, { auth_mode: 'none' });
  const anon = await fetch(`${node.url}/fn/${pub}/hook`, { method: 'POST', body: '{}' });
  assert.equal(anon.status, 200);
  assert.equal(await anon.json(), 'public');
});

test('sandbox - a handler cannot write /code and sees no host files', async () => {
  const src = `const fs = require('fs');
exports.handler = async () => {
  const probe = (f) => { try { f(); return 'allowed'; } catch (e) { return e.code || e.message; } };
  return {
    writeCode: probe(() => fs.writeFileSync('/code/evil.js', 'x')),
    shadow: probe(() => fs.readFileSync('/etc/shadow')),
    dataDir: probe(() => fs.readdirSync(${JSON.stringify(node.dataDir)})),
    work: probe(() => fs.readdirSync('/work')),
    root: probe(() => fs.readdirSync('/root')),
    tmp: probe(() => fs.writeFileSync('/tmp/ok', 'x')),
    uid: process.getuid(),
  };
};`;
  const id = await deployed(node, src);
  const r = await invoke(node, id);
  assert.equal(r.status, 200, r.text);
  assert.notEqual(r.json.writeCode, 'allowed');
  assert.notEqual(r.json.shadow, 'allowed');
  assert.notEqual(r.json.dataDir, 'allowed');
  assert.notEqual(r.json.work, 'allowed');
  assert.notEqual(r.json.root, 'allowed');
  assert.equal(r.json.tmp, 'allowed');
  assert.notEqual(r.json.uid, 0);
});
