/** /api/v1/system/metrics (Prometheus text) and metrics.json (the same data for the dashboard). */
import type { Route } from '../http/api.ts';
import type { Services } from '../services.ts';

export function metricRoutes(s: Services): Route[] {
  const { metrics } = s;
  return [
    {
      method: 'GET',
      path: '/api/v1/system/metrics',
      access: 'read',
      handler: async () => ({ raw: await metrics.prometheus(), headers: { 'content-type': metrics.contentType } }),
    },
    { method: 'GET', path: '/api/v1/system/metrics.json', access: 'read', handler: async () => ({ json: await metrics.snapshot() }) },
  ];
}
