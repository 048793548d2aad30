/**
 * The host-wide memory reservation budget: the sum of the cgroup memory
 * limits of live workers may not pass a fraction (80 %) of the host's RAM.
 * The limits are what each worker *may* use, so a flood of spawns is refused
 * up front (503 MEMORY_EXHAUSTED, Retry-After 30) instead of overcommitting
 * the host until its own OOM killer picks a victim — possibly the node.
 */
import { totalmem } from 'node:os';
import { OrvaError } from '../../protocol/errors.ts';

export interface MemoryBudgetOptions {
  /** Default os.totalmem(); injectable for tests. */
  totalBytes?: number;
  /** Default 0.8: the node, the page cache and the kernel keep the rest. */
  fraction?: number;
}

export class MemoryBudget {
  readonly limitBytes: number;
  #reserved = 0;

  constructor(options: MemoryBudgetOptions = {}) {
    this.limitBytes = Math.floor((options.totalBytes ?? totalmem()) * (options.fraction ?? 0.8));
  }

  get reservedBytes(): number {
    return this.#reserved;
  }

  /** Reserves `bytes` or throws MEMORY_EXHAUSTED; the returned function gives it back (idempotent). */
  reserve(bytes: number): () => void {
    if (this.#reserved + bytes > this.limitBytes) {
      const mb = (n: number) => Math.round(n / 2 ** 20);
      throw new OrvaError('MEMORY_EXHAUSTED', `the host memory budget is used up: ${mb(this.#reserved)} of ${mb(this.limitBytes)} MiB reserved, ${mb(bytes)} MiB more requested`, {
        reserved_mb: mb(this.#reserved), budget_mb: mb(this.limitBytes), requested_mb: mb(bytes),
      });
    }
    this.#reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#reserved -= bytes;
    };
  }
}
