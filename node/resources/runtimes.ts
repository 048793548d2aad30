import type { Route } from '../http/api.ts';
import type { Services } from '../services.ts';

export function runtimeRoutes(_s: Services): Route[] {
  return [];
}
