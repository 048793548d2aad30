/** Shared assertions for the spine tests: the seed's error envelope and bounded polling. */
import assert from 'node:assert/strict';
import type { CallResult } from './http.ts';

/**
 * Assert an error answer: the status, the code, and the whole envelope contract —
 * a message, a hint, a request_id equal to the X-Request-Id header, and a
 * Retry-After header present exactly when retry_after_s is.
 */
export function assertError(r: CallResult, status: number, code: string): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  const e = r.json?.error;
  assert.ok(e, `no error envelope in: ${r.text}`);
  assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
  assert.equal(typeof e.message, 'string');
  assert.ok(e.message.length > 0, 'empty message');
  assert.equal(typeof e.hint, 'string');
  assert.ok(e.hint.length > 0, 'empty hint');
  assert.equal(typeof e.request_id, 'string');
  assert.equal(e.request_id, r.headers.get('x-request-id'), 'request_id differs from X-Request-Id');
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  const retryHeader = r.headers.get('retry-after');
  if (e.retry_after_s === undefined) assert.equal(retryHeader, null, 'Retry-After without retry_after_s');
  else {
    assert.ok(Number.isInteger(e.retry_after_s) && e.retry_after_s > 0, `bad retry_after_s ${e.retry_after_s}`);
    assert.equal(retryHeader, String(e.retry_after_s), 'Retry-After differs from retry_after_s');
  }
  for (const k of Object.keys(e)) assert.ok(['code', 'message', 'request_id', 'hint', 'retry_after_s', 'details'].includes(k), `unexpected envelope field ${k}`);
}

/** Poll `probe` until it returns a non-undefined value or `ms` passes; then throw with `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
