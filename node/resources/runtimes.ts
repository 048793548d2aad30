/** GET /api/v1/runtimes: what functions can be written in, with the interpreter versions the sandbox runs. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RUNTIMES, type Runtime } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import type { Services } from '../services.ts';

/** The interpreters node/runtimes/index.ts starts inside the sandbox. */
const INTERPRETERS: Record<Runtime, { name: string; binary: string }> = {
  node: { name: 'Node.js', binary: '/usr/bin/node' },
  python: { name: 'Python', binary: '/usr/bin/python3.11' },
};

/** `v20.20.2` or `Python 3.11.2` → the bare version; null when the interpreter is missing or does not answer. */
async function versionOf(binary: string): Promise<string | null> {
  try {
    const { stdout, stderr } = await promisify(execFile)(binary, ['--version'], { timeout: 5_000 });
    return /\d+\.\d+\.\d+\S*/.exec(`${stdout}${stderr}`)?.[0] ?? null;
  } catch {
    return null;
  }
}

export function runtimeRoutes(_s: Services): Route[] {
  // Asked once at start: the interpreters do not change under a running node.
  const catalog = Promise.all(
    (Object.keys(RUNTIMES) as Runtime[]).map(async (id) => ({
      id,
      name: INTERPRETERS[id].name,
      version: await versionOf(INTERPRETERS[id].binary),
      default_entrypoint: RUNTIMES[id].defaultEntrypoint,
      extensions: RUNTIMES[id].extensions,
    })),
  );
  return [{ method: 'GET', path: '/api/v1/runtimes', access: 'read', handler: async () => ({ json: { runtimes: await catalog } }) }];
}
