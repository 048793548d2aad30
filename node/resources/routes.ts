/** /api/v1/routes: custom URLs mapped to functions (precedence in route-table.ts). Operations shared with the MCP tools. */
import type { z } from 'zod';
import { routeCreateBody, routeDeleteQuery } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { jsonBody, queryParams } from '../http/context.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

export function listRoutes(s: Services) {
  return { routes: s.store.routes() };
}

export async function createRoute(s: Services, body: z.output<typeof routeCreateBody>, nowMs: number) {
  mustGetFunction(s.store, body.function_id);
  await s.meta.submit({ type: 'route.create', path: body.path, function_id: body.function_id, methods: body.methods, at: new Date(nowMs).toISOString() });
  return s.store.route(body.path)!;
}

export async function deleteRoute(s: Services, path: string) {
  await s.meta.submit({ type: 'route.delete', path });
  return { path, deleted: true };
}

export function routeRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/routes', access: 'read', handler: () => ({ json: listRoutes(s) }) },
    { method: 'POST', path: '/api/v1/routes', access: 'write', handler: async (ctx) => ({ status: 201, json: await createRoute(s, jsonBody(ctx, routeCreateBody), ctx.nowMs) }) },
    { method: 'DELETE', path: '/api/v1/routes', access: 'write', handler: async (ctx) => ({ json: await deleteRoute(s, queryParams(ctx, routeDeleteQuery).path) }) },
  ];
}
