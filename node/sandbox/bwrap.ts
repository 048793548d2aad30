/**
 * The bubblewrap sandbox driver. Each worker gets new user, mount, pid, ipc,
 * uts and net namespaces, no capabilities, uid/gid 65534, and a filesystem
 * made only of: its runtime (read-only), its version dir at /code
 * (read-only), the adapter at /orva (read-only), a private /tmp, and a few
 * synthetic /etc files. Nothing else of the host — no /root, /home, /var,
 * /work, /etc/shadow, no other function's code — exists inside.
 *
 * The command line is built from layers (`BwrapLayer`), one per concern, so
 * seccomp (`--seccomp FD` with the BPF program passed through `DataFds`),
 * cgroup limits and egress networking arrive as more layers without changing
 * `SandboxDriver`. (Cgroups and egress will also need a hook after spawn —
 * moving the pid into a cgroup, starting slirp4netns on `--info-fd` — which
 * is the place to extend `BwrapLayer` when they land.)
 */
import { spawn } from 'node:child_process';
import { posix } from 'node:path';
import type { Writable } from 'node:stream';
import { encodeFrame, FrameDecoder } from '../../protocol/frames.ts';
import type { WorkerInput } from '../../protocol/worker-input.ts';
import { parseWorkerOutput, type WorkerOutput } from '../../protocol/worker-output.ts';
import { RUNTIMES } from '../runtimes/index.ts';
import type { SandboxDriver, SpawnSpec, WorkerProcess } from './driver.ts';

/** Passes bytes to bwrap on a fresh fd, which bwrap reads to EOF (`--args`, `--seccomp`, `--ro-bind-data`, …). */
export interface DataFds {
  /** The fd number, as the string to put in the argument list. */
  add(data: string | Uint8Array): string;
}

/** One concern of the sandbox's bwrap arguments. */
export interface BwrapLayer {
  args(spec: SpawnSpec, fds: DataFds): string[];
}

export interface BwrapOptions {
  /** Default /usr/bin/bwrap (Debian's bubblewrap 0.8). */
  bwrapPath?: string;
  /** Appended after the built-in layers: seccomp, cgroups, egress. */
  layers?: readonly BwrapLayer[];
}

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
      // Private and capped at the function's memory budget (tmpfs pages are memory).
      '--size', String(spec.memoryMb * 1024 * 1024), '--tmpfs', '/tmp',
      '--chdir', '/code',
    ];
  },
};

const network: BwrapLayer = {
  args: (spec) => {
    // 'none': bwrap's new net namespace has only `lo`, already up.
    if (spec.networkMode === 'none') return ['--unshare-net'];
    // 'egress' will be its own layer: slirp4netns/pasta attached to this namespace, plus /etc/resolv.conf.
    throw new Error(`network mode '${spec.networkMode}' is not supported yet`);
  },
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

export class BwrapDriver implements SandboxDriver {
  readonly #bwrapPath: string;
  readonly #layers: readonly BwrapLayer[];

  constructor(options: BwrapOptions = {}) {
    this.#bwrapPath = options.bwrapPath ?? '/usr/bin/bwrap';
    this.#layers = [...BUILT_IN_LAYERS, ...(options.layers ?? [])];
  }

  /** Throws (synchronously) on an invalid spec: a platform fault, not the function's. */
  spawn(spec: SpawnSpec): WorkerProcess {
    validate(spec);
    const data: Array<string | Uint8Array> = [];
    const fds: DataFds = { add: (d) => String(FIRST_DATA_FD + data.push(d) - 1) };
    const options = this.#layers.flatMap((l) => l.args(spec, fds));
    // The options go through `--args FD`, not argv: secrets in --setenv stay
    // out of the host's `ps` and out of the sandbox's /proc/1/cmdline (bwrap
    // is pid 1 in there). NUL separates them, so one inside a value would
    // smuggle in options of its own (a writable bind of /, say). The command
    // itself must stay on argv: bwrap reads none from the fd.
    if (options.some((a) => a.includes('\0'))) throw new TypeError('sandbox arguments must not contain NUL');
    const argsFd = fds.add(options.join('\0') + '\0');

    const child = spawn(this.#bwrapPath, ['--args', argsFd, '--', ...RUNTIMES[spec.runtime].command(spec)], {
      // bwrap's own env is empty too: it is readable in the sandbox as /proc/1/environ.
      env: {},
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...data.map(() => 'pipe' as const)],
    });
    data.forEach((d, i) => (child.stdio[FIRST_DATA_FD + i] as Writable).end(d));
    return new BwrapWorker(child);
  }
}

class BwrapWorker implements WorkerProcess {
  readonly pid: number;
  #protocolError: string | null = null;
  #tail = '';
  #exited = false;
  #killed = false;
  readonly #frameListeners: Array<(frame: WorkerOutput) => void> = [];
  readonly #exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  readonly #child: ReturnType<typeof spawn>;
  readonly #input: Writable;

  constructor(child: ReturnType<typeof spawn>) {
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.#input = child.stdio[INPUT_FD] as Writable;
    // EPIPE and the like once the worker is gone: the exit that follows says it all.
    for (const s of child.stdio) s?.on('error', () => {});
    child.on('error', (err) => this.#keep(`orva: sandbox process error: ${err.message}\n`));
    for (const s of [child.stdout, child.stderr]) s?.on('data', (chunk: Buffer) => this.#keep(chunk.toString()));

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
    return false;
  }

  send(frame: WorkerInput): void {
    if (this.#exited || this.#killed) return;
    this.#input.write(encodeFrame(frame));
  }

  onFrame(cb: (frame: WorkerOutput) => void): void {
    this.#frameListeners.push(cb);
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
