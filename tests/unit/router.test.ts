import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Router } from '../../node/http/router.ts';

// A router over the spine's own route shapes, each route named by its method and pattern.
function spineRouter(): Router<string> {
  const r = new Router<string>();
  for (const [m, p] of [
    ['GET', '/api/v1/functions'],
    ['POST', '/api/v1/functions'],
    ['GET', '/api/v1/functions/:id'],
    ['PUT', '/api/v1/functions/:id'],
    ['DELETE', '/api/v1/functions/:id'],
    ['POST', '/api/v1/functions/:id/deploy'],
    ['DELETE', '/api/v1/functions/:id/secrets/:key'],
    ['GET', '/api/v1/keys'],
  ]) r.add(m, p, `${m} ${p}`);
  return r;
}

test('router - a static path matches its method with no params', () => {
  assert.deepEqual(spineRouter().match('GET', '/api/v1/functions'), { kind: 'found', route: 'GET /api/v1/functions', params: {} });
  assert.deepEqual(spineRouter().match('POST', '/api/v1/functions'), { kind: 'found', route: 'POST /api/v1/functions', params: {} });
});

test('router - :name segments become URI-decoded params', () => {
  const r = spineRouter();
  assert.deepEqual(r.match('GET', '/api/v1/functions/abc'), { kind: 'found', route: 'GET /api/v1/functions/:id', params: { id: 'abc' } });
  assert.deepEqual(r.match('DELETE', '/api/v1/functions/f1/secrets/STRIPE%20KEY'), {
    kind: 'found',
    route: 'DELETE /api/v1/functions/:id/secrets/:key',
    params: { id: 'f1', key: 'STRIPE KEY' },
  });
  const slash = r.match('GET', '/api/v1/functions/a%2Fb');
  assert.equal(slash.kind, 'found');
  assert.deepEqual(slash.kind === 'found' && slash.params, { id: 'a/b' });
});

test('router - a param that is not valid percent-encoding matches nothing', () => {
  assert.deepEqual(spineRouter().match('GET', '/api/v1/functions/%E0%A4%A'), { kind: 'none' });
});

test('router - an existing path with the wrong method is a 405 with the allowed methods', () => {
  const r = spineRouter();
  const m = r.match('PATCH', '/api/v1/functions/x');
  assert.equal(m.kind, 'method');
  assert.deepEqual(m.kind === 'method' && [...m.allow].sort(), ['DELETE', 'GET', 'PUT']);
  const c = r.match('DELETE', '/api/v1/functions');
  assert.deepEqual(c.kind === 'method' && [...c.allow].sort(), ['GET', 'POST']);
  assert.deepEqual(r.match('GET', '/api/v1/functions/x/deploy'), { kind: 'method', allow: ['POST'] });
});

test('router - an unknown path is none, whatever the method', () => {
  const r = spineRouter();
  for (const path of ['/api/v1/nothing', '/api/v1/functions/x/y', '/api/v1', '/', '', '/api/v1/functions/x/secrets']) {
    assert.deepEqual(r.match('GET', path), { kind: 'none' }, path);
  }
});

test('router - HEAD matches a GET route', () => {
  assert.deepEqual(spineRouter().match('HEAD', '/api/v1/keys'), { kind: 'found', route: 'GET /api/v1/keys', params: {} });
  assert.deepEqual(spineRouter().match('HEAD', '/api/v1/functions/x/deploy'), { kind: 'method', allow: ['POST'] });
});

test('router - trailing and doubled slashes do not create new paths', () => {
  const r = spineRouter();
  assert.equal(r.match('GET', '/api/v1/functions/').kind, 'found');
  assert.equal(r.match('GET', '//api//v1/keys').kind, 'found');
});

test('router - methods are case-sensitive as given by the ingress (upper case)', () => {
  assert.equal(spineRouter().match('get', '/api/v1/keys').kind, 'method');
});

test('router - a static segment beats nothing: literal segments must match exactly', () => {
  const r = new Router<string>();
  r.add('GET', '/a/:x', 'param');
  r.add('GET', '/a/b/c', 'static');
  assert.deepEqual(r.match('GET', '/a/b'), { kind: 'found', route: 'param', params: { x: 'b' } });
  assert.deepEqual(r.match('GET', '/a/b/c'), { kind: 'found', route: 'static', params: {} });
  assert.deepEqual(r.match('GET', '/A/b/c'), { kind: 'none' });
});

test('router - a literal segment wins over a param, whatever the order routes were added in', () => {
  const r = new Router<string>();
  r.add('GET', '/api/v1/functions/:id', 'by-id');
  r.add('GET', '/api/v1/functions/search', 'search');
  assert.deepEqual(r.match('GET', '/api/v1/functions/search'), { kind: 'found', route: 'search', params: {} });
  assert.deepEqual(r.match('GET', '/api/v1/functions/abc'), { kind: 'found', route: 'by-id', params: { id: 'abc' } });
});

test('router - the Allow list names each method once', () => {
  const r = new Router<string>();
  r.add('GET', '/x/:a', 'one');
  r.add('GET', '/x/:b', 'two');
  assert.deepEqual(r.match('POST', '/x/1'), { kind: 'method', allow: ['GET'] });
});
