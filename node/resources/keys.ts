/** /api/v1/keys: API keys. The plaintext is returned once, at creation. */
import { uuidv7 } from '../../protocol/ids.ts';
import { PERMISSIONS } from '../../protocol/permissions.ts';
import { keyCreateBody } from '../../protocol/schemas.ts';
import { newApiKey } from '../auth/tokens.ts';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody } from '../http/context.ts';
import { keyJson } from '../store/rows.ts';
import type { Services } from '../services.ts';

export function keyRoutes(s: Services): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/keys',
      access: 'admin',
      handler: () => ({ json: { keys: s.store.apiKeys().map(keyJson) } }),
    },
    {
      method: 'POST',
      path: '/api/v1/keys',
      access: 'admin',
      handler: async (ctx) => {
        const body = jsonBody(ctx, keyCreateBody);
        let expiresAt: string | null = null;
        if (body.expires_in_days !== undefined) expiresAt = new Date(ctx.nowMs + body.expires_in_days * 86_400_000).toISOString();
        if (body.expires_at !== undefined) {
          const ms = Date.parse(body.expires_at);
          if (ms <= ctx.nowMs) throw invalidField('expires_at', 'expires_at must be in the future', 'in the past');
          expiresAt = new Date(ms).toISOString();
        }
        const key = newApiKey();
        const id = uuidv7(ctx.nowMs);
        const permissions = body.permissions ? PERMISSIONS.filter((p) => body.permissions!.includes(p)) : [...PERMISSIONS];
        await s.meta.submit({
          type: 'key.create',
          id,
          name: body.name,
          prefix: key.prefix,
          hash: key.hash,
          permissions,
          expires_at: expiresAt,
          at: new Date(ctx.nowMs).toISOString(),
          bootstrap: false,
        });
        return { status: 201, json: { ...keyJson(s.store.apiKey(id)!), key: key.plaintext } };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/keys/:id',
      access: 'admin',
      handler: async (ctx) => {
        await s.meta.submit({ type: 'key.revoke', id: ctx.params.id });
        return { json: { id: ctx.params.id, revoked: true } };
      },
    },
  ];
}
