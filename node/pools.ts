/**
 * The node's pools: one FunctionSupervisor per function, created on first
 * use. Reacts to registry changes — drains a pool when what its workers are
 * spawned from changed, stops it when the function is deleted. Owns the
 * node's Evictor: every pool's spawns ask it for memory, and it evicts idle
 * workers across all pools when the budget is full.
 */
import type { Logger } from 'pino';
import type { Clock } from '../actors/clock.ts';
import { type EvictionCandidate, FunctionSupervisor, type PoolEvent, type PoolLimits } from '../actors/function-supervisor.ts';
import { OrvaError } from '../protocol/errors.ts';
import type { Artifacts } from './artifacts.ts';
import { type Claim, Evictor } from './sandbox/eviction.ts';
import type { FunctionEntry, FunctionRegistry } from './registry.ts';
import type { SandboxDriver, SpawnSpec } from './sandbox/driver.ts';
import { type SecretBox, secretSlot } from './secret-box.ts';
import type { Store } from './store/store.ts';
import { type PoolConfig, SIGNING_SECRET } from '../protocol/schemas.ts';

/** The worker spec of a function, minus where its code lives. */
export function spawnSpecOf(entry: FunctionEntry): Omit<SpawnSpec, 'codeDir'> {
  const { row } = entry;
  return {
    runtime: row.runtime,
    entrypoint: row.entrypoint,
    // env_vars and secret names may not start with ORVA_ (validated), so these are always the platform's.
    env: { ...entry.env, ORVA_FUNCTION_ID: row.id, ORVA_ENTRYPOINT: row.entrypoint },
    memoryMb: row.memory_mb,
    cpus: row.cpus,
    networkMode: row.network_mode,
  };
}

export interface PoolsDeps {
  registry: FunctionRegistry;
  artifacts: Artifacts;
  driver: SandboxDriver;
  store: Store;
  secretBox: SecretBox;
  /** pool_config for functions that have no row. */
  defaults: PoolConfig;
  /** Node-level limits of the wait queue. */
  queue: { timeoutMs: number; max: number };
  clock: Clock;
  log: Logger;
}

export class Pools {
  private readonly supervisors = new Map<string, FunctionSupervisor>();
  private readonly listeners: Array<(e: PoolEvent) => void> = [];
  private readonly evictor: Evictor;

  constructor(private readonly d: PoolsDeps) {
    this.evictor = new Evictor({
      budget: d.driver.memoryBudget,
      candidates: (exclude) => {
        const all: EvictionCandidate[] = [];
        for (const [id, sup] of this.supervisors) if (id !== exclude) all.push(...sup.evictable());
        return all;
      },
    });
    d.registry.onChange(({ id, before, after }) => {
      const sup = this.supervisors.get(id);
      if (!after) {
        // Calls already running finish (their own timeout bounds them); queued ones find the function gone.
        this.supervisors.delete(id);
        void sup?.stop(before?.row.timeout_ms ?? 0, new OrvaError('NOT_FOUND', `function ${id} was deleted`, { function_id: id }));
      } else if (sup && before?.spawnKey !== after.spawnKey) sup.drain();
      else if (sup) sup.reconfigure();
      else this.prewarm(after);
    });
    for (const entry of d.registry.all()) this.prewarm(entry);
  }

  /** A function with min_warm gets its pool before the first call. */
  private prewarm(entry: FunctionEntry): void {
    if (entry.row.code_hash && (entry.pool?.min_warm ?? 0) > 0) this.get(entry.row.id);
  }

  onEvent(listener: (e: PoolEvent) => void): void {
    this.listeners.push(listener);
  }

  get(functionId: string): FunctionSupervisor {
    let sup = this.supervisors.get(functionId);
    if (!sup) {
      sup = new FunctionSupervisor({
        functionId,
        driver: this.d.driver,
        spec: () => this.spec(functionId),
        limits: () => this.limits(functionId),
        admit: (claim) => this.evictor.admit(claim),
        clock: this.d.clock,
        log: this.d.log,
        onEvent: (e) => {
          for (const l of this.listeners) l(e);
        },
      });
      this.supervisors.set(functionId, sup);
    }
    return sup;
  }

  stats(): Record<string, ReturnType<FunctionSupervisor['stats']>> {
    return Object.fromEntries([...this.supervisors].map(([id, s]) => [id, s.stats()]));
  }

  /** Memory for a sandbox outside the pools (a build's): evicts idle workers like a call's spawn. */
  admit(claim: Claim): void {
    this.evictor.admit(claim);
  }

  async stop(graceMs: number): Promise<void> {
    this.evictor.stop(new OrvaError('SHUTTING_DOWN', 'this node is shutting down'));
    await Promise.all([...this.supervisors.values()].map((s) => s.stop(graceMs)));
    this.supervisors.clear();
  }

  /** The function's pool_config (or the defaults) as supervisor limits. */
  private limits(functionId: string): PoolLimits {
    const entry = this.d.registry.get(functionId);
    const c = entry?.pool ?? this.d.defaults;
    return {
      maxWorkers: c.max_warm,
      // Without scale-to-zero a used function keeps one warm worker.
      minWarm: c.scale_to_zero ? c.min_warm : Math.max(c.min_warm, 1),
      targetConcurrency: c.target_concurrency,
      idleTtlMs: c.idle_ttl_seconds * 1000,
      queueTimeoutMs: this.d.queue.timeoutMs,
      // A caller never waits for a busy worker longer than the function may run.
      capacityWaitMs: Math.min(this.d.queue.timeoutMs, entry?.row.timeout_ms ?? Infinity),
      queueMax: this.d.queue.max,
    };
  }

  /** The spawn spec of the active version: code materialised here, secrets decrypted into the env. */
  private async spec(functionId: string): Promise<SpawnSpec> {
    const entry = this.d.registry.get(functionId);
    if (!entry?.row.code_hash) throw new OrvaError('NOT_FOUND', `function ${functionId} has no active version`);
    const codeDir = await this.d.artifacts.materialize(functionId, entry.row.code_hash);
    const spec = spawnSpecOf(entry);
    for (const s of this.d.store.secrets(functionId)) {
      // It verifies callers at the ingress; the handler has no use for it.
      if (s.key !== SIGNING_SECRET) spec.env[s.key] = this.d.secretBox.decrypt(secretSlot(functionId, s.key), s.ciphertext);
    }
    return { ...spec, codeDir };
  }
}
