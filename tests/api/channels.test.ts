import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError, eventually } from '../helpers/assert.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNats, startNode } from '../helpers/processes.ts';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MISSING_ID = '01900000-0000-7000-8000-000000000000';
const TOKEN = /^orva_chn_[0-9a-f]{32}$/;

let node: NodeHandle;
let alpha: string;
let beta: string;
let gamma: string;

// A call with the admin key.
function api(method: string, path: string, body?: unknown) {
  return call(node.url, method, path, { key: node.adminKey, body });
}

// Create a function named `name` (no code needed: channels hold records); returns its id.
async function fn(name: string, description?: string): Promise<string> {
  const r = await api('POST', '/api/v1/functions', { name, runtime: 'node', ...(description !== undefined && { description }) });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

// POST /channels; asserts 201 and returns the body (which carries the token).
async function createChannel(body: Record<string, unknown>) {
  const r = await api('POST', '/api/v1/channels', body);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// The listing and every channel's detail: the snapshot "nothing written" compares against.
async function snapshot(): Promise<unknown> {
  const list = await api('GET', '/api/v1/channels');
  assert.equal(list.status, 200, list.text);
  const details = await Promise.all(list.json.channels.map(async (c: { id: string }) => (await api('GET', `/api/v1/channels/${c.id}`)).json));
  return { list: list.json, details };
}

// Run `bad` (which asserts its own errors), then assert no channel changed.
async function writesNothing(bad: () => Promise<void>): Promise<void> {
  const before = await snapshot();
  await bad();
  assert.deepEqual(await snapshot(), before);
}

before(async () => {
  node = await startNode();
  alpha = await fn('alpha', 'Alpha does A.');
  beta = await fn('beta');
  gamma = await fn('gamma-ray');
});
after(async () => {
  await node.stop();
});

test('channels - create answers 201 with the token once; list and detail never show it or its hash', async () => {
  const t0 = Date.now();
  const c = await createChannel({ name: 'support-bot', description: 'Support workflow toolkit', function_ids: [alpha, beta], expires_in_days: 30 });
  assert.match(c.id, UUID7);
  assert.match(c.token, TOKEN);
  assert.equal(c.prefix, c.token.slice(0, 17));
  assert.equal(c.name, 'support-bot');
  assert.equal(c.description, 'Support workflow toolkit');
  assert.equal(c.function_count, 2);
  assert.equal(c.last_used_at, null);
  assert.ok(Math.abs(Date.parse(c.expires_at) - (t0 + 30 * 86_400_000)) < 10_000, c.expires_at);
  assert.deepEqual(new Set(c.function_ids), new Set([alpha, beta]));
  const detail = await api('GET', `/api/v1/channels/${c.id}`);
  assert.equal(detail.status, 200);
  const { token: _token, ...withoutToken } = c;
  assert.deepEqual(detail.json, withoutToken);
  assert.deepEqual(
    detail.json.functions.map((f: Record<string, unknown>) => ({ ...f, added_at: typeof f.added_at })),
    [
      { function_id: alpha, name: 'alpha', tool_name: 'alpha', added_at: 'string' },
      { function_id: beta, name: 'beta', tool_name: 'beta', added_at: 'string' },
    ],
  );
  const list = await api('GET', '/api/v1/channels');
  const listed = list.json.channels.find((x: { id: string }) => x.id === c.id);
  assert.deepEqual(Object.keys(listed).sort(), ['created_at', 'description', 'expires_at', 'function_count', 'id', 'last_used_at', 'name', 'prefix']);
  for (const r of [detail, list]) {
    assert.ok(!r.text.includes(c.token), 'token shown again');
    assert.ok(!r.text.includes(c.token.slice(17)), 'secret part shown again');
    assert.ok(!/"hash"/.test(r.text), 'hash shown');
  }
  assert.ok(!node.output().includes(c.token.slice(17)), 'token in the node log');
});

test('channels - expires_at sets the expiry, and no expiry means never', async () => {
  const at = new Date(Date.now() + 3_600_000).toISOString();
  assert.equal((await createChannel({ name: 'dated', function_ids: [alpha], expires_at: at })).expires_at, at);
  const forever = await createChannel({ name: 'forever', function_ids: [alpha] });
  assert.equal(forever.expires_at, null);
  assert.equal(forever.description, null);
});

test('channels - bad create bodies are 400 or 404 with the envelope and write nothing', async () => {
  await writesNothing(async () => {
    const bad: Array<[unknown, number, string]> = [
      [{ name: 'x', function_ids: [] }, 400, 'VALIDATION'],
      [{ name: 'x' }, 400, 'VALIDATION'],
      [{ function_ids: [alpha] }, 400, 'VALIDATION'],
      [{ name: '  ', function_ids: [alpha] }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha, alpha] }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], expires_in_days: 0 }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], expires_in_days: 1.5 }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], expires_at: 'tomorrow' }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], expires_at: new Date(Date.now() - 1000).toISOString() }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], expires_in_days: 1, expires_at: new Date(Date.now() + 3_600_000).toISOString() }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], descriptions: { [beta]: 'not in the set' } }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], descriptions: { [alpha]: 'd'.repeat(1025) } }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], description: 'd'.repeat(1025) }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha], token: 'orva_chn_00000000000000000000000000000000' }, 400, 'VALIDATION'],
      [{ name: 'x', function_ids: [alpha, MISSING_ID] }, 404, 'NOT_FOUND'],
    ];
    for (const [body, status, code] of bad) assertError(await api('POST', '/api/v1/channels', body), status, code);
    assertError(await call(node.url, 'POST', '/api/v1/channels', { key: node.adminKey, rawBody: '{"name":' }), 400, 'INVALID_JSON');
    const unknown = await api('POST', '/api/v1/channels', { name: 'x', function_ids: [alpha, MISSING_ID] });
    assert.deepEqual(unknown.json.error.details.function_ids, [MISSING_ID]);
  });
});

