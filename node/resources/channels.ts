/**
 * /api/v1/channels: bundles of functions exposed at /mcp under one bearer
 * token. Operator-managed (read / write keys, sessions); a channel token
 * itself is refused here like at every /api/v1/* endpoint. The token is
 * returned once, at creation and at rotation; only its hash is replicated.
 * Membership rules (functions exist, tool names valid and distinct) are
 * decided at apply, so every node agrees even under racing writes. One
 * exported function per operation: the MCP tools call the same ones.
 */
import type { z } from 'zod';
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

function mustGetChannel(s: Services, id: string): ChannelRow {
  const row = s.store.channel(id);
  if (!row) throw new OrvaError('NOT_FOUND', `channel ${id} not found`, { channel_id: id });
  return row;
}

export function listChannels(s: Services) {
  return { channels: s.store.channels().map(channelJson) };
}

/** A channel with its function set; `description` of a member is the channel's override, present only when set. */
export function getChannel(s: Services, id: string) {
  const row = mustGetChannel(s, id);
  const functions = s.store.channelFunctions(id);
  return {
    ...channelJson(row),
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
}

/** The detail plus the plaintext `token`, which nothing shows again. */
export async function createChannel(s: Services, body: z.output<typeof channelCreateBody>, nowMs: number) {
  let expiresAt: string | null = null;
  if (body.expires_in_days !== undefined) expiresAt = new Date(nowMs + body.expires_in_days * 86_400_000).toISOString();
  if (body.expires_at !== undefined) expiresAt = futureTimestamp(body.expires_at, nowMs);
  const token = newChannelToken();
  const id = uuidv7(nowMs);
  await s.meta.submit({
    type: 'channel.create',
    id,
    name: body.name,
    description: body.description ?? null,
    prefix: token.prefix,
    hash: token.hash,
    expires_at: expiresAt,
    functions: functionSpecs(body.function_ids, body.descriptions),
    at: new Date(nowMs).toISOString(),
  });
  return { ...getChannel(s, id), token: token.plaintext };
}

export async function updateChannel(s: Services, id: string, patch: z.output<typeof channelUpdateBody>, nowMs: number) {
  const current = mustGetChannel(s, id);
  const next = patch.expires_at ? { ...patch, expires_at: futureTimestamp(patch.expires_at, nowMs) } : patch;
  await s.meta.submit({ type: 'channel.update', id: current.id, patch: next, at: new Date(nowMs).toISOString() });
  return getChannel(s, current.id);
}

export async function setChannelFunctions(s: Services, id: string, body: z.output<typeof channelFunctionsBody>, nowMs: number) {
  const current = mustGetChannel(s, id);
  await s.meta.submit({ type: 'channel.set-functions', id: current.id, functions: functionSpecs(body.function_ids, body.descriptions), at: new Date(nowMs).toISOString() });
  return getChannel(s, current.id);
}

/** A new token; the old one is refused on each node from the moment it applies this. */
export async function rotateChannel(s: Services, id: string, nowMs: number) {
  const current = mustGetChannel(s, id);
  const token = newChannelToken();
  await s.meta.submit({ type: 'channel.rotate', id: current.id, prefix: token.prefix, hash: token.hash, at: new Date(nowMs).toISOString() });
  return { id: current.id, token: token.plaintext, prefix: token.prefix };
}

export async function deleteChannel(s: Services, id: string) {
  const current = mustGetChannel(s, id);
  await s.meta.submit({ type: 'channel.delete', id: current.id });
  return { id: current.id, deleted: true };
}

export function channelRoutes(s: Services): Route[] {
  return [
    { method: 'GET', path: '/api/v1/channels', access: 'read', handler: () => ({ json: listChannels(s) }) },
    { method: 'POST', path: '/api/v1/channels', access: 'write', handler: async (ctx) => ({ status: 201, json: await createChannel(s, jsonBody(ctx, channelCreateBody), ctx.nowMs) }) },
    { method: 'GET', path: '/api/v1/channels/:id', access: 'read', handler: (ctx) => ({ json: getChannel(s, ctx.params.id) }) },
    {
      method: 'PATCH',
      path: '/api/v1/channels/:id',
      access: 'write',
      // The 404 of an unknown channel comes before the body's 400, as for functions.
      handler: async (ctx) => ({ json: await updateChannel(s, mustGetChannel(s, ctx.params.id).id, jsonBody(ctx, channelUpdateBody), ctx.nowMs) }),
    },
    {
      method: 'PUT',
      path: '/api/v1/channels/:id/functions',
      access: 'write',
      handler: async (ctx) => ({ json: await setChannelFunctions(s, mustGetChannel(s, ctx.params.id).id, jsonBody(ctx, channelFunctionsBody), ctx.nowMs) }),
    },
    { method: 'POST', path: '/api/v1/channels/:id/rotate', access: 'write', handler: async (ctx) => ({ json: await rotateChannel(s, ctx.params.id, ctx.nowMs) }) },
    { method: 'DELETE', path: '/api/v1/channels/:id', access: 'write', handler: async (ctx) => ({ json: await deleteChannel(s, ctx.params.id) }) },
  ];
}
