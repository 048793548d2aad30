/** /api/v1/functions/{id}/secrets: names only ever leave the node, never values. Operations shared with the MCP tools. */
import type { z } from 'zod';
import { secretBody } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { jsonBody } from '../http/context.ts';
import { secretSlot } from '../secret-box.ts';
import type { Services } from '../services.ts';
import { mustGetFunction } from './lookups.ts';

const listing = (s: Services, id: string) => s.store.secrets(id).map(({ key, created_at, updated_at }) => ({ key, created_at, updated_at }));

export function listSecrets(s: Services, functionId: string) {
  mustGetFunction(s.store, functionId);
  return { secrets: listing(s, functionId) };
}

export async function setSecret(s: Services, functionId: string, body: z.output<typeof secretBody>, nowMs: number) {
  mustGetFunction(s.store, functionId);
  // Encrypted here, so the META log, snapshots and SQLite only ever hold ciphertext.
  const ciphertext = s.secretBox.encrypt(secretSlot(functionId, body.key), body.value);
  await s.meta.submit({ type: 'secret.upsert', function_id: functionId, key: body.key, ciphertext, at: new Date(nowMs).toISOString() });
  return listing(s, functionId).find((x) => x.key === body.key)!;
}

export async function deleteSecret(s: Services, functionId: string, key: string) {
  mustGetFunction(s.store, functionId);
  await s.meta.submit({ type: 'secret.delete', function_id: functionId, key });
  return { key, deleted: true };
}

export function secretRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/functions/:id/secrets', access: 'read', handler: (ctx) => ({ json: listSecrets(s, ctx.params.id) }) },
    {
      method: 'POST',
      path: '/api/v1/functions/:id/secrets',
      access: 'write',
      handler: async (ctx) => {
        mustGetFunction(s.store, ctx.params.id);
        // 200 whether the key is new or replaced: an upsert, as Orva's clients expect.
        return { json: await setSecret(s, ctx.params.id, jsonBody(ctx, secretBody), ctx.nowMs) };
      },
    },
    { method: 'DELETE', path: '/api/v1/functions/:id/secrets/:key', access: 'write', handler: async (ctx) => ({ json: await deleteSecret(s, ctx.params.id, ctx.params.key) }) },
  ];
}
