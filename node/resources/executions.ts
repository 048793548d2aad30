/** /api/v1/executions: the invocation records of this node. */
import { idCursorAfter } from '../../protocol/cursors.ts';
import { OrvaError } from '../../protocol/errors.ts';
import { executionListQuery } from '../../protocol/schemas.ts';
import type { Services } from '../services.ts';
import type { Route } from '../http/api.ts';
import { queryParams } from '../http/context.ts';

export function executionRoutes({ clusterExecutions: executions }: Services): Route[] {
  const mustGet = async (id: string) => {
    const row = await executions.get(id);
    if (!row) throw new OrvaError('NOT_FOUND', `execution ${id} not found`, { execution_id: id });
    return row;
  };
  return [
    {
      method: 'GET',
      path: '/api/v1/executions',
      access: 'read',
      handler: async (ctx) => {
        const { cursor, ...filter } = queryParams(ctx, executionListQuery);
        const { rows, more } = await executions.page({ ...filter, before: cursor });
        return { json: { executions: rows, next_cursor: more ? idCursorAfter(rows.at(-1)!) : null } };
      },
    },
    { method: 'GET', path: '/api/v1/executions/:id', access: 'read', handler: async (ctx) => ({ json: await mustGet(ctx.params.id) }) },
    {
      method: 'GET',
      path: '/api/v1/executions/:id/logs',
      access: 'read',
      handler: async (ctx) => {
        await mustGet(ctx.params.id);
        return { json: { execution_id: ctx.params.id, ...((await executions.logs(ctx.params.id)) ?? { logs: '', logs_dropped: false }) } };
      },
    },
  ];
}
