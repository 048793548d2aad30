/** /api/v1/functions: the function records (code and deployments come with the invoke work). */
import { functionCursorAfter } from '../../protocol/cursors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import { entrypointFits, functionCreateBody, functionListQuery, functionUpdateBody } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody, queryParams } from '../http/context.ts';
import { functionJson } from '../store/rows.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

export function functionRoutes(s: Services): Route[] {
  const mustGet = (id: string) => mustGetFunction(s.store, id);

  return [
    {
      method: 'GET',
      path: '/api/v1/functions',
      access: 'read',
      handler: (ctx) => {
        const { cursor, limit, ...filter } = queryParams(ctx, functionListQuery);
        // One row past the page says whether another page follows.
        const rows = s.store.functionPage({ ...filter, limit: limit + 1, after: cursor });
        const page = rows.slice(0, limit);
        return { json: { functions: page.map(functionJson), next_cursor: rows.length > limit ? functionCursorAfter(page.at(-1)!) : null } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/functions',
      access: 'write',
      handler: async (ctx) => {
        const spec = jsonBody(ctx, functionCreateBody);
        const id = uuidv7(ctx.nowMs);
        await s.meta.submit({ type: 'function.create', fn: { ...spec, id, created_at: new Date(ctx.nowMs).toISOString() } });
        return { status: 201, json: functionJson(mustGet(id)) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/functions/:id',
      access: 'read',
      handler: (ctx) => ({ json: functionJson(mustGet(ctx.params.id)) }),
    },
    {
      method: 'PUT',
      path: '/api/v1/functions/:id',
      access: 'write',
      handler: async (ctx) => {
        const current = mustGet(ctx.params.id);
        const patch = jsonBody(ctx, functionUpdateBody);
        if (patch.entrypoint !== undefined && !entrypointFits(current.runtime, patch.entrypoint)) {
          throw invalidField('entrypoint', `entrypoint does not fit runtime ${current.runtime}`, 'extension does not match the runtime');
        }
        await s.meta.submit({ type: 'function.update', id: current.id, patch, at: new Date(ctx.nowMs).toISOString() });
        return { json: functionJson(mustGet(current.id)) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/functions/:id',
      access: 'write',
      handler: async (ctx) => {
        const current = mustGet(ctx.params.id);
        await s.meta.submit({ type: 'function.delete', id: current.id });
        return { json: { id: current.id, deleted: true } };
      },
    },
  ];
}
