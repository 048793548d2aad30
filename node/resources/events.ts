import type { Route } from '../http/api.ts';
import type { Services } from '../services.ts';

export function eventRoutes(_s: Services): Route[] {
  return [];
}
