/**
 * The management API dispatcher: match the route, authenticate, check the
 * route's permission (and the Origin of cookie-authenticated writes), run it.
 */
import { OrvaError } from '../../protocol/errors.ts';
import type { Permission } from '../../protocol/permissions.ts';
import { checkSameOrigin, resolvePrincipal } from '../auth/principal.ts';
import type { Services } from '../services.ts';
import type { Ctx, Reply } from './context.ts';
import { Router } from './router.ts';
import type { Handler } from './server.ts';

/** `public`: no credential needed; `session`: only a logged-in session cookie. */
export type Access = Permission | 'public' | 'session';

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  access: Access;
  handler: (ctx: Ctx) => Promise<Reply> | Reply;
}

export function apiHandler(routes: Route[], deps: Pick<Services, 'keys' | 'store' | 'log'>): Handler {
  const router = new Router<Route>();
  for (const r of routes) router.add(r.method, r.path, r);
  return async (ctx) => {
    const started = performance.now();
    ctx.log = deps.log.child({ reqId: ctx.requestId });
    let status = 500;
    try {
      const m = router.match(ctx.method, ctx.path);
      if (m.kind === 'none') throw new OrvaError('NOT_FOUND', `no endpoint ${ctx.method} ${ctx.path}`);
      if (m.kind === 'method') throw new OrvaError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`, { allow: m.allow });
      const route = m.route;
      ctx.params = m.params;
      if (route.access !== 'public') {
        const principal = resolvePrincipal(ctx.headers, deps.keys, deps.store, ctx.nowMs);
        if (!principal) throw new OrvaError('UNAUTHORIZED', 'authentication required');
        if (principal.kind === 'session') checkSameOrigin(ctx.method, ctx.headers);
        if (route.access === 'session' && principal.kind !== 'session') throw new OrvaError('UNAUTHORIZED', 'this endpoint needs a session cookie');
        if (route.access !== 'session' && !principal.permissions.has(route.access)) {
          throw new OrvaError('FORBIDDEN', `this key lacks the ${route.access} permission`, { required: route.access });
        }
        ctx.principal = principal;
      }
      const reply = await route.handler(ctx);
      status = reply.status ?? 200;
      return reply;
    } catch (err) {
      if (err instanceof OrvaError) {
        status = err.status;
        // A platform failure deeper down (the META log, say) is logged here, once, with this request's id.
        if (status >= 500 && err.cause !== undefined) ctx.log.error({ err: err.cause, code: err.code }, err.message);
      }
      throw err;
    } finally {
      ctx.log.info({ method: ctx.method, path: ctx.path, status, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request');
    }
  };
}
