import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertError } from '../helpers/assert.ts';
import { type CallResult, call, sessionCookie } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

const ADMIN = { username: 'admin', password: 'AdminPass123!Secure' };
const DAY_MS = 86_400_000;

let node: NodeHandle;
/** The cookie of the onboarding session, used by the tests that need one. */
let cookie = '';

// The raw Set-Cookie header of the session cookie in a response.
function setCookieHeader(r: CallResult): string {
  const set = r.headers.getSetCookie().find((c) => c.startsWith('session_token='));
  assert.ok(set, 'no session cookie set');
  return set;
}

// The attributes of a Set-Cookie header, lower-cased names.
function cookieAttrs(set: string): Map<string, string> {
  return new Map(set.split(';').slice(1).map((p) => {
    const [k, v = ''] = p.trim().split('=');
    return [k.toLowerCase(), v];
  }));
}

// has_user as GET /auth/status reports it.
async function hasUser(n: NodeHandle): Promise<boolean> {
  const r = await call(n.url, 'GET', '/api/v1/auth/status');
  assert.equal(r.status, 200);
  return r.json.has_user;
}

// Names of the functions the node lists, read with the admin key.
async function functionNames(): Promise<string[]> {
  const r = await call(node.url, 'GET', '/api/v1/functions', { key: node.adminKey });
  assert.equal(r.status, 200);
  return r.json.functions.map((f: { name: string }) => f.name).sort();
}

before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

test('auth - status reports has_user false before onboarding', async () => {
  assert.equal(await hasUser(node), false);
});

test('auth - onboarding with a weak password is 400 VALIDATION and creates no user', async () => {
  for (const password of ['short1!A', 'alllowercaseletters', 'Admin-admin-12!', 'abcdefghijk1']) {
    assertError(await call(node.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'admin', password } }), 400, 'VALIDATION');
  }
  assert.equal(await hasUser(node), false);
});

test('auth - onboarding with malformed JSON, wrong types or unknown fields is refused and creates no user', async () => {
  assertError(await call(node.url, 'POST', '/api/v1/auth/onboard', { rawBody: '{"username": "admin",', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
  assertError(await call(node.url, 'POST', '/api/v1/auth/onboard'), 400, 'INVALID_JSON');
  assertError(await call(node.url, 'POST', '/api/v1/auth/onboard', { body: { ...ADMIN, role: 'root' } }), 400, 'VALIDATION');
  assertError(await call(node.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'admin', password: 12345678901234 } }), 400, 'VALIDATION');
  assertError(await call(node.url, 'POST', '/api/v1/auth/onboard', { body: [ADMIN] }), 400, 'VALIDATION');
  assertError(await call(node.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'a b', password: ADMIN.password } }), 400, 'VALIDATION');
  assert.equal(await hasUser(node), false);
});

test('auth - onboarding creates the admin user and sets an HttpOnly SameSite=Lax session cookie, not Secure by default', async () => {
  const before = Date.now();
  const r = await call(node.url, 'POST', '/api/v1/auth/onboard', { body: ADMIN });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.user.username, 'admin');
  assert.match(r.json.user.id, /^u_/);
  const exp = Date.parse(r.json.expires_at);
  assert.ok(Math.abs(exp - (before + 7 * DAY_MS)) < 60_000, `expires_at ${r.json.expires_at} is not ~7 days ahead`);
  const set = setCookieHeader(r);
  const attrs = cookieAttrs(set);
  assert.ok(attrs.has('httponly'), set);
  assert.equal(attrs.get('samesite'), 'Lax', set);
  assert.equal(attrs.get('path'), '/', set);
  assert.ok(!attrs.has('secure'), `Secure without ORVA_COOKIE_SECURE: ${set}`);
  cookie = sessionCookie(r);
  assert.ok(cookie.length > 'session_token='.length + 20, 'session token too short');
  assert.equal(await hasUser(node), true);
});

test('auth - onboarding a second time is 409 CONFLICT', async () => {
  assertError(await call(node.url, 'POST', '/api/v1/auth/onboard', { body: { username: 'second', password: 'Another-Pass-456' } }), 409, 'CONFLICT');
  // The existing admin still logs in, the would-be second user does not exist.
  assert.equal((await call(node.url, 'POST', '/api/v1/auth/login', { body: ADMIN })).status, 200);
  assertError(await call(node.url, 'POST', '/api/v1/auth/login', { body: { username: 'second', password: 'Another-Pass-456' } }), 401, 'UNAUTHORIZED');
});

