/**
 * Per-worker resource limits through cgroups: memory (1.5 × memory_mb, no
 * swap), CPU bandwidth from `cpus`, and pids.max. cgroup v2 where the host
 * runs a pure v2 hierarchy; v1 otherwise (memory, cpu and pids each in their
 * own hierarchy, as on these machines). On a hybrid host the v2 hierarchy
 * (/sys/fs/cgroup/unified, no controllers) is joined as well: the egress
 * firewall matches the network helper's sockets by their v2 cgroup.
 *
 * Layout: `<hierarchy>/orva/<owner>/w<n>`, where owner is `<pid>-<start time>`
 * of the node process — one parent per node, so two nodes on one host never
 * touch each other's groups, and a crashed node's groups are recognisable
 * (its owner process is gone, or the pid now belongs to a process that
 * started at another time). `cleanupStale` removes those at start. The tree
 * sits at the hierarchy's root rather than under the node's own cgroup: on
 * v2 a cgroup holding processes cannot hand controllers to children, and a
 * supervisor's (systemd's, a CI harness's) removal of the node's own group is
 * never blocked by our leftovers.
 *
 * Except v1's cpu hierarchy, where each worker's group is `cpu/orva.<owner>.w<n>`,
 * directly at the root: the scheduler walks every level of a task's group on
 * each context switch, and a worker switches twice a call. Three levels cost
 * the node about 9 % of its invoke throughput against one (measured side by
 * side). A root-level group with the default weight competes for CPU as one
 * more process would, which is what an unconfined worker did; its quota still
 * caps it. On v2 every controller shares one tree, which keeps the nesting
 * (the egress firewall matches the owner's group there).
 *
 * Joining is race-free: the worker is started through `/bin/sh -c` that
 * writes its own pid into every `cgroup.procs` and then `exec`s bwrap, so
 * bwrap and everything under it are born inside the limits — there is no
 * window in which a fast fork escapes, as there would be when moving the pid
 * after spawn. If a write fails the shell exits before bwrap runs: a worker
 * never starts unconfined.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupVersion = 'v1' | 'v2';

export interface CgroupLimits {
  memoryBytes: number;
  /** CPU bandwidth in CPUs (0.5 = half a core). */
  cpus: number;
  pidsMax: number;
}

/** CFS period: 100 ms, the kernel's default; the quota is `cpus` of it. */
const CPU_PERIOD_US = 100_000;
const V1_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;
const SAFE_PATH = /^[A-Za-z0-9/_.,-]+$/;
/** Process-wide, so two managers of one owner (tests) never pick the same worker name. */
let nextWorker = 1;

export interface CgroupLayout {
  version: CgroupVersion;
  /** v1: controller → its hierarchy's mount point. v2: `unified` → the mount point. */
  mounts: Record<string, string>;
  /** A hybrid host's v2 hierarchy without controllers, joined for the egress firewall's cgroup match. */
  unified: string | null;
}

/** Reads /proc/self/mountinfo: which cgroup hierarchies are mounted where. Null without memory+pids support. */
export function detectCgroups(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupLayout | null {
  const v1: Record<string, string> = {};
  let v2: string | null = null;
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = pre.split(' ')[4];
    const [fstype, , superOpts = ''] = post.split(' ');
    if (fstype === 'cgroup2') v2 ??= mountPoint;
    else if (fstype === 'cgroup') for (const opt of superOpts.split(',')) if ((V1_CONTROLLERS as readonly string[]).includes(opt)) v1[opt] ??= mountPoint;
  }
  if (V1_CONTROLLERS.every((c) => v1[c])) return { version: 'v1', mounts: v1, unified: v2 };
  if (v2) {
    const controllers = readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (['memory', 'pids', 'cpu'].every((c) => controllers.includes(c))) return { version: 'v2', mounts: { unified: v2 }, unified: v2 };
  }
  return null;
}

