/**
 * Where `orva login` keeps the server URL and API key: a 0600 JSON file in a
 * 0700 directory under the user's config dir ($XDG_CONFIG_HOME/orva, else
 * ~/.config/orva). ORVA_URL and ORVA_API_KEY override it, so CI needs no file.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from './errors.ts';

export interface Credentials {
  url: string;
  apiKey: string;
}

export function configPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'orva', 'config.json');
}

export function readStored(env: NodeJS.ProcessEnv): Partial<Credentials> {
  try {
    const c = JSON.parse(readFileSync(configPath(env), 'utf8')) as { url?: string; api_key?: string };
    return { url: c.url, apiKey: c.api_key };
  } catch {
    return {};
  }
}

export function writeStored(env: NodeJS.ProcessEnv, c: Credentials): string {
  const path = configPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify({ url: c.url, api_key: c.apiKey }, null, 2)}\n`, { mode: 0o600 });
  // An existing file keeps its mode on write: set it again.
  chmodSync(path, 0o600);
  return path;
}

/** The URL and key to use: the environment first, then the stored login. */
export function resolveCredentials(env: NodeJS.ProcessEnv): Credentials {
  const stored = readStored(env);
  const url = env.ORVA_URL || stored.url;
  const apiKey = env.ORVA_API_KEY || stored.apiKey;
  if (!url) throw new CliError('no server configured', 'run `orva login URL`, or set ORVA_URL and ORVA_API_KEY', EXIT.AUTH);
  if (!apiKey) throw new CliError(`no API key for ${url}`, 'run `orva login`, or set ORVA_API_KEY', EXIT.AUTH);
  return { url: normaliseUrl(url), apiKey };
}

export function normaliseUrl(url: string): string {
  const u = /^[a-z]+:\/\//i.test(url) ? url : `http://${url}`;
  try {
    return new URL(u).toString().replace(/\/+$/, '');
  } catch {
    throw new CliError(`not a URL: ${url}`, 'e.g. http://localhost:8443', EXIT.USAGE);
  }
}
