/** /api/v1/pool/config: per-function autoscaler tuning, partial updates merged at apply. Operations shared with the MCP tools. */
import type { z } from 'zod';
import { poolConfigBody, poolConfigQuery } from '../../protocol/schemas.ts';
import { poolDefaults } from '../config.ts';
import type { Route } from '../http/api.ts';
import { jsonBody, queryParams } from '../http/context.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

export function getPoolConfig(s: Services, functionId: string) {
  mustGetFunction(s.store, functionId);
  return { function_id: functionId, ...(s.store.poolConfig(functionId) ?? poolDefaults(s.config)) };
}

export async function setPoolConfig(s: Services, body: z.output<typeof poolConfigBody>, nowMs: number) {
  const { function_id, ...patch } = body;
  mustGetFunction(s.store, function_id);
  await s.meta.submit({ type: 'pool.config', function_id, patch, defaults: poolDefaults(s.config), at: new Date(nowMs).toISOString() });
  return getPoolConfig(s, function_id);
}

export function poolConfigRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/pool/config', access: 'read', handler: (ctx) => ({ json: getPoolConfig(s, queryParams(ctx, poolConfigQuery).function_id) }) },
    { method: 'PUT', path: '/api/v1/pool/config', access: 'write', handler: async (ctx) => ({ json: await setPoolConfig(s, jsonBody(ctx, poolConfigBody), ctx.nowMs) }) },
  ];
}
