/** GET /api/v1/syscalls: the seccomp catalog — every call the policies name, its numbers, and what each policy does. */
import type { Route } from '../http/api.ts';
import { seccompCatalog } from '../sandbox/seccomp.ts';
import type { Services } from '../services.ts';

// Built on first request and kept: the policies are fixed for the life of the node, and the
// driver compiled them at start already (the compile result is cached per process).
let catalog: ReturnType<typeof seccompCatalog> | null = null;

export function listSyscalls(s: Services) {
  return (catalog ??= seccompCatalog(s.config.seccompPolicy));
}

export function syscallRoutes(s: Services): Route[] {
  return [{ method: 'GET', path: '/api/v1/syscalls', access: 'read', handler: () => ({ json: listSyscalls(s) }) }];
}
