import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import type { StreamSink } from '../../node/http/context.ts';
import { HttpServer } from '../../node/http/server.ts';

test('streams - a client that never reads is dropped by the ingress instead of being buffered without bound', async () => {
  const server = new HttpServer({ host: '127.0.0.1', port: 0, bodyLimitBytes: 1024, log: pino({ level: 'silent' }) });
  const chunk = 'x'.repeat(64 * 1024);
  let sent = 0;
  let dropped: Promise<void> = Promise.resolve();
  server.handle('/*', () => ({
    headers: { 'content-type': 'text/event-stream' },
    stream: (sink: StreamSink) => {
      dropped = new Promise((resolve) => sink.onClose(resolve));
      // 4,000 × 64 KiB = 250 MiB: far more than any socket buffer; the sink must give up long before.
      for (; sent < 4000 && sink.write(chunk); sent++);
    },
  }));
  const port = await server.listen();
  const client = connect(port, '127.0.0.1');
  client.pause(); // a consumer that reads nothing
  client.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.on('error', () => {});
  await dropped;
  assert.ok(sent < 4000, `the ingress accepted all ${sent} chunks for a client that reads nothing`);
  client.resume(); // drain so the close arrives
  await closed;
  await server.close(100);
});
