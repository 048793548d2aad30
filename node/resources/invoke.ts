/**
 * POST|GET|… /fn/{id}[/{path…}] and custom routes: the hot path. The call
 * itself is invoke/function-call.ts (shared with MCP tools); this file turns
 * a request into one and checks the function's own auth_mode.
 */
import { OrvaError } from '../../protocol/errors.ts';
import { checkSameOrigin, resolvePrincipal, SESSION_COOKIE } from '../auth/principal.ts';
import { addField, type Ctx, type Reply } from '../http/context.ts';
import type { Handler } from '../http/server.ts';
import type { FunctionEntry } from '../registry.ts';
import type { FunctionCaller } from '../invoke/function-call.ts';
import { verifySignature } from '../invoke/signature.ts';
import { RouteTable } from '../route-table.ts';
import { secretSlot } from '../secret-box.ts';
import { SIGNING_SECRET } from '../../protocol/schemas.ts';
import type { Services } from '../services.ts';
import { mustGetEntry } from './lookups.ts';

/** Credentials of every kind: the caller's key, a signed call's proof. */
const CREDENTIAL_HEADERS = new Set(['x-orva-api-key', 'x-orva-timestamp', 'x-orva-signature']);

/** The caller's headers as the handler sees them (the call adds its ids). Credentials never reach it: it is untrusted code. */
function handlerHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) {
    if (CREDENTIAL_HEADERS.has(k)) continue;
    if (k === 'cookie') {
      const kept = headers.cookie
        .split(';')
        .filter((c) => c.trim().split('=')[0] !== SESSION_COOKIE)
        .join(';')
        .trim();
      if (kept) out.cookie = kept;
      continue;
    }
    addField(out, k, headers[k], ''); // names are unique by now: this only keeps a "__proto__" one as data
  }
  return out;
}

/** Only ever encoded into the worker's frame, never changed: one instance serves every call without a query. */
const NO_QUERY: Record<string, string> = Object.freeze({});

function queryObject(raw: string): Record<string, string> {
  if (raw === '') return NO_QUERY;
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) addField(out, k, v, ',');
  return out;
}

export function invokeHandler(d: Services, call: FunctionCaller): { byId: Handler; byRoute: Handler } {
  /** Decrypted once per registry entry: a secret change replaces the entry, and with it this key. */
  const signingKeys = new WeakMap<FunctionEntry, Buffer>();

  function signingKey(entry: FunctionEntry): Buffer | undefined {
    if (entry.signingSecret === undefined) return undefined;
    let key = signingKeys.get(entry);
    if (key === undefined) {
      key = Buffer.from(d.secretBox.decrypt(secretSlot(entry.row.id, SIGNING_SECRET), entry.signingSecret), 'utf8');
      signingKeys.set(entry, key);
    }
    return key;
  }

  function authorize(ctx: Ctx, entry: FunctionEntry): void {
    if (entry.row.auth_mode === 'none') return;
    if (entry.row.auth_mode === 'signed') return verifySignature(ctx.headers, ctx.body, signingKey(entry), ctx.nowMs, entry.row.id);
    const principal = resolvePrincipal(ctx.headers, d.keys, d.store, ctx.nowMs);
    if (!principal) throw new OrvaError('UNAUTHORIZED', 'this function needs an API key with the invoke permission');
    if (principal.kind === 'session') checkSameOrigin(ctx.method, ctx.headers);
    if (!principal.permissions.has('invoke')) throw new OrvaError('FORBIDDEN', 'this key lacks the invoke permission', { required: 'invoke' });
  }

  /** /fn/{id}[/path]: everything after the id is the handler's path. */
  const byId: Handler = (ctx) => {
    const rest = ctx.path.slice('/fn/'.length);
    const slash = rest.indexOf('/');
    const id = slash < 0 ? rest : rest.slice(0, slash);
    return run(ctx, mustGetEntry(d.registry, id), slash < 0 ? '/' : rest.slice(slash));
  };

  /** A custom route: exact first, then the longest prefix; the path below the mount is the handler's. */
  const byRoute: Handler = (ctx) => {
    const m = d.routeTable.match(ctx.path);
    if (!m) throw new OrvaError('NOT_FOUND', `no function or route at ${ctx.path}`);
    if (!RouteTable.allows(m.route, ctx.method)) {
      throw new OrvaError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on route ${m.route.path}`, { allow: m.route.methods.split(','), path: m.route.path });
    }
    const entry = d.registry.get(m.route.function_id);
    if (!entry) throw new OrvaError('NOT_FOUND', `route ${m.route.path} points at a deleted function`);
    return run(ctx, entry, m.subPath);
  };

  async function run(ctx: Ctx, entry: FunctionEntry, subPath: string): Promise<Reply> {
    const r = await call(entry, {
      method: ctx.method,
      path: subPath,
      rawPath: ctx.path,
      headers: handlerHeaders(ctx.headers),
      query: queryObject(ctx.rawQuery),
      body: ctx.body,
      nowMs: ctx.nowMs,
      get remoteAddress() {
        return ctx.remoteAddress;
      },
      trigger: 'http',
      channelId: null,
      authorize: () => authorize(ctx, entry),
    });
    return { status: r.status, raw: r.body, headers: r.headers };
  }

  return { byId, byRoute };
}
