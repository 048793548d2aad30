/**
 * The bubblewrap sandbox driver. Each worker gets new user, mount, pid, ipc,
 * uts and net namespaces, no capabilities, uid/gid 65534, and a filesystem
 * made only of: its runtime (read-only), its version dir at /code
 * (read-only), the adapter at /orva (read-only), a private /tmp, and a few
 * synthetic /etc files. Nothing else of the host — no /root, /home, /var,
 * /work, /etc/shadow, no other function's code — exists inside.
 *
 * The command line is built from layers (`BwrapLayer`), one per concern:
 * namespaces, filesystem, network, environment, and seccomp (`seccomp.ts`:
 * `--seccomp FD` with libseccomp's BPF passed through `DataFds`). What needs
 * more than arguments is a `WorkerHook` with a per-worker lifecycle: the
 * memory budget (`memory-budget.ts`: refuse before anything starts), cgroup
 * limits (`cgroups.ts`: a shell prelude joins them before bwrap is exec'd,
 * read OOM after exit, remove after) and egress (`egress.ts`: slirp4netns on
 * `--info-fd`, released through `--block-fd`).
 *
 * Every worker runs as
 *     /bin/sh -c '<join cgroups> && ulimit -n 1024 && exec chrt --batch 0 "$@"' orva-sandbox bwrap --args FD -- <runtime>
 * — the shell is gone (exec'd into bwrap) before any sandboxed code runs,
 * and the limits are inherited by everything bwrap starts.
 *
 * Workers are SCHED_BATCH: same CPU share as any other process, but a worker
 * woken by its invoke frame does not preempt the thread that woke it. That
 * thread is the node's event loop, which every call goes through; preempted
 * once per call it served about a fifth fewer calls on two cores.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { posix } from 'node:path';
import type { Writable } from 'node:stream';
import { encodeFrame, FrameDecoder } from '../../protocol/frames.ts';
import type { WorkerInput } from '../../protocol/worker-input.ts';
import { parseWorkerOutput, type WorkerOutput } from '../../protocol/worker-output.ts';
import { RUNTIMES } from '../runtimes/index.ts';
import type { SeccompPolicyName } from '../../protocol/syscalls.ts';
import { Cgroups, detectCgroups, type WorkerCgroup } from './cgroups.ts';
import type { SandboxDriver, SpawnSpec, WorkerProcess } from './driver.ts';
import { addressesOfUrls, Egress } from './egress.ts';
import { MemoryBudget, workerLimitBytes } from './memory-budget.ts';
import { seccompLayer } from './seccomp.ts';

/** util-linux's chrt: Debian's util-linux is an essential package, always installed. */
export const CHRT = '/usr/bin/chrt';

/** Passes bytes to bwrap on a fresh fd, which bwrap reads to EOF (`--args`, `--seccomp`, `--ro-bind-data`, …). */
export interface DataFds {
  /** The fd number, as the string to put in the argument list. */
  add(data: string | Uint8Array): string;
  /** A pipe kept open both ways (`--info-fd`, `--block-fd`); the hook finds its host end at `child.stdio[Number(fd)]`. */
  channel(): string;
}

/** One concern of the sandbox's bwrap arguments. */
export interface BwrapLayer {
  args(spec: SpawnSpec, fds: DataFds): string[];
}

/** What a hook sees of the worker being set up. */
export interface HookContext {
  fds: DataFds;
  /** Host shell commands (joined with &&) the worker's shell runs before it execs bwrap: the cgroup joins, the fd limit. */
  readonly prelude: readonly string[];
}

/** One worker's part of a hook. */
export interface WorkerAttachment {
  args?: readonly string[];
  /** After spawn. `fail` kills the worker with a reason (reported as its protocolError). */
  started?(child: ChildProcess, fail: (reason: string) => void): void;
  /** After exit, before `release`: was it killed for memory? */
  oomKilled?(): boolean;
  /** After exit: give back what it holds. */
  release?(): void | Promise<void>;
}

/** A concern with a per-worker lifecycle. `attach` may throw to refuse the worker (nothing has started then). */
export interface WorkerHook {
  attach(spec: SpawnSpec, ctx: HookContext): WorkerAttachment | null;
}

