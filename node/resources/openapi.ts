/** GET /api/v1/openapi.json: the API described from the routes this node registered, built once at start. */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Route } from '../http/api.ts';
import { buildOpenApi } from '../openapi/document.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `others`: every other route the node registers; this one documents itself too. */
export function openApiRoutes(others: Route[], log: Logger): Route[] {
  const self: Route = { method: 'GET', path: '/api/v1/openapi.json', access: 'public', handler: () => ({ json: built.document }) };
  const built = buildOpenApi([...others, self], VERSION);
  if (built.undocumented.length > 0 || built.stale.length > 0) {
    // Not fatal: a node serves its API whether or not the description caught up; tests/api/openapi.test.ts fails on this line.
    log.error({ undocumented: built.undocumented, stale: built.stale }, 'OpenAPI document out of step with the routes: add or remove entries in node/openapi/operations.ts');
  }
  return [self];
}
