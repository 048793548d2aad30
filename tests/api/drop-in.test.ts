/**
 * The behaviours Orva's own clients (CLI, dashboard, deploy scripts, webhook
 * senders) rely on, on a two-node cluster: what one node answers, the other
 * must read the same.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { assertError, eventually } from '../helpers/assert.ts';
import { createFn, deploy, deployed, invoke, waitDeployment } from '../helpers/functions.ts';
import { call, type CallResult, rawHttp, sessionCookie } from '../helpers/http.ts';
import { type NatsHandle, type NodeHandle, startNats, startNode } from '../helpers/processes.ts';
import { tgz } from '../helpers/tar.ts';

let nats: NatsHandle;
let a: NodeHandle;
let b: NodeHandle;

before(async () => {
  nats = await startNats();
  // Secrets are sealed with the cluster's one master key, so both nodes get the same.
  const env = { ORVA_MASTER_KEY: randomBytes(32).toString('hex') };
  a = await startNode({ natsUrl: nats.url, expectAdminKey: true, env });
  b = await startNode({ natsUrl: nats.url, expectAdminKey: false, env });
});
after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await nats?.stop();
});

// A call with the admin key to node `n`.
const api = (n: NodeHandle, method: string, path: string, body?: unknown) => call(n.url, method, path, { key: a.adminKey, body });

// A function's status as node `n` reads it.
const statusOn = async (n: NodeHandle, id: string): Promise<string> => (await api(n, 'GET', `/api/v1/functions/${id}`)).json.status;

// Wait until node `n` reads `status` for the function.
const statusBecomes = (n: NodeHandle, id: string, status: string) => eventually(`${status} on ${n.url}`, async () => ((await statusOn(n, id)) === status ? true : undefined));

// A handler whose module takes about `ms` to load, so its build is observably in flight; `fail` makes the load throw.
const slowLoad = (ms: number, fail = false) =>
  `const t = Date.now(); while (Date.now() - t < ${ms}) {}\n${fail ? "throw new Error('broken on purpose');" : ''}\nexports.handler = async () => ({ ok: true });`;

// The body and headers of a signed call, as a webhook sender computes them.
function signed(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): { rawBody: string; headers: Record<string, string> } {
  const sig = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return { rawBody: body, headers: { 'x-orva-timestamp': String(timestamp), 'x-orva-signature': `sha256=${sig}`, 'content-type': 'application/json' } };
}

// Every status line one connection answers `request` with, read until one starts with `last`.
function statusLines(port: number, request: string, last: string): Promise<string[]> {
  return new Promise((resolveLines, reject) => {
    const sock = connect(port, '127.0.0.1');
    let raw = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no ${last} in: ${raw}`));
    }, 10_000);
    sock.on('data', (c: Buffer) => {
      raw += c.toString('latin1');
      const lines = raw.split('\r\n').filter((l) => l.startsWith('HTTP/1.1 '));
      if (!lines.some((l) => l.startsWith(last))) return;
      clearTimeout(timer);
      sock.destroy();
      resolveLines(lines);
    });
    sock.on('error', reject);
    sock.write(request);
  });
}

// The 202 of a deploy: the record, its id again as deployment_id, its function, and where to poll.
function assertAccepted(r: CallResult, functionId: string): void {
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.deployment_id, r.json.id);
  assert.equal(r.json.function_id, functionId);
  assert.equal(r.json.status, 'queued');
  assert.equal(r.headers.get('location'), `/api/v1/deployments/${r.json.id}`);
}

test('drop-in - deploy-inline and tarball deploys answer 202 with deployment_id, function_id and a Location to poll', async () => {
  const id = await createFn(a);
  const inline = await api(a, 'POST', `/api/v1/functions/${id}/deploy-inline`, { code: 'exports.handler = async () => 1;' });
  assertAccepted(inline, id);
  const polled = await call(a.url, 'GET', inline.headers.get('location')!, { key: a.adminKey });
  assert.equal(polled.status, 200);
  assert.equal(polled.json.id, inline.json.deployment_id);
  await waitDeployment(a, inline.json.deployment_id);

  const archive = tgz([{ name: 'handler.js', data: 'exports.handler = async () => 2;' }]);
  const tarball = await call(a.url, 'POST', `/api/v1/functions/${id}/deploy`, { key: a.adminKey, rawBody: archive, headers: { 'content-type': 'application/gzip' } });
  assertAccepted(tarball, id);
  assert.equal((await waitDeployment(a, tarball.json.deployment_id)).status, 'succeeded');
  assert.equal((await invoke(a, id)).json, 2);
});

test('drop-in - status goes created → building → active, the same on both nodes', async () => {
  const id = await createFn(a);
  assert.equal(await statusOn(a, id), 'created');
  await statusBecomes(b, id, 'created');
  const r = await api(a, 'POST', `/api/v1/functions/${id}/deploy-inline`, { code: slowLoad(2500) });
  assert.equal(r.status, 202, r.text);
  // The deploy is answered once its record is applied here, and the build takes the 2.5 s its handler needs to load.
  assert.equal(await statusOn(a, id), 'building');
  await statusBecomes(b, id, 'building');
  assert.equal((await waitDeployment(a, r.json.deployment_id)).status, 'succeeded');
  assert.equal(await statusOn(a, id), 'active');
  await statusBecomes(b, id, 'active');
  assert.equal((await invoke(b, id, { key: a.adminKey })).status, 200);
  assert.deepEqual(((await api(b, 'GET', '/api/v1/functions?status=active')).json.functions as Array<{ id: string }>).filter((f) => f.id === id).length, 1);
});

test('drop-in - a failed first build makes the function error on both nodes; a failed redeploy leaves an active one active', async () => {
  const broken = await createFn(a);
  const r = await api(a, 'POST', `/api/v1/functions/${broken}/deploy-inline`, { code: slowLoad(1500, true) });
  assert.equal(r.status, 202, r.text);
  assert.equal(await statusOn(a, broken), 'building');
  assert.equal((await waitDeployment(a, r.json.deployment_id)).status, 'failed');
  assert.equal(await statusOn(a, broken), 'error');
  await statusBecomes(b, broken, 'error');
  assertError(await invoke(a, broken), 500, 'BUILD_FAILED');
  const errored = (await api(b, 'GET', '/api/v1/functions?status=error')).json.functions as Array<{ id: string }>;
  assert.ok(errored.some((f) => f.id === broken));

  const serving = await deployed(a, 'exports.handler = async () => "v1";');
  const redeploy = await api(a, 'POST', `/api/v1/functions/${serving}/deploy-inline`, { code: slowLoad(1500, true) });
  assert.equal(redeploy.status, 202, redeploy.text);
  assert.equal(await statusOn(a, serving), 'active', 'the old version serves while the redeploy builds');
  assert.equal((await waitDeployment(a, redeploy.json.deployment_id)).status, 'failed');
  assert.equal(await statusOn(a, serving), 'active');
  await statusBecomes(b, serving, 'active');
  assert.equal((await invoke(b, serving, { key: a.adminKey })).json, 'v1');
});

test('drop-in - inactive stops serving; active returns the function to its lifecycle state', async () => {
  const never = await createFn(a);
  assert.equal((await api(a, 'PUT', `/api/v1/functions/${never}`, { status: 'inactive' })).json.status, 'inactive');
  assert.equal((await api(a, 'PUT', `/api/v1/functions/${never}`, { status: 'active' })).json.status, 'created');

  const id = await deployed(a, 'exports.handler = async () => "up";');
  assert.equal((await api(a, 'PUT', `/api/v1/functions/${id}`, { status: 'inactive' })).json.status, 'inactive');
  await statusBecomes(b, id, 'inactive');
  assertError(await invoke(b, id, { key: a.adminKey }), 409, 'NOT_ACTIVE');
  // A deploy while inactive builds, but does not bring the function back.
  assert.equal((await deploy(a, id, 'exports.handler = async () => "new";')).status, 'succeeded');
  assert.equal(await statusOn(a, id), 'inactive');
  assert.equal((await api(a, 'PUT', `/api/v1/functions/${id}`, { status: 'active' })).json.status, 'active');
  await statusBecomes(b, id, 'active');
  assert.equal((await invoke(b, id, { key: a.adminKey })).json, 'new');
  for (const status of ['created', 'building', 'error', 'ACTIVE']) assertError(await api(a, 'PUT', `/api/v1/functions/${id}`, { status }), 400, 'VALIDATION');
  assertError(await api(a, 'GET', '/api/v1/functions?status=deleted'), 400, 'VALIDATION');
});

test('drop-in - the session cookie is named session_token and authenticates', async () => {
  const onboard = await call(a.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'admin', password: 'AdminPass123!Secure' } });
  assert.equal(onboard.status, 201, onboard.text);
  const cookie = sessionCookie(onboard);
  assert.match(cookie, /^session_token=.{20,}$/);
  const set = onboard.headers.getSetCookie().find((c) => c.startsWith('session_token='))!;
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Lax/);
  assert.equal((await call(b.url, 'GET', '/api/v1/auth/me', { cookie })).status, 200);
  assert.equal((await call(b.url, 'GET', '/api/v1/auth/me', { cookie: 'orva_session=x' })).status, 401);
});

test('drop-in - rollback names its parent and restores the configuration of that version; rolling back to the active version is 400', async () => {
  const id = await createFn(a, { env_vars: { MODE: 'one' }, timeout_ms: 5000 });
  const code = (tag: string) => `exports.handler = async () => ({ tag: ${JSON.stringify(tag)}, mode: process.env.MODE ?? null });`;
  const d1 = await deploy(a, id, code('v1'));
  assert.equal(d1.status, 'succeeded');
  assert.deepEqual(d1.config.env_vars, { MODE: 'one' });
  assert.equal(d1.config.timeout_ms, 5000);
  assert.equal((await api(a, 'PUT', `/api/v1/functions/${id}`, { env_vars: { MODE: 'two' }, timeout_ms: 9000, memory_mb: 256 })).status, 200);
  const d2 = await deploy(a, id, code('v2'));
  assert.deepEqual((await invoke(a, id)).json, { tag: 'v2', mode: 'two' });

  assertError(await api(a, 'POST', `/api/v1/functions/${id}/rollback`, { deployment_id: d2.id }), 400, 'VALIDATION');
  assertError(await api(a, 'POST', `/api/v1/functions/${id}/rollback`, { code_hash: d2.code_hash }), 400, 'VALIDATION');

  const rb = await api(a, 'POST', `/api/v1/functions/${id}/rollback`, { deployment_id: d1.id });
  assert.equal(rb.status, 200, rb.text);
  assert.equal(rb.json.source, 'rollback');
  assert.equal(rb.json.parent_deployment_id, d1.id);
  assert.deepEqual(rb.json.config.env_vars, { MODE: 'one' });
  const fn = (await api(a, 'GET', `/api/v1/functions/${id}`)).json;
  assert.deepEqual(fn.env_vars, { MODE: 'one' });
  assert.equal(fn.timeout_ms, 5000);
  assert.equal(fn.memory_mb, 128);
  assert.equal(fn.code_hash, d1.code_hash);
  assert.deepEqual((await invoke(a, id)).json, { tag: 'v1', mode: 'one' });
  await eventually('the rollback on node b', async () => ((await api(b, 'GET', `/api/v1/functions/${id}`)).json.timeout_ms === 5000 ? true : undefined));
  assert.deepEqual((await invoke(b, id, { key: a.adminKey })).json, { tag: 'v1', mode: 'one' });

  // Forward again by hash: the newest deployment of that hash is the parent, and its shape comes back.
  const fwd = await api(a, 'POST', `/api/v1/functions/${id}/rollback`, { code_hash: d2.code_hash });
  assert.equal(fwd.status, 200, fwd.text);
  assert.equal(fwd.json.parent_deployment_id, d2.id);
  assert.deepEqual((await invoke(a, id)).json, { tag: 'v2', mode: 'two' });
  assert.equal((await api(a, 'GET', `/api/v1/functions/${id}`)).json.timeout_ms, 9000);
});

test('drop-in - a secret upsert answers 200 whether the key is new or replaced', async () => {
  const id = await createFn(a);
  for (const value of ['first', 'second']) {
    const r = await api(a, 'POST', `/api/v1/functions/${id}/secrets`, { key: 'TOKEN', value });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.key, 'TOKEN');
    assert.equal(r.json.value, undefined);
  }
});

test('drop-in - a signed function takes only calls with a fresh valid signature, and the handler never sees it', async () => {
  const id = await deployed(a, 'exports.handler = async (event) => ({ headers: event.headers, body: event.body, secret: process.env.ORVA_SIGNING_SECRET ?? null });', { auth_mode: 'signed' });
  const body = JSON.stringify({ event: 'paid', amount: 42 });

  const missing = await call(a.url, 'POST', `/fn/${id}`, signed('whatever', body));
  assertError(missing, 401, 'UNAUTHORIZED');
  assert.equal(missing.json.error.details.reason, 'no_signing_secret');
  assert.match(missing.json.error.hint, /ORVA_SIGNING_SECRET/);

  const secret = 'whsec_test_0123456789';
  assert.equal((await api(a, 'POST', `/api/v1/functions/${id}/secrets`, { key: 'ORVA_SIGNING_SECRET', value: secret })).status, 200);
  await eventually('the signing secret on node b', async () => ((await call(b.url, 'POST', `/fn/${id}`, signed(secret, body))).status === 200 ? true : undefined));

  const ok = await call(a.url, 'POST', `/fn/${id}`, signed(secret, body));
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.body, body);
  assert.equal(ok.json.secret, null, 'the signing secret is not in the handler env');
  assert.equal(ok.json.headers['x-orva-signature'], undefined);
  assert.equal(ok.json.headers['x-orva-timestamp'], undefined);

  // No API key is needed, and none is accepted instead of a signature.
  assertError(await call(a.url, 'POST', `/fn/${id}`, { key: a.adminKey, rawBody: body }), 401, 'UNAUTHORIZED');
  const unsignedCall = await call(a.url, 'POST', `/fn/${id}`, { rawBody: body });
  assertError(unsignedCall, 401, 'UNAUTHORIZED');
  assert.match(unsignedCall.json.error.hint, /sha256=/);
  const tampered = signed(secret, body);
  assertError(await call(a.url, 'POST', `/fn/${id}`, { ...tampered, rawBody: body.replace('42', '4200') }), 401, 'UNAUTHORIZED');
  assertError(await call(a.url, 'POST', `/fn/${id}`, signed('not-the-secret', body)), 401, 'UNAUTHORIZED');
  const now = Math.floor(Date.now() / 1000);
  assertError(await call(a.url, 'POST', `/fn/${id}`, signed(secret, body, now - 301)), 401, 'UNAUTHORIZED');
  assertError(await call(a.url, 'POST', `/fn/${id}`, signed(secret, body, now + 301)), 401, 'UNAUTHORIZED');
  for (const [ts, sig] of [['abc', 'sha256=00'], [String(now), 'md5=abc'], [String(now), 'sha256=zz'], [String(now), `sha256=${'0'.repeat(64)}`]]) {
    assertError(await call(a.url, 'POST', `/fn/${id}`, { rawBody: body, headers: { 'x-orva-timestamp': ts, 'x-orva-signature': sig } }), 401, 'UNAUTHORIZED');
  }
  assertError(await api(a, 'POST', `/api/v1/functions/${id}/secrets`, { key: 'ORVA_OTHER', value: 'x' }), 400, 'VALIDATION');
});

test('drop-in - a call waits for a worker no longer than the function’s timeout_ms', async () => {
  // One worker; each call holds it 800 ms. The third call queues behind two: it would get the worker at about 1.6 s,
  // past its 1 s timeout_ms, so it gives up at 1 s instead of ORVA_POOL_QUEUE_TIMEOUT_MS (10 s).
  const id = await deployed(a, 'exports.handler = async () => { await new Promise((r) => setTimeout(r, 800)); return "done"; };', { timeout_ms: 1000 });
  assert.equal((await api(a, 'PUT', '/api/v1/pool/config', { function_id: id, max_warm: 1 })).status, 200);
  assert.equal((await invoke(a, id)).status, 200);
  const first = invoke(a, id);
  await new Promise((r) => setTimeout(r, 100));
  const second = invoke(a, id);
  await new Promise((r) => setTimeout(r, 100));
  const third = await invoke(a, id);
  assertError(third, 503, 'POOL_AT_CAPACITY');
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
});

test('drop-in - a cold start is not cut short by that bound: a call waits for the sandbox starting for it', async () => {
  // Its module takes 600 ms to load, three times its timeout_ms: every first call waits that long for its worker.
  const id = await deployed(a, slowLoad(600), { timeout_ms: 200 });
  const r = await invoke(a, id);
  assert.equal(r.status, 200, r.text);
  const exec = await api(a, 'GET', `/api/v1/executions/${r.headers.get('x-orva-execution-id')}`);
  assert.equal(exec.json.cold_start, true);
});

test('drop-in - a declared body over the limit is answered 413 before any of it is sent', async () => {
  const head = (expect: boolean) =>
    `POST /api/v1/functions HTTP/1.1\r\nHost: x\r\nX-Orva-API-Key: ${a.adminKey}\r\nContent-Type: application/json\r\nContent-Length: 8000000\r\n${expect ? 'Expect: 100-continue\r\n' : ''}\r\n`;
  // No body follows the headers: the answer cannot have waited for it.
  const plain = await rawHttp(a.port, head(false));
  assertError(plain, 413, 'PAYLOAD_TOO_LARGE');
  // uWS v20.30 writes "100 Continue" itself before any handler runs (see the README): the 413 follows it at once.
  assert.deepEqual(await statusLines(a.port, head(true), 'HTTP/1.1 413'), ['HTTP/1.1 100 Continue', 'HTTP/1.1 413 Payload Too Large']);
});
