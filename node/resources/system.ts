/** /api/v1/system/*: liveness for load balancers and Docker HEALTHCHECK. */
import type { Route } from '../http/api.ts';

export function health() {
  return { status: 'ok' as const };
}

export function systemRoutes(): Route[] {
  return [{ method: 'GET', path: '/api/v1/system/health', access: 'public', handler: () => ({ json: health() }) }];
}
