/**
 * The uWS ingress: captures each request synchronously, reads the body under
 * the limit, hands it to a handler as a Ctx and writes the reply corked.
 * Every failure leaves as the seed's error envelope with a request id.
 */
import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import { OrvaError } from '../../protocol/errors.ts';
import { requestId } from '../../protocol/ids.ts';
import type { Principal } from '../auth/principal.ts';
import { addField, type Ctx, type Reply, type StreamSink } from './context.ts';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from './uws.ts';

export type Handler = (ctx: Ctx) => Promise<Reply> | Reply;

/**
 * One request: the Ctx its handler sees, its response, and the state checked
 * before every write (uWS forbids touching an aborted response). A class, so
 * every request has one shape and costs one object.
 */
class Exchange implements Ctx {
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly headers: Record<string, string> = {};
  params: Record<string, string> = {};
  body: Buffer = EMPTY;
  readonly requestId = requestId();
  principal: Principal | null = null;
  readonly nowMs = Date.now();
  aborted = false;
  done = false;
  /** Its body is still arriving: no handler runs yet, so an abort now ends the request. */
  reading = false;
  #remote: string | undefined;

  constructor(
    readonly res: HttpResponse,
    req: HttpRequest,
    readonly log: Logger,
  ) {
    req.forEach((k, v) => addField(this.headers, k, v, k === 'cookie' ? '; ' : ', '));
    this.method = req.getCaseSensitiveMethod().toUpperCase();
    this.path = req.getUrl();
    this.rawQuery = req.getQuery() ?? '';
  }

  /** Read on first use only: uWS answers it with a getpeername syscall, and only the login limiter needs it. */
  get remoteAddress(): string {
    this.#remote ??= this.aborted || this.done ? '' : Buffer.from(this.res.getRemoteAddressAsText()).toString();
    return this.#remote;
  }
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
    const x = new Exchange(res, req, this.opts.log);
    res.onAborted(() => {
      x.aborted = true;
      // A client gone mid-upload (or a body uWS refused to frame) never reaches run(), which would end it.
      if (x.reading) {
        x.reading = false;
        this.finished();
      }
    });
    this.inflight += 1;
    if (this.draining) {
      this.writeError(x, new OrvaError('SHUTTING_DOWN', 'this node is shutting down'), true);
      this.finished();
      return;
    }
    const declared = x.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.opts.bodyLimitBytes) {
      // uWS drains a body after the answer; one declared far too large is not worth draining.
      this.writeError(x, tooLarge(this.opts.bodyLimitBytes), Number(declared) > this.opts.bodyLimitBytes * DISCARD_FACTOR);
      this.finished();
      return;
    }
    if ((declared === undefined || declared === '0') && x.headers['transfer-encoding'] === undefined) {
      void this.run(x, handler);
      return;
    }
    this.readBody(x, handler);
  }

  /** One request is over: a graceful close waits for the count to reach zero. */
  private finished(): void {
    this.inflight -= 1;
    if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Run the handler on the complete request and write its reply or its error. */
  private async run(x: Exchange, handler: Handler): Promise<void> {
    try {
      this.writeReply(x, await handler(x));
    } catch (err) {
      this.writeError(x, err, false);
    } finally {
      this.finished();
    }
  }

  private readBody(x: Exchange, handler: Handler): void {
    const limit = this.opts.bodyLimitBytes;
    let chunks: Buffer[] | null = [];
    let size = 0;
    x.reading = true;
    x.res.onData((ab, isLast) => {
      if (!x.reading) return;
      size += ab.byteLength;
      if (size > limit) {
        // Answer now but keep the connection: uWS drains the rest, so a client still uploading reads its 413.
        x.reading = false;
        chunks = null;
        this.writeError(x, tooLarge(limit), false);
        this.finished();
        return;
      }
      // uWS reuses the ArrayBuffer after this callback returns: copy it (a small one into Node's shared pool).
      const chunk = Buffer.allocUnsafe(ab.byteLength);
      chunk.set(new Uint8Array(ab));
      chunks!.push(chunk);
      if (isLast) {
        x.body = chunks!.length === 1 ? chunks![0] : Buffer.concat(chunks!, size);
        x.reading = false;
        void this.run(x, handler);
      }
    });
  }

  private writeReply(x: Exchange, reply: Reply): void {
    if (x.aborted || x.done) return;
    x.done = true;
    const res = x.res;
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
      res.writeHeader('x-request-id', x.requestId);
      if (type !== undefined && reply.headers?.['content-type'] === undefined) res.writeHeader('content-type', type);
      if (reply.headers) for (const k in reply.headers) res.writeHeader(k, reply.headers[k]);
      if (reply.cookies) for (const c of reply.cookies) res.writeHeader('set-cookie', c);
      if (reply.stream) res.write('');
      else res.end(x.method === 'HEAD' ? '' : body);
    });
    if (reply.stream) reply.stream(this.sink(x));
  }

  /** A streaming body over uWS: chunked writes, corked; a backlogged client is closed. */
  private sink(x: Exchange): StreamSink {
    const res = x.res;
    const listeners: Array<() => void> = [];
    let backlog = 0;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      for (const l of listeners) l();
    };
    res.onAborted(() => {
      x.aborted = true;
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
        if (closed || x.aborted) return false;
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
        if (closed || x.aborted) return;
        res.cork(() => res.end());
        close();
      },
      onClose(listener) {
        listeners.push(listener);
      },
    };
    return sink;
  }

  private writeError(x: Exchange, err: unknown, closeConnection: boolean): void {
    const e = err instanceof OrvaError ? err : new OrvaError('INTERNAL', 'internal error');
    if (!(err instanceof OrvaError)) x.log.error({ err, reqId: x.requestId, path: x.path }, 'unhandled error');
    if (x.aborted || x.done) return;
    x.done = true;
    const res = x.res;
    const body = JSON.stringify(e.envelope(x.requestId));
    res.cork(() => {
      res.writeStatus(statusLine(e.status));
      res.writeHeader('x-request-id', x.requestId);
      res.writeHeader('content-type', 'application/json');
      if (e.retryAfterS !== undefined) res.writeHeader('retry-after', String(e.retryAfterS));
      if (e.code === 'METHOD_NOT_ALLOWED' && Array.isArray(e.details?.allow)) res.writeHeader('allow', (e.details.allow as string[]).join(', '));
      // No body to HEAD (a client would read one as the next response); uWS v20.30's endWithoutBody stalls the connection.
      res.end(x.method === 'HEAD' ? '' : body, closeConnection);
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
