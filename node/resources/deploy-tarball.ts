import type { Route } from '../http/api.ts';
import type { Services } from '../services.ts';

export function tarballDeployRoutes(_s: Services): Route[] {
  return [];
}
