/**
 * Worker — one sandboxed process running one version of one function.
 *
 * Contract with its parent (the FunctionSupervisor):
 *  1. `ready` settles once: resolved on the adapter's ready frame, rejected
 *     on a load error, an exit, or the start timeout.
 *  2. One call in flight at a time (Lambda semantics); `invoke` always
 *     resolves — a handler error, a timeout or a crash is a CallResult.
 *  3. A timeout kills the process (the parent replaces it); so does `kill`.
 *  4. `onExit` fires exactly once, when the process is gone.
 *
 * States: starting → idle ⇄ busy → dead.
 */
import type { Clock } from './clock.ts';
import type { InvokeEvent } from '../protocol/worker-input.ts';
import type { WorkerOutput } from '../protocol/worker-output.ts';
import type { SandboxDriver, SpawnSpec, WorkerProcess } from '../node/sandbox/driver.ts';

export type WorkerState = 'starting' | 'idle' | 'busy' | 'dead';

/**
 * How a call ended. `logs` is what it printed: what the adapter captured
 * (console, print) after what reached the worker's own stdout/stderr while
 * it ran (direct writes, child processes, a crash trace).
 */
export type CallResult =
  | { kind: 'ok'; status: number; headers: Record<string, string>; body: Uint8Array; logs: string }
  | { kind: 'error'; name: string; message: string; stack: string; logs: string }
  | { kind: 'timeout'; logs: string }
  /** `oom`: killed for exceeding its memory limit. */
  | { kind: 'crashed'; detail: string; oom: boolean; logs: string };

/** Most of a call's stdout/stderr output kept in its logs, like the adapters' cap on what they capture. */
const OUTPUT_CAP = 256 * 1024;
const OUTPUT_TRUNCATED = '\n[orva: output truncated]\n';

/** How long a sandbox may take from spawn to its ready frame. */
const START_TIMEOUT_MS = 10_000;

/**
 * Attempts at starting a sandbox before giving up on it: bwrap's own setup
 * fails now and then (seen: "loopback: Failed RTM_NEWADDR", about once in
 * ten thousand starts), and a second attempt succeeds.
 */
export const SANDBOX_START_ATTEMPTS = 3;

interface Pending {
  id: string;
  resolve(r: CallResult): void;
  /** Clock time by which the call must have answered. */
  deadline: number;
  /** What the worker wrote on its stdout/stderr during the call, up to OUTPUT_CAP. */
  output: string;
}

let nextWorkerId = 1;

export class Worker {
  readonly id = nextWorkerId++;
  state: WorkerState = 'starting';
  /** The supervisor's generation this worker was spawned for; an older one is retired. */
  readonly generation: number;
  readonly ready: Promise<void>;
  readyAtMs = 0;
  lastUsedMs = 0;
  private readonly proc: WorkerProcess;
  private pending: Pending | null = null;
  /** The call timeout's timer and when it fires; one per worker, not per call (see armTimeout). */
  private timer: unknown = null;
  private timerAt = 0;
  private killed = false;
  private seq = 0;
  private readonly exitListeners: Array<(w: Worker) => void> = [];

