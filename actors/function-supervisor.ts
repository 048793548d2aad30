/**
 * FunctionSupervisor — owns one function's warm pool on this node.
 *
 * Contract with its parent (the node's Pools):
 *  1. Created lazily on the first call (or for min_warm); stopped when the
 *     function is deleted or the node stops.
 *  2. `acquire` hands out an idle worker of the current generation, or
 *     queues the caller (bounded count, bounded wait) while it spawns one,
 *     never exceeding `maxWorkers`. A wait that times out is POOL_AT_CAPACITY.
 *  3. `release` returns a worker; one of an older generation is retired.
 *  4. `drain` starts a new generation (new deployment, secret, env, limits,
 *     network mode): idle workers die now, busy ones after their call, so
 *     in-flight calls finish on the old code and no call fails.
 *  5. Spawn failures back off exponentially; a load error fails the waiting
 *     calls instead of spinning; a sandbox that fails to start is tried
 *     SANDBOX_START_ATTEMPTS times before they fail.
 *  6. Every spawn asks the parent for memory first (`admit`): a spawn a
 *     waiting call needs may evict idle workers of other pools; a warm-up
 *     (min_warm, the autoscaler) only takes free room and is skipped
 *     quietly without it, until the next tick.
 *  7. `evictable` offers the parent its idle workers, `keptWarm` on those
 *     min_warm holds; the parent stops the ones it chooses for another
 *     function's call (an `evicted` event).
 *
 * State: idle stack (LIFO keeps hot workers hot), busy set, starting count,
 * FIFO wait queue, generation. Why methods, not a mailbox: every transition
 * here is synchronous on the one event loop, so a mailbox hop per call would
 * add latency to the hot path without adding safety.
 * Events sent: PoolEvent to the parent's listener (metrics, SSE, UI).
 */
import type { Logger } from 'pino';
import { OrvaError } from '../protocol/errors.ts';
import type { Claim } from '../node/sandbox/eviction.ts';
import type { SandboxDriver, SpawnSpec } from '../node/sandbox/driver.ts';
import { workerLimitBytes } from '../node/sandbox/memory-budget.ts';
import type { Clock } from './clock.ts';
import { SANDBOX_START_ATTEMPTS, Worker } from './worker.ts';

export interface PoolLimits {
  /** Ceiling of workers for this function on this node. */
  maxWorkers: number;
  /** Workers kept warm (pre-spawned) while the function exists. */
  minWarm: number;
  /** Longest a caller waits for a worker before POOL_AT_CAPACITY. */
  queueTimeoutMs: number;
  /**
   * Longest a caller waits for a busy worker to come free (at most
   * queueTimeoutMs): the function's timeout_ms, as a caller should not
   * queue longer than the function may run. A caller with a sandbox
   * starting for it waits for that cold start up to queueTimeoutMs.
   */
  capacityWaitMs: number;
  /** Most callers allowed to wait at once; beyond it POOL_AT_CAPACITY at once. */
  queueMax: number;
  /** Idle workers above the autoscaler's desired count die after this long unused. */
  idleTtlMs: number;
  /** Calls in flight (running or waiting) the pool aims to serve per worker; 1 = a worker per concurrent call. */
  targetConcurrency: number;
}

export type PoolEvent =
  | { type: 'worker-spawned'; functionId: string; workerId: number; coldStartMs: number }
  | { type: 'worker-exited'; functionId: string; workerId: number }
  | { type: 'spawn-failed'; functionId: string; error: string }
  | { type: 'drained'; functionId: string; generation: number }
  /** The autoscaler changed its desired worker count. */
  | { type: 'scaled'; functionId: string; desired: number; live: number; panic: boolean; concurrency: number }
  /**
   * An idle worker was stopped to make memory room for a call of `forFunctionId`.
   * `idleMs`: how long it had been unused; `keptWarm`: it was held for min_warm.
   */
  | { type: 'evicted'; functionId: string; workerId: number; forFunctionId: string; idleMs: number; keptWarm: boolean };