export interface BwrapOptions {
  /** Default /usr/bin/bwrap (Debian's bubblewrap 0.8). */
  bwrapPath?: string;
  /** Appended after the built-in layers. */
  layers?: readonly BwrapLayer[];
  /** Default `default`; see seccomp-policy.ts. */
  seccompPolicy?: SeccompPolicyName;
  /**
   * The cgroup manager (default: one for this process on the detected
   * hierarchy). `false` only where cgroups cannot exist (a dev box without
   * root): the memory, CPU and pids limits are then absent.
   */
  cgroups?: Cgroups | false;
  /** Default: 80 % of os.totalmem(). */
  memoryBudget?: MemoryBudget;
  /** Default: slirp4netns behind this node's firewall, when the host has cgroup v2 for it. `false`: egress specs are refused. */
  egress?: Egress | false;
  /** Addresses egress may never reach besides the host's own (the cluster's NATS, peers): IPs or CIDRs. */
  egressDeny?: readonly string[];
}

/** Open files per worker (RLIMIT_NOFILE, soft and hard): ample for a handler, a wall for fd exhaustion. */
export const NOFILE_LIMIT = 1024;
/** Tasks (processes and threads) per worker: a node worker runs 4 threads, python 1; a fork bomb stops here. */
export const PIDS_MAX = 64;
/** bwrap reports a child killed by signal N as exit code 128 + N; SIGSYS is 31 on x86_64 and arm64. */
const SIGSYS_EXIT = 128 + 31;

/** The unprivileged uid/gid inside ("nobody"); the host never sees it as a real user. */
const SANDBOX_ID = '65534';

/** The channel fds inside the worker: frames in, frames out. Data fds follow. */
const INPUT_FD = 3;
const OUTPUT_FD = 4;
const FIRST_DATA_FD = 5;

/** How much of the worker's own stdout/stderr is kept for diagnostics. */
const OUTPUT_TAIL_CHARS = 8 * 1024;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const namespaces: BwrapLayer = {
  args: () => [
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts',
    // The runtime itself is pid 1: otherwise bwrap's reaper is, outside the seccomp filter, and
    // handler code could open /proc/1/mem read-write and run unfiltered code through it.
    '--as-pid-1',
    // No nested user namespaces: they would reopen kernel surface the sandbox closes.
    '--disable-userns',
    '--uid', SANDBOX_ID, '--gid', SANDBOX_ID,
    '--hostname', 'orva',
    // The worker dies with its bwrap (and bwrap with the node); pid-namespace init takes every other process down with it.
    '--die-with-parent',
    // No controlling terminal: TIOCSTI cannot inject input into the node's terminal.
    '--new-session',
    '--cap-drop', 'ALL',
  ],
};

// Synthetic /etc files rather than the host's: they name only the sandbox's
// user, resolve only localhost, and consult only those files (the host's
// nsswitch.conf would load libnss_systemd, which has nothing to talk to here).
const PASSWD = `nobody:x:${SANDBOX_ID}:${SANDBOX_ID}:nobody:/tmp:/nonexistent\n`;
const GROUP = `nogroup:x:${SANDBOX_ID}:\n`;
const HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost\n';
const NSSWITCH = 'passwd: files\ngroup: files\nhosts: files dns\n';

const filesystem: BwrapLayer = {
  args: (spec, fds) => {
    const runtime = RUNTIMES[spec.runtime];
    const roBind = (path: string) => ['--ro-bind-try', path, path];
    return [
      // Debian's merged /usr: the top-level dirs are symlinks into it.
      '--symlink', 'usr/bin', '/bin',
      '--symlink', 'usr/lib', '/lib',
      '--symlink', 'usr/lib64', '/lib64',
      ...runtime.roBinds.flatMap(roBind),
      // CA roots for when egress lands (Python's ssl reads these; node has its own built in).
      ...roBind('/etc/ssl/certs'),
      ...roBind('/usr/share/ca-certificates'),
      // Time zone data for zoneinfo / Intl; without /etc/localtime the local zone is UTC.
      ...roBind('/usr/share/zoneinfo'),
      '--ro-bind-data', fds.add(PASSWD), '/etc/passwd',
      '--ro-bind-data', fds.add(GROUP), '/etc/group',
      '--ro-bind-data', fds.add(HOSTS), '/etc/hosts',
      '--ro-bind-data', fds.add(NSSWITCH), '/etc/nsswitch.conf',
      '--ro-bind', runtime.adapterFile, runtime.adapterPath,
      '--ro-bind', spec.codeDir, '/code',
      '--proc', '/proc',
      '--dev', '/dev',
      // POSIX shared memory (Python's multiprocessing semaphores) gets its own tiny tmpfs: /dev itself is sealed.
      '--size', String(1024 * 1024), '--tmpfs', '/dev/shm',
      // Private, and capped at half the function's memory: tmpfs pages are charged to the worker's
      // memory cgroup anyway, and half leaves the runtime room to report a full disk (ENOSPC)
      // instead of being OOM-killed. At least 16 MiB for the small functions.
      '--size', String(Math.max(16, Math.floor(spec.memoryMb / 2)) * 1024 * 1024), '--tmpfs', '/tmp',
      '--chdir', '/code',
    ];
  },
};

