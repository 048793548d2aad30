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
  const set = r.headers.getSetCookie().find((c) => c.startsWith('session_token='));
  if (!set) throw new Error('no session cookie set');
  return set.split(';')[0];
}

/**
 * Send raw bytes over one TCP connection and parse the HTTP/1.1 answer: for
 * requests fetch cannot make (a declared Content-Length with no body) or
 * where it may fail (a server that answers before reading an oversize body).
 * Write errors after the server answered are ignored; the answer is what counts.
 */
export async function rawHttp(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<CallResult> {
  const { connect } = await import('node:net');
  return new Promise((resolveRes, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete answer in ${timeoutMs} ms: ${Buffer.concat(chunks).toString()}`));
    }, timeoutMs);
    const done = () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const parsed = parseResponse(raw);
      if (!parsed) return false;
      clearTimeout(timer);
      sock.destroy();
      resolveRes(parsed);
      return true;
    };
    sock.on('error', () => {});
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      done();
    });
    sock.on('close', () => {
      if (!done()) {
        clearTimeout(timer);
        reject(new Error(`connection closed without a complete answer: ${Buffer.concat(chunks).toString()}`));
      }
    });
    sock.write(request, () => {});
  });
}

function parseResponse(raw: string): CallResult | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers = new Headers();
  for (const l of lines) {
    const i = l.indexOf(':');
    headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
  }
  const len = Number(headers.get('content-length') ?? 0);
  const text = raw.slice(end + 4);
  if (Buffer.byteLength(text) < len) return null;
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: Number(statusLine.split(' ')[1]), headers, text, json };
}
