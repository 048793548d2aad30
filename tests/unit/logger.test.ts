import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, inRequest } from '../../node/logger.ts';

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

test('logger - every line written inside a request, even after awaits deep down, carries its reqId; lines outside carry none', async () => {
  const { lines, stream } = capture();
  const log = createLogger('info', 'n-test', stream);
  log.info('before');
  await inRequest('req_abc1', async () => {
    log.info('sync');
    await new Promise((r) => setTimeout(r, 5));
    await Promise.resolve().then(() => log.child({ component: 'meta' }).warn('deep'));
  });
  log.info('after');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines.map((l) => [l.msg, l.reqId]), [['before', undefined], ['sync', 'req_abc1'], ['deep', 'req_abc1'], ['after', undefined]]);
});

test('logger - credentials in logged objects are redacted', async () => {
  const { lines, stream } = capture();
  createLogger('info', 'n-test', stream).info({ headers: { 'x-orva-api-key': 'orva_secret', cookie: 'orva_session=s' }, body: { password: 'p', value: 'v' } }, 'x');
  await new Promise((r) => setImmediate(r));
  assert.doesNotMatch(JSON.stringify(lines), /orva_secret|orva_session=s|"p"|"v"/);
});
