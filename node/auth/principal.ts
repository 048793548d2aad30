/**
 * Who is calling: resolved from X-Orva-API-Key or the session cookie. An
 * invalid key is a 401 — never a silent fall back to the cookie.
 */
import { OrvaError } from '../../protocol/errors.ts';
import { PERMISSIONS, type Permission } from '../../protocol/permissions.ts';
import type { Store } from '../store/store.ts';
import type { KeyCache } from './key-cache.ts';
import { CHANNEL_TOKEN_PREFIX, sha256Hex } from './tokens.ts';

/** Orva's own name for it: its dashboard and scripts look for this cookie. */
export const SESSION_COOKIE = 'session_token';

export interface Principal {
  kind: 'key' | 'session';
  permissions: ReadonlySet<Permission>;
  keyId?: string;
  userId?: string;
  sessionHash?: string;
}

const ALL: ReadonlySet<Permission> = new Set(PERMISSIONS);

export function cookieValue(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Resolve the caller; null when no credential was presented at all. */
export function resolvePrincipal(
  headers: Record<string, string>,
  keys: KeyCache,
  store: Store,
  nowMs: number,
): Principal | null {
  const apiKey = headers['x-orva-api-key'];
  if (apiKey !== undefined) {
    if (apiKey.startsWith(CHANNEL_TOKEN_PREFIX)) throw new OrvaError('UNAUTHORIZED', 'channel tokens are accepted only at /mcp');
    const key = keys.verify(apiKey, nowMs);
    if (!key) throw new OrvaError('UNAUTHORIZED', 'invalid, expired or revoked API key');
    return { kind: 'key', permissions: key.permissions, keyId: key.id };
  }
  const token = cookieValue(headers.cookie, SESSION_COOKIE);
  if (token !== undefined && token !== '') {
    const hash = sha256Hex(token);
    const session = store.session(hash);
    if (!session || Date.parse(session.expires_at) <= nowMs) throw new OrvaError('UNAUTHORIZED', 'session expired or logged out; log in again');
    // The one user is the admin: a session carries every permission.
    return { kind: 'session', permissions: ALL, userId: session.user_id, sessionHash: hash };
  }
  return null;
}

/**
 * Cookie-authenticated writes must come from our own origin (CSRF). A browser
 * sends Origin on cross-site POSTs; Sec-Fetch-Site covers the rest.
 */
export function checkSameOrigin(method: string, headers: Record<string, string>): void {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return;
  const origin = headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw new OrvaError('FORBIDDEN', 'malformed Origin header');
    }
    if (host !== headers.host) throw new OrvaError('FORBIDDEN', 'cross-origin write with a session cookie refused', { origin });
    return;
  }
  if (origin === 'null') throw new OrvaError('FORBIDDEN', 'opaque-origin write with a session cookie refused');
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') throw new OrvaError('FORBIDDEN', 'cross-site write with a session cookie refused');
}
