/**
 * An EventSource-compatible SSE client for the tests: the WHATWG parsing
 * rules (CRLF, LF or CR line ends, split anywhere across chunks; multi-line
 * data; comments; id and retry fields) over a fetch streaming body.
 */

export interface SseMessage {
  type: string;
  data: string;
  /** The stream's last event id when this event was dispatched, as EventSource reports it. */
  lastEventId: string;
}

/** Incremental parser; feed it text as it arrives. */
export class SseParser {
  lastEventId = '';
  retryMs: number | null = null;
  readonly comments: string[] = [];
  private buffer = '';
  private sawFirst = false;
  private afterCr = false;
  private eventType = '';
  private data = '';
  private idBuffer = '';

  constructor(private readonly onMessage: (m: SseMessage) => void) {}

  feed(text: string): void {
    if (text === '') return;
    this.buffer += text;
    if (!this.sawFirst && this.buffer.length > 0) {
      this.sawFirst = true;
      if (this.buffer.charCodeAt(0) === 0xfeff) this.buffer = this.buffer.slice(1);
    }
    // A CR ends its line at once; an LF right after it (maybe in the next chunk) belongs to it.
    if (this.afterCr && this.buffer.startsWith('\n')) this.buffer = this.buffer.slice(1);
    this.afterCr = false;
    const ends = /\r\n|\r|\n/g;
    let start = 0;
    for (let hit = ends.exec(this.buffer); hit; hit = ends.exec(this.buffer)) {
      this.line(this.buffer.slice(start, hit.index));
      start = ends.lastIndex;
    }
    this.afterCr = this.buffer.endsWith('\r') && start === this.buffer.length;
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.eventType = value;
    else if (field === 'data') this.data += `${value}\n`;
    else if (field === 'id' && !value.includes('\0')) this.idBuffer = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }

  private dispatch(): void {
    this.lastEventId = this.idBuffer;
    if (this.data === '') {
      this.eventType = '';
      return;
    }
    const m = { type: this.eventType || 'message', data: this.data.slice(0, -1), lastEventId: this.lastEventId };
    this.data = '';
    this.eventType = '';
    this.onMessage(m);
  }
}

export interface SseConnection {
  status: number;
  headers: Headers;
  /** The body of a non-2xx answer (an error envelope); empty for a stream. */
  text: string;
  /** Every message so far, in order. */
  messages: SseMessage[];
  parser: SseParser;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** The first message (from `from` on) matching `pred`; throws after `ms`. */
  next(pred: (m: SseMessage) => boolean, ms?: number, from?: number): Promise<SseMessage>;
  close(): void;
}

export interface SseOpenOptions {
  key?: string;
  cookie?: string;
  lastEventId?: string;
}

/** Open a stream; a non-2xx answer is read whole into `text` and `messages` stays empty. */
export async function openSse(url: string, opts: SseOpenOptions = {}): Promise<SseConnection> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (opts.key !== undefined) headers['x-orva-api-key'] = opts.key;
  if (opts.cookie !== undefined) headers.cookie = opts.cookie;
  if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
  const abort = new AbortController();
  const r = await fetch(url, { headers, signal: abort.signal });
  const text = r.ok ? '' : await r.text();
  const messages: SseMessage[] = [];
  let wake: () => void = () => {};
  const parser = new SseParser((m) => {
    messages.push(m);
    wake();
  });
  let done = false;
  const ended = (async () => {
    if (!r.ok || !r.body) {
      done = true;
      return;
    }
    const decoder = new TextDecoder();
    try {
      for await (const chunk of r.body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // Aborted by close().
    } finally {
      done = true;
      wake();
    }
  })();
  return {
    status: r.status,
    headers: r.headers,
    text,
    messages,
    parser,
    ended,
    async next(pred, ms = 10_000, from = 0) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = messages.slice(from).find(pred);
        if (hit) return hit;
        if (done) throw new Error(`stream ended without the expected event; got ${JSON.stringify(messages.map((m) => m.type))}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no expected event in ${ms} ms; got ${JSON.stringify(messages.map((m) => m.type))}`);
        await new Promise<void>((res) => {
          const t = setTimeout(res, left);
          wake = () => {
            clearTimeout(t);
            res();
          };
        });
      }
    },
    close() {
      abort.abort();
    },
  };
}
