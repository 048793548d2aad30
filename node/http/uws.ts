/**
 * Loads uWebSockets.js and refuses to run on its slow JS fallback: the npm
 * alias ships native builds for Node 20 only, and on another ABI it would
 * silently degrade to a shim.
 */
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

const uWS = createRequire(import.meta.url)('uWebSockets.js') as typeof UWS;

// `getParts` exists only in the native addon, never in the fallback shim.
if (typeof (uWS as unknown as { getParts?: unknown }).getParts !== 'function') {
  throw new Error(`uWebSockets.js native build did not load (Node ${process.version}, ABI ${process.versions.modules}); Orva needs Node 20`);
}

export default uWS;
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