const network: BwrapLayer = {
  // Both modes get a new net namespace: 'none' keeps only `lo` (already up);
  // 'egress' gets slirp4netns attached to it by the Egress hook.
  args: () => ['--unshare-net'],
};

const environment: BwrapLayer = {
  args: (spec) => [
    '--clearenv',
    // io_uring bypasses seccomp; the platform keeps it off whatever the function's env says.
    ...Object.entries(spec.env).flatMap(([k, v]) => (k === 'UV_USE_IO_URING' ? [] : ['--setenv', k, v])),
  ],
};

const BUILT_IN_LAYERS = [namespaces, filesystem, network, environment];

function validate(spec: SpawnSpec): void {
  const e = spec.entrypoint;
  if (e === '' || e.startsWith('/') || posix.normalize(e) !== e || e.split('/').includes('..')) {
    throw new TypeError(`invalid entrypoint ${JSON.stringify(e)}: a normalized path inside /code`);
  }
  for (const k of Object.keys(spec.env)) {
    if (!ENV_NAME.test(k)) throw new TypeError(`invalid env var name ${JSON.stringify(k)}`);
  }
  if (!(Number.isInteger(spec.memoryMb) && spec.memoryMb > 0)) throw new TypeError(`invalid memoryMb ${spec.memoryMb}`);
}

let defaultCgroups: Cgroups | null = null;

/** One Cgroups per process (its owner key is the process): drivers in one process share it. */
function processCgroups(): Cgroups {
  if (defaultCgroups) return defaultCgroups;
  const layout = detectCgroups();
  if (!layout) throw new Error('no cgroup hierarchy with memory, cpu and pids controllers: worker limits cannot be enforced');
  return (defaultCgroups = new Cgroups({ layout }));
}

/** The bubblewrap driver: seccomp, cgroup limits, the memory budget and egress included by default. */
export class BwrapDriver implements SandboxDriver {
  readonly #bwrapPath: string;
  readonly #layers: readonly BwrapLayer[];
  readonly #cgroups: Cgroups | null;
  readonly #budget: MemoryBudget;
  readonly #hooks: readonly WorkerHook[];
  /** Workers started and not yet exited. */
  readonly #live = new Set<WorkerProcess>();
  /** Releases of exited workers still in progress (a cgroup is removed once the kernel has reaped it). */
  readonly #releasing = new Set<Promise<void>>();