test('auth - login with the right password sets a working session cookie', async () => {
  const r = await call(node.url, 'POST', '/api/v1/auth/login', { body: ADMIN });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.user.username, 'admin');
  const c = sessionCookie(r);
  assert.notEqual(c, cookie, 'a login must mint a new session token');
  const me = await call(node.url, 'GET', '/api/v1/auth/me', { cookie: c });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.user.username, 'admin');
});

test('auth - a wrong password and an unknown user both get 401 UNAUTHORIZED with the same message', async () => {
  const wrong = await call(node.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'Wrong-Pass-1234' } });
  const unknown = await call(node.url, 'POST', '/api/v1/auth/login', { body: { username: 'nobody', password: 'Wrong-Pass-1234' } });
  assertError(wrong, 401, 'UNAUTHORIZED');
  assertError(unknown, 401, 'UNAUTHORIZED');
  assert.equal(wrong.json.error.message, unknown.json.error.message);
  assert.equal(wrong.headers.getSetCookie().length, 0, 'a failed login must not set a cookie');
});

test('auth - me answers the current user for a session cookie, 401 for an API key or no credential', async () => {
  const me = await call(node.url, 'GET', '/api/v1/auth/me', { cookie });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.user.username, 'admin');
  assert.equal(typeof me.json.expires_at, 'string');
  assertError(await call(node.url, 'GET', '/api/v1/auth/me', { key: node.adminKey }), 401, 'UNAUTHORIZED');
  assertError(await call(node.url, 'GET', '/api/v1/auth/me'), 401, 'UNAUTHORIZED');
  assertError(await call(node.url, 'GET', '/api/v1/auth/me', { cookie: 'session_token=not-a-real-session-token' }), 401, 'UNAUTHORIZED');
});

test('auth - refresh moves expires_at forward to ~7 days from now and re-sets the same cookie', async () => {
  const before = (await call(node.url, 'GET', '/api/v1/auth/me', { cookie })).json.expires_at as string;
  await new Promise((r) => setTimeout(r, 20));
  const t0 = Date.now();
  const r = await call(node.url, 'POST', '/api/v1/auth/refresh', { cookie });
  assert.equal(r.status, 200, r.text);
  const exp = Date.parse(r.json.expires_at);
  assert.ok(exp > Date.parse(before), `${r.json.expires_at} is not after ${before}`);
  assert.ok(Math.abs(exp - (t0 + 7 * DAY_MS)) < 60_000, `expires_at ${r.json.expires_at} is not ~7 days ahead`);
  const set = setCookieHeader(r);
  assert.equal(set.split(';')[0], cookie, 'refresh must keep the session token');
  assert.equal(cookieAttrs(set).get('max-age'), String(7 * 86_400));
  const me = await call(node.url, 'GET', '/api/v1/auth/me', { cookie });
  assert.equal(me.json.expires_at, r.json.expires_at);
});

test('auth - refresh with an API key is 401 UNAUTHORIZED', async () => {
  assertError(await call(node.url, 'POST', '/api/v1/auth/refresh', { key: node.adminKey }), 401, 'UNAUTHORIZED');
});

test('auth - a cookie-authenticated write from a foreign Origin is 403 FORBIDDEN and changes nothing', async () => {
  const names = await functionNames();
  for (const origin of ['http://evil.example', `http://127.0.0.1:${node.port + 1}`, 'null', 'not a url']) {
    const r = await call(node.url, 'POST', '/api/v1/functions', { cookie, headers: { origin }, body: { name: 'csrf-fn', runtime: 'node' } });
    assertError(r, 403, 'FORBIDDEN');
  }
  assertError(await call(node.url, 'POST', '/api/v1/auth/logout', { cookie, headers: { origin: 'http://evil.example' } }), 403, 'FORBIDDEN');
  assert.deepEqual(await functionNames(), names);
  // The session survived the refused cross-origin logout.
  assert.equal((await call(node.url, 'GET', '/api/v1/auth/me', { cookie })).status, 200);
});

