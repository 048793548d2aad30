/**
 * The CLI's only way to the server: the public HTTP API with the API key
 * header. Error envelopes become ApiError, transport failures NetworkError
 * naming the URL.
 */
import type { z } from 'zod';
import { ApiError, NetworkError } from './errors.ts';
import { sseFrames, type SseFrame } from './sse.ts';

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Hand back non-2xx answers instead of throwing (invoke prints the function's own answer). */
  allowError?: boolean;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string | undefined,
  ) {}

  url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(path, `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.apiKey) headers['x-orva-api-key'] = this.apiKey;
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    }
    const url = this.url(path, opts.query);
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: opts.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new NetworkError(this.baseUrl, err);
    }
    if (!res.ok && !opts.allowError) throw await apiErrorOf(res);
    return res;
  }

  /** A JSON answer, checked against the schema the server's OpenAPI document is built from. */
  async json<S extends z.ZodType>(schema: S, method: string, path: string, opts: RequestOptions = {}): Promise<z.output<S>> {
    const res = await this.request(method, path, opts);
    const value = await res.json();
    const r = schema.safeParse(value);
    // A newer or older server may answer a shape this CLI does not know: show it rather than fail.
    return r.success ? r.data : (value as z.output<S>);
  }

  async text(method: string, path: string, opts: RequestOptions = {}): Promise<string> {
    return (await this.request(method, path, opts)).text();
  }

  async *events(path: string, signal?: AbortSignal): AsyncGenerator<SseFrame> {
    const res = await this.request('GET', path, { headers: { accept: 'text/event-stream' }, signal });
    if (res.status === 204 || !res.body) return;
    yield* sseFrames(res.body);
  }
}

export async function apiErrorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const e = (JSON.parse(text) as { error: { code: string; message: string; hint?: string; request_id?: string; details?: Record<string, unknown> } }).error;
    if (e && typeof e.code === 'string') return new ApiError(res.status, e.code, e.message, e.hint, e.request_id ?? res.headers.get('x-request-id') ?? undefined, e.details);
  } catch {}
  return new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 300) || res.statusText, undefined, res.headers.get('x-request-id') ?? undefined, undefined);
}
