/** `orva login [URL]`: check a key against a server and store both for later commands. */
import { Command } from 'commander';
import { ApiClient } from '../api-client.ts';
import { normaliseUrl, readStored, writeStored } from '../config-store.ts';
import { ApiError, UsageError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { emit, type OutputOptions, withExample, withOutput } from '../output.ts';

export interface LoginOptions extends OutputOptions {
  url?: string;
}

export async function runLogin(f: Factory, opts: LoginOptions): Promise<void> {
  const raw = opts.url ?? f.env.ORVA_URL ?? readStored(f.env).url;
  if (!raw) throw new UsageError('give the server URL', 'orva login http://localhost:8443');
  const url = normaliseUrl(raw);
  // Never an argument: it would stay in the shell history.
  const apiKey = f.env.ORVA_API_KEY || (await f.io.secretInput(`API key for ${url}: `)).trim();
  if (!apiKey) throw new UsageError('no API key given', 'paste it at the prompt, pipe it on stdin, or set ORVA_API_KEY');
  const client = new ApiClient(url, apiKey);
  await client.request('GET', '/api/v1/system/health');
  // Any valid key passes: 401 is a bad key, 403 only a key without read (an invoke-only key is fine).
  let canRead = true;
  try {
    await client.request('GET', '/api/v1/runtimes');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
    canRead = false;
  }
  const path = writeStored(f.env, { url, apiKey });
  emit(f.io, opts, { url, config_path: path, can_read: canRead }, () => {
    f.io.line(`${f.io.paint('green', '✓')} Logged in to ${url}`);
    f.io.line(`  key stored in ${path} (mode 0600)`);
    if (!canRead) f.io.line('  this key cannot read; only invoke will work');
  });
}

export function loginCommand(f: Factory): Command {
  const cmd = new Command('login')
    .description('store the server URL and an API key (read from a prompt or stdin, never an argument)')
    .argument('[url]', 'the node, e.g. http://localhost:8443 (default: ORVA_URL or the stored one)')
    .action((url: string | undefined, opts: LoginOptions) => runLogin(f, { ...opts, url }));
  return withExample(withOutput(cmd), 'orva login http://localhost:8443', 'cat admin.key | orva login http://orva.lan:8443');
}
