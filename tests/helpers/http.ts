/** A tiny HTTP client for the tests: JSON in, status + headers + parsed body out. */

export interface CallOptions {
  key?: string;
  cookie?: string;
  body?: unknown;
  /** Sent as-is instead of JSON.stringify(body). */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint: test code reads arbitrary JSON
  json: any;
}

export async function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== undefined) headers['x-orva-api-key'] = opts.key;
  if (opts.cookie !== undefined) headers.cookie = opts.cookie;
  let body: string | Buffer | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const r = await fetch(`${base}${path}`, { method, headers, body });
  const text = await r.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

/** Assert-friendly check of the seed's error envelope. */
export function errorCode(r: CallResult): string | undefined {
  return r.json?.error?.code;
}

/** The `name=value` of the session cookie in a response, for the next request. */
export function sessionCookie(r: CallResult): string {
  const set = r.headers.getSetCookie().find((c) => c.startsWith('orva_session='));
  if (!set) throw new Error('no session cookie set');
  return set.split(';')[0];
}