test('channels - an unknown channel is 404 NOT_FOUND on every endpoint and changes nothing', async () => {
  await writesNothing(async () => {
    assertError(await api('GET', `/api/v1/channels/${MISSING_ID}`), 404, 'NOT_FOUND');
    assertError(await api('PATCH', `/api/v1/channels/${MISSING_ID}`, { name: 'n' }), 404, 'NOT_FOUND');
    assertError(await api('PUT', `/api/v1/channels/${MISSING_ID}/functions`, { function_ids: [alpha] }), 404, 'NOT_FOUND');
    assertError(await api('POST', `/api/v1/channels/${MISSING_ID}/rotate`), 404, 'NOT_FOUND');
    assertError(await api('DELETE', `/api/v1/channels/${MISSING_ID}`), 404, 'NOT_FOUND');
  });
});

test('channels - two functions that sanitise to one tool name are 400 TOOL_NAME_COLLISION naming both, on create and on PUT', async () => {
  const one = await fn('clash-fn');
  const two = await fn('clash--fn');
  const c = await createChannel({ name: 'clashing', function_ids: [one] });
  await writesNothing(async () => {
    for (const r of [
      await api('POST', '/api/v1/channels', { name: 'x', function_ids: [one, alpha, two] }),
      await api('PUT', `/api/v1/channels/${c.id}/functions`, { function_ids: [two, one] }),
    ]) {
      assertError(r, 400, 'TOOL_NAME_COLLISION');
      assert.equal(r.json.error.details.tool_name, 'clash_fn');
      assert.deepEqual(new Set(r.json.error.details.function_ids), new Set([one, two]));
      assert.deepEqual(new Set(r.json.error.details.function_names), new Set(['clash-fn', 'clash--fn']));
      assert.match(r.json.error.message, /clash-fn/);
      assert.match(r.json.error.message, /clash--fn/);
    }
  });
});

