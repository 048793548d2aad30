/** /api/v1/pool/config: per-function autoscaler tuning, partial updates merged at apply. */
import { poolConfigBody, poolConfigQuery } from '../../protocol/schemas.ts';
import { poolDefaults } from '../config.ts';
import type { Route } from '../http/api.ts';
import { jsonBody, queryParams } from '../http/context.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

export function poolConfigRoutes(s: Services): Route[] {
  const current = (id: string) => {
    mustGetFunction(s.store, id);
    return { function_id: id, ...(s.store.poolConfig(id) ?? poolDefaults(s.config)) };
  };
  return [
    {
      method: 'GET',
      path: '/api/v1/pool/config',
      access: 'read',
      handler: (ctx) => ({ json: current(queryParams(ctx, poolConfigQuery).function_id) }),
    },
    {
      method: 'PUT',
      path: '/api/v1/pool/config',
      access: 'write',
      handler: async (ctx) => {
        const { function_id, ...patch } = jsonBody(ctx, poolConfigBody);
        current(function_id);
        await s.meta.submit({ type: 'pool.config', function_id, patch, defaults: poolDefaults(s.config), at: new Date(ctx.nowMs).toISOString() });
        return { json: current(function_id) };
      },
    },
  ];
}