  constructor(driver: SandboxDriver, spec: SpawnSpec, generation: number, private readonly clock: Clock) {
    this.generation = generation;
    this.proc = driver.spawn(spec);
    let settle: { resolve(): void; reject(e: Error): void } | null = null;
    this.ready = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const startTimer = clock.setTimeout(() => {
      settle?.reject(new Error(`sandbox not ready within ${START_TIMEOUT_MS} ms`));
      settle = null;
      this.kill();
    }, START_TIMEOUT_MS);
    this.proc.onFrame((frame: WorkerOutput) => {
      switch (frame.type) {
        case 'ready':
          clock.clearTimeout(startTimer);
          this.state = 'idle';
          this.readyAtMs = clock.now();
          this.lastUsedMs = this.readyAtMs;
          settle?.resolve();
          settle = null;
          return;
        case 'load-error':
          clock.clearTimeout(startTimer);
          settle?.reject(Object.assign(new Error(frame.message), { name: frame.name, stack: frame.stack, loadError: true }));
          settle = null;
          this.kill();
          return;
        case 'ok':
        case 'error':
          this.answer(frame.id, frame.type === 'ok' ? { kind: 'ok', status: frame.status, headers: frame.headers, body: frame.body, logs: frame.logs } : { kind: 'error', name: frame.name, message: frame.message, stack: frame.stack, logs: frame.logs });
          return;
      }
    });
    // Output between calls belongs to no call: it stays in the driver's diagnostics only.
    this.proc.onOutput((text) => {
      const p = this.pending;
      if (p === null || p.output.length > OUTPUT_CAP) return;
      p.output += text;
      if (p.output.length > OUTPUT_CAP) p.output = p.output.slice(0, OUTPUT_CAP) + OUTPUT_TRUNCATED;
    });
    this.proc.onExit((code, signal) => {
      clock.clearTimeout(startTimer);
      if (this.timer !== null) clock.clearTimeout(this.timer);
      this.state = 'dead';
      // V8 aborts at its heap limit before the cgroup's OOM killer would: both are out of memory.
      const oom = this.proc.oomKilled || this.proc.outputTail.includes('JavaScript heap out of memory');
      const detail = oom
        ? 'worker killed: out of memory (exceeded its memory limit)'
        : this.proc.seccompKilled
          ? 'worker killed: a refused system call (seccomp)'
          : `worker exited (code ${code}, signal ${signal})${this.proc.protocolError ? `: ${this.proc.protocolError}` : ''}`;
      settle?.reject(new Error(detail));
      settle = null;
      this.answer(this.pending?.id ?? '', { kind: 'crashed', detail, oom, logs: '' });
      for (const l of this.exitListeners) l(this);
    });
    this.ready.catch(() => {});
  }

  get pid(): number {
    return this.proc.pid;
  }

  onExit(listener: (w: Worker) => void): void {
    this.exitListeners.push(listener);
  }

  invoke(executionId: string, event: InvokeEvent, timeoutMs: number): Promise<CallResult> {
    if (this.state !== 'idle') return Promise.resolve({ kind: 'crashed', detail: `worker is ${this.state}`, oom: false, logs: '' });
    this.state = 'busy';
    const id = String(++this.seq);
    return new Promise<CallResult>((resolve) => {
      this.pending = { id, resolve, deadline: this.clock.now() + timeoutMs, output: '' };
      this.armTimeout();
      try {
        this.proc.send({ type: 'invoke', id, executionId, event });
      } catch (err) {
        this.answer(id, { kind: 'crashed', detail: `send failed: ${(err as Error).message}`, oom: false, logs: '' });
        this.kill();
      }
    });
  }

  /**
   * Arming and clearing a timer per call costs more than the call's own
   * bookkeeping, and calls are short: a timer stays armed across calls and,
   * firing before the call in flight is due, re-arms for its deadline.
   */
  private armTimeout(): void {
    const deadline = this.pending!.deadline;
    if (this.timer !== null) {
      if (this.timerAt <= deadline) return;
      this.clock.clearTimeout(this.timer);
    }
    this.timerAt = deadline;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      const p = this.pending;
      if (p === null) return;
      if (this.clock.now() < p.deadline) return this.armTimeout();
      this.pending = null;
      p.resolve({ kind: 'timeout', logs: p.output });
      this.kill();
    }, Math.max(0, deadline - this.clock.now()));
  }

  private answer(id: string, result: CallResult): void {
    const p = this.pending;
    if (!p || p.id !== id) return;
    this.pending = null;
    if (this.state === 'busy') this.state = 'idle';
    this.lastUsedMs = this.clock.now();
    if (p.output !== '') result.logs = p.output + result.logs;
    p.resolve(result);
  }

  /** False once killed, even before the exit lands: such a worker must never be handed out again. */
  get usable(): boolean {
    return this.state !== 'dead' && !this.killed;
  }

  kill(): void {
    if (this.state === 'dead' || this.killed) return;
    this.killed = true;
    this.proc.kill();
  }
}
