/**
 * What a node started on the host — processes, cgroups, mounts, temp and
 * build dirs — sampled while it runs and checked after it stopped, so the
 * security suites can prove nothing outlives it.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeHandle } from './processes.ts';

/** Host processes, cgroups and mounts the node made, to check that none outlives it. */
export class HostWatch {
  #node: NodeHandle | null = null;
  #nodeId = '';
  /** pid → `starttime comm` of every process seen below the node. */
  readonly #procs = new Map<number, string>();
  readonly #cgroups = new Set<string>();
  #cgroupsBefore = new Set<string>();
  #mountsBefore = new Set<string>();

  begin(): void {
    this.#cgroupsBefore = new Set([...orvaCgroups(), ...ownCgroups(process.pid)]);
    this.#mountsBefore = mountPoints();
  }

  started(n: NodeHandle): void {
    this.#node = n;
    this.#nodeId = readFileSync(join(n.dataDir, 'node-id'), 'utf8').trim();
    this.sample();
  }

  /** Record the node's descendants (workers, bwrap, network helpers) and their cgroups. */
  sample(): void {
    const root = this.#node?.proc.pid;
    if (!root) return;
    const stats = allStats();
    const children = new Map<number, number[]>();
    for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
    const queue = [...(children.get(root) ?? [])];
    while (queue.length > 0) {
      const pid = queue.pop()!;
      const s = stats.get(pid)!;
      this.#procs.set(pid, `${s.start} ${s.comm}`);
      for (const c of ownCgroups(pid)) this.#cgroups.add(c);
      queue.push(...(children.get(pid) ?? []));
    }
    // A network helper that daemonized (reparented away from the node) names its worker's pid.
    for (const [pid, s] of stats) {
      if (!/^(pasta|passt|slirp4netns)/.test(s.comm)) continue;
      const cmd = cmdline(pid);
      if ([...this.#procs.keys()].some((p) => new RegExp(`(^|[^0-9])${p}([^0-9]|$)`).test(cmd))) this.#procs.set(pid, `${s.start} ${s.comm}`);
    }
    for (const c of orvaCgroups()) if (c.includes(this.#nodeId) || c.includes(String(root))) this.#cgroups.add(c);
  }

  async assertNothingLeft(nodeTmpDir: string): Promise<void> {
    const n = this.#node!;
    const leftovers = () => {
      const stats = allStats();
      const procs = [...this.#procs].filter(([pid, id]) => stats.has(pid) && `${stats.get(pid)!.start} ${stats.get(pid)!.comm}` === id).map(([pid, id]) => `${pid} ${id}: ${cmdline(pid)}`);
      for (const pid of stats.keys()) if (pid !== process.pid && cmdline(pid).includes(n.dataDir) && !this.#procs.has(pid)) procs.push(`${pid}: ${cmdline(pid)}`);
      const cgroups = [...this.#cgroups, ...orvaCgroups().filter((c) => c.includes(this.#nodeId))].filter((c) => !this.#cgroupsBefore.has(c) && existsSync(c));
      const mounts = [...mountPoints()].filter((m) => !this.#mountsBefore.has(m) && !m.startsWith('/run/netns'));
      return { procs, cgroups: [...new Set(cgroups)], mounts };
    };
    // --die-with-parent and cgroup removal are asynchronous: allow them a moment.
    let left = leftovers();
    for (let i = 0; i < 50 && left.procs.length + left.cgroups.length + left.mounts.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = leftovers();
    }
    assert.ok(this.#procs.size > 0, 'no worker process was ever seen: the watch saw nothing');
    assert.deepEqual(left.procs, [], 'processes outlived the node');
    assert.deepEqual(left.cgroups, [], 'cgroups outlived the node');
    assert.deepEqual(left.mounts, [], 'mounts outlived the node');
    // tsx (which runs the node under test) keeps its compile cache there; anything else is the node's.
    assert.deepEqual(readdirSync(nodeTmpDir).filter((f) => !f.startsWith('tsx-')), [], 'the node left files in its TMPDIR');
    const builds = join(n.dataDir, 'builds');
    assert.deepEqual(existsSync(builds) ? readdirSync(builds) : [], [], 'build scratch dirs were left');
  }
}

function allStats(): Map<number, { ppid: number; start: string; comm: string }> {
  const out = new Map<number, { ppid: number; start: string; comm: string }>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      out.set(Number(p), { ppid: Number(fields[1]), start: fields[19], comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {}
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** The cgroup dirs (absolute) a process is in, for every hierarchy mounted under /sys/fs/cgroup. */
function ownCgroups(pid: number): string[] {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.trim().split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === '/' || path === undefined) continue;
    const dir = controllers === '' ? 'unified' : controllers.replace(/^name=/, '');
    for (const c of dir.split(',')) if (existsSync(`/sys/fs/cgroup/${c}`)) out.push(`/sys/fs/cgroup/${c}${path}`);
  }
  return out;
}

/** Every cgroup dir under /sys/fs/cgroup/<hierarchy>/orva*, three levels deep. */
function orvaCgroups(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    out.push(dir);
    if (depth === 0) return;
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name), depth - 1);
    } catch {}
  };
  for (const h of safeList('/sys/fs/cgroup')) {
    for (const e of safeList(`/sys/fs/cgroup/${h}`)) if (e.startsWith('orva')) walk(`/sys/fs/cgroup/${h}/${e}`, 3);
  }
  return out;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Every mount point of this process's mount namespace. */
function mountPoints(): Set<string> {
  return new Set(readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n').map((l) => l.split(' ')[4]));
}
