/** GET /api/v1/runtimes: what functions can be written in, with the interpreter versions the sandbox runs. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RUNTIMES, type Runtime } from '../../protocol/schemas.ts';
import type { Route } from '../http/api.ts';
import { RUNTIMES as SANDBOX_RUNTIMES } from '../runtimes/index.ts';
import type { Services } from '../services.ts';

const NAMES: Record<Runtime, string> = { node: 'Node.js', python: 'Python' };

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
      name: NAMES[id],
      version: await versionOf(SANDBOX_RUNTIMES[id].interpreter),
      default_entrypoint: RUNTIMES[id].defaultEntrypoint,
      extensions: RUNTIMES[id].extensions,
    })),
  );
  return [{ method: 'GET', path: '/api/v1/runtimes', access: 'read', handler: async () => ({ json: { runtimes: await catalog } }) }];
}
