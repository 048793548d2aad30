/** Deploys and their records: inline deploys answer 202 and build on this node's Builder. */
import { type Builder, MailboxFullError } from '../../actors/index.ts';
import { npmManifest, pipManifest } from '../../protocol/dependencies.ts';
import { OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import { deployInlineBody, deploymentListQuery } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { jsonBody, queryParams } from '../http/context.ts';
import { spawnSpecOf } from '../pools.ts';
import type { FunctionRegistry } from '../registry.ts';
import { type DeploymentRow, deploymentJson } from '../store/rows.ts';
import type { Services } from '../services.ts';

export function deploymentRoutes(s: Services, builder: Builder, registry: FunctionRegistry): Route[] {
  const mustGetDeployment = (id: string): DeploymentRow => {
    const row = s.store.deployment(id);
    if (!row) throw new OrvaError('NOT_FOUND', `deployment ${id} not found`, { deployment_id: id });
    return row;
  };

  return [
    {
      method: 'POST',
      path: '/api/v1/functions/:id/deploy-inline',
      access: 'write',
      handler: async (ctx) => {
        const entry = registry.get(ctx.params.id);
        if (!entry) throw new OrvaError('NOT_FOUND', `function ${ctx.params.id} not found`, { function_id: ctx.params.id });
        const body = jsonBody(ctx, deployInlineBody);
        const fn = entry.row;
        const filename = body.filename ?? fn.entrypoint;
        if (filename !== fn.entrypoint) {
          throw new OrvaError('VALIDATION', `filename must be the function's entrypoint (${fn.entrypoint}); change the entrypoint with PUT first`, {
            issues: [{ path: 'filename', message: `expected ${fn.entrypoint}` }],
          });
        }
        let manifest = null;
        if (body.dependencies !== undefined && body.dependencies.trim() !== '') {
          const m = fn.runtime === 'node' ? npmManifest(body.dependencies) : pipManifest(body.dependencies);
          if (!m.ok) throw new OrvaError('VALIDATION', m.error, { issues: [{ path: 'dependencies', message: m.error }] });
          manifest = { file: m.file, content: m.content };
        }
        if (builder.depth >= s.config.buildQueueMax) throw new OrvaError('BUILD_QUEUE_FULL', 'the build queue of this node is full', { queued: builder.depth });
        const id = uuidv7(ctx.nowMs);
        await s.meta.submit({ type: 'deployment.create', id, function_id: fn.id, source: 'inline', node: s.config.nodeId, at: new Date(ctx.nowMs).toISOString() });
        try {
          builder.tell({ deploymentId: id, functionId: fn.id, spawn: spawnSpecOf(entry), files: [{ path: filename, data: Buffer.from(body.code, 'utf8') }], manifest });
        } catch (err) {
          if (!(err instanceof MailboxFullError)) throw err;
          await s.meta.submit({ type: 'deployment.finish', id, status: 'failed', code_hash: null, error: 'build queue full', logs: '', at: new Date().toISOString() });
          throw new OrvaError('BUILD_QUEUE_FULL', 'the build queue of this node is full');
        }
        return { status: 202, json: deploymentJson(mustGetDeployment(id)) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/functions/:id/deployments',
      access: 'read',
      handler: (ctx) => {
        if (!s.store.function(ctx.params.id)) throw new OrvaError('NOT_FOUND', `function ${ctx.params.id} not found`, { function_id: ctx.params.id });
        const { limit } = queryParams(ctx, deploymentListQuery);
        return { json: { deployments: s.store.deployments(ctx.params.id, limit).map(deploymentJson) } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/deployments/:id',
      access: 'read',
      handler: (ctx) => ({ json: deploymentJson(mustGetDeployment(ctx.params.id)) }),
    },
    {
      method: 'GET',
      path: '/api/v1/deployments/:id/logs',
      access: 'read',
      handler: (ctx) => {
        const d = mustGetDeployment(ctx.params.id);
        return { json: { deployment_id: d.id, status: d.status, phase: d.phase, logs: d.logs } };
      },
    },
  ];
}
