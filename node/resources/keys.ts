/** /api/v1/keys: API keys. The plaintext is returned once, at creation. Operations shared with the MCP tools. */
import type { z } from 'zod';
import { uuidv7 } from '../../protocol/ids.ts';
import { PERMISSIONS } from '../../protocol/permissions.ts';
import { keyCreateBody } from '../../protocol/schemas.ts';
import { newApiKey } from '../auth/tokens.ts';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody } from '../http/context.ts';
import { keyJson } from '../store/rows.ts';
import type { Services } from '../services.ts';

export function listKeys(s: Services) {
  return { keys: s.store.apiKeys().map(keyJson) };
}

export async function createKey(s: Services, body: z.output<typeof keyCreateBody>, nowMs: number) {
  let expiresAt: string | null = null;
  if (body.expires_in_days !== undefined) expiresAt = new Date(nowMs + body.expires_in_days * 86_400_000).toISOString();
  if (body.expires_at !== undefined) {
    const ms = Date.parse(body.expires_at);
    if (ms <= nowMs) throw invalidField('expires_at', 'expires_at must be in the future', 'in the past');
    expiresAt = new Date(ms).toISOString();
  }
  const key = newApiKey();
  const id = uuidv7(nowMs);
  const permissions = body.permissions ? PERMISSIONS.filter((p) => body.permissions!.includes(p)) : [...PERMISSIONS];
  await s.meta.submit({
    type: 'key.create',
    id,
    name: body.name,
    prefix: key.prefix,
    hash: key.hash,
    permissions,
    expires_at: expiresAt,
    at: new Date(nowMs).toISOString(),
    bootstrap: false,
  });
  return { ...keyJson(s.store.apiKey(id)!), key: key.plaintext };
}

export async function revokeKey(s: Services, id: string) {
  await s.meta.submit({ type: 'key.revoke', id });
  return { id, revoked: true };
}

export function keyRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/keys', access: 'admin', handler: () => ({ json: listKeys(s) }) },
    { method: 'POST', path: '/api/v1/keys', access: 'admin', handler: async (ctx) => ({ status: 201, json: await createKey(s, jsonBody(ctx, keyCreateBody), ctx.nowMs) }) },
    { method: 'DELETE', path: '/api/v1/keys/:id', access: 'admin', handler: async (ctx) => ({ json: await revokeKey(s, ctx.params.id) }) },
  ];
}
