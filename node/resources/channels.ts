/**
 * /api/v1/channels: bundles of functions exposed at /mcp under one bearer
 * token. Operator-managed (read / write keys, sessions); a channel token
 * itself is refused here like at every /api/v1/* endpoint. The token is
 * returned once, at creation and at rotation; only its hash is replicated.
 * Membership rules (functions exist, tool names valid and distinct) are
 * decided at apply, so every node agrees even under racing writes.
 */
import { OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import type { ChannelFunctionSpec } from '../../protocol/meta-commands.ts';
import { channelCreateBody, channelFunctionsBody, channelUpdateBody } from '../../protocol/schemas.ts';
import { toolName } from '../../protocol/tool-names.ts';
import { newChannelToken } from '../auth/tokens.ts';
import type { Route } from '../http/api.ts';
import { invalidField, jsonBody } from '../http/context.ts';
import { type ChannelRow, channelJson } from '../store/rows.ts';
import type { Services } from '../services.ts';

/** A future ISO timestamp, normalised; VALIDATION when it is not in the future. */
function futureTimestamp(iso: string, nowMs: number): string {
  const ms = Date.parse(iso);
  if (ms <= nowMs) throw invalidField('expires_at', 'expires_at must be in the future', 'in the past');
  return new Date(ms).toISOString();
}

/** The set as the META command carries it: an override only where the body gives one. */
function functionSpecs(ids: string[], descriptions: Record<string, string | null> | undefined): ChannelFunctionSpec[] {
  return ids.map((id) => (descriptions !== undefined && Object.hasOwn(descriptions, id) ? { function_id: id, description: descriptions[id] } : { function_id: id }));
}

export function channelRoutes(s: Services): Route[] {
  const mustGet = (id: string): ChannelRow => {
    const row = s.store.channel(id);
    if (!row) throw new OrvaError('NOT_FOUND', `channel ${id} not found`, { channel_id: id });
    return row;
  };

  /** A channel with its function set; `description` of a member is the channel's override, present only when set. */
  const detail = (id: string) => {
    const functions = s.store.channelFunctions(id);
    return {
      ...channelJson(mustGet(id)),
      function_ids: functions.map((f) => f.function_id),
      functions: functions.map((f) => {
        const tool = toolName(f.function_name);
        return {
          function_id: f.function_id,
          name: f.function_name,
          tool_name: tool.ok ? tool.name : null,
          ...(f.description !== null ? { description: f.description } : {}),
          added_at: f.added_at,
        };
      }),
    };
  };

  return [
    {
      method: 'GET',
      path: '/api/v1/channels',
      access: 'read',
      handler: () => ({ json: { channels: s.store.channels().map(channelJson) } }),
    },
    {
      method: 'POST',
      path: '/api/v1/channels',
      access: 'write',
      handler: async (ctx) => {
        const body = jsonBody(ctx, channelCreateBody);
        let expiresAt: string | null = null;
        if (body.expires_in_days !== undefined) expiresAt = new Date(ctx.nowMs + body.expires_in_days * 86_400_000).toISOString();
        if (body.expires_at !== undefined) expiresAt = futureTimestamp(body.expires_at, ctx.nowMs);
        const token = newChannelToken();
        const id = uuidv7(ctx.nowMs);
        await s.meta.submit({
          type: 'channel.create',
          id,
          name: body.name,
          description: body.description ?? null,
          prefix: token.prefix,
          hash: token.hash,
          expires_at: expiresAt,
          functions: functionSpecs(body.function_ids, body.descriptions),
          at: new Date(ctx.nowMs).toISOString(),
        });
        return { status: 201, json: { ...detail(id), token: token.plaintext } };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/channels/:id',
      access: 'read',
      handler: (ctx) => ({ json: detail(ctx.params.id) }),
    },
    {
      method: 'PATCH',
      path: '/api/v1/channels/:id',
      access: 'write',
      handler: async (ctx) => {
        const current = mustGet(ctx.params.id);
        const patch = jsonBody(ctx, channelUpdateBody);
        if (patch.expires_at) patch.expires_at = futureTimestamp(patch.expires_at, ctx.nowMs);
        await s.meta.submit({ type: 'channel.update', id: current.id, patch, at: new Date(ctx.nowMs).toISOString() });
        return { json: detail(current.id) };
      },
    },
    {
      method: 'PUT',
      path: '/api/v1/channels/:id/functions',
      access: 'write',
      handler: async (ctx) => {
        const current = mustGet(ctx.params.id);
        const body = jsonBody(ctx, channelFunctionsBody);
        await s.meta.submit({ type: 'channel.set-functions', id: current.id, functions: functionSpecs(body.function_ids, body.descriptions), at: new Date(ctx.nowMs).toISOString() });
        return { json: detail(current.id) };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/channels/:id/rotate',
      access: 'write',
      handler: async (ctx) => {
        const current = mustGet(ctx.params.id);
        const token = newChannelToken();
        await s.meta.submit({ type: 'channel.rotate', id: current.id, prefix: token.prefix, hash: token.hash, at: new Date(ctx.nowMs).toISOString() });
        return { json: { id: current.id, token: token.plaintext, prefix: token.prefix } };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/channels/:id',
      access: 'write',
      handler: async (ctx) => {
        const current = mustGet(ctx.params.id);
        await s.meta.submit({ type: 'channel.delete', id: current.id });
        return { json: { id: current.id, deleted: true } };
      },
    },
  ];
}
