/**
 * Who is calling /mcp, from `Authorization: Bearer …` or `X-Orva-API-Key`
 * (or a session cookie): a channel token gets its channel's tools, an API key
 * or a session gets the management tools its permissions allow. No
 * credential, or one that does not verify, is a 401.
 */
import { OrvaError } from '../../protocol/errors.ts';
import type { Permission } from '../../protocol/permissions.ts';
import { resolvePrincipal } from '../auth/principal.ts';
import { CHANNEL_TOKEN_PREFIX } from '../auth/tokens.ts';
import type { ChannelGrant } from '../channels/channel-tokens.ts';
import type { Services } from '../services.ts';

export type McpCaller = { kind: 'channel'; grant: ChannelGrant } | { kind: 'operator'; permissions: ReadonlySet<Permission> };

/** The bearer credential, if the request carries one. */
function credential(headers: Record<string, string>): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer +(\S+)\s*$/i.exec(auth);
    if (!m) throw new OrvaError('UNAUTHORIZED', 'Authorization must be "Bearer <token>"');
    return m[1];
  }
  return headers['x-orva-api-key'];
}

export function mcpCaller(s: Pick<Services, 'channelTokens' | 'keys' | 'store'>, headers: Record<string, string>, nowMs: number): McpCaller {
  const token = credential(headers);
  if (token !== undefined && token.startsWith(CHANNEL_TOKEN_PREFIX)) {
    const grant = s.channelTokens.verify(token, nowMs);
    if (!grant) throw new OrvaError('UNAUTHORIZED', 'invalid, expired or rotated channel token');
    return { kind: 'channel', grant };
  }
  if (token !== undefined) {
    const key = s.keys.verify(token, nowMs);
    if (!key) throw new OrvaError('UNAUTHORIZED', 'invalid, expired or revoked API key');
    return { kind: 'operator', permissions: key.permissions };
  }
  // A session cookie (the dashboard's): /mcp checked the Origin already, which is what a cookie-authenticated write needs.
  const principal = resolvePrincipal(headers, s.keys, s.store, nowMs);
  if (!principal) throw new OrvaError('UNAUTHORIZED', 'send Authorization: Bearer <channel token or API key>');
  return { kind: 'operator', permissions: principal.permissions };
}
