/**
 * `rate_limit_per_min`: calls per minute per client address, counted on
 * this node in fixed one-minute windows (memory only: no coordination per
 * call, so in a cluster each node enforces the limit on the calls it gets).
 */
const WINDOW_MS = 60_000;

interface Window {
  start: number;
  count: number;
}

export class CallRateLimiter {
  private readonly windows = new Map<string, Window>();
  private lastSweep = 0;

  /**
   * Counts one call of `functionId` from `address`; returns 0 when it may
   * run, or the seconds until the caller's window opens again.
   */
  take(functionId: string, address: string, limit: number, nowMs: number): number {
    this.sweep(nowMs);
    const key = `${functionId} ${address}`;
    let w = this.windows.get(key);
    if (w === undefined || nowMs - w.start >= WINDOW_MS) {
      w = { start: nowMs, count: 0 };
      this.windows.set(key, w);
    }
    if (w.count >= limit) return Math.max(1, Math.ceil((w.start + WINDOW_MS - nowMs) / 1000));
    w.count += 1;
    return 0;
  }

  /** Once a minute, forget windows that ended: the map holds only the last minute's callers. */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweep < WINDOW_MS) return;
    this.lastSweep = nowMs;
    for (const [key, w] of this.windows) if (nowMs - w.start >= WINDOW_MS) this.windows.delete(key);
  }
}
