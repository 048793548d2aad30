/** Deploys and their records: inline deploys answer 202 and build on this node's Builder. */
import type { BuildJob } from '../../actors/index.ts';
import { idCursorAfter } from '../../protocol/cursors.ts';
import { npmManifest, pipManifest } from '../../protocol/dependencies.ts';
import { OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import type { DeploymentSource } from '../../protocol/meta-commands.ts';
import { deployInlineBody, deploymentListQuery, type Runtime } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody, queryParams } from '../http/context.ts';
import { spawnSpecOf } from '../pools.ts';
import type { FunctionEntry } from '../registry.ts';
import { type DeploymentRow, deploymentJson } from '../store/rows.ts';
import type { Services } from '../services.ts';
import { mustGetDeployment, mustGetEntry, mustGetFunction } from './lookups.ts';

/**
 * Record a queued deployment through META and hand its files to this node's
 * Builder: the one way every deploy source (inline, tarball) starts a build.
 */
export async function queueBuild(
  s: Services,
  entry: FunctionEntry,
  files: BuildJob['files'],
  manifest: BuildJob['manifest'],
  source: DeploymentSource,
  nowMs: number,
): Promise<DeploymentRow> {
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
  return s.store.deployment(id)!;
}

/** A function's manifest from a deploy's `dependencies` text; VALIDATION when it is not plain registry packages. */
export function manifestOf(runtime: Runtime, dependencies: string | undefined): BuildJob['manifest'] {
  if (dependencies === undefined || dependencies.trim() === '') return null;
  const m = runtime === 'node' ? npmManifest(dependencies) : pipManifest(dependencies);
  if (!m.ok) throw invalidField('dependencies', m.error);
  return { file: m.file, content: m.content };
}

export function deploymentRoutes(s: Services): Route[] {
  const { registry } = s;

  return [
    {
      method: 'POST',
      path: '/api/v1/functions/:id/deploy-inline',
      access: 'write',
      handler: async (ctx) => {
        const entry = mustGetEntry(registry, ctx.params.id);
        const body = jsonBody(ctx, deployInlineBody);
        const fn = entry.row;
        const filename = body.filename ?? fn.entrypoint;
        if (filename !== fn.entrypoint) {
          throw invalidField('filename', `filename must be the function's entrypoint (${fn.entrypoint}); change the entrypoint with PUT first`, `expected ${fn.entrypoint}`);
        }
        const manifest = manifestOf(fn.runtime, body.dependencies);
        const dep = await queueBuild(s, entry, [{ path: filename, data: Buffer.from(body.code, 'utf8') }], manifest, 'inline', ctx.nowMs);
        return { status: 202, json: deploymentJson(dep) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/functions/:id/deployments',
      access: 'read',
      handler: (ctx) => {
        mustGetFunction(s.store, ctx.params.id);
        const { limit, cursor } = queryParams(ctx, deploymentListQuery);
        // One row past the page says whether another page follows.
        const rows = s.store.deployments(ctx.params.id, limit + 1, cursor);
        const page = rows.slice(0, limit);
        return { json: { deployments: page.map(deploymentJson), next_cursor: rows.length > limit ? idCursorAfter(page.at(-1)!) : null } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/deployments/:id',
      access: 'read',
      handler: (ctx) => ({ json: deploymentJson(mustGetDeployment(s.store, ctx.params.id)) }),
    },
    {
      method: 'GET',
      path: '/api/v1/deployments/:id/logs',
      access: 'read',
      handler: (ctx) => {
        const d = mustGetDeployment(s.store, ctx.params.id);
        return { json: { deployment_id: d.id, status: d.status, phase: d.phase, logs: d.logs } };
      },
    },
  ];
}
