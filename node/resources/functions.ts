/**
 * /api/v1/functions: the function records. Each operation is one exported
 * function that the route and its MCP tool (node/tools/) both call.
 */
import { functionCursorAfter } from '../../protocol/cursors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import { entrypointFits, type FunctionPatch, type FunctionSpec, functionCreateBody, functionListQuery, functionUpdateBody } from '../../protocol/schemas.ts';
import type { z } from 'zod';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody, queryParams } from '../http/context.ts';
import { functionJson } from '../store/rows.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

export function listFunctions(s: Services, q: z.output<typeof functionListQuery>) {
  const { cursor, limit, ...filter } = q;
  // One row past the page says whether another page follows.
  const rows = s.store.functionPage({ ...filter, limit: limit + 1, after: cursor });
  const page = rows.slice(0, limit);
  return { functions: page.map(functionJson), next_cursor: rows.length > limit ? functionCursorAfter(page.at(-1)!) : null };
}

export function getFunction(s: Services, id: string) {
  return functionJson(mustGetFunction(s.store, id));
}

export async function createFunction(s: Services, spec: FunctionSpec, nowMs: number) {
  const id = uuidv7(nowMs);
  await s.meta.submit({ type: 'function.create', fn: { ...spec, id, created_at: new Date(nowMs).toISOString() } });
  return getFunction(s, id);
}

export async function updateFunction(s: Services, id: string, patch: FunctionPatch, nowMs: number) {
  const current = mustGetFunction(s.store, id);
  if (patch.entrypoint !== undefined && !entrypointFits(current.runtime, patch.entrypoint)) {
    throw invalidField('entrypoint', `entrypoint does not fit runtime ${current.runtime}`, 'extension does not match the runtime');
  }
  await s.meta.submit({ type: 'function.update', id: current.id, patch, at: new Date(nowMs).toISOString() });
  return getFunction(s, current.id);
}

export async function deleteFunction(s: Services, id: string) {
  const current = mustGetFunction(s.store, id);
  await s.meta.submit({ type: 'function.delete', id: current.id });
  return { id: current.id, deleted: true };
}

export function functionRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/functions', access: 'read', handler: (ctx) => ({ json: listFunctions(s, queryParams(ctx, functionListQuery)) }) },
    {
      method: 'POST',
      path: '/api/v1/functions',
      access: 'write',
      handler: async (ctx) => ({ status: 201, json: await createFunction(s, jsonBody(ctx, functionCreateBody), ctx.nowMs) }),
    },
    { method: 'GET', path: '/api/v1/functions/:id', access: 'read', handler: (ctx) => ({ json: getFunction(s, ctx.params.id) }) },
    {
      method: 'PUT',
      path: '/api/v1/functions/:id',
      access: 'write',
      handler: async (ctx) => {
        // An unknown function is a 404 before its body is judged.
        mustGetFunction(s.store, ctx.params.id);
        return { json: await updateFunction(s, ctx.params.id, jsonBody(ctx, functionUpdateBody), ctx.nowMs) };
      },
    },
    { method: 'DELETE', path: '/api/v1/functions/:id', access: 'write', handler: async (ctx) => ({ json: await deleteFunction(s, ctx.params.id) }) },
  ];
}