/** An idle worker offered for eviction (see node/sandbox/eviction.ts). */
export interface EvictionCandidate {
  functionId: string;
  /** Its memory reservation, given back when its process has exited. */
  bytes: number;
  lastUsedMs: number;
  /** Held for its function's min_warm (or scale_to_zero: false): evicted only after every other idle worker. */
  keptWarm: boolean;
  /** Stops it for a call of `forFunctionId`; `gone` runs once its process has exited and its reservation is back. */
  evict(forFunctionId: string, gone: () => void): void;
}

export interface Lease {
  worker: Worker;
  /** The call waited for a sandbox to start. */
  coldStart: boolean;
}

interface Waiter {
  resolve(lease: Lease): void;
  reject(err: Error): void;
  /** Clock time past which the call gives up with POOL_AT_CAPACITY while no sandbox is starting for it. */
  deadline: number;
  /** Clock time past which it gives up in any case. */
  lastDeadline: number;
}

export interface SupervisorDeps {
  functionId: string;
  driver: SandboxDriver;
  /** Builds the spawn spec of the current version (materialising its code on this node if needed). */
  spec: () => Promise<SpawnSpec>;
  limits: () => PoolLimits;
  /** Memory for a new worker: the node's Evictor (node/sandbox/eviction.ts) runs `start` once the budget has room, or refuses. */
  admit: (claim: Claim) => void;
  clock: Clock;
  log: Logger;
  onEvent: (e: PoolEvent) => void;
}

const shuttingDown = () => new OrvaError('SHUTTING_DOWN', 'this node is shutting down');

export class FunctionSupervisor {
  private readonly idle: Worker[] = [];
  private readonly busy = new Set<Worker>();
  /** Each live worker's memory reservation, for the Evictor's arithmetic. */
  private readonly reservations = new Map<Worker, number>();
  private starting = 0;
  /** FIFO; every waiter gets the same queue timeout, so it is also in deadline order. */
  private readonly waiters: Waiter[] = [];
  /** The one timer of the queue, set for its oldest waiter's deadline. */
  private expiry: unknown = null;
  private generation = 1;
  private spawnFailures = 0;
  private spawnBlockedUntil = 0;
  private stopped = false;
  private ticker: unknown = null;
  /** Observed concurrency (busy + waiting), one sample per tick, newest last. */
  private readonly samples: number[] = [];
  private desired = 0;
  private panicUntil = 0;

  constructor(private readonly d: SupervisorDeps) {
    this.scheduleTick();
    this.ensureMinWarm();
  }

  stats(): { idle: number; busy: number; starting: number; waiting: number } {
    return { idle: this.idle.length, busy: this.busy.size, starting: this.starting, waiting: this.waiters.length };
  }

  acquire(): Promise<Lease> {
    if (this.stopped) return Promise.reject(shuttingDown());
    const w = this.idle.pop();
    if (w) {
      this.busy.add(w);
      return Promise.resolve({ worker: w, coldStart: false });
    }
    const limits = this.d.limits();
    if (this.waiters.length >= limits.queueMax) return Promise.reject(this.atCapacity(limits));
    return new Promise<Lease>((resolve, reject) => {
      const now = this.d.clock.now();
      this.waiters.push({ resolve, reject, deadline: now + limits.capacityWaitMs, lastDeadline: now + limits.queueTimeoutMs });
      // Spawn first: a caller with a sandbox starting for it is held to its last deadline only.
      this.maybeSpawn();
      this.armExpiry();
    });
  }

  release(w: Worker): void {
    this.busy.delete(w);
    if (!w.usable) {
      this.maybeSpawn();
      return;
    }
    if (w.generation !== this.generation || this.stopped) {
      w.kill();
      this.maybeSpawn();
      return;
    }
    this.handOut(w, false);
  }

  /** Start a new generation: old workers retire as soon as they are idle. */
  drain(): void {
    this.generation += 1;
    this.spawnFailures = 0;
    this.spawnBlockedUntil = 0;
    for (const w of this.idle.splice(0)) w.kill();
    this.d.onEvent({ type: 'drained', functionId: this.d.functionId, generation: this.generation });
    this.maybeSpawn();
    this.ensureMinWarm();
  }

