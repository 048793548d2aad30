/**
 * The sandbox driver interface: start one worker process for one function
 * version and talk frames with it. `bwrap.ts` implements it with bubblewrap.
 */
import type { WorkerInput } from '../../protocol/worker-input.ts';
import type { WorkerOutput } from '../../protocol/worker-output.ts';
import type { MemoryBudget } from './memory-budget.ts';

export type RuntimeName = 'node' | 'python';

export interface SpawnSpec {
  runtime: RuntimeName;
  /** Host path of the built version dir; bound read-only at /code. */
  codeDir: string;
  /** Path relative to /code, e.g. 'handler.js'. */
  entrypoint: string;
  /** The complete env of the worker (env_vars, secrets, ORVA_FUNCTION_ID, ORVA_ENTRYPOINT); nothing of the node's env leaks. */
  env: Record<string, string>;
  /** Node: the V8 old-space limit. The worker's cgroup memory limit is 1.5 × this; /tmp holds half of it. */
  memoryMb: number;
  /** cgroup CPU bandwidth, in CPUs. */
  cpus: number;
  /** 'none': a new net namespace with loopback only. 'egress': outbound through slirp4netns, never to the host itself. */
  networkMode: 'none' | 'egress';
}

export interface WorkerProcess {
  /** Host pid of the sandbox's outermost process. */
  readonly pid: number;
  /**
   * Why the driver killed the worker itself (a malformed or oversized frame,
   * a frame failing `parseWorkerOutput`), or null. Read it in `onExit` to
   * tell a protocol violation from a plain crash. (Addition to the brief.)
   */
  readonly protocolError: string | null;
  /**
   * The last 8 KiB the worker wrote to its own stdout/stderr (output outside
   * a call, runtime warnings, crash traces), for diagnostics. (Addition to the brief.)
   */
  readonly outputTail: string;
  /**
   * True when the worker was killed for exceeding its memory limit (read it
   * in `onExit`): the call answers WORKER_CRASHED with an out-of-memory hint.
   */
  readonly oomKilled: boolean;
  /**
   * True when seccomp killed the worker (SIGSYS) for a refused system call —
   * one of the dangerous set (mount, unshare, ptrace, bpf, …). Read it in
   * `onExit`: the call answers WORKER_CRASHED and the execution records the
   * attempt. Set only when the runtime itself made the call; a child process
   * it started dies alone.
   */
  readonly seccompKilled: boolean;
  /** Encode and write one frame; a no-op once the worker is gone. */
  send(frame: WorkerInput): void;
  /** Every valid frame from the worker, in order. */
  onFrame(cb: (frame: WorkerOutput) => void): void;
  /**
   * What the worker writes on its own stdout/stderr, as it arrives: direct
   * writes to fd 1/2, child processes' output, runtime warnings and crash
   * traces. Output a runtime adapter captures in a call comes in its answer.
   */
  onOutput(cb: (text: string) => void): void;
  /** Once, after the process is gone and every frame it sent was delivered. */
  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** SIGKILL the whole sandbox; idempotent. */
  kill(): void;
}

export interface SandboxDriver {
  /** The host-wide budget each spawn reserves its worker's memory limit against. */
  readonly memoryBudget: MemoryBudget;
  /** Throws on an invalid spec, and OrvaError MEMORY_EXHAUSTED when the host's memory budget is spent. */
  spawn(spec: SpawnSpec): WorkerProcess;
  /** Resolves once every worker it started has exited and its resources are released. */
  settle(): Promise<void>;
}
