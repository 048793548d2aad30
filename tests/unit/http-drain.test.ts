import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { HttpServer } from '../../node/http/server.ts';

/** Sends `request` on a fresh connection, then drops it. */
async function sendAndDrop(port: number, request: string): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.write(request, () => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 100));
  sock.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

// A graceful close waits for the requests in flight, up to its grace. Requests whose body never
// completes must not count as in flight forever: before, each one made every later stop wait
// out the whole grace (30 s on a node).
test('http - requests whose body never completes (client gone mid-upload, framing uWS refuses) do not hold up a graceful close', { timeout: 20_000 }, async () => {
  const server = new HttpServer({ host: '127.0.0.1', port: 0, bodyLimitBytes: 1024 * 1024, log: pino({ level: 'silent' }) });
  let handled = 0;
  server.handle('/*', () => {
    handled++;
    return { json: { ok: true } };
  });
  const port = await server.listen();
  await sendAndDrop(port, 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789');
  await sendAndDrop(port, 'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nxyz');
  await sendAndDrop(port, 'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel');
  assert.equal(handled, 0, 'no handler ran for an incomplete body');
  // A grace far beyond the test's timeout: only a close that waits for nothing finishes in time.
  await server.close(60_000);
});
