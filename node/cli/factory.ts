/**
 * What commands depend on, built lazily on first use (a `--help` or
 * `completion` never reads the config file): the IO, the credentials, the
 * API client. Tests give their own streams, environment or client.
 */
import { ApiClient } from './api-client.ts';
import { type Credentials, resolveCredentials } from './config-store.ts';
import { IO, type Streams } from './io.ts';

export interface Factory {
  readonly io: IO;
  readonly env: NodeJS.ProcessEnv;
  credentials(): Credentials;
  client(): ApiClient;
}

export function createFactory(streams: Streams, overrides: { client?: () => ApiClient } = {}): Factory {
  let io: IO | undefined;
  let creds: Credentials | undefined;
  let client: ApiClient | undefined;
  const f: Factory = {
    get io() {
      return (io ??= new IO(streams));
    },
    env: streams.env,
    credentials: () => (creds ??= resolveCredentials(streams.env)),
    client: () => (client ??= overrides.client?.() ?? new ApiClient(f.credentials().url, f.credentials().apiKey)),
  };
  return f;
}