  /** The limits changed (pool_config): reach a new min_warm now rather than at the next tick. */
  reconfigure(): void {
    this.ensureMinWarm();
    this.maybeSpawn();
  }

  /**
   * The idle workers, for the node to evict when another function's call
   * needs memory. min_warm holds the most recently used ones (the top of
   * the stack, next to be handed out); the older ones beneath are plain
   * candidates. Busy and starting workers count towards min_warm too.
   */
  evictable(): EvictionCandidate[] {
    const { minWarm, maxWorkers } = this.d.limits();
    const spare = this.live() - Math.min(minWarm, maxWorkers);
    return this.idle.map((w, i) => ({
      functionId: this.d.functionId,
      bytes: this.reservations.get(w) ?? 0,
      lastUsedMs: w.lastUsedMs,
      keptWarm: i >= spare,
      evict: (forFunctionId: string, gone: () => void) => this.evict(w, forFunctionId, gone, i >= spare),
    }));
  }

  /**
   * Graceful: refuse new calls and fail the queued ones with `reason`, let
   * busy calls finish (up to graceMs), then kill everything.
   */
  async stop(graceMs: number, reason = shuttingDown()): Promise<void> {
    this.stopped = true;
    if (this.ticker !== null) this.d.clock.clearTimeout(this.ticker);
    if (this.expiry !== null) this.d.clock.clearTimeout(this.expiry);
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason);
    for (const w of this.idle.splice(0)) w.kill();
    const deadline = this.d.clock.now() + graceMs;
    while (this.busy.size > 0 && this.d.clock.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const w of this.busy) w.kill();
  }

  /**
   * One timer for the whole queue rather than one per queued call: queued
   * calls are the norm under load. The oldest `starting` callers each have
   * a sandbox starting that will be theirs (FIFO), so they are held to
   * their last deadline only; the first caller after them to its deadline.
   * Both are in queue order, so the earlier of the two is the next expiry.
   */
  private armExpiry(): void {
    if (this.expiry !== null) return;
    const covered = Math.min(this.starting, this.waiters.length);
    const next = Math.min(covered > 0 ? this.waiters[0]!.lastDeadline : Infinity, this.waiters[covered]?.deadline ?? Infinity);
    if (next === Infinity) return;
    this.expiry = this.d.clock.setTimeout(() => this.expire(), Math.max(0, next - this.d.clock.now()));
  }

  /** The count of starting sandboxes fell: a caller may have lost the one it waited for, and with it the cold-start allowance. */
  private rearmExpiry(): void {
    if (this.expiry !== null) this.d.clock.clearTimeout(this.expiry);
    this.expiry = null;
    this.armExpiry();
  }

  private expire(): void {
    this.expiry = null;
    const now = this.d.clock.now();
    const covered = this.starting;
    const gone: Waiter[] = [];
    let i = 0;
    for (const w of this.waiters.splice(0)) {
      if ((i++ < covered ? w.lastDeadline : w.deadline) <= now) gone.push(w);
      else this.waiters.push(w);
    }
    const err = gone.length > 0 ? this.atCapacity(this.d.limits()) : null;
    for (const w of gone) w.reject(err!);
    this.armExpiry();
  }

  private atCapacity(limits: PoolLimits): OrvaError {
    return new OrvaError('POOL_AT_CAPACITY', `function pool at capacity for ${this.d.functionId}`, {
      function_id: this.d.functionId,
      current: this.busy.size + this.starting,
      limit: limits.maxWorkers,
    });
  }

  private handOut(w: Worker, cold: boolean): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.busy.add(w);
      waiter.resolve({ worker: w, coldStart: cold });
      return;
    }
    this.idle.push(w);
  }

  /**
   * Spawn while callers wait for more workers than are starting and the
   * calls in flight exceed what the live workers serve at the target
   * concurrency — never past the ceiling.
   */
  private maybeSpawn(): void {
    const limits = this.d.limits();
    while (
      !this.stopped &&
      this.waiters.length > this.starting &&
      this.live() < limits.maxWorkers &&
      (this.live() === 0 || this.busy.size + this.waiters.length > this.live() * limits.targetConcurrency)
    ) {
      if (this.d.clock.now() < this.spawnBlockedUntil) {
        this.d.clock.setTimeout(() => this.maybeSpawn(), this.spawnBlockedUntil - this.d.clock.now());
        return;
      }
      this.spawn(true);
    }
  }

  private ensureMinWarm(): void {
    const { minWarm, maxWorkers } = this.d.limits();
    for (let n = this.live(); n < Math.min(minWarm, maxWorkers) && !this.stopped; n++) this.spawn(false);
  }

  private live(): number {
    let current = 0;
    for (const w of this.idle) if (w.generation === this.generation) current++;
    for (const w of this.busy) if (w.generation === this.generation) current++;
    return current + this.starting;
  }

  /** `forCall`: a waiting call needs this worker, so it may evict; otherwise it is a warm-up. */
  private spawn(forCall: boolean): void {
    this.starting += 1;
    const generation = this.generation;
    const started = this.d.clock.now();
    void this.d
      .spec()
      .then((spec) => this.admitted(spec, generation, forCall))
      .then(async (w) => {
        await w.ready;
        return w;
      })
      .then(
        (w) => {
          this.starting -= 1;
          this.spawnFailures = 0;
          this.d.onEvent({ type: 'worker-spawned', functionId: this.d.functionId, workerId: w.id, coldStartMs: this.d.clock.now() - started });
          if (this.stopped || generation !== this.generation) {
            w.kill();
            this.maybeSpawn();
            this.rearmExpiry();
            return;
          }
          this.handOut(w, true);
          this.rearmExpiry();
        },
        (err: Error & { loadError?: boolean }) => {
          this.starting -= 1;
          if (this.stopped) return;
          this.rearmExpiry();
          if (!forCall && err instanceof OrvaError && err.code === 'MEMORY_EXHAUSTED') {
            // A warm-up without free room is no failure of the function: the next tick tries again, and
            // calls that began waiting for this spawn meanwhile get spawns of their own, which may evict.
            this.maybeSpawn();
            return;
          }
          this.spawnFailures += 1;
          this.spawnBlockedUntil = this.d.clock.now() + Math.min(5_000, 100 * 2 ** (this.spawnFailures - 1));
          this.d.onEvent({ type: 'spawn-failed', functionId: this.d.functionId, error: err.message });
          this.d.log.warn({ err, fn: this.d.functionId, failures: this.spawnFailures }, 'worker spawn failed');
          // A handler that cannot load, or a host out of memory budget, fails its callers now rather than after the queue timeout.
          const failure =
            err instanceof OrvaError
              ? err
              : err.loadError
                ? new OrvaError('WORKER_CRASHED', `the handler failed to load: ${err.name}: ${err.message}`, { function_id: this.d.functionId })
                : new OrvaError('SANDBOX_ERROR', `the sandbox could not start: ${err.message}`, { function_id: this.d.functionId });
          // Calls still have a worker to wait for while the pool has live ones, or while a sandbox that
          // failed to start (bwrap's own setup fails now and then) gets its few retries; otherwise they fail now.
          if (this.live() > 0) return;
          if (failure.code === 'SANDBOX_ERROR' && this.spawnFailures < SANDBOX_START_ATTEMPTS) {
            this.maybeSpawn();
            return;
          }
          for (const waiter of this.waiters.splice(0, Math.max(0, this.waiters.length - this.starting))) waiter.reject(failure);
        },
      );
  }

  /** The worker, started once the node's memory budget has room for it. */
  private admitted(spec: SpawnSpec, generation: number, forCall: boolean): Promise<Worker> {
    const bytes = workerLimitBytes(spec.memoryMb);
    return new Promise<Worker>((resolve, reject) => {
      this.d.admit({
        functionId: this.d.functionId,
        bytes,
        evict: forCall,
        // Synchronous, in the turn the room was found: the driver reserves it before anything else can.
        start: () => {
          // A claim that waited for evictions may find its pool stopped (function deleted, node stopping).
          if (this.stopped) return reject(shuttingDown());
          try {
            const w = new Worker(this.d.driver, spec, generation, this.d.clock);
            this.reservations.set(w, bytes);
            w.onExit(() => this.exited(w));
            resolve(w);
          } catch (err) {
            reject(err);
          }
        },
        refuse: reject,
      });
    });
  }

  private evict(w: Worker, forFunctionId: string, gone: () => void, keptWarm: boolean): void {
    const i = this.idle.indexOf(w);
    // Candidates are chosen and evicted in one turn, so it is still idle; were it not, it frees nothing.
    if (i < 0) return gone();
    this.idle.splice(i, 1);
    w.onExit(gone);
    w.kill();
    this.d.onEvent({ type: 'evicted', functionId: this.d.functionId, workerId: w.id, forFunctionId, idleMs: this.d.clock.now() - w.lastUsedMs, keptWarm });
  }

  private exited(w: Worker): void {
    this.reservations.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    this.d.onEvent({ type: 'worker-exited', functionId: this.d.functionId, workerId: w.id });
    if (!this.stopped) {
      this.maybeSpawn();
      this.ensureMinWarm();
    }
  }

  /**
   * The autoscaler, Knative-KPA style, once a second: the desired worker count
   * is the observed concurrency over the stable window divided by the target.
   * The stable window is the idle TTL (at most 60 s).
   * A burst whose short-window concurrency reaches twice what the live
   * workers serve enters panic mode: scale to the short-window need at once
   * and do not scale down until the stable window has passed. Idle workers
   * above the desired count (never below minWarm) die after the idle TTL.
   */
  private scheduleTick(): void {
    this.ticker = this.d.clock.setTimeout(() => {
      this.tick();
      if (!this.stopped) this.scheduleTick();
    }, TICK_MS);
  }

  private tick(): void {
    const limits = this.d.limits();
    const now = this.d.clock.now();
    // The stable window is the idle TTL, capped at Knative's 60 s: a short TTL also means a short memory.
    const stableTicks = Math.min(MAX_STABLE_TICKS, Math.max(1, Math.ceil(limits.idleTtlMs / TICK_MS)));
    const panicTicks = Math.min(PANIC_TICKS, stableTicks);
    this.samples.push(this.busy.size + this.waiters.length);
    while (this.samples.length > stableTicks) this.samples.shift();
    const avg = (n: number) => {
      const window = this.samples.slice(-n);
      return window.reduce((a, b) => a + b, 0) / window.length;
    };
    const stable = avg(stableTicks);
    const burst = avg(panicTicks);
    const live = this.live();
    if (burst >= 2 * Math.max(1, live) * limits.targetConcurrency && burst > 0) this.panicUntil = now + stableTicks * TICK_MS;
    const panic = now < this.panicUntil;
    let desired = Math.ceil(stable / limits.targetConcurrency);
    // In panic the pool never shrinks below what it already scaled to.
    if (panic) desired = Math.max(desired, Math.ceil(burst / limits.targetConcurrency), this.desired);
    desired = Math.min(limits.maxWorkers, Math.max(limits.minWarm, desired));
    if (desired !== this.desired) {
      this.desired = desired;
      this.d.onEvent({ type: 'scaled', functionId: this.d.functionId, desired, live, panic, concurrency: Math.round(stable * 100) / 100 });
    }
    for (let n = live; n < desired && !this.stopped; n++) this.spawn(false);
    // Oldest idle first (bottom of the stack).
    let excess = this.live() - desired;
    while (excess > 0 && this.idle.length > 0 && now - this.idle[0].lastUsedMs > limits.idleTtlMs) {
      this.idle.shift()!.kill();
      excess--;
    }
  }
}

const TICK_MS = 1_000;
/** At most a 60 s stable window and a 6 s panic window: Knative's defaults. */
const MAX_STABLE_TICKS = 60;
const PANIC_TICKS = 6;
