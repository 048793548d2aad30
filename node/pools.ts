/**
 * The node's pools: one FunctionSupervisor per function, created on first
 * use. Reacts to registry changes — drains a pool when what its workers are
 * spawned from changed, stops it when the function is deleted.
 */
import type { Logger } from 'pino';
import type { Clock } from '../actors/clock.ts';
import { FunctionSupervisor, type PoolEvent, type PoolLimits } from '../actors/function-supervisor.ts';
import { OrvaError } from '../protocol/errors.ts';
import type { Artifacts } from './artifacts.ts';
import type { FunctionEntry, FunctionRegistry } from './registry.ts';
import type { SandboxDriver, SpawnSpec } from './sandbox/driver.ts';

/** The worker spec of a function, minus where its code lives. */
export function spawnSpecOf(entry: FunctionEntry): Omit<SpawnSpec, 'codeDir'> {
  const { row } = entry;
  return {
    runtime: row.runtime,
    entrypoint: row.entrypoint,
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
  defaults: PoolLimits;
  clock: Clock;
  log: Logger;
}

export class Pools {
  private readonly supervisors = new Map<string, FunctionSupervisor>();
  private readonly listeners: Array<(e: PoolEvent) => void> = [];

  constructor(private readonly d: PoolsDeps) {
    d.registry.onChange(({ id, before, after }) => {
      const sup = this.supervisors.get(id);
      if (!sup) return;
      if (!after) {
        this.supervisors.delete(id);
        void sup.stop(0);
      } else if (before?.spawnKey !== after.spawnKey) sup.drain();
    });
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
        limits: () => this.d.defaults,
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

  async stop(graceMs: number): Promise<void> {
    await Promise.all([...this.supervisors.values()].map((s) => s.stop(graceMs)));
    this.supervisors.clear();
  }

  private async spec(functionId: string): Promise<SpawnSpec> {
    const entry = this.d.registry.get(functionId);
    if (!entry?.row.code_hash) throw new OrvaError('NOT_FOUND', `function ${functionId} has no active version`);
    const codeDir = await this.d.artifacts.materialize(functionId, entry.row.code_hash);
    return { ...spawnSpecOf(entry), codeDir };
  }
}
