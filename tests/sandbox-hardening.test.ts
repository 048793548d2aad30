/**
 * Sandbox hardening against the real driver: seccomp refusals, cgroup
 * limits, the memory budget, egress networking behind the host firewall,
 * environment hygiene, and cleanup. (The escape suite through HTTP is
 * tests/security/.)
 */
import { test, describe, after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { InvokeEvent } from '../protocol/worker-input.ts';
import type { OkFrame, WorkerOutput } from '../protocol/worker-output.ts';
import { OrvaError } from '../protocol/errors.ts';
import type { RuntimeName, SpawnSpec, WorkerProcess } from '../node/sandbox/driver.ts';
import { BwrapDriver, NOFILE_LIMIT, PIDS_MAX } from '../node/sandbox/bwrap.ts';
import { detectCgroups, ownerKey } from '../node/sandbox/cgroups.ts';
import { MemoryBudget } from '../node/sandbox/memory-budget.ts';
import { firstFrame } from './helpers/sandbox-start.ts';
import { compileSeccomp, seccompCatalog } from '../node/sandbox/seccomp.ts';

const driver = new BwrapDriver();
const layout = detectCgroups()!;
const dirs: string[] = [];
const live = new Set<WorkerProcess>();
afterEach(() => live.forEach((w) => w.kill()));
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const EVENT: InvokeEvent = { method: 'GET', httpMethod: 'GET', path: '/', rawPath: '/', headers: {}, query: {}, body: '', isBase64Encoded: false };

/** A fresh version dir holding `files`. */
function codeDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'orva-hardening-test-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const entry = (runtime: RuntimeName) => (runtime === 'node' ? 'handler.js' : 'handler.py');

/** A started worker: its frames in order, its exit, one call at a time. */
class W {
  readonly proc: WorkerProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #frames: WorkerOutput[] = [];
  #waiting: ((f: WorkerOutput | null) => void) | null = null;
  #exited = false;
  #seq = 0;

  constructor(runtime: RuntimeName, source: string, over: Partial<SpawnSpec> = {}, d: BwrapDriver = driver) {
    this.proc = d.spawn({ runtime, codeDir: codeDir({ [entry(runtime)]: source }), entrypoint: entry(runtime), env: { ORVA_FUNCTION_ID: 'fn-h' }, memoryMb: 128, cpus: 1, networkMode: 'none', ...over });
    live.add(this.proc);
    this.exit = new Promise((resolve) => this.proc.onExit((code, signal) => {
      live.delete(this.proc);
      this.#exited = true;
      this.#waiting?.(null);
      resolve({ code, signal });
    }));
    this.proc.onFrame((f) => {
      if (this.#waiting) {
        this.#waiting(f);
        this.#waiting = null;
      } else this.#frames.push(f);
    });
  }

  /** The next frame, or null once the worker is gone. */
  next(): Promise<WorkerOutput | null> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.#exited) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** One call; the JSON body of an ok frame, or null when the worker died during it. */
  async call(query: Record<string, string> = {}): Promise<unknown> {
    this.proc.send({ type: 'invoke', id: String(++this.#seq), executionId: 'exec-h', event: { ...EVENT, query } });
    const f = await this.next();
    if (f === null) return null;
    assert.equal(f.type, 'ok', JSON.stringify(f));
    return JSON.parse(Buffer.from((f as OkFrame).body).toString());
  }

  async stop(): Promise<void> {
    this.proc.kill();
    await this.exit;
  }
}

async function start(runtime: RuntimeName, source: string, over?: Partial<SpawnSpec>, d?: BwrapDriver): Promise<W> {
  const { w, first } = await firstFrame(() => new W(runtime, source, over, d));
  assert.equal(first?.type, 'ready', `not ready: ${JSON.stringify(first)} ${w.proc.outputTail}`);
  return w;
}

/** The worker's cgroup dir in one hierarchy, from /proc/<pid>/cgroup. */
function cgroupDir(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]!.split(',').includes(controller))!;
  return join(layout.mounts[controller]!, line.split(':')[2]!);
}

const pgrep = (pattern: string): string => {
  try {
    return execFileSync('pgrep', ['-f', pattern]).toString().trim();
  } catch {
    return '';
  }
};

/** Workers of this process still holding cgroups (their removal is asynchronous: poll briefly). */
async function leftoverCgroups(): Promise<string[]> {
  const owner = ownerKey(process.pid)!;
  let left: string[] = [];
  for (let i = 0; i < 100; i++) {
    left = Object.values({ ...layout.mounts, unified: layout.unified ?? '' }).filter(Boolean).flatMap((m) => {
      const dir = join(m, 'orva', owner);
      const nested = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name)) : [];
      return [...nested, ...readdirSync(m).filter((e) => e.startsWith(`orva.${owner}.`)).map((e) => join(m, e))];
    });
    if (left.length === 0 || live.size > 0) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
  return left;
}

describe('seccomp', () => {
  const { arch, numbers } = compileSeccomp();
  const nr = (name: string): number => numbers[name]![arch]!;

  /** A Python handler making one raw syscall with ctypes; answers its result and errno. */
  const RAW = `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def handler(e):
    args = [int(a) for a in e["query"].get("args", "0,0,0,0,0,0").split(",")]
    r = libc.syscall(int(e["query"]["nr"]), *[ctypes.c_long(a) for a in args])
    return {"r": r, "errno": ctypes.get_errno()}
`;

  test('seccomp - the filters are libseccomp exports for this architecture only, cached per process', () => {
    const a = compileSeccomp();
    assert.equal(a, compileSeccomp());
    for (const p of ['default', 'strict', 'permissive'] as const) {
      const bpf = Buffer.from(a.bpf[p]);
      assert.equal(bpf.length % 8, 0);
      // libseccomp's prologue: load seccomp_data.arch (offset 4), compare with AUDIT_ARCH_X86_64 / AARCH64.
      assert.deepEqual([bpf.readUInt16LE(0), bpf.readUInt32LE(4)], [0x20, 4]);
      assert.equal(bpf.readUInt32LE(12), arch === 'x86_64' ? 0xc000003e : 0xc00000b7);
    }
    // The same spec through libseccomp directly gives the same bytes: nothing is hand-assembled.
    const direct = execFileSync('/usr/bin/python3', ['-I', '-c', `
import seccomp, sys, tempfile
f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
f.add_rule(seccomp.KILL_PROCESS, "mount")
with tempfile.TemporaryFile() as t:
    f.export_bpf(t); t.seek(0); sys.stdout.write(str(len(t.read())))
`]).toString();
    assert.ok(Number(direct) > 0);
    assert.ok(a.bpf.permissive.length < a.bpf.default.length, 'the allowlist policies are longer than the denylist one');
  });

  const KILLED = ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'bpf', 'perf_event_open',
    'kexec_load', 'init_module', 'finit_module', 'delete_module', 'keyctl', 'add_key', 'request_key', 'userfaultfd', 'open_by_handle_at',
    'name_to_handle_at', 'reboot', 'swapon', 'swapoff', 'acct', 'quotactl', 'fsopen', 'move_mount', 'open_tree'];
  for (const policy of ['default', 'strict', 'permissive'] as const) {
    test(`seccomp - under ${policy}, every dangerous call from python ctypes kills the worker and is reported as seccompKilled`, async () => {
      const d = new BwrapDriver({ seccompPolicy: policy });
      const calls = policy === 'default' ? KILLED : ['mount', 'unshare', 'ptrace', 'bpf', 'keyctl', 'kexec_load'];
      await Promise.all(calls.map(async (name) => {
        const w = await start('python', RAW, {}, d);
        assert.equal(await w.call({ nr: String(nr(name)) }), null, `${name} returned`);
        const { code } = await w.exit;
        assert.equal(code, 128 + 31, name);
        assert.equal(w.proc.seccompKilled, true, name);
        assert.equal(w.proc.oomKilled, false);
      }));
    });
  }

  test('seccomp - io_uring and clone3 get ENOSYS (runtimes probe them) and the worker lives on', async () => {
    const w = await start('python', RAW);
    for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'clone3']) assert.deepEqual(await w.call({ nr: String(nr(name)) }), { r: -1, errno: 38 }, name);
    // The runtime is pid 1 (bwrap --as-pid-1): its parent is outside the pid namespace.
    assert.equal(((await w.call({ nr: String(nr('getppid')) })) as { r: number }).r, 0);
    await w.stop();
    assert.equal(w.proc.seccompKilled, false);
  });

  test('seccomp - clone with a namespace flag kills; a plain clone (fork) does not', async () => {
    const w = await start('python', `import os
${RAW}
def fork(e):
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return os.waitpid(pid, 0)[1] >> 8
_h = handler
def handler(e):
    return fork(e) if e["query"].get("fork") else _h(e)
`);
    assert.equal(await w.call({ fork: '1' }), 7);
    // clone(CLONE_NEWUSER | SIGCHLD): arg order (flags first) is the same on x86_64 and arm64.
    assert.equal(await w.call({ nr: String(nr('clone')), args: `${0x10000000 | 17},0,0,0,0,0` }), null);
    await w.exit;
    assert.equal(w.proc.seccompKilled, true);
  });

  test('seccomp - strict refuses child processes and IP sockets but keeps threads and Unix sockets', async () => {
    const d = new BwrapDriver({ seccompPolicy: 'strict' });
    const w = await start('python', `import os, socket, threading
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return e.errno
def handler(e):
    t = threading.Thread(target=lambda: None); t.start(); t.join()
    return {"fork": attempt(lambda: os.fork() or 0), "inet": attempt(lambda: socket.socket(socket.AF_INET).close()), "unix": attempt(lambda: socket.socketpair()), "thread": "ok"}
`, {}, d);
    assert.deepEqual(await w.call(), { fork: 38, inet: 38, unix: 'ok', thread: 'ok' });
    await w.stop();
  });

  for (const policy of ['default', 'strict', 'permissive'] as const) {
    test(`seccomp - a node worker starts and runs threads, timers and fs under ${policy} even with UV_USE_IO_URING=1 in its env`, async () => {
      const d = new BwrapDriver({ seccompPolicy: policy });
      const w = await start('node', `const { Worker } = require('worker_threads'); const fs = require('fs'); const crypto = require('crypto');
        exports.handler = async () => {
          const fromThread = await new Promise((res) => new Worker('require("worker_threads").parentPort.postMessage(6 * 7)', { eval: true }).on('message', res));
          fs.writeFileSync('/tmp/f', 'x'); await fs.promises.readFile('/tmp/f');
          await new Promise((r) => setTimeout(r, 5));
          return { fromThread, hash: crypto.createHash('sha256').update('x').digest('hex').length, uring: process.env.UV_USE_IO_URING ?? null };
        };`, { env: { UV_USE_IO_URING: '1' } }, d);
      assert.deepEqual(await w.call(), { fromThread: 42, hash: 64, uring: null });
      await w.stop();
      assert.equal(w.proc.seccompKilled, false);
    });
  }

  test('seccomp - node can reach no dangerous call: privileged operations fail with EPERM and the worker lives', async () => {
    const w = await start('node', `const os = require('os');
      const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      exports.handler = () => ({ setuid: attempt(() => process.setuid(0)), prio: attempt(() => os.setPriority(0, -10)), chroot: attempt(() => process.chroot && process.chroot('/')) });`);
    const r = (await w.call()) as Record<string, string>;
    assert.ok(['EPERM', 'EINVAL'].includes(r.setuid!), r.setuid); // uid 0 is not even mapped in the sandbox
    assert.notEqual(r.prio, 'ok'); // raising priority needs CAP_SYS_NICE
    await w.stop();
    assert.equal(w.proc.seccompKilled, false);
  });

  test('seccomp - the catalog lists both numberings, the dangerous set denied everywhere, and every policy', () => {
    const c = seccompCatalog('default');
    assert.equal(c.arch, arch);
    assert.deepEqual(c.policies.map((p) => p.name), ['default', 'strict', 'permissive']);
    const by = new Map(c.syscalls.map((s) => [s.name, s]));
    assert.deepEqual(by.get('mount')!.number, { x86_64: 165, aarch64: 40 });
    assert.deepEqual(by.get('open')!.number, { x86_64: 2, aarch64: null });
    for (const name of [...KILLED, 'io_uring_setup', 'io_uring_enter', 'io_uring_register']) {
      assert.deepEqual(by.get(name)?.policies, { default: 'deny', strict: 'deny', permissive: 'deny' }, name);
    }
    assert.deepEqual(by.get('read')!.policies, { default: 'allow', strict: 'allow', permissive: 'allow' });
    assert.deepEqual(by.get('fork')!.policies, { default: 'allow', strict: 'deny', permissive: 'allow' });
    for (const s of c.syscalls) assert.ok(s.category && s.description, s.name);
  });
});

