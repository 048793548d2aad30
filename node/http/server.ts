/**
 * The uWS ingress: captures each request synchronously, reads the body under
 * the limit, hands a plain Ctx to a handler and writes the reply corked.
 * Every failure leaves as the seed's error envelope with a request id.
 */
import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import { OrvaError } from '../../protocol/errors.ts';
import { requestId } from '../../protocol/ids.ts';
import type { Ctx, Reply, StreamSink } from './context.ts';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from './uws.ts';

export type Handler = (ctx: Ctx) => Promise<Reply> | Reply;

/** Per-response state, checked before every write: uWS forbids touching an aborted response. */
interface ResState {
  aborted: boolean;
  done: boolean;
}

const STATUS_LINES: Record<number, string> = {};
function statusLine(status: number): string {
  return (STATUS_LINES[status] ??= `${status} ${STATUS_CODES[status] ?? 'Unknown'}`);
}

export interface HttpServerOptions {
  host: string;
  port: number;
  bodyLimitBytes: number;
  log: Logger;
}

export class HttpServer {
  readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private draining = false;

  constructor(private readonly opts: HttpServerOptions) {
    this.app = uWS.App();
  }

  /** Route every method of `pattern` (uWS syntax) to `handler`. */
  handle(pattern: string, handler: Handler): void {
    this.app.any(pattern, (res, req) => this.serve(res, req, handler));
  }

