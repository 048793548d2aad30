/** Versions of a function: rollback, the active source, and diffs between deployments. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import { diffQuery, rollbackBody } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody, queryParams } from '../http/context.ts';
import { diffLines, splitLines, unifiedHunks } from '../line-diff.ts';
import { type DeploymentRow, deploymentJson, type FunctionRow } from '../store/rows.ts';
import type { Services } from '../services.ts';
import { mustGetFunction, noDeployedCode } from './lookups.ts';

/** The manifest a build writes for each runtime. */
const MANIFEST: Record<FunctionRow['runtime'], string> = { node: 'package.json', python: 'requirements.txt' };

/** Versions of a function, its operations shared by the routes and the MCP tools. */
export function versionOps(s: Services) {
  const gone = (fn: FunctionRow, hash: string | null) =>
    new OrvaError('VERSION_GCD', `version ${hash} of function ${fn.id} was pruned by the GC`, { code_hash: hash, available_hashes: s.store.liveVersions(fn.id) });

  /** A deployment of `fn` usable as a version: known, its own, succeeded, not pruned. */
  function versionOf(fn: FunctionRow, deploymentId: string): DeploymentRow {
    const dep = s.store.deployment(deploymentId);
    if (!dep) throw new OrvaError('VERSION_NOT_FOUND', `deployment ${deploymentId} not found`, { deployment_id: deploymentId });
    if (dep.function_id !== fn.id) throw invalidField('deployment_id', `deployment ${deploymentId} belongs to another function`);
    if (dep.status !== 'succeeded') throw invalidField('deployment_id', `deployment ${deploymentId} is ${dep.status}, not succeeded`);
    if (dep.pruned_at !== null) throw gone(fn, dep.code_hash);
    return dep;
  }

  /** The handler and manifest text of a version, materialised on this node if needed. */
  async function files(fn: FunctionRow, hash: string): Promise<{ handler: string; manifest: string | null }> {
    const dir = await s.artifacts.materialize(fn.id, hash);
    const manifestPath = join(dir, MANIFEST[fn.runtime]);
    return {
      handler: await readFile(join(dir, fn.entrypoint), 'utf8').catch(() => ''),
      manifest: existsSync(manifestPath) ? await readFile(manifestPath, 'utf8') : null,
    };
  }

  async function rollback(functionId: string, body: z.output<typeof rollbackBody>, nowMs: number) {
    const fn = mustGetFunction(s.store, functionId);
    let target: DeploymentRow;
    if (body.deployment_id !== undefined) target = versionOf(fn, body.deployment_id);
    else {
      // By hash: the newest succeeded deployment of it is the one rolled back to.
      const known = s.store.deployments(fn.id, 100_000).filter((d) => d.code_hash === body.code_hash && d.status === 'succeeded');
      if (known.length === 0) throw new OrvaError('VERSION_NOT_FOUND', `function ${fn.id} has no version ${body.code_hash}`, { code_hash: body.code_hash });
      if (known.every((d) => d.pruned_at !== null)) throw gone(fn, body.code_hash!);
      target = known[0];
    }
    const hash = target.code_hash!;
    if (hash === fn.code_hash) throw invalidField(body.deployment_id !== undefined ? 'deployment_id' : 'code_hash', `version ${hash} is already active`);
    const id = uuidv7(nowMs);
    try {
      await s.meta.submit({
        type: 'deployment.rollback',
        id,
        function_id: fn.id,
        code_hash: hash,
        parent_deployment_id: target.id,
        node: s.config.nodeId,
        keep_versions: s.config.versionsKeep,
        at: new Date(nowMs).toISOString(),
      });
    } catch (err) {
      // Pruned between our check and the apply: answer with what is left.
      if (err instanceof OrvaError && err.code === 'VERSION_GCD') throw gone(fn, hash);
      throw err;
    }
    return deploymentJson(s.store.deployment(id)!);
  }

  async function source(functionId: string) {
    const fn = mustGetFunction(s.store, functionId);
    if (!fn.code_hash) throw noDeployedCode(fn.id);
    const f = await files(fn, fn.code_hash);
    return {
      function_id: fn.id,
      deployment_id: fn.active_deployment_id,
      code_hash: fn.code_hash,
      runtime: fn.runtime,
      filename: fn.entrypoint,
      code: f.handler,
      dependencies: f.manifest === null ? null : dependencySpec(fn.runtime, f.manifest),
    };
  }

  /** Either the JSON comparison or git-style unified text, as `format` asks. */
  async function diff(functionId: string, q: z.output<typeof diffQuery>): Promise<{ format: 'json'; json: unknown } | { format: 'unified'; text: string }> {
    const fn = mustGetFunction(s.store, functionId);
    if (q.from === q.to) throw invalidField('to', 'from and to must differ');
    const from = versionOf(fn, q.from);
    const to = versionOf(fn, q.to);
    const [a, b] = await Promise.all([files(fn, from.code_hash!), files(fn, to.code_hash!)]);
    const entries = [
      { path: fn.entrypoint, kind: 'handler' as const, before: a.handler, after: b.handler },
      { path: MANIFEST[fn.runtime], kind: 'manifest' as const, before: a.manifest ?? '', after: b.manifest ?? '' },
    ].map((f) => {
      const edits = diffLines(splitLines(f.before), splitLines(f.after));
      return { ...f, edits, added: edits.filter((e) => e.op === '+').length, removed: edits.filter((e) => e.op === '-').length };
    });
    if (q.format === 'unified') {
      const text = entries
        .filter((f) => f.added + f.removed > 0)
        .map((f) => `diff --git a/${f.path} b/${f.path}\n--- a/${f.path}\n+++ b/${f.path}\n${unifiedHunks(f.edits)}`)
        .join('');
      return { format: 'unified', text };
    }
    return { format: 'json', json: { from: deploymentJson(from), to: deploymentJson(to), files: entries.map(({ edits: _edits, ...f }) => f) } };
  }

  return { rollback, source, diff };
}

export function versionRoutes(s: Services): Route[] {
  const ops = versionOps(s);
  return [
    {
      method: 'POST',
      path: '/api/v1/functions/:id/rollback',
      access: 'write',
      handler: async (ctx) => {
        mustGetFunction(s.store, ctx.params.id);
        return { json: await ops.rollback(ctx.params.id, jsonBody(ctx, rollbackBody), ctx.nowMs) };
      },
    },
    { method: 'GET', path: '/api/v1/functions/:id/source', access: 'read', handler: async (ctx) => ({ json: await ops.source(ctx.params.id) }) },
    {
      method: 'GET',
      path: '/api/v1/functions/:id/diff',
      access: 'read',
      handler: async (ctx) => {
        mustGetFunction(s.store, ctx.params.id);
        const d = await ops.diff(ctx.params.id, queryParams(ctx, diffQuery));
        return d.format === 'unified' ? { raw: d.text, headers: { 'content-type': 'text/x-diff; charset=utf-8' } } : { json: d.json };
      },
    },
  ];
}

/** The manifest back in the form deploy-inline takes, so the editor can round-trip it. */
function dependencySpec(runtime: FunctionRow['runtime'], manifest: string): string {
  if (runtime === 'python') return manifest;
  const deps = (JSON.parse(manifest) as { dependencies?: Record<string, string> }).dependencies ?? {};
  return Object.entries(deps)
    .map(([name, range]) => `${name}@${range}`)
    .join(' ');
}
