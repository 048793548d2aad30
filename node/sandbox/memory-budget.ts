/**
 * The host-wide memory reservation budget: the sum of the cgroup memory
 * limits of live workers may not pass a fraction (80 %) of the host's RAM.
 * The limits are what each worker *may* use, so a flood of spawns is refused
 * up front (503 MEMORY_EXHAUSTED, Retry-After 30) instead of overcommitting
 * the host until its own OOM killer picks a victim — possibly the node.
 * When it is full, the node's Evictor (node/sandbox/eviction.ts) makes room by
 * stopping idle workers; the budget itself only counts.
 */
import { totalmem } from 'node:os';
import { OrvaError } from '../../protocol/errors.ts';

/** The cgroup memory limit over memory_mb: headroom for the runtime itself, /tmp pages and the network helper. */
export const MEMORY_LIMIT_FACTOR = 1.5;

/** What one worker of a `memoryMb` function reserves: its cgroup memory limit, in whole MiB. */
export function workerLimitBytes(memoryMb: number): number {
  return Math.ceil(memoryMb * MEMORY_LIMIT_FACTOR) * 1024 * 1024;
}

export interface MemoryBudgetOptions {
  /** Default os.totalmem(); injectable for tests. */
  totalBytes?: number;
  /** Default 0.8: the node, the page cache and the kernel keep the rest. */
  fraction?: number;
}

const mb = (n: number) => Math.round(n / 2 ** 20);

export class MemoryBudget {
  readonly limitBytes: number;
  #reserved = 0;
  readonly #releaseListeners: Array<() => void> = [];

  constructor(options: MemoryBudgetOptions = {}) {
    this.limitBytes = Math.floor((options.totalBytes ?? totalmem()) * (options.fraction ?? 0.8));
  }

  get reservedBytes(): number {
    return this.#reserved;
  }

  /** Whether `bytes` more can be reserved now. */
  fits(bytes: number): boolean {
    return this.#reserved + bytes <= this.limitBytes;
  }

  /** Called (synchronously) each time a reservation is given back. */
  onRelease(listener: () => void): void {
    this.#releaseListeners.push(listener);
  }

  /** The MEMORY_EXHAUSTED refusal of `bytes` more, saying how full the budget is. */
  exhausted(bytes: number, why = ''): OrvaError {
    return new OrvaError('MEMORY_EXHAUSTED', `the host memory budget is used up: ${mb(this.#reserved)} of ${mb(this.limitBytes)} MiB reserved, ${mb(bytes)} MiB more requested${why}`, {
      reserved_mb: mb(this.#reserved), budget_mb: mb(this.limitBytes), requested_mb: mb(bytes),
    });
  }

  /** Reserves `bytes` or throws MEMORY_EXHAUSTED; the returned function gives it back (idempotent). */
  reserve(bytes: number): () => void {
    if (!this.fits(bytes)) throw this.exhausted(bytes);
    this.#reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#reserved -= bytes;
      for (const l of this.#releaseListeners) l();
    };
  }
}
