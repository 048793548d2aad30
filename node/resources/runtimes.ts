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

let catalog: Promise<unknown[]> | null = null;

/** The runtime catalog; the interpreters are asked once per process, as they do not change under a running node. */
export async function listRuntimes() {
  catalog ??= Promise.all(
    (Object.keys(RUNTIMES) as Runtime[]).map(async (id) => ({
      id,
      name: NAMES[id],
      version: await versionOf(SANDBOX_RUNTIMES[id].interpreter),
      default_entrypoint: RUNTIMES[id].defaultEntrypoint,
      extensions: RUNTIMES[id].extensions,
    })),
  );
  return { runtimes: await catalog };
}

export function runtimeRoutes(_s: Services): Route[] {
  // Started at registration, so the first request does not wait for the interpreters.
  void listRuntimes();
  return [{ method: 'GET', path: '/api/v1/runtimes', access: 'read', handler: async () => ({ json: await listRuntimes() }) }];
}