describe('cgroup limits', () => {
  test('limits - the worker runs in its own cgroups: 1.5 × memory, cpus as CFS quota, pids.max 64, and they go when it exits', async () => {
    const w = await start('node', 'exports.handler = () => 1;', { memoryMb: 100, cpus: 0.5 });
    const mem = cgroupDir(w.proc.pid, 'memory');
    assert.match(mem, /\/orva\/\d+-\d+\/w\d+$/);
    assert.equal(readFileSync(join(mem, 'memory.limit_in_bytes'), 'utf8').trim(), String(150 * 2 ** 20));
    const cpu = cgroupDir(w.proc.pid, 'cpu');
    // v1: the cpu group sits at the hierarchy's root (one level for the scheduler to walk), named after its owner.
    if (layout.version === 'v1') assert.equal(cpu, join(layout.mounts.cpu!, `orva.${ownerKey(process.pid)}.${mem.split('/').pop()}`));
    assert.equal(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000');
    assert.equal(readFileSync(join(cgroupDir(w.proc.pid, 'pids'), 'pids.max'), 'utf8').trim(), String(PIDS_MAX));
    const nofile = readFileSync(`/proc/${w.proc.pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
    assert.deepEqual(nofile.split(/\s+/).slice(3, 5), [String(NOFILE_LIMIT), String(NOFILE_LIMIT)]);
    await w.stop();
    assert.deepEqual(await leftoverCgroups(), []);
  });

  for (const runtime of ['node', 'python'] as const) {
    test(`limits - a ${runtime} memory hog is OOM-killed (oomKilled) and only that worker dies`, async () => {
      const bystander = await start(runtime, runtime === 'node' ? 'exports.handler = () => "alive";' : 'def handler(e):\n    return "alive"\n');
      const hog = await start(runtime, runtime === 'node'
        // Off the V8 heap (Buffers), so the cgroup limit — not --max-old-space-size — is what stops it.
        ? 'const keep = []; exports.handler = () => { for (;;) keep.push(Buffer.alloc(8 << 20, 1)); };'
        : 'keep = []\ndef handler(e):\n    while True:\n        keep.append(bytearray(b"x" * (8 << 20)))\n', { memoryMb: 64 });
      assert.equal(await hog.call(), null);
      const { signal, code } = await hog.exit;
      assert.ok(code === 137 || signal === 'SIGKILL', `exit ${code} ${signal}`);
      assert.equal(hog.proc.oomKilled, true);
      assert.equal(hog.proc.seccompKilled, false);
      assert.equal(await bystander.call(), 'alive');
      await bystander.stop();
      assert.equal(bystander.proc.oomKilled, false);
    });
  }

  test('limits - a fork bomb stops at pids.max; the worker and the host survive', async () => {
    const w = await start('python', `import os, time
def handler(e):
    kids, err = [], None
    for _ in range(1000):
        try:
            pid = os.fork()
        except OSError as ex:
            err = ex.errno
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    return {"forked": len(kids), "errno": err}
`);
    const r = (await w.call()) as { forked: number; errno: number };
    assert.ok(r.forked < PIDS_MAX, `forked ${r.forked}`);
    assert.equal(r.errno, 11); // EAGAIN from the pids controller
    // The worker still answers (a second round hits the same wall), and a fresh worker starts meanwhile.
    assert.deepEqual(await w.call(), { forked: 0, errno: 11 });
    const other = await start('node', 'exports.handler = () => "fine";');
    assert.equal(await other.call(), 'fine');
    await other.stop();
    await w.stop();
  });

  for (const runtime of ['node', 'python'] as const) {
    test(`limits - ${runtime}: 10,000 open files are refused past the fd limit with EMFILE`, async () => {
      const w = await start(runtime, runtime === 'node'
        ? `const fs = require('fs'); exports.handler = () => { const fds = []; let err = null;
            for (let i = 0; i < 10000; i++) { try { fds.push(fs.openSync('/dev/null', 'r')); } catch (e) { err = e.code; break; } }
            fds.forEach((f) => fs.closeSync(f)); return { opened: fds.length, err }; };`
        : `import os
def handler(e):
    fds, err = [], None
    for _ in range(10000):
        try:
            fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as ex:
            err = ex.strerror
            break
    for f in fds:
        os.close(f)
    return {"opened": len(fds), "err": err}
`);
      const r = (await w.call()) as { opened: number; err: string };
      assert.ok(r.opened < NOFILE_LIMIT && r.opened > NOFILE_LIMIT - 100, `opened ${r.opened}`);
      assert.match(r.err, /EMFILE|Too many open files/);
      await w.stop();
    });
  }

  test('limits - filling /tmp stops at its size cap with ENOSPC and the worker lives', async () => {
    const w = await start('python', `def handler(e):
    n = 0
    try:
        with open("/tmp/fill", "wb") as f:
            while True:
                f.write(b"x" * (1 << 20))
                f.flush()
                n += 1
    except OSError as ex:
        return {"mb": n, "errno": ex.errno}
`, { memoryMb: 128 });
    const r = (await w.call()) as { mb: number; errno: number };
    assert.equal(r.errno, 28);
    assert.ok(r.mb <= 64, `wrote ${r.mb} MiB`);
    await w.stop();
    assert.equal(w.proc.oomKilled, false);
  });
});

describe('memory budget', () => {
  test('budget - reservations past 80 % of the total are refused with MEMORY_EXHAUSTED (Retry-After 30)', () => {
    const b = new MemoryBudget({ totalBytes: 1000 * 2 ** 20 });
    assert.equal(b.limitBytes, 800 * 2 ** 20);
    const releases = [0, 1, 2].map(() => b.reserve(256 * 2 ** 20));
    assert.throws(() => b.reserve(64 * 2 ** 20), (e: unknown) => e instanceof OrvaError && e.code === 'MEMORY_EXHAUSTED' && e.retryAfterS === 30 && e.status === 503);
    releases[0]!();
    releases[0]!(); // idempotent
    assert.equal(b.reservedBytes, 512 * 2 ** 20);
    b.reserve(256 * 2 ** 20);
  });

  test('budget - the driver refuses a worker past the budget before starting anything, and frees it on exit', async () => {
    // 400 MiB of "RAM": the budget is 320 MiB; each 128 MiB worker reserves 192 MiB.
    const d = new BwrapDriver({ memoryBudget: new MemoryBudget({ totalBytes: 400 * 2 ** 20 }) });
    const first = await start('node', 'exports.handler = () => 1;', {}, d);
    const before = await leftoverCgroups();
    assert.throws(() => d.spawn({ runtime: 'node', codeDir: codeDir({ 'handler.js': '' }), entrypoint: 'handler.js', env: {}, memoryMb: 128, cpus: 1, networkMode: 'none' }),
      (e: unknown) => e instanceof OrvaError && e.code === 'MEMORY_EXHAUSTED');
    assert.deepEqual(await leftoverCgroups(), before, 'no cgroup was created for the refused worker');
    await first.stop();
    const second = await start('node', 'exports.handler = () => 2;', {}, d);
    assert.equal(await second.call(), 2);
    await second.stop();
  });
});

describe('cleanup', () => {
  test('cleanup - a crashed node\'s cgroups (and what runs in them) and firewall table are removed at start; live ones stay', async () => {
    const dead = '999999-1'; // no such pid: its owner is gone
    const mine = ownerKey(process.pid)!;
    const hierarchies = Object.values({ ...layout.mounts, ...(layout.unified ? { unified: layout.unified } : {}) });
    for (const m of hierarchies) mkdirSync(join(m, 'orva', dead, 'w1'), { recursive: true });
    const flat = layout.version === 'v1' ? [join(layout.mounts.cpu!, `orva.${dead}.w1`), join(layout.mounts.cpu!, `orva.${dead}.w2`)] : [];
    for (const d of flat) mkdirSync(d);
    const liveFlat = layout.version === 'v1' ? join(layout.mounts.cpu!, `orva.${mine}.w0`) : null;
    if (liveFlat) mkdirSync(liveFlat);
    const stray = spawn('/bin/sh', ['-c', `echo $$ > ${join(layout.mounts.memory!, 'orva', dead, 'w1')}/cgroup.procs${flat.length ? ` && echo $$ > ${flat[0]}/cgroup.procs` : ''} && exec sleep 60`], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 100));
    execFileSync('nft', ['add', 'table', 'inet', 'orva_egress_999999_1']);
    const stale = await BwrapDriver.cleanupStale();
    assert.ok(stale.cgroups.includes(dead));
    assert.ok(stale.tables.includes('orva_egress_999999_1'));
    for (const m of hierarchies) assert.equal(existsSync(join(m, 'orva', dead)), false);
    for (const d of flat) assert.equal(existsSync(d), false);
    if (liveFlat) {
      assert.equal(existsSync(liveFlat), true);
      rmdirSync(liveFlat);
    }
    assert.equal(existsSync(join(layout.mounts.memory!, 'orva', mine)), true);
    await new Promise<void>((r) => (stray.exitCode !== null || stray.signalCode !== null ? r() : stray.once('exit', () => r())));
    assert.equal(stray.signalCode, 'SIGKILL');
  });
});

describe('egress', () => {
  const ns = `orva-t-${randomBytes(3).toString('hex')}`;
  const hostSide = `ovt${randomBytes(2).toString('hex')}`;
  const HOST_IP = '10.254.77.1';
  const NS_IP = '10.254.77.2';
  let outside: ChildProcess;
  let hostServer: Server;
  let hostPort = 0;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

  before(async () => {
    // A "remote" server: in a network namespace of its own, reachable from the host over a veth /30.
    ip('netns', 'add', ns);
    ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', hostSide);
    ip('link', 'set', hostSide, 'up');
    ip('-n', ns, 'addr', 'add', `${NS_IP}/30`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    outside = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('net').createServer((s) => s.end('outside')).listen(8080, '${NS_IP}', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => outside.stdout!.once('data', r));
    // A host server on every address: loopback, eth0, the veth's host side.
    hostServer = createServer((s) => s.end('host'));
    await new Promise<void>((r) => hostServer.listen(0, '0.0.0.0', () => r()));
    hostPort = (hostServer.address() as { port: number }).port;
  });

  after(() => {
    outside?.kill('SIGKILL');
    hostServer?.close();
    try {
      ip('link', 'del', hostSide);
    } catch {}
    try {
      ip('netns', 'del', ns);
    } catch {}
  });

  /** A node handler connecting to query.targets (host:port,…) and answering what each gave. */
  const PROBE = `const net = require('net'); const fs = require('fs'); const os = require('os');
    const probe = (target) => new Promise((res) => {
      const [host, port] = target.split(':');
      const s = net.connect({ host, port: Number(port), timeout: 1500 });
      let got = '';
      s.on('data', (d) => (got += d)); s.on('end', () => res(got)); s.on('timeout', () => { s.destroy(); res('timeout'); }); s.on('error', (e) => res(e.code));
    });
    exports.handler = async (e) => ({
      results: Object.fromEntries(await Promise.all(e.query.targets.split(',').map(async (t) => [t, await probe(t)]))),
      resolv: (() => { try { return fs.readFileSync('/etc/resolv.conf', 'utf8'); } catch (err) { return err.code; } })(),
      ifaces: Object.keys(os.networkInterfaces()).sort(),
    });`;

  const hostAddresses = (): string[] => Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);

  test('egress - an egress worker reaches a server outside the host but never the host itself, its loopback, or link-local metadata', async () => {
    const targets = [`${NS_IP}:8080`, `127.0.0.1:${hostPort}`, `10.0.2.2:${hostPort}`, ...hostAddresses().map((a) => `${a}:${hostPort}`), `169.254.169.254:80`];
    assert.ok(targets.includes(`${HOST_IP}:${hostPort}`));
    const w = await start('node', PROBE, { networkMode: 'egress' });
    const r = (await w.call({ targets: targets.join(',') })) as { results: Record<string, string>; resolv: string; ifaces: string[] };
    assert.equal(r.results[`${NS_IP}:8080`], 'outside');
    for (const t of targets.slice(1)) assert.notEqual(r.results[t], 'host', `${t} reached the host`);
    for (const t of targets.slice(1)) assert.ok(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'timeout', ''].includes(r.results[t]!), `${t}: ${r.results[t]}`);
    assert.match(r.resolv, /^nameserver 10\.0\.2\.3$/m);
    assert.deepEqual(r.ifaces, ['lo', 'tap0']);
    await w.stop();
  });

  test('egress - python reaches the outside server too; in network_mode none nothing is reachable', async () => {
    const src = `import socket
def handler(e):
    out = {}
    for t in e["query"]["targets"].split(","):
        h, p = t.split(":")
        try:
            s = socket.create_connection((h, int(p)), timeout=1.5)
            out[t] = s.recv(100).decode()
            s.close()
        except OSError as ex:
            out[t] = type(ex).__name__
    return out
`;
    const targets = `${NS_IP}:8080,127.0.0.1:${hostPort},${hostAddresses()[0]}:${hostPort}`;
    const eg = await start('python', src, { networkMode: 'egress' });
    const a = (await eg.call({ targets })) as Record<string, string>;
    assert.equal(a[`${NS_IP}:8080`], 'outside');
    assert.notEqual(a[`127.0.0.1:${hostPort}`], 'host');
    assert.notEqual(a[`${hostAddresses()[0]}:${hostPort}`], 'host');
    await eg.stop();
    const none = await start('python', src, { networkMode: 'none' });
    const b = (await none.call({ targets })) as Record<string, string>;
    for (const v of Object.values(b)) assert.notEqual(v, 'outside');
    for (const v of Object.values(b)) assert.notEqual(v, 'host');
    await none.stop();
  });

  test('egress - the network helper runs in the worker\'s cgroup and ends with it', async () => {
    const w = await start('node', PROBE, { networkMode: 'egress' });
    const procs = readFileSync(join(cgroupDir(w.proc.pid, 'pids'), 'cgroup.procs'), 'utf8').trim().split('\n');
    const names = procs.map((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim());
    assert.ok(names.includes('slirp4netns'), names.join(','));
    const slirpPid = procs[names.indexOf('slirp4netns')]!;
    await w.stop();
    for (let i = 0; i < 50 && existsSync(`/proc/${slirpPid}`); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(existsSync(`/proc/${slirpPid}`), false);
  });
});

describe('environment hygiene', () => {
  test('hygiene - the worker holds no descriptor of the node beyond its pipes, and sees no other function\'s code', async () => {
    const other = codeDir({ 'secret.txt': 'other function data' });
    const w = await start('node', `const fs = require('fs');
      exports.handler = (e) => ({
        fds: fs.readdirSync('/proc/self/fd').map((fd) => { try { return fd + '=' + fs.readlinkSync('/proc/self/fd/' + fd); } catch { return fd + '=?'; } }),
        other: (() => { try { return fs.readFileSync(e.query.other, 'utf8'); } catch (err) { return err.code; } })(),
        tmp: fs.readdirSync('/tmp'),
        cmdline1: fs.readFileSync('/proc/1/cmdline', 'latin1'),
        environ1: fs.readFileSync('/proc/1/environ', 'latin1'),
        env: Object.keys(process.env).sort(),
      });`, { env: { ORVA_FUNCTION_ID: 'fn-h', MINE: '1' } });
    const r = (await w.call({ other: join(other, 'secret.txt') })) as { fds: string[]; other: string; tmp: string[]; cmdline1: string; environ1: string; env: string[] };
    // '?': the directory fd readdir itself used, closed by the time it is read.
    for (const fd of r.fds) assert.match(fd, /^\d+=(pipe:|socket:|anon_inode:|\/dev\/null|\?$)/, `unexpected descriptor ${fd}`);
    assert.equal(r.other, 'ENOENT');
    assert.deepEqual(r.tmp, []);
    assert.doesNotMatch(r.cmdline1, /cgroup|ulimit|orva-sandbox/);
    // pid 1 is the worker itself (bwrap --as-pid-1): only its own environment.
    assert.equal(r.environ1, 'ORVA_FUNCTION_ID=fn-h\0MINE=1\0PWD=/code\0');
    assert.deepEqual(r.env, ['MINE', 'ORVA_EXECUTION_ID', 'ORVA_FUNCTION_ID', 'PWD']);
    await w.stop();
  });

  test('hygiene - nothing is left behind: no worker cgroups, no network helpers, no test netns', async () => {
    live.forEach((w) => w.kill());
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await leftoverCgroups(), []);
    assert.equal(pgrep('orva-hardening-test-'), '');
    assert.equal(pgrep('slirp4netns.*tap0'), '');
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list']).toString(), /orva-t-/);
  });
});