/** `<pid>-<start time in clock ticks>`: stays unique across pid reuse. Null when the process is gone. */
export function ownerKey(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may hold spaces and parens, so count from its last ')'.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return `${pid}-${start}`;
  } catch {
    return null;
  }
}

/** v1 cpu groups at the hierarchy's root: `orva.<owner>.w<n>`. */
const FLAT_CPU = /^orva\.(\d+-\d+)\.w\d+$/;

const ownerAlive = (owner: string): boolean => {
  const m = /^(\d+)-(\d+)$/.exec(owner);
  return m !== null && ownerKey(Number(m[1])) === owner;
};

/** SIGKILLs every process in a cgroup dir (v1 or v2), then removes it; retries while the kernel is still reaping. */
async function killAndRemove(dir: string): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      if (existsSync(join(dir, 'cgroup.kill'))) writeFileSync(join(dir, 'cgroup.kill'), '1');
      else for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) killQuietly(Number(pid));
      rmdirSync(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY') return false;
      await new Promise((r) => setTimeout(r, attempt < 10 ? 5 : 20));
    }
  }
  return false;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

const subdirs = (dir: string): string[] => {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
};

/** One worker's groups. */
export class WorkerCgroup {
  constructor(readonly dirs: readonly string[], private readonly version: CgroupVersion, private readonly memoryDir: string) {}

  /** Shell commands that move the running shell into every group; safe to embed (paths are checked). */
  joinScript(): string {
    return this.dirs.map((d) => `echo $$ > ${d}/cgroup.procs`).join(' && ');
  }

  /** True when the kernel's OOM killer killed something in the group (read after the worker exited). */
  oomKilled(): boolean {
    try {
      if (this.version === 'v2') return /^oom_kill (\d+)$/m.exec(readFileSync(join(this.memoryDir, 'memory.events'), 'utf8'))?.[1] !== '0';
      // memory.oom_control's oom_kill counter (kernels ≥ 4.13); failcnt alone also counts reclaims that succeeded.
      return /^oom_kill (\d+)$/m.exec(readFileSync(join(this.memoryDir, 'memory.oom_control'), 'utf8'))?.[1] !== '0';
    } catch {
      return false;
    }
  }

  /** Kills anything left inside (the network helper, a stray process) and removes the groups. */
  async remove(): Promise<void> {
    await Promise.all(this.dirs.map((d) => killAndRemove(d)));
  }
}

export interface CgroupsOptions {
  layout: CgroupLayout;
  /** Default: this process. */
  ownerPid?: number;
}

/** The node's parent groups and a factory for per-worker ones. */
export class Cgroups {
  readonly version: CgroupVersion;
  readonly owner: string;
  /** The owner's dir in each nested hierarchy (v1: memory, pids; plus `unified` when present). */
  readonly ownerDirs: Readonly<Record<string, string>>;
  private readonly layout: CgroupLayout;

  constructor(options: CgroupsOptions) {
    this.layout = options.layout;
    this.version = options.layout.version;
    const owner = ownerKey(options.ownerPid ?? process.pid);
    if (!owner) throw new Error('cgroups: the owner process is gone');
    this.owner = owner;
    const dirs: Record<string, string> = {};
    for (const [name, mount] of Object.entries(this.hierarchies())) {
      const top = join(mount, 'orva');
      mkdirSync(join(top, owner), { recursive: true });
      // v2: controllers must be handed down at each level before a child can use them.
      if (this.version === 'v2' && name === 'unified') {
        for (const dir of [mount, top, join(top, owner)]) writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory +pids +cpu');
      }
      dirs[name] = join(top, owner);
    }
    this.ownerDirs = dirs;
    // A clean exit removes the owner's (by then usually empty) groups; after a crash the next node start does.
    process.once('exit', () => {
      for (const d of Object.values(dirs)) {
        try {
          rmdirSync(d);
        } catch {}
      }
    });
  }