test('channels - a function whose tool name has a reserved prefix cannot join a channel', async () => {
  const reserved = await fn('mcp-helper');
  await writesNothing(async () => {
    const r = await api('POST', '/api/v1/channels', { name: 'x', function_ids: [alpha, reserved] });
    assertError(r, 400, 'VALIDATION');
    assert.match(r.json.error.message, /reserved prefix mcp_/);
  });
});

test('channels - renaming a function into a collision inside its channel is 400 TOOL_NAME_COLLISION; outside a shared channel it is allowed', async () => {
  const left = await fn('rename-left');
  const right = await fn('rename-right');
  const loner = await fn('rename-loner');
  const c = await createChannel({ name: 'renames', function_ids: [left, right] });
  const r = await api('PUT', `/api/v1/functions/${right}`, { name: 'rename--left' });
  assertError(r, 400, 'TOOL_NAME_COLLISION');
  assert.equal(r.json.error.details.channel_id, c.id);
  assert.deepEqual(new Set(r.json.error.details.function_ids), new Set([left, right]));
  assert.equal((await api('GET', `/api/v1/functions/${right}`)).json.name, 'rename-right');
  // Into a reserved prefix: refused the same way, as the tool could not be registered.
  assertError(await api('PUT', `/api/v1/functions/${right}`, { name: 'cursor-right' }), 400, 'VALIDATION');
  // loner shares no channel with left: the same tool name is fine.
  const ok = await api('PUT', `/api/v1/functions/${loner}`, { name: 'rename--left' });
  assert.equal(ok.status, 200, ok.text);
  // A rename that keeps the channel valid is applied and shows in the channel.
  assert.equal((await api('PUT', `/api/v1/functions/${right}`, { name: 'rename-right-2' })).status, 200);
  const detail = (await api('GET', `/api/v1/channels/${c.id}`)).json;
  assert.deepEqual(detail.functions.map((f: { tool_name: string }) => f.tool_name), ['rename_left', 'rename_right_2']);
});

test('channels - PATCH changes name, description and expires_at and leaves the function set alone', async () => {
  const c = await createChannel({ name: 'patchable', function_ids: [alpha, beta], descriptions: { [beta]: 'Beta, for the bot.' } });
  const at = new Date(Date.now() + 7_200_000).toISOString();
  const r = await api('PATCH', `/api/v1/channels/${c.id}`, { name: 'patched', description: 'now described', expires_at: at });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.name, 'patched');
  assert.equal(r.json.description, 'now described');
  assert.equal(r.json.expires_at, at);
  assert.deepEqual(r.json.functions, c.functions);
  const cleared = await api('PATCH', `/api/v1/channels/${c.id}`, { description: null, expires_at: null });
  assert.equal(cleared.json.description, null);
  assert.equal(cleared.json.expires_at, null);
  assert.equal(cleared.json.name, 'patched');
  await writesNothing(async () => {
    for (const body of [{}, { function_ids: [alpha] }, { name: '' }, { expires_at: new Date(Date.now() - 1000).toISOString() }, { expires_in_days: 3 }, { prefix: 'orva_chn_00000000' }]) {
      assertError(await api('PATCH', `/api/v1/channels/${c.id}`, body), 400, 'VALIDATION');
    }
  });
});

