/** /api/v1/executions: invocation records across the cluster. Operations shared with the MCP tools. */
import type { z } from 'zod';
import { idCursorAfter } from '../../protocol/cursors.ts';
import { OrvaError } from '../../protocol/errors.ts';
import { executionListQuery } from '../../protocol/schemas.ts';
import type { Services } from '../services.ts';
import type { Route } from '../http/api.ts';
import { queryParams } from '../http/context.ts';

export async function listExecutions(s: Services, q: z.output<typeof executionListQuery>) {
  const { cursor, ...filter } = q;
  const { rows, more } = await s.clusterExecutions.page({ ...filter, before: cursor });
  return { executions: rows, next_cursor: more ? idCursorAfter(rows.at(-1)!) : null };
}

export async function getExecution(s: Services, id: string) {
  const row = await s.clusterExecutions.get(id);
  if (!row) throw new OrvaError('NOT_FOUND', `execution ${id} not found`, { execution_id: id });
  return row;
}

export async function executionLogs(s: Services, id: string) {
  await getExecution(s, id);
  return { execution_id: id, ...((await s.clusterExecutions.logs(id)) ?? { logs: '', logs_dropped: false }) };
}

export function executionRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/executions', access: 'read', handler: async (ctx) => ({ json: await listExecutions(s, queryParams(ctx, executionListQuery)) }) },
    { method: 'GET', path: '/api/v1/executions/:id', access: 'read', handler: async (ctx) => ({ json: await getExecution(s, ctx.params.id) }) },
    { method: 'GET', path: '/api/v1/executions/:id/logs', access: 'read', handler: async (ctx) => ({ json: await executionLogs(s, ctx.params.id) }) },
  ];
}