test('auth - a cookie-authenticated write with Sec-Fetch-Site cross-site and no Origin is 403 FORBIDDEN', async () => {
  const names = await functionNames();
  for (const site of ['cross-site', 'same-site']) {
    const r = await call(node.url, 'POST', '/api/v1/functions', { cookie, headers: { 'sec-fetch-site': site }, body: { name: 'csrf-fn', runtime: 'node' } });
    assertError(r, 403, 'FORBIDDEN');
  }
  assert.deepEqual(await functionNames(), names);
});

test('auth - a cookie-authenticated write from the same Origin works, and a cross-origin read is allowed', async () => {
  const origin = `http://127.0.0.1:${node.port}`;
  const r = await call(node.url, 'POST', '/api/v1/functions', { cookie, headers: { origin, 'sec-fetch-site': 'same-origin' }, body: { name: 'cookie-fn', runtime: 'node' } });
  assert.equal(r.status, 201, r.text);
  assert.ok((await functionNames()).includes('cookie-fn'));
  const read = await call(node.url, 'GET', '/api/v1/functions', { cookie, headers: { origin: 'http://evil.example' } });
  assert.equal(read.status, 200);
});

test('auth - a cookie-authenticated write without Origin or Sec-Fetch-Site (curl) works', async () => {
  const r = await call(node.url, 'PUT', '/api/v1/functions/' + (await call(node.url, 'GET', '/api/v1/functions', { cookie })).json.functions[0].id, { cookie, body: { timeout_ms: 1000 } });
  assert.equal(r.status, 200, r.text);
});

test('auth - logout invalidates the session: the cookie then gets 401 UNAUTHORIZED', async () => {
  const login = await call(node.url, 'POST', '/api/v1/auth/login', { body: ADMIN });
  const c = sessionCookie(login);
  const r = await call(node.url, 'POST', '/api/v1/auth/logout', { cookie: c });
  assert.equal(r.status, 200, r.text);
  const cleared = setCookieHeader(r);
  assert.equal(cookieAttrs(cleared).get('max-age'), '0', cleared);
  assertError(await call(node.url, 'GET', '/api/v1/auth/me', { cookie: c }), 401, 'UNAUTHORIZED');
  assertError(await call(node.url, 'GET', '/api/v1/functions', { cookie: c }), 401, 'UNAUTHORIZED');
  assertError(await call(node.url, 'POST', '/api/v1/auth/refresh', { cookie: c }), 401, 'UNAUTHORIZED');
  // Other sessions are untouched.
  assert.equal((await call(node.url, 'GET', '/api/v1/auth/me', { cookie })).status, 200);
});

test('auth - login and refresh bodies: malformed JSON is 400 INVALID_JSON, unknown fields 400 VALIDATION', async () => {
  assertError(await call(node.url, 'POST', '/api/v1/auth/login', { rawBody: 'username=admin', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
  assertError(await call(node.url, 'POST', '/api/v1/auth/login', { body: { ...ADMIN, remember: true } }), 400, 'VALIDATION');
  assertError(await call(node.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin' } }), 400, 'VALIDATION');
});

test('auth - the session cookie is Secure when ORVA_COOKIE_SECURE=1, and 10 failed logins then get 429 RATE_LIMITED with Retry-After', async () => {
  // A second node: the rate limit below would lock 127.0.0.1 out of the first one.
  const secure = await startNode({ env: { ORVA_COOKIE_SECURE: '1' } });
  try {
    const r = await call(secure.url, 'POST', '/api/v1/auth/onboard', { body: ADMIN });
    assert.equal(r.status, 201, r.text);
    const attrs = cookieAttrs(setCookieHeader(r));
    assert.ok(attrs.has('secure'), 'no Secure attribute with ORVA_COOKIE_SECURE=1');
    assert.ok(attrs.has('httponly'));
    for (let i = 0; i < 10; i++) {
      assertError(await call(secure.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: `Wrong-Pass-${i}00` } }), 401, 'UNAUTHORIZED');
    }
    const limited = await call(secure.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'Wrong-Pass-999' } });
    assertError(limited, 429, 'RATE_LIMITED');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry > 0 && retry <= 15 * 60, `Retry-After ${retry}`);
    // While limited, even the right password is refused and no session is created.
    const right = await call(secure.url, 'POST', '/api/v1/auth/login', { body: ADMIN });
    assertError(right, 429, 'RATE_LIMITED');
    assert.equal(right.headers.getSetCookie().length, 0);
  } finally {
    await secure.stop();
  }
});
