/** /api/v1/auth/*: first-run onboarding, login with a session cookie, and the session's life. */
import { OrvaError } from '../../protocol/errors.ts';
import { uuidv7 } from '../../protocol/ids.ts';
import { credentialsBody } from '../../protocol/schemas.ts';
import { hashPassword, passwordWeakness, verifyPassword } from '../auth/passwords.ts';
import { cookieValue, SESSION_COOKIE } from '../auth/principal.ts';
import { newSessionToken } from '../auth/tokens.ts';
import type { Route } from '../http/api.ts';
import { type Ctx, invalidField, jsonBody, type Reply } from '../http/context.ts';
import type { Services } from '../services.ts';

const SESSION_TTL_MS = 7 * 24 * 3600_000;

/** Verified against when the username is unknown, so both failures take as long. */
let decoyHash: Promise<string> | null = null;

export function authRoutes(s: Services): Route[] {
  const cookie = (token: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${s.config.cookieSecure ? '; Secure' : ''}`;

  async function startSession(userId: string, username: string, nowMs: number, status: number): Promise<Reply> {
    const { token, hash } = newSessionToken();
    const expiresAt = new Date(nowMs + SESSION_TTL_MS).toISOString();
    await s.meta.submit({ type: 'session.create', token_hash: hash, user_id: userId, expires_at: expiresAt, at: new Date(nowMs).toISOString() });
    return { status, json: { user: { id: userId, username }, expires_at: expiresAt }, cookies: [cookie(token, SESSION_TTL_MS / 1000)] };
  }

  function sessionOf(ctx: Ctx) {
    const p = ctx.principal!;
    const session = s.store.session(p.sessionHash!);
    const user = session && s.store.userById(session.user_id);
    if (!session || !user) throw new OrvaError('UNAUTHORIZED', 'session expired or logged out; log in again');
    return { session, user, hash: p.sessionHash! };
  }

  return [
    {
      method: 'GET',
      path: '/api/v1/auth/status',
      access: 'public',
      handler: () => ({ json: { has_user: s.store.hasUser() } }),
    },
    {
      method: 'POST',
      path: '/api/v1/auth/onboard',
      access: 'public',
      handler: async (ctx) => {
        const body = jsonBody(ctx, credentialsBody);
        if (s.store.hasUser()) throw new OrvaError('CONFLICT', 'a user already exists; log in instead');
        const weak = passwordWeakness(body.password, body.username);
        if (weak) throw invalidField('password', weak);
        const id = `u_${uuidv7(ctx.nowMs)}`;
        // The apply decides a race between two onboardings: the second gets CONFLICT.
        await s.meta.submit({ type: 'user.create', id, username: body.username, password_hash: await hashPassword(body.password), at: new Date(ctx.nowMs).toISOString() });
        return startSession(id, body.username, ctx.nowMs, 201);
      },
    },
    {
      method: 'POST',
      path: '/api/v1/auth/login',
      access: 'public',
      handler: async (ctx) => {
        const body = jsonBody(ctx, credentialsBody);
        s.loginLimiter.check(body.username, ctx.remoteAddress);
        const user = s.store.userByName(body.username);
        decoyHash ??= hashPassword('decoy password that never matches');
        const ok = await verifyPassword(body.password, user?.password_hash ?? (await decoyHash));
        if (!user || !ok) {
          s.loginLimiter.fail(body.username, ctx.remoteAddress);
          throw new OrvaError('UNAUTHORIZED', 'invalid username or password');
        }
        s.loginLimiter.succeed(body.username);
        return startSession(user.id, user.username, Date.now(), 200);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/auth/me',
      access: 'session',
      handler: (ctx) => {
        const { session, user } = sessionOf(ctx);
        return { json: { user: { id: user.id, username: user.username, created_at: user.created_at }, expires_at: session.expires_at } };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/auth/refresh',
      access: 'session',
      handler: async (ctx) => {
        const { hash } = sessionOf(ctx);
        const token = cookieValue(ctx.headers.cookie, SESSION_COOKIE)!;
        const expiresAt = new Date(ctx.nowMs + SESSION_TTL_MS).toISOString();
        await s.meta.submit({ type: 'session.refresh', token_hash: hash, expires_at: expiresAt });
        return { json: { expires_at: expiresAt }, cookies: [cookie(token, SESSION_TTL_MS / 1000)] };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/auth/logout',
      access: 'session',
      handler: async (ctx) => {
        await s.meta.submit({ type: 'session.delete', token_hash: ctx.principal!.sessionHash! });
        return { json: { ok: true }, cookies: [cookie('', 0)] };
      },
    },
  ];
}
