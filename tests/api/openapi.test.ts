/**
 * GET /api/v1/openapi.json against the node's own router: every route it
 * registers documented, nothing documented that the router does not answer,
 * a valid OpenAPI 3.1 document, and response schemas that accept real answers.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ERRORS } from '../../protocol/errors.ts';
import { deploymentRecord, executionRecord, functionRecord, runtimeList } from '../../protocol/responses.ts';
import type { Route } from '../../node/http/api.ts';
import { buildOpenApi } from '../../node/openapi/document.ts';
import { OPERATIONS } from '../../node/openapi/operations.ts';
import { deployed, executionIdOf, invoke } from '../helpers/functions.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

let node: NodeHandle;
let doc: any;

/** Every (method, path) the document lists. */
function operations(): Array<{ method: string; path: string; op: any }> {
  return Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );
}

before(async () => {
  node = await startNode();
  const r = await call(node.url, 'GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200, r.text);
  doc = r.json;
});

describe('OpenAPI document', () => {
  test('openapi - the document is public and valid OpenAPI 3.1', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const v = new Validator();
    const res = await v.validate(doc);
    assert.equal(v.version, '3.1');
    assert.ok(res.valid, JSON.stringify(res.errors, null, 2));
  });

  test('openapi - every route the node registered has its documentation entry, and no entry is without a route', () => {
    const undocumented = operations().filter((o) => o.op['x-orva-undocumented']);
    assert.deepEqual(undocumented.map((o) => `${o.method} ${o.path}`), [], 'add these to node/openapi/operations.ts');
    // The node compares the routes it registered with the entries at start and names any drift in its log.
    assert.doesNotMatch(node.output(), /OpenAPI document out of step/);
  });

  test('openapi - the router answers every documented operation (no 404 "no endpoint", no 405)', async () => {
    const api = operations().filter((o) => o.path.startsWith('/api/'));
    assert.ok(api.length >= Object.keys(OPERATIONS).length);
    for (const { method, path } of api) {
      // Without credentials and without a body: nothing is changed, but the router has to match the route first.
      const r = await call(node.url, method, path.replace(/\{\w+\}/g, 'x'));
      const noRoute = (r.status === 404 && r.json?.error?.message?.startsWith('no endpoint')) || r.status === 405;
      assert.ok(!noRoute, `${method} ${path} is documented but the router answers ${r.status} ${r.text.slice(0, 200)}`);
    }
  });

  test('openapi - each operation names its permission, auth schemes and only catalog error codes', () => {
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['apiKey', 'bearer', 'sessionCookie']);
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      assert.ok(op['x-orva-permission'], where);
      if (op['x-orva-permission'] === 'public') assert.deepEqual(op.security, [], where);
      else assert.ok(op.responses['401'], `${where} lacks 401`);
      for (const [status, res] of Object.entries(op.responses) as Array<[string, any]>) {
        if (Number(status) < 400) continue;
        const codes: string[] = res.content['application/json'].schema.allOf[1].properties.error.properties.code.enum;
        for (const c of codes) assert.equal(ERRORS[c as keyof typeof ERRORS].status, Number(status), `${where}: ${c} under ${status}`);
      }
    }
    const create = doc.paths['/api/v1/functions'].post;
    assert.deepEqual(create.requestBody.content['application/json'].schema.required, ['name', 'runtime']);
    assert.ok(create.responses['400'].description.includes('VALIDATION'));
    assert.equal(doc.paths['/api/v1/functions/{id}'].get.parameters[0].name, 'id');
    assert.ok(doc.paths['/api/v1/executions'].get.parameters.some((p: any) => p.name === 'limit' && p.in === 'query'));
  });

  test('openapi - the documented response schemas accept what the node really answers', async () => {
    const id = await deployed(node, 'module.exports = async () => "ok";');
    const call1 = await invoke(node, id);
    const fn = await call(node.url, 'GET', `/api/v1/functions/${id}`, { key: node.adminKey });
    functionRecord.strict().parse(fn.json);
    const deps = await call(node.url, 'GET', `/api/v1/functions/${id}/deployments`, { key: node.adminKey });
    for (const d of deps.json.deployments) deploymentRecord.strict().parse(d);
    const exec = await call(node.url, 'GET', `/api/v1/executions/${executionIdOf(call1)}`, { key: node.adminKey });
    executionRecord.strict().parse(exec.json);
    runtimeList.parse((await call(node.url, 'GET', '/api/v1/runtimes', { key: node.adminKey })).json);
  });

  test('openapi - a route without an entry, or an entry without a route, is reported', () => {
    const routes: Route[] = Object.keys(OPERATIONS).map((k) => {
      const [method, path] = k.split(' ') as [Route['method'], string];
      return { method, path, access: 'read', handler: () => ({}) };
    });
    const extra: Route = { method: 'POST', path: '/api/v1/not-documented/:id', access: 'write', handler: () => ({}) };
    const built = buildOpenApi([...routes.slice(1), extra], 'test');
    assert.deepEqual(built.undocumented, ['POST /api/v1/not-documented/:id']);
    assert.deepEqual(built.stale, [Object.keys(OPERATIONS)[0]]);
    assert.equal((built.document as any).paths['/api/v1/not-documented/{id}'].post['x-orva-undocumented'], true);
  });
});
