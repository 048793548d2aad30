/** /api/v1/routes: custom URLs mapped to functions (precedence in route-table.ts). */
import { routeCreateBody, routeDeleteQuery } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { jsonBody, queryParams } from '../http/context.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

export function routeRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/routes', access: 'read', handler: () => ({ json: { routes: s.store.routes() } }) },
    {
      method: 'POST',
      path: '/api/v1/routes',
      access: 'write',
      handler: async (ctx) => {
        const body = jsonBody(ctx, routeCreateBody);
        mustGetFunction(s.store, body.function_id);
        await s.meta.submit({ type: 'route.create', path: body.path, function_id: body.function_id, methods: body.methods, at: new Date(ctx.nowMs).toISOString() });
        return { status: 201, json: s.store.route(body.path) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/routes',
      access: 'write',
      handler: async (ctx) => {
        const { path } = queryParams(ctx, routeDeleteQuery);
        await s.meta.submit({ type: 'route.delete', path });
        return { json: { path, deleted: true } };
      },
    },
  ];
}