  /** The hierarchies with `orva/<owner>` parents: v1's memory and pids, plus the v2 one (the only one on v2, a marker-only one on hybrid). */
  private hierarchies(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.version === 'v1') for (const [controller, mount] of Object.entries(this.layout.mounts)) if (controller !== 'cpu') h[controller] = mount;
    if (this.layout.unified) h.unified = this.layout.unified;
    return h;
  }

  /**
   * The owner's group in the v2 hierarchy, for `socket cgroupv2` matches: its
   * dir and its depth below the hierarchy's root (orva = 1, the owner = 2).
   * Null on a host with no v2 hierarchy at all.
   */
  get v2Group(): { dir: string; level: number } | null {
    return this.layout.unified ? { dir: this.ownerDirs.unified!, level: 2 } : null;
  }

  /** Creates one worker's groups with its limits. Throws if the kernel refuses a limit. */
  create(limits: CgroupLimits): WorkerCgroup {
    const name = `w${nextWorker++}`;
    const dirs: string[] = [];
    try {
      if (this.version === 'v1') {
        const mem = this.mk('memory', name, dirs);
        writeFileSync(join(mem, 'memory.limit_in_bytes'), String(limits.memoryBytes));
        // memsw (memory + swap) at the same value: no swapping past the limit. Absent when swap accounting is off.
        if (existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(mem, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
        const cpu = this.mkDir(join(this.layout.mounts.cpu!, `orva.${this.owner}.${name}`), dirs);
        writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
        writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(quota(limits.cpus)));
        const pids = this.mk('pids', name, dirs);
        writeFileSync(join(pids, 'pids.max'), String(limits.pidsMax));
        if (this.layout.unified) this.mk('unified', name, dirs);
        return new WorkerCgroup(dirs, 'v1', mem);
      }
      const dir = this.mk('unified', name, dirs);
      writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
      // An OOM kills the whole worker (runtime and children), not a random member.
      writeFileSync(join(dir, 'memory.oom.group'), '1');
      writeFileSync(join(dir, 'cpu.max'), `${quota(limits.cpus)} ${CPU_PERIOD_US}`);
      writeFileSync(join(dir, 'pids.max'), String(limits.pidsMax));
      return new WorkerCgroup(dirs, 'v2', dir);
    } catch (err) {
      for (const d of dirs) {
        try {
          rmdirSync(d);
        } catch {}
      }
      throw err;
    }
  }

  private mk(hierarchy: string, name: string, dirs: string[]): string {
    return this.mkDir(join(this.ownerDirs[hierarchy]!, name), dirs);
  }

  private mkDir(dir: string, dirs: string[]): string {
    if (!SAFE_PATH.test(dir)) throw new Error(`cgroups: unexpected path ${dir}`);
    mkdirSync(dir);
    dirs.push(dir);
    return dir;
  }

  /**
   * Removes the groups of nodes that are gone (crashed, killed): every
   * `orva/<owner>` and `orva.<owner>.w<n>` whose owner process no longer
   * exists — after killing anything still inside. Live nodes' groups,
   * including this one's, are left alone. Returns the owners removed.
   */
  static async cleanupStale(layout: CgroupLayout): Promise<string[]> {
    const removed = new Set<string>();
    const hierarchies = { ...layout.mounts, ...(layout.unified ? { unified: layout.unified } : {}) };
    for (const mount of Object.values(hierarchies)) {
      const top = join(mount, 'orva');
      for (const owner of subdirs(top)) {
        if (ownerAlive(owner)) continue;
        const dir = join(top, owner);
        for (const w of subdirs(dir)) await killAndRemove(join(dir, w));
        if (await killAndRemove(dir)) removed.add(owner);
      }
      for (const group of subdirs(mount)) {
        const owner = FLAT_CPU.exec(group)?.[1];
        if (owner !== undefined && !ownerAlive(owner) && (await killAndRemove(join(mount, group)))) removed.add(owner);
      }
    }
    return [...removed];
  }
}

/** Microseconds of CPU per period; at least 1 ms (the kernel's minimum quota). */
const quota = (cpus: number): number => Math.max(1000, Math.round(cpus * CPU_PERIOD_US));
