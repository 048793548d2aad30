/**
 * Eviction: when a call needs a worker and the memory budget is full, stop
 * idle workers of other functions, least recently used first, to make room.
 * A node then holds far more functions than it keeps warm: 503
 * MEMORY_EXHAUSTED only when nothing idle can go.
 *
 * Why here and not in a FunctionSupervisor: the budget is the node's, and
 * the choice is across every pool; each supervisor only offers its idle
 * workers (`EvictionCandidate`) and stops the ones chosen.
 *
 * Why a queue of claims: a victim's reservation comes back only when its
 * process has exited (the driver releases it on `close`), so a spawn that
 * evicted must wait. Two spawns must not count on the same victim, nor a
 * third spawn take the room they wait for: bytes being freed (`freeing`)
 * and bytes promised to waiting claims (`waitingBytes`) are both part of
 * every decision, and only as many bytes as the claim lacks are evicted.
 * A claim's worker is started synchronously (`start`) in the same turn its
 * room is found, so nothing can reserve in between.
 */
import type { EvictionCandidate } from '../../actors/function-supervisor.ts';
import type { OrvaError } from '../../protocol/errors.ts';
import type { MemoryBudget } from './memory-budget.ts';

/** One request for memory: a worker to start once `bytes` fit. */
export interface Claim {
  functionId: string;
  bytes: number;
  /**
   * May stop idle workers of other functions. Only spawns a waiting call
   * needs evict; warm-ups (min_warm, the autoscaler's anticipation) take
   * free room only, so a function that lost its min_warm worker cannot
   * evict its evictor's worker back: no ping-pong between two pools.
   */
  evict: boolean;
  /** Starts the worker; the budget has room for `bytes` when it runs. */
  start(): void;
  refuse(err: OrvaError): void;
}

/**
 * The victims for `needBytes`: idle workers above their function's
 * min_warm first, then those min_warm keeps, each group least recently
 * used first, until enough bytes; null when all of them are not enough
 * (evicting some then would free nothing useful).
 */
export function chooseVictims<C extends Pick<EvictionCandidate, 'bytes' | 'lastUsedMs' | 'keptWarm'>>(candidates: readonly C[], needBytes: number): C[] | null {
  const order = [...candidates].sort((a, b) => Number(a.keptWarm) - Number(b.keptWarm) || a.lastUsedMs - b.lastUsedMs);
  const victims: C[] = [];
  let freed = 0;
  for (const c of order) {
    if (freed >= needBytes) break;
    victims.push(c);
    freed += c.bytes;
  }
  return freed >= needBytes ? victims : null;
}

export interface EvictorDeps {
  budget: MemoryBudget;
  /** Idle workers of every function but `excludeFunctionId` (a pool never evicts its own workers for itself: it would use them). */
  candidates(excludeFunctionId: string): EvictionCandidate[];
}

export class Evictor {
  /** Bytes of evicted workers whose process has not exited yet. */
  private freeing = 0;
  /** Claims waiting for evicted workers to exit, oldest first. */
  private waiting: Claim[] = [];
  private waitingBytes = 0;
  /** A grant is scheduled for the end of the current turn. */
  private granting = false;

  constructor(private readonly d: EvictorDeps) {
    // Any release (an idle TTL, a crash, a drain) may let a waiting claim start early. Deferred to the end of
    // the turn: a spawn that fails gives its reservation back inside BwrapDriver.spawn, where starting
    // another worker would nest one spawn in another.
    d.budget.onRelease(() => {
      if (this.waiting.length === 0 || this.granting) return;
      this.granting = true;
      queueMicrotask(() => {
        this.granting = false;
        this.grant();
      });
    });
  }

  /** Runs `claim.start` now, later (once evicted workers have exited), or refuses it with MEMORY_EXHAUSTED. */
  admit(claim: Claim): void {
    const { budget } = this.d;
    // After every waiting claim and every worker being freed, what this one would leave over the limit.
    const need = budget.reservedBytes + this.waitingBytes + claim.bytes - this.freeing - budget.limitBytes;
    if (need <= 0 && budget.fits(claim.bytes)) return claim.start();
    if (!claim.evict) return claim.refuse(budget.exhausted(claim.bytes, ', and a warm-up evicts nothing'));
    if (need > 0) {
      const victims = chooseVictims(this.d.candidates(claim.functionId), need);
      if (!victims) return claim.refuse(budget.exhausted(claim.bytes, ', and not enough idle workers of other functions to evict'));
      for (const v of victims) {
        this.freeing += v.bytes;
        v.evict(claim.functionId, () => this.gone(v.bytes));
      }
    }
    this.waiting.push(claim);
    this.waitingBytes += claim.bytes;
  }

  /** Refuses every waiting claim: the node is stopping. */
  stop(err: OrvaError): void {
    const claims = this.take();
    for (const c of claims) c.refuse(err);
  }

  /** A victim exited and its reservation is back. */
  private gone(bytes: number): void {
    this.freeing -= bytes;
    this.grant();
    // Every victim is gone and claims still wait: room they counted on was taken (by a reservation that did
    // not come through here). Decide again for each: evict more, or refuse.
    if (this.freeing === 0 && this.waiting.length > 0) for (const c of this.take()) this.admit(c);
  }

  /** Starts the waiting claims that fit now, in order; a smaller one behind a larger one may go first, as its bytes were counted. */
  private grant(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const c = this.waiting[i]!;
      if (!this.d.budget.fits(c.bytes)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.waitingBytes -= c.bytes;
      c.start();
    }
  }

  private take(): Claim[] {
    const claims = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    return claims;
  }
}
