/** Create, deploy and call functions on a test node. */
import assert from 'node:assert/strict';
import { call, type CallResult } from './http.ts';
import type { NodeHandle } from './processes.ts';

export interface FnOptions {
  runtime?: 'node' | 'python';
  entrypoint?: string;
  timeout_ms?: number;
  memory_mb?: number;
  auth_mode?: 'platform_key' | 'none' | 'signed';
  env_vars?: Record<string, string>;
}

let counter = 0;

/** Create a function with a unique name; returns its id. */
export async function createFn(node: NodeHandle, opts: FnOptions = {}): Promise<string> {
  const r = await call(node.url, 'POST', '/api/v1/functions', {
    key: node.adminKey,
    body: { name: `fn-${process.pid}-${++counter}`, runtime: opts.runtime ?? 'node', ...opts },
  });
  assert.equal(r.status, 201, r.text);
  return r.json.id;
}

/** Poll a deployment until it leaves queued/building; returns the final record. */
export async function waitDeployment(node: NodeHandle, deploymentId: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call(node.url, 'GET', `/api/v1/deployments/${deploymentId}`, { key: node.adminKey });
    if (r.json.status === 'succeeded' || r.json.status === 'failed') return r.json;
    if (Date.now() > deadline) throw new Error(`deployment ${deploymentId} still ${r.json.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Deploy inline and wait for the build; returns the final deployment record. */
export async function deploy(node: NodeHandle, fnId: string, code: string, extra: { filename?: string; dependencies?: string } = {}): Promise<any> {
  const r = await call(node.url, 'POST', `/api/v1/functions/${fnId}/deploy-inline`, { key: node.adminKey, body: { code, ...extra } });
  assert.equal(r.status, 202, r.text);
  return waitDeployment(node, r.json.id);
}

/** Create + deploy, asserting the build succeeded. */
export async function deployed(node: NodeHandle, code: string, opts: FnOptions = {}, extra: { dependencies?: string } = {}): Promise<string> {
  const id = await createFn(node, opts);
  const dep = await deploy(node, id, code, extra);
  assert.equal(dep.status, 'succeeded', JSON.stringify(dep));
  return id;
}

/** Invoke /fn/{id}{path} with the admin key. */
export function invoke(node: NodeHandle, fnId: string, opts: { method?: string; path?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string>; key?: string } = {}): Promise<CallResult> {
  return call(node.url, opts.method ?? 'POST', `/fn/${fnId}${opts.path ?? ''}`, { key: opts.key ?? node.adminKey, body: opts.body, rawBody: opts.rawBody, headers: opts.headers });
}

/** The execution a call made: from its answer's header, or an error envelope's details. */
export function executionIdOf(r: CallResult): string {
  const id = r.headers.get('x-orva-execution-id') ?? r.json?.error?.details?.execution_id;
  assert.ok(id, `no execution id in ${r.status} ${r.text.slice(0, 200)}`);
  return id;
}

/** GET /executions/{id}/logs: `{ execution_id, logs, logs_dropped }`. */
export async function executionLogs(node: NodeHandle, executionId: string): Promise<{ execution_id: string; logs: string; logs_dropped: boolean }> {
  const r = await call(node.url, 'GET', `/api/v1/executions/${executionId}/logs`, { key: node.adminKey });
  assert.equal(r.status, 200, r.text);
  return r.json;
}
