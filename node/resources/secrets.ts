/** /api/v1/functions/{id}/secrets: names only ever leave the node, never values. */
import { secretBody } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { jsonBody } from '../http/context.ts';
import { secretSlot } from '../secret-box.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

export function secretRoutes(s: Services): Route[] {
  const mustExist = (id: string) => mustGetFunction(s.store, id);
  const listing = (id: string) => s.store.secrets(id).map(({ key, created_at, updated_at }) => ({ key, created_at, updated_at }));

  return [
    {
      method: 'GET',
      path: '/api/v1/functions/:id/secrets',
      access: 'read',
      handler: (ctx) => {
        mustExist(ctx.params.id);
        return { json: { secrets: listing(ctx.params.id) } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/functions/:id/secrets',
      access: 'write',
      handler: async (ctx) => {
        mustExist(ctx.params.id);
        const body = jsonBody(ctx, secretBody);
        // Encrypted here, so the META log, snapshots and SQLite only ever hold ciphertext.
        const ciphertext = s.secretBox.encrypt(secretSlot(ctx.params.id, body.key), body.value);
        await s.meta.submit({ type: 'secret.upsert', function_id: ctx.params.id, key: body.key, ciphertext, at: new Date(ctx.nowMs).toISOString() });
        // 200 whether the key is new or replaced: an upsert, as Orva's clients expect.
        return { json: listing(ctx.params.id).find((x) => x.key === body.key) };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/functions/:id/secrets/:key',
      access: 'write',
      handler: async (ctx) => {
        mustExist(ctx.params.id);
        await s.meta.submit({ type: 'secret.delete', function_id: ctx.params.id, key: ctx.params.key });
        return { json: { key: ctx.params.key, deleted: true } };
      },
    },
  ];
}
