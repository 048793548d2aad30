/** Deploys and their records: inline deploys answer 202 and build on this node's Builder. */
import type { BuildJob } from '../../actors/index.ts';
import type { z } from 'zod';
import { idCursorAfter } from '../../protocol/cursors.ts';
import { npmManifest, pipManifest } from '../../protocol/dependencies.ts';
import { OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import type { DeploymentSource } from '../../protocol/meta-commands.ts';
import { deployInlineBody, deploymentListQuery, type Runtime } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody, queryParams, type Reply } from '../http/context.ts';
import { spawnSpecOf } from '../pools.ts';
import type { FunctionEntry } from '../registry.ts';
import { deploymentJson } from '../store/rows.ts';
import type { Services } from '../services.ts';
import { mustGetDeployment, mustGetEntry, mustGetFunction } from './lookups.ts';

/**
 * Record a queued deployment through META and hand its files to this node's
 * Builder: the one way every deploy source (inline, tarball, the MCP tool)
 * starts a build. Returns the record with its id again as `deployment_id`
 * (what Orva's clients poll by).
 */
export async function queueBuild(
  s: Services,
  entry: FunctionEntry,
  files: BuildJob['files'],
  manifest: BuildJob['manifest'],
  source: DeploymentSource,
  nowMs: number,
): Promise<ReturnType<typeof deploymentJson> & { deployment_id: string }> {
  // The place is held from here: deploys racing this one are refused before they record a deployment.
  const place = s.builder.reserve();
  if (!place) throw new OrvaError('BUILD_QUEUE_FULL', 'the build queue of this node is full', { queued: s.builder.depth });
  const id = uuidv7(nowMs);
  try {
    await s.meta.submit({ type: 'deployment.create', id, function_id: entry.row.id, source, node: s.config.nodeId, at: new Date(nowMs).toISOString() });
  } catch (err) {
    place.cancel();
    throw err;
  }
  place.submit({ deploymentId: id, functionId: entry.row.id, spawn: spawnSpecOf(entry), files, manifest });
  return { ...deploymentJson(s.store.deployment(id)!), deployment_id: id };
}

/** A queued build's answer: 202 and a Location to poll. */
export function accepted(dep: { deployment_id: string }): Reply {
  return { status: 202, json: dep, headers: { location: `/api/v1/deployments/${dep.deployment_id}` } };
}

/** A function's manifest from a deploy's `dependencies` text; VALIDATION when it is not plain registry packages. */
export function manifestOf(runtime: Runtime, dependencies: string | undefined): BuildJob['manifest'] {
  if (dependencies === undefined || dependencies.trim() === '') return null;
  const m = runtime === 'node' ? npmManifest(dependencies) : pipManifest(dependencies);
  if (!m.ok) throw invalidField('dependencies', m.error);
  return { file: m.file, content: m.content };
}

/** deploy-inline: the function's entrypoint file from JSON text, dependencies as a spec line. */
export async function deployInline(s: Services, functionId: string, body: z.output<typeof deployInlineBody>, nowMs: number) {
  const entry = mustGetEntry(s.registry, functionId);
  const fn = entry.row;
  const filename = body.filename ?? fn.entrypoint;
  if (filename !== fn.entrypoint) {
    throw invalidField('filename', `filename must be the function's entrypoint (${fn.entrypoint}); change the entrypoint with PUT first`, `expected ${fn.entrypoint}`);
  }
  const manifest = manifestOf(fn.runtime, body.dependencies);
  return queueBuild(s, entry, [{ path: filename, data: Buffer.from(body.code, 'utf8') }], manifest, 'inline', nowMs);
}

export function listDeployments(s: Services, functionId: string, q: z.output<typeof deploymentListQuery>) {
  mustGetFunction(s.store, functionId);
  // One row past the page says whether another page follows.
  const rows = s.store.deployments(functionId, q.limit + 1, q.cursor);
  const page = rows.slice(0, q.limit);
  return { deployments: page.map(deploymentJson), next_cursor: rows.length > q.limit ? idCursorAfter(page.at(-1)!) : null };
}

export function getDeployment(s: Services, id: string) {
  return deploymentJson(mustGetDeployment(s.store, id));
}

export function deploymentLogs(s: Services, id: string) {
  const d = mustGetDeployment(s.store, id);
  return { deployment_id: d.id, status: d.status, phase: d.phase, logs: d.logs };
}

export function deploymentRoutes(s: Services): Route[] {
  return [
    {
      method: 'POST',
      path: '/api/v1/functions/:id/deploy-inline',
      access: 'write',
      handler: async (ctx) => {
        // An unknown function is a 404 before its body is judged.
        mustGetEntry(s.registry, ctx.params.id);
        return accepted(await deployInline(s, ctx.params.id, jsonBody(ctx, deployInlineBody), ctx.nowMs));
      },
    },
    {
      method: 'GET',
      path: '/api/v1/functions/:id/deployments',
      access: 'read',
      handler: (ctx) => {
        mustGetFunction(s.store, ctx.params.id);
        return { json: listDeployments(s, ctx.params.id, queryParams(ctx, deploymentListQuery)) };
      },
    },
    { method: 'GET', path: '/api/v1/deployments/:id', access: 'read', handler: (ctx) => ({ json: getDeployment(s, ctx.params.id) }) },
    { method: 'GET', path: '/api/v1/deployments/:id/logs', access: 'read', handler: (ctx) => ({ json: deploymentLogs(s, ctx.params.id) }) },
  ];
}
