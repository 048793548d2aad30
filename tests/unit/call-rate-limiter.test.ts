import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallRateLimiter } from '../../node/invoke/call-rate-limiter.ts';

test('call rate limiter - counts per function and address in one-minute windows and says how long to wait', () => {
  const l = new CallRateLimiter();
  const t0 = 1_000_000;
  assert.equal(l.take('f', 'a', 2, t0), 0);
  assert.equal(l.take('f', 'a', 2, t0 + 1000), 0);
  assert.equal(l.take('f', 'a', 2, t0 + 15_000), 45);
  // Another address and another function have their own budgets.
  assert.equal(l.take('f', 'b', 2, t0 + 15_000), 0);
  assert.equal(l.take('g', 'a', 2, t0 + 15_000), 0);
  // Past the end of the window the caller is served again.
  assert.equal(l.take('f', 'a', 2, t0 + 59_999), 1);
  assert.equal(l.take('f', 'a', 2, t0 + 60_000), 0);
});

test('call rate limiter - a refused call does not use up the next window', () => {
  const l = new CallRateLimiter();
  assert.equal(l.take('f', 'a', 1, 0), 0);
  for (let n = 0; n < 100; n++) assert.ok(l.take('f', 'a', 1, 1000 + n) > 0);
  assert.equal(l.take('f', 'a', 1, 60_000), 0);
});