  constructor(options: BwrapOptions = {}) {
    this.#bwrapPath = options.bwrapPath ?? '/usr/bin/bwrap';
    this.#layers = [...BUILT_IN_LAYERS, seccompLayer(options.seccompPolicy ?? 'default'), ...(options.layers ?? [])];
    this.#cgroups = options.cgroups === false ? null : (options.cgroups ?? processCgroups());
    this.#budget = options.memoryBudget ?? new MemoryBudget();
    const egress = options.egress === false ? null
      : (options.egress ?? (this.#cgroups ? new Egress({ cgroupV2: this.#cgroups.v2Group, owner: this.#cgroups.owner, deny: options.egressDeny }) : null));
    this.#hooks = egress ? [egress] : [];
  }

  /** The budget every worker started here reserves its memory limit against; the node's Evictor makes room in it. */
  get memoryBudget(): MemoryBudget {
    return this.#budget;
  }

  /**
   * The node's driver: removes a crashed predecessor's leftovers first, takes
   * the seccomp policy from ORVA_SECCOMP_POLICY (`default` when unset), and
   * keeps egress away from the cluster's NATS as well as from this host.
   */
  static async forNode(o: { natsUrl: string; seccompPolicy: SeccompPolicyName; memoryBudgetMb: number | null; log: { warn(obj: object, msg: string): void } }): Promise<BwrapDriver> {
    const stale = await BwrapDriver.cleanupStale();
    if (stale.cgroups.length + stale.tables.length > 0) o.log.warn({ stale }, "removed a crashed node's sandbox cgroups and firewall tables");
    return new BwrapDriver({
      seccompPolicy: o.seccompPolicy,
      egressDeny: await addressesOfUrls([o.natsUrl]),
      // An explicit budget is the whole of it; the default is 80 % of the host's RAM.
      memoryBudget: o.memoryBudgetMb === null ? undefined : new MemoryBudget({ totalBytes: o.memoryBudgetMb * 1024 * 1024, fraction: 1 }),
    });
  }

  /**
   * Removes what a crashed node on this host left behind: its cgroups (killing
   * anything still inside) and its egress firewall table. Only owners whose
   * process is gone are touched. Run once at node start, before the first spawn.
   */
  static async cleanupStale(): Promise<{ cgroups: string[]; tables: string[] }> {
    const layout = detectCgroups();
    return { cgroups: layout ? await Cgroups.cleanupStale(layout) : [], tables: Egress.cleanupStale() };
  }

  /**
   * Throws (synchronously) on an invalid spec — a platform fault, not the
   * function's — and MEMORY_EXHAUSTED when the host's memory budget is spent.
   */
  spawn(spec: SpawnSpec): WorkerProcess {
    validate(spec);
    if (spec.networkMode === 'egress' && this.#hooks.length === 0) throw new Error("network mode 'egress' is not supported on this host (no cgroup v2 for its firewall)");
    const limitBytes = workerLimitBytes(spec.memoryMb);
    const attachments: WorkerAttachment[] = [];
    const releaseBudget = this.#budget.reserve(limitBytes);
    let cgroup: WorkerCgroup | null = null;
    // Everything the worker holds, given back once; `settle` waits for it.
    const releaseAll = () => {
      releaseBudget();
      const released = Promise.allSettled([...attachments.map((a) => a.release?.()), cgroup?.remove()]).then(() => {
        this.#releasing.delete(released);
      });
      this.#releasing.add(released);
    };
    try {
      const data: Array<string | Uint8Array | null> = [];
      const fds: DataFds = {
        add: (d) => String(FIRST_DATA_FD + data.push(d) - 1),
        channel: () => String(FIRST_DATA_FD + data.push(null) - 1),
      };
      const prelude: string[] = [];
      if (this.#cgroups) {
        cgroup = this.#cgroups.create({ memoryBytes: limitBytes, cpus: spec.cpus, pidsMax: PIDS_MAX });
        prelude.push(cgroup.joinScript());
      }
      // dash's `ulimit -n` sets the soft and the hard limit; the sandbox cannot raise a hard limit again
      // (that needs CAP_SYS_RESOURCE in the host's user namespace).
      prelude.push(`ulimit -n ${NOFILE_LIMIT}`);
      const options = this.#layers.flatMap((l) => l.args(spec, fds));
      for (const hook of this.#hooks) {
        const a = hook.attach(spec, { fds, prelude });
        if (a) {
          attachments.push(a);
          options.push(...(a.args ?? []));
        }
      }
      // Last, after every mount: bwrap's root (a tmpfs) and /dev stay writable otherwise — a way around
      // the /tmp cap. Separate mounts (/tmp, /dev/shm, /proc) keep their own flags.
      options.push('--remount-ro', '/dev', '--remount-ro', '/');
      // The options go through `--args FD`, not argv: secrets in --setenv stay
      // out of the host's `ps` and out of the sandbox's /proc/1/cmdline (bwrap
      // is pid 1 in there). NUL separates them, so one inside a value would
      // smuggle in options of its own (a writable bind of /, say). The command
      // itself must stay on argv: bwrap reads none from the fd.
      if (options.some((a) => a.includes('\0'))) throw new TypeError('sandbox arguments must not contain NUL');
      const argsFd = fds.add(options.join('\0') + '\0');

      // dash exports PWD to what it execs: unset, or it would show in the sandbox as /proc/1/environ.
      const child = spawn('/bin/sh', ['-c', `${prelude.join(' && ')} && unset PWD && exec ${CHRT} --batch 0 "$@"`, 'orva-sandbox', this.#bwrapPath, '--args', argsFd, '--', ...RUNTIMES[spec.runtime].command(spec)], {
        // bwrap's own env is empty too: it is readable in the sandbox as /proc/1/environ.
        env: {},
        // Nothing of the node's working directory is held open by the worker's processes.
        cwd: '/',
        stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...data.map(() => 'pipe' as const)],
      });
      data.forEach((d, i) => {
        if (d !== null) (child.stdio[FIRST_DATA_FD + i] as Writable).end(d);
      });
      const worker = new BwrapWorker(child, {
        oomKilled: () => (cgroup?.oomKilled() ?? false) || attachments.some((a) => a.oomKilled?.() ?? false),
        release: releaseAll,
      });
      this.#live.add(worker);
      worker.onExit(() => this.#live.delete(worker));
      for (const a of attachments) a.started?.(child, (reason) => worker.fail(reason));
      return worker;
    } catch (err) {
      releaseAll();
      throw err;
    }
  }

  /**
   * Resolves once every worker started here has exited and given back what
   * it held (cgroups, network helper, memory budget): a graceful stop awaits
   * it, so nothing of a stopped node outlives it.
   */
  async settle(): Promise<void> {
    while (this.#live.size > 0 || this.#releasing.size > 0) {
      await Promise.all([...[...this.#live].map((w) => new Promise<void>((r) => w.onExit(() => r()))), ...this.#releasing]);
    }
  }
}

interface WorkerResources {
  oomKilled(): boolean;
  release(): void;
}

class BwrapWorker implements WorkerProcess {
  readonly pid: number;
  #protocolError: string | null = null;
  #oomKilled = false;
  #seccompKilled = false;
  #tail = '';
  #exited = false;
  #killed = false;
  readonly #frameListeners: Array<(frame: WorkerOutput) => void> = [];
  readonly #outputListeners: Array<(text: string) => void> = [];
  readonly #exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  readonly #child: ReturnType<typeof spawn>;
  readonly #input: Writable;

  constructor(child: ReturnType<typeof spawn>, resources: WorkerResources) {
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.#input = child.stdio[INPUT_FD] as Writable;
    // EPIPE and the like once the worker is gone: the exit that follows says it all.
    for (const s of child.stdio) s?.on('error', () => {});
    child.on('error', (err) => this.#keep(`orva: sandbox process error: ${err.message}\n`));
    for (const s of [child.stdout, child.stderr]) {
      // Decoded as a stream: a character split across two reads stays whole.
      s?.setEncoding('utf8').on('data', (text: string) => {
        this.#keep(text);
        for (const cb of this.#outputListeners) cb(text);
      });
    }

    const decoder = new FrameDecoder();
    child.stdio[OUTPUT_FD]!.on('data', (chunk: Buffer) => {
      if (this.#protocolError !== null) return;
      let values: unknown[];
      try {
        values = decoder.push(chunk);
      } catch (err) {
        return this.#violation(`undecodable output: ${(err as Error).message}`);
      }
      for (const value of values) {
        const frame = parseWorkerOutput(value);
        if (frame === null) return this.#violation(`invalid frame: ${describe(value)}`);
        for (const cb of this.#frameListeners) cb(frame);
      }
    });
    // 'close', not 'exit': it comes after the output pipe drained, so every frame is delivered first.
    child.on('close', (code, signal) => {
      this.#exited = true;
      // Read before the cgroup goes away. A worker the driver killed itself was not OOM-killed.
      this.#oomKilled = !this.#killed && resources.oomKilled();
      // The runtime died of SIGSYS: seccomp killed it for a refused call (bwrap passes it on as 128 + 31).
      // The process could exit(159) itself to look refused, but that only mislabels its own crash.
      this.#seccompKilled = !this.#oomKilled && (code === SIGSYS_EXIT || signal === 'SIGSYS');
      resources.release();
      for (const cb of this.#exitListeners) cb(code, signal);
    });
  }

  get protocolError(): string | null {
    return this.#protocolError;
  }

  get outputTail(): string {
    return this.#tail;
  }

  get oomKilled(): boolean {
    return this.#oomKilled;
  }

  get seccompKilled(): boolean {
    return this.#seccompKilled;
  }

  /** Kills the worker for a reason of the driver's own (a hook's failure), reported as its protocolError. */
  fail(reason: string): void {
    this.#violation(reason);
  }

  send(frame: WorkerInput): void {
    if (this.#exited || this.#killed) return;
    this.#input.write(encodeFrame(frame));
  }

  onFrame(cb: (frame: WorkerOutput) => void): void {
    this.#frameListeners.push(cb);
  }

  onOutput(cb: (text: string) => void): void {
    this.#outputListeners.push(cb);
  }

  onExit(cb: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.#exitListeners.push(cb);
  }

  kill(): void {
    if (this.#exited || this.#killed) return;
    this.#killed = true;
    // bwrap's children get SIGKILL through --die-with-parent; the pid namespace ends with its init.
    this.#child.kill('SIGKILL');
  }

  #keep(text: string): void {
    this.#tail = (this.#tail + text).slice(-OUTPUT_TAIL_CHARS);
  }

  #violation(reason: string): void {
    this.#protocolError = reason;
    this.kill();
  }
}

/** A short, safe rendering of a hostile value for the diagnostics. */
function describe(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 200);
  } catch {
    return typeof value;
  }
}