test('channels - PUT functions replaces the set wholesale and keeps the overrides and added_at of functions that stay', async () => {
  const c = await createChannel({ name: 'wholesale', function_ids: [alpha, beta], descriptions: { [alpha]: 'override A', [beta]: 'override B' } });
  const byId = (d: { functions: Array<{ function_id: string; description?: string; tool_name: string }> }) => Object.fromEntries(d.functions.map((f) => [f.function_id, f]));
  const first = byId(c);
  assert.equal(first[alpha].description, 'override A');
  const r = await api('PUT', `/api/v1/channels/${c.id}/functions`, { function_ids: [beta, gamma], descriptions: { [gamma]: 'Gamma now' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(new Set(r.json.function_ids), new Set([beta, gamma]));
  assert.equal(r.json.function_count, 2);
  const next = byId(r.json);
  assert.deepEqual(next[beta], first[beta], 'beta stayed: its override and added_at are kept');
  assert.equal(next[gamma].description, 'Gamma now');
  assert.equal(next[gamma].tool_name, 'gamma_ray');
  // An explicit override replaces, null removes; functions not named keep theirs.
  const again = await api('PUT', `/api/v1/channels/${c.id}/functions`, { function_ids: [beta, gamma], descriptions: { [beta]: null } });
  const last = byId(again.json);
  assert.equal('description' in last[beta], false);
  assert.equal(last[gamma].description, 'Gamma now');
  await writesNothing(async () => {
    for (const body of [{ function_ids: [] }, {}, { function_ids: [beta], descriptions: { [alpha]: 'x' } }, { function_ids: [beta, beta] }, { function_ids: [beta], name: 'x' }]) {
      assertError(await api('PUT', `/api/v1/channels/${c.id}/functions`, body), 400, 'VALIDATION');
    }
    assertError(await api('PUT', `/api/v1/channels/${c.id}/functions`, { function_ids: [beta, MISSING_ID] }), 404, 'NOT_FOUND');
  });
});

test('channels - rotate answers a new token and prefix, shown only then', async () => {
  const c = await createChannel({ name: 'rotating', function_ids: [alpha] });
  const r = await api('POST', `/api/v1/channels/${c.id}/rotate`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json).sort(), ['id', 'prefix', 'token']);
  assert.equal(r.json.id, c.id);
  assert.match(r.json.token, TOKEN);
  assert.notEqual(r.json.token, c.token);
  assert.equal(r.json.prefix, r.json.token.slice(0, 17));
  const detail = await api('GET', `/api/v1/channels/${c.id}`);
  assert.equal(detail.json.prefix, r.json.prefix);
  assert.ok(!detail.text.includes(r.json.token.slice(17)));
});

test('channels - DELETE removes the channel and its function set; a deleted function leaves every channel', async () => {
  const doomed = await fn('doomed');
  const a = await createChannel({ name: 'holds-doomed-1', function_ids: [alpha, doomed] });
  const b = await createChannel({ name: 'holds-doomed-2', function_ids: [doomed, beta] });
  assert.equal((await api('DELETE', `/api/v1/functions/${doomed}`)).status, 200);
  for (const c of [a, b]) {
    const d = (await api('GET', `/api/v1/channels/${c.id}`)).json;
    assert.equal(d.function_count, 1);
    assert.ok(!d.function_ids.includes(doomed));
  }
  const del = await api('DELETE', `/api/v1/channels/${a.id}`);
  assert.equal(del.status, 200);
  assert.deepEqual(del.json, { id: a.id, deleted: true });
  assertError(await api('GET', `/api/v1/channels/${a.id}`), 404, 'NOT_FOUND');
  assertError(await api('DELETE', `/api/v1/channels/${a.id}`), 404, 'NOT_FOUND');
  assert.ok(!(await api('GET', '/api/v1/channels')).json.channels.some((c: { id: string }) => c.id === a.id));
});

test('channels - a key without write is 403 FORBIDDEN on every write and changes nothing; read suffices to list', async () => {
  const c = await createChannel({ name: 'guarded', function_ids: [alpha] });
  const reader = (await api('POST', '/api/v1/keys', { name: 'reader', permissions: ['read', 'invoke', 'admin'] })).json.key;
  const writer = (await api('POST', '/api/v1/keys', { name: 'writer', permissions: ['write'] })).json.key;
  await writesNothing(async () => {
    const as = (method: string, path: string, body?: unknown) => call(node.url, method, path, { key: reader, body });
    assertError(await as('POST', '/api/v1/channels', { name: 'x', function_ids: [alpha] }), 403, 'FORBIDDEN');
    assertError(await as('PATCH', `/api/v1/channels/${c.id}`, { name: 'x' }), 403, 'FORBIDDEN');
    assertError(await as('PUT', `/api/v1/channels/${c.id}/functions`, { function_ids: [beta] }), 403, 'FORBIDDEN');
    assertError(await as('POST', `/api/v1/channels/${c.id}/rotate`), 403, 'FORBIDDEN');
    assertError(await as('DELETE', `/api/v1/channels/${c.id}`), 403, 'FORBIDDEN');
    assert.equal((await as('GET', '/api/v1/channels')).status, 200);
    assert.equal((await as('GET', `/api/v1/channels/${c.id}`)).status, 200);
    assertError(await call(node.url, 'GET', '/api/v1/channels', { key: writer }), 403, 'FORBIDDEN');
    assertError(await call(node.url, 'GET', '/api/v1/channels'), 401, 'UNAUTHORIZED');
  });
});

test('channels - a real channel token is 401 at /api/v1/*, in either header, including the channels endpoints', async () => {
  const c = await createChannel({ name: 'not-an-api-key', function_ids: [alpha] });
  for (const path of ['/api/v1/functions', `/api/v1/functions/${alpha}`, '/api/v1/channels', `/api/v1/channels/${c.id}`, '/api/v1/keys', '/api/v1/executions']) {
    assertError(await call(node.url, 'GET', path, { key: c.token }), 401, 'UNAUTHORIZED');
    assertError(await call(node.url, 'GET', path, { headers: { authorization: `Bearer ${c.token}` } }), 401, 'UNAUTHORIZED');
  }
  await writesNothing(async () => {
    assertError(await call(node.url, 'POST', `/api/v1/channels/${c.id}/rotate`, { key: c.token }), 401, 'UNAUTHORIZED');
    assertError(await call(node.url, 'DELETE', `/api/v1/channels/${c.id}`, { key: c.token }), 401, 'UNAUTHORIZED');
  });
  const r = await call(node.url, 'GET', '/api/v1/functions', { key: c.token });
  assert.match(r.json.error.message, /\/mcp/);
});

test('channels - a channel written on one node is read, rotated and deleted the same on another', async () => {
  const nats = await startNats();
  const a = await startNode({ natsUrl: nats.url, expectAdminKey: true });
  const b = await startNode({ natsUrl: nats.url, expectAdminKey: false });
  try {
    const onA = (method: string, path: string, body?: unknown) => call(a.url, method, path, { key: a.adminKey, body });
    const onB = (method: string, path: string, body?: unknown) => call(b.url, method, path, { key: a.adminKey, body });
    const f = (await onA('POST', '/api/v1/functions', { name: 'shared', runtime: 'python' })).json.id;
    const created = await onA('POST', '/api/v1/channels', { name: 'cluster', function_ids: [f] });
    assert.equal(created.status, 201, created.text);
    const { token: _t, ...detail } = created.json;
    // Every write answers after its local apply; the other node applies the same command from the stream.
    await eventually('the channel on B', async () => ((await onB('GET', `/api/v1/channels/${detail.id}`)).status === 200 ? true : undefined));
    assert.deepEqual((await onB('GET', `/api/v1/channels/${detail.id}`)).json, detail);
    const rotated = (await onA('POST', `/api/v1/channels/${detail.id}/rotate`)).json;
    await eventually('the rotation on B', async () => ((await onB('GET', `/api/v1/channels/${detail.id}`)).json.prefix === rotated.prefix ? true : undefined));
    assert.equal((await onB('DELETE', `/api/v1/channels/${detail.id}`)).status, 200);
    await eventually('the deletion on A', async () => ((await onA('GET', `/api/v1/channels/${detail.id}`)).status === 404 ? true : undefined));
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await nats.stop();
  }
});
