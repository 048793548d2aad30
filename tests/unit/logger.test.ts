import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../node/logger.ts';

// A destination that keeps every JSON line pino writes.
function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, stream };
}

test('logger - credentials in logged objects are redacted', async () => {
  const { lines, stream } = capture();
  createLogger('info', 'n-test', stream).info({ headers: { 'x-orva-api-key': 'orva_secret', cookie: 'session_token=s' }, body: { password: 'p', value: 'v' } }, 'x');
  await new Promise((r) => setImmediate(r));
  assert.doesNotMatch(JSON.stringify(lines), /orva_secret|session_token=s|"p"|"v"/);
});
