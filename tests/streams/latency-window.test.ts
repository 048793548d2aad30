/** The recent-window percentile tracker behind metrics.json; no node needed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyWindow } from '../../node/metrics.ts';

test('latency window - nearest-rank p50/p95/p99 over the samples of the window', () => {
  const w = new LatencyWindow(1000);
  for (let ms = 1; ms <= 100; ms++) w.push(ms, 10_000);
  assert.deepEqual(w.summary(10_000, 60_000), { window_s: 60, samples: 100, p50: 50, p95: 95, p99: 99 });
});

test('latency window - samples older than the window and beyond the capacity are left out; empty gives nulls', () => {
  const w = new LatencyWindow(4);
  assert.deepEqual(w.summary(0, 1000), { window_s: 1, samples: 0, p50: null, p95: null, p99: null });
  w.push(500, 0);
  for (const ms of [1, 2, 3, 4, 5]) w.push(ms, 5_000);
  assert.deepEqual(w.summary(5_000, 1000), { window_s: 1, samples: 4, p50: 3, p95: 5, p99: 5 });
  assert.equal(w.summary(7_000, 1000).samples, 0);
});
