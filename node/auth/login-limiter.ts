/**
 * Slows password guessing: after 10 failed logins for one username or one
 * client address within 15 minutes, further attempts get 429 RATE_LIMITED
 * until the window passes. In memory and per node, on purpose: it costs no
 * write, and an attacker spreading over nodes still meets each node's limit.
 */
import type { Clock } from '../../actors/clock.ts';
import { OrvaError } from '../../protocol/errors.ts';

const MAX_FAILURES = 10;
const WINDOW_MS = 15 * 60_000;

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: Clock) {}

  check(username: string, address: string): void {
    const now = this.clock.now();
    for (const k of [`u:${username}`, `a:${address}`]) {
      const recent = this.recent(k, now);
      if (recent.length >= MAX_FAILURES) {
        const retry = Math.ceil((recent[0] + WINDOW_MS - now) / 1000);
        throw new OrvaError('RATE_LIMITED', 'too many failed logins; wait before trying again', undefined, { retryAfterS: retry });
      }
    }
  }

  fail(username: string, address: string): void {
    const now = this.clock.now();
    for (const k of [`u:${username}`, `a:${address}`]) {
      const recent = this.recent(k, now);
      recent.push(now);
      this.failures.set(k, recent);
    }
    // Bound memory under a spray of usernames.
    if (this.failures.size > 100_000) this.failures.clear();
  }

  succeed(username: string): void {
    this.failures.delete(`u:${username}`);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - WINDOW_MS);
  }
}
