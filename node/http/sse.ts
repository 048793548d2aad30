/**
 * Server-sent events framing (WHATWG HTML, "Server-sent events") over a
 * StreamSink: event blocks, keep-alive comments and the reconnect hint.
 */
import type { StreamSink } from './context.ts';

/** `x-accel-buffering: no` stops nginx from holding events back in its proxy buffer. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

export interface SseOptions {
  /** Reconnect delay an EventSource uses after a drop. Default 3 s, the browsers' own default made explicit. */
  retryMs?: number;
  /** Comment line sent this often so proxies and load balancers do not reap an idle stream. Default 15 s (under nginx's 60 s read timeout). */
  keepAliveMs?: number;
}

/** One event block; every line of `data` gets its own `data:` field, since a line break ends a field. */
export function sseEvent(event: string, data: string, id?: string): string {
  let out = id === undefined ? `event: ${event}\n` : `id: ${id}\nevent: ${event}\n`;
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

export const SSE_PING = ': ping\n\n';

/** Start an SSE body: the retry hint now, then keep-alive comments until the sink closes. */
export function openSse(sink: StreamSink, opts: SseOptions = {}): void {
  sink.write(`retry: ${opts.retryMs ?? 3_000}\n\n`);
  const timer = setInterval(() => sink.write(SSE_PING), opts.keepAliveMs ?? 15_000);
  timer.unref();
  sink.onClose(() => clearInterval(timer));
}