  listen(): Promise<number> {
    return new Promise((resolvePort, reject) => {
      this.app.listen(this.opts.host, this.opts.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${this.opts.host}:${this.opts.port}`));
        this.listenSocket = socket;
        resolvePort(uWS.us_socket_local_port(socket));
      });
    });
  }

  /** Stop accepting, let in-flight requests finish (up to graceMs), then close every socket. */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    if (this.inflight > 0) {
      await new Promise<void>((done) => {
        const t = setTimeout(done, graceMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          done();
        });
      });
    }
    // close() exists on the native app but is missing from its typings.
    (this.app as unknown as { close(): void }).close();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private serve(res: HttpResponse, req: HttpRequest, handler: Handler): void {
    const state: ResState = { aborted: false, done: false };
    res.onAborted(() => {
      state.aborted = true;
    });
    let remote: string | undefined;
    const headers: Record<string, string> = {};
    req.forEach((k, v) => {
      headers[k] = v;
    });
    const ctx: Ctx = {
      method: req.getCaseSensitiveMethod().toUpperCase(),
      path: req.getUrl(),
      rawQuery: req.getQuery() ?? '',
      headers,
      // Read on first use only: uWS answers it with a getpeername syscall, and only the login limiter needs it.
      get remoteAddress() {
        remote ??= state.aborted || state.done ? '' : Buffer.from(res.getRemoteAddressAsText()).toString();
        return remote;
      },
      params: {},
      body: EMPTY,
      requestId: requestId(),
      log: this.opts.log,
      principal: null,
      nowMs: Date.now(),
    };
    this.inflight += 1;
    if (this.draining) {
      this.writeError(res, state, ctx, new OrvaError('SHUTTING_DOWN', 'this node is shutting down'), true);
      this.finished();
      return;
    }
    const declared = headers['content-length'];
    if (declared !== undefined && Number(declared) > this.opts.bodyLimitBytes) {
      // uWS drains a body after the answer; one declared far too large is not worth draining.
      this.writeError(res, state, ctx, tooLarge(this.opts.bodyLimitBytes), Number(declared) > this.opts.bodyLimitBytes * DISCARD_FACTOR);
      this.finished();
      return;
    }
    if ((declared === undefined || declared === '0') && headers['transfer-encoding'] === undefined) {
      void this.run(res, state, ctx, handler);
      return;
    }
    this.readBody(res, state, ctx, handler);
  }

  /** One request is over: a graceful close waits for the count to reach zero. */
  private finished(): void {
    this.inflight -= 1;
    if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Run the handler on the complete request and write its reply or its error. */
  private async run(res: HttpResponse, state: ResState, ctx: Ctx, handler: Handler): Promise<void> {
    try {
      this.writeReply(res, state, ctx, await handler(ctx));
    } catch (err) {
      this.writeError(res, state, ctx, err, false);
    } finally {
      this.finished();
    }
  }

  private readBody(res: HttpResponse, state: ResState, ctx: Ctx, handler: Handler): void {
    const limit = this.opts.bodyLimitBytes;
    let chunks: Buffer[] | null = [];
    let size = 0;
    let answered = false;
    res.onData((ab, isLast) => {
      if (answered) return;
      size += ab.byteLength;
      if (size > limit) {
        // Answer now but keep the connection: uWS drains the rest, so a client still uploading reads its 413.
        answered = true;
        chunks = null;
        this.writeError(res, state, ctx, tooLarge(limit), false);
        this.finished();
        return;
      }
      // uWS reuses the ArrayBuffer after this callback returns: copy it.
      chunks!.push(Buffer.copyBytesFrom(new Uint8Array(ab)));
      if (isLast) {
        ctx.body = chunks!.length === 1 ? chunks![0] : Buffer.concat(chunks!, size);
        answered = true;
        void this.run(res, state, ctx, handler);
      }
    });
  }

  writeReply(res: HttpResponse, state: ResState, ctx: Ctx, reply: Reply): void {
    if (state.aborted || state.done) return;
    state.done = true;
    const status = reply.status ?? 200;
    let body: Buffer | string = '';
    let type: string | undefined;
    if (reply.raw !== undefined) body = reply.raw;
    else if (reply.json !== undefined) {
      body = JSON.stringify(reply.json);
      type = 'application/json';
    }
    res.cork(() => {
      res.writeStatus(statusLine(status));
      res.writeHeader('x-request-id', ctx.requestId);
      if (type !== undefined && reply.headers?.['content-type'] === undefined) res.writeHeader('content-type', type);
      if (reply.headers) for (const k in reply.headers) res.writeHeader(k, reply.headers[k]);
      if (reply.cookies) for (const c of reply.cookies) res.writeHeader('set-cookie', c);
      if (reply.stream) res.write('');
      else res.end(ctx.method === 'HEAD' ? '' : body);
    });
    if (reply.stream) reply.stream(this.sink(res, state));
  }

  /** A streaming body over uWS: chunked writes, corked; a backlogged client is closed. */
  private sink(res: HttpResponse, state: ResState): StreamSink {
    const listeners: Array<() => void> = [];
    let backlog = 0;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      for (const l of listeners) l();
    };
    res.onAborted(() => {
      state.aborted = true;
      close();
    });
    res.onWritable(() => {
      backlog = 0;
      return true;
    });
    const sink: StreamSink = {
      get closed() {
        return closed;
      },
      write(chunk) {
        if (closed || state.aborted) return false;
        let ok = true;
        res.cork(() => {
          ok = res.write(chunk);
        });
        if (ok) return true;
        // uWS keeps what it could not send; past this many unsent writes the client is too slow.
        if (++backlog > SLOW_CLIENT_BACKLOG) {
          res.close();
          close();
          return false;
        }
        return true;
      },
      end() {
        if (closed || state.aborted) return;
        res.cork(() => res.end());
        close();
      },
      onClose(listener) {
        listeners.push(listener);
      },
    };
    return sink;
  }

  writeError(res: HttpResponse, state: ResState, ctx: Ctx, err: unknown, closeConnection: boolean): void {
    const e = err instanceof OrvaError ? err : new OrvaError('INTERNAL', 'internal error');
    if (!(err instanceof OrvaError)) ctx.log.error({ err, reqId: ctx.requestId, path: ctx.path }, 'unhandled error');
    if (state.aborted || state.done) return;
    state.done = true;
    const body = JSON.stringify(e.envelope(ctx.requestId));
    res.cork(() => {
      res.writeStatus(statusLine(e.status));
      res.writeHeader('x-request-id', ctx.requestId);
      res.writeHeader('content-type', 'application/json');
      if (e.retryAfterS !== undefined) res.writeHeader('retry-after', String(e.retryAfterS));
      if (e.code === 'METHOD_NOT_ALLOWED' && Array.isArray(e.details?.allow)) res.writeHeader('allow', (e.details.allow as string[]).join(', '));
      res.end(body, closeConnection);
    });
  }
}

const EMPTY = Buffer.alloc(0);

/** A declared oversize body up to this many times the limit is drained (not cut off) after its 413. */
const DISCARD_FACTOR = 4;

/** Unsent writes a streaming client may fall behind by before it is dropped. */
const SLOW_CLIENT_BACKLOG = 256;

function tooLarge(limit: number): OrvaError {
  return new OrvaError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { limit_bytes: limit });
}
