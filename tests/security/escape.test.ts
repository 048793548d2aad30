/**
 * The escape suite, host side: handlers deployed and invoked like any user's
 * try to reach the host (dangerous syscalls, native code, host files, the
 * node's data dir, another function's code, the host's /proc, /code) and to
 * exhaust it (fork bomb, memory, /tmp, descriptors, CPU). Every attempt must
 * fail safely — refused, a contained 502 or a 504 — and after each one the
 * canaries on the same node still answer 200. At the end the node stops and
 * nothing of it may be left: processes, cgroups, mounts, temp dirs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { eventually } from '../helpers/assert.ts';
import { createFn, deployed, type FnOptions, invoke, waitDeployment } from '../helpers/functions.ts';
import { call, type CallResult } from '../helpers/http.ts';
import { HostWatch } from '../helpers/host-watch.ts';
import { type NodeHandle, ROOT, startNode, tempDir } from '../helpers/processes.ts';
import { tgz } from '../helpers/tar.ts';

type Runtime = 'node' | 'python';
const RUNTIMES: Runtime[] = ['node', 'python'];

/** In the node's environment only: no sandbox may ever see it. */
const HOST_MARKER = `orvahostmarker${randomBytes(8).toString('hex')}`;
/** In the other function's code and secret only. */
const OTHER_MARKER = `orvaothermarker${randomBytes(8).toString('hex')}`;


/** Mount points of the host's mount namespace (the test's own). */
let node: NodeHandle;
let nodeTmp: string;
let watch: HostWatch;
const canaries: Record<Runtime, string> = { node: '', python: '' };
const probes: Record<Runtime, string> = { node: '', python: '' };
let other = { id: '', hash: '' };

// ---- helpers

/** Both canaries answer 200 from their (unchanged) workers; also samples the node's process tree. */
const canaryWorkers: Partial<Record<Runtime, string>> = {};
async function canariesAnswer(): Promise<void> {
  watch.sample();
  for (const rt of RUNTIMES) {
    const r = await invoke(node, canaries[rt]);
    assert.equal(r.status, 200, `the ${rt} canary must still answer: ${r.status} ${r.text}`);
    assert.equal(r.json.canary, rt);
    canaryWorkers[rt] ??= r.json.me;
  }
}

/** The canaries' workers are the ones they had before: an attempt killed only its own worker. */
async function canaryWorkersSurvived(): Promise<void> {
  for (const rt of RUNTIMES) {
    const r = await invoke(node, canaries[rt]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.me, canaryWorkers[rt], `the ${rt} canary's worker was replaced`);
  }
}

/** A test of one escape attempt: its body, then the canaries. */
function attempt(name: string, body: () => Promise<void>): void {
  test(name, async () => {
    await body();
    await canariesAnswer();
  });
}

/** Run one probe operation in a runtime's probe function; the probe must answer 200. */
async function probe(rt: Runtime, op: Record<string, unknown>): Promise<any> {
  const r = await invoke(node, probes[rt], { body: op });
  assert.equal(r.status, 200, `${rt} probe ${JSON.stringify(op)}: ${r.status} ${r.text}`);
  return r.json;
}

/** A result of the probes' `attempt`: what happened, never the content of something it must not see. */
interface Outcome {
  ok: boolean;
  code?: string;
  value?: unknown;
}

function assertRefused(o: Outcome, what: string, codes?: string[]): void {
  assert.equal(o.ok, false, `${what} must be refused, got ${JSON.stringify(o).slice(0, 400)}`);
  if (codes) assert.ok(codes.includes(o.code ?? ''), `${what}: expected ${codes.join('/')}, got ${o.code}`);
}

/** Deploy with limits FnOptions does not name (memory_mb); asserts the build succeeded. */
function deployedWith(code: string, opts: FnOptions & { memory_mb?: number }): Promise<string> {
  return deployed(node, code, opts);
}

/** An error answer with its code, and the execution it names (polled: records are written in batches). */
async function execution(r: CallResult): Promise<{ record: any; logs: string }> {
  const id = r.json?.error?.details?.execution_id;
  assert.ok(id, `no execution id in ${r.text}`);
  const record = await eventually('the execution record', async () => {
    const e = await call(node.url, 'GET', `/api/v1/executions/${id}`, { key: node.adminKey });
    return e.status === 200 ? e.json : undefined;
  });
  const logs = await call(node.url, 'GET', `/api/v1/executions/${id}/logs`, { key: node.adminKey });
  return { record, logs: logs.json?.logs ?? '' };
}

// ---- the probes: one function per runtime running one named operation per call

const NODE_PROBE = String.raw`
const fs = require('fs');
const cp = require('child_process');
const attempt = (f) => { try { return { ok: true, value: f() }; } catch (e) { return { ok: false, code: e.code || e.name, message: String(e.message).slice(0, 300) }; } };
const ops = {
  read: (a) => attempt(() => fs.readFileSync(a.path, 'utf8').slice(0, 4096)),
  list: (a) => attempt(() => fs.readdirSync(a.path)),
  write: (a) => attempt(() => { fs.writeFileSync(a.path, 'orva-escape'); return 'written'; }),
  env: () => ({ ok: true, value: process.env }),
  procs: () => ({ ok: true, value: fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => ({
    pid: Number(p),
    cmdline: attempt(() => fs.readFileSync('/proc/' + p + '/cmdline', 'utf8')),
    environ: attempt(() => fs.readFileSync('/proc/' + p + '/environ', 'utf8')),
  })) }),
  spawn: (a) => {
    const r = cp.spawnSync(a.file, a.args || [], { timeout: 8000, encoding: 'utf8', env: {} });
    return { ok: !r.error && r.status === 0, code: r.error ? r.error.code : undefined, status: r.status, signal: r.signal, stdout: (r.stdout || '').slice(0, 4000), stderr: (r.stderr || '').slice(0, 1000) };
  },
  dlopen: (a) => attempt(() => { process.dlopen({ exports: {} }, a.path); return 'loaded'; }),
  binding: (a) => attempt(() => { const b = process.binding(a.name); return Object.keys(b).length; }),
};
exports.handler = async (e) => { const a = JSON.parse(e.body); return ops[a.op](a); };
`;

const PYTHON_PROBE = String.raw`
import ctypes, errno, json, os, platform, struct, time

def attempt(f):
    try:
        return {'ok': True, 'value': f()}
    except OSError as e:
        return {'ok': False, 'code': errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__, 'message': str(e)[:300]}
    except Exception as e:
        return {'ok': False, 'code': type(e).__name__, 'message': str(e)[:300]}

def read(path):
    with open(path, 'rb') as f:
        return f.read(4096).decode('utf-8', 'replace')

def write(path):
    with open(path, 'w') as f:
        f.write('orva-escape')
    return 'written'

def procs():
    out = []
    for p in os.listdir('/proc'):
        if p.isdigit():
            out.append({'pid': int(p), 'cmdline': attempt(lambda: read('/proc/%s/cmdline' % p)), 'environ': attempt(lambda: read('/proc/%s/environ' % p))})
    return out

# ---- raw syscalls through libc's syscall(), with the x86_64 and arm64 numbers
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {
    'x86_64': dict(mount=165, umount2=166, unshare=272, setns=308, pivot_root=155, ptrace=101, process_vm_readv=310, bpf=321,
                   perf_event_open=298, kexec_load=246, kexec_file_load=320, init_module=175, finit_module=313, delete_module=176,
                   keyctl=250, add_key=248, request_key=249, userfaultfd=323, open_by_handle_at=304, name_to_handle_at=303,
                   reboot=169, swapon=167, swapoff=168, acct=163, io_uring_setup=425),
    'aarch64': dict(mount=40, umount2=39, unshare=97, setns=268, pivot_root=41, ptrace=117, process_vm_readv=270, bpf=280,
                    perf_event_open=241, kexec_load=104, kexec_file_load=294, init_module=105, finit_module=273, delete_module=106,
                    keyctl=219, add_key=217, request_key=218, userfaultfd=282, open_by_handle_at=265, name_to_handle_at=264,
                    reboot=142, swapon=224, swapoff=225, acct=89, io_uring_setup=425),
}[platform.machine()]
L = ctypes.c_long

def sc(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(L(NR[name]), *args)
    return r, ctypes.get_errno()

def sleeper():
    pid = os.fork()
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    return pid

def reap(pid):
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except OSError:
        pass

def ptrace():
    pid = sleeper()
    try:
        r = sc('ptrace', L(16), L(pid), None, None)  # PTRACE_ATTACH our own child: the mildest target there is
        return r
    finally:
        reap(pid)

def process_vm_readv():
    buf = ctypes.create_string_buffer(b'orva', 16)
    pid = sleeper()
    try:
        local = ctypes.create_string_buffer(16)
        liov = struct.pack('PN', ctypes.addressof(local), 16)
        riov = struct.pack('PN', ctypes.addressof(buf), 16)
        return sc('process_vm_readv', L(pid), liov, L(1), riov, L(1), L(0))
    finally:
        reap(pid)

def setns():
    fd = os.open('/proc/self/ns/mnt', os.O_RDONLY)
    try:
        return sc('setns', L(fd), L(0))
    finally:
        os.close(fd)

def bpf():
    attr = struct.pack('IIII', 2, 4, 4, 1) + b'\0' * 112  # BPF_MAP_CREATE of a one-entry array
    return sc('bpf', L(0), attr, L(len(attr)))

def perf_event_open():
    attr = struct.pack('IIQ', 1, 128, 0) + b'\0' * 112  # PERF_TYPE_SOFTWARE, cpu clock, of this process
    return sc('perf_event_open', attr, L(0), L(-1), L(-1), L(0))

def finit_module():
    fd = os.open('/code/handler.py', os.O_RDONLY)
    try:
        return sc('finit_module', L(fd), b'', L(0))
    finally:
        os.close(fd)

def file_handle():
    return ctypes.create_string_buffer(struct.pack('Ii', 128, 0) + b'\0' * 128)

def name_to_handle_at():
    mount_id = ctypes.c_int(0)
    return sc('name_to_handle_at', L(-100), b'/code', file_handle(), ctypes.byref(mount_id), L(0))

def open_by_handle_at():
    fd = os.open('/code', os.O_RDONLY)
    try:
        return sc('open_by_handle_at', L(fd), file_handle(), L(0))
    finally:
        os.close(fd)

SYSCALLS = {
    'mount': lambda: sc('mount', b'none', b'/tmp', b'tmpfs', L(0), None),
    'umount2': lambda: sc('umount2', b'/code', L(2)),
    'unshare': lambda: sc('unshare', L(0x10000000 | 0x20000)),
    'setns': setns,
    'pivot_root': lambda: sc('pivot_root', b'/tmp', b'/tmp'),
    'ptrace': ptrace,
    'process_vm_readv': process_vm_readv,
    'bpf': bpf,
    'perf_event_open': perf_event_open,
    'kexec_load': lambda: sc('kexec_load', L(0), L(0), None, L(0)),
    'kexec_file_load': lambda: sc('kexec_file_load', L(-1), L(-1), L(1), b'', L(4)),
    'init_module': lambda: sc('init_module', None, L(0), b''),
    'finit_module': finit_module,
    'delete_module': lambda: sc('delete_module', b'orva_no_such_module', L(0o4000)),
    'keyctl': lambda: sc('keyctl', L(0), L(-3), L(1)),
    'add_key': lambda: sc('add_key', b'user', b'orva-probe', b'x', L(1), L(-3)),
    'request_key': lambda: sc('request_key', b'user', b'orva-probe', None, L(0)),
    'userfaultfd': lambda: sc('userfaultfd', L(1)),
    'io_uring_setup': lambda: sc('io_uring_setup', L(1), ctypes.create_string_buffer(120)),
    'name_to_handle_at': name_to_handle_at,
    'open_by_handle_at': open_by_handle_at,
    'reboot': lambda: sc('reboot', L(0xfee1dead), L(0x28121969), L(0)),
    'swapon': lambda: sc('swapon', b'/tmp/orva-swap', L(0)),
    'swapoff': lambda: sc('swapoff', b'/tmp/orva-swap'),
    'acct': lambda: sc('acct', None),
}
FD_RESULTS = {'userfaultfd', 'io_uring_setup', 'perf_event_open', 'bpf', 'open_by_handle_at'}

def syscall(name):
    r, err = SYSCALLS[name]()
    if r >= 0 and name in FD_RESULTS:
        os.close(r)
    return {'ok': r != -1, 'ret': r, 'code': errno.errorcode.get(err, str(err)), 'arch': platform.machine()}

OPS = {
    'read': lambda a: attempt(lambda: read(a['path'])),
    'list': lambda a: attempt(lambda: os.listdir(a['path'])),
    'write': lambda a: attempt(lambda: write(a['path'])),
    'env': lambda a: {'ok': True, 'value': dict(os.environ)},
    'procs': lambda a: {'ok': True, 'value': procs()},
    'exec': lambda a: attempt(lambda: os.execv(a['file'], [a['file']])),
    'dlopen': lambda a: attempt(lambda: str(ctypes.CDLL(a['path']))),
    'syscall': lambda a: syscall(a['name']),
}

def handler(event):
    a = json.loads(event['body'])
    return OPS[a['op']](a)
`;

/** The dangerous calls every policy refuses, as the python probe names them. */
const DANGEROUS = ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'ptrace', 'process_vm_readv', 'bpf', 'perf_event_open', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'keyctl', 'add_key', 'request_key', 'userfaultfd', 'io_uring_setup', 'name_to_handle_at', 'open_by_handle_at', 'reboot', 'swapon', 'swapoff', 'acct'];

// ---- the node under attack

before(async () => {
  nodeTmp = tempDir('sec-tmpdir');
  watch = new HostWatch();
  watch.begin();
  node = await startNode({ env: { TMPDIR: nodeTmp, HOST_SECRET_MARKER: HOST_MARKER } });
  watch.started(node);
  const [cn, cp, pn, pp, o] = await Promise.all([
    deployed(node, `const me = Math.random().toString(36).slice(2); exports.handler = async () => ({ canary: 'node', me });`),
    deployed(node, `import random\nme = str(random.random())\ndef handler(event):\n    return {'canary': 'python', 'me': me}\n`, { runtime: 'python' }),
    deployed(node, NODE_PROBE, { timeout_ms: 15_000 }),
    deployed(node, PYTHON_PROBE, { runtime: 'python', timeout_ms: 15_000 }),
    deployed(node, `exports.handler = async () => ${JSON.stringify(OTHER_MARKER)};`),
  ]);
  Object.assign(canaries, { node: cn, python: cp });
  Object.assign(probes, { node: pn, python: pp });
  const secret = await call(node.url, 'POST', `/api/v1/functions/${o}/secrets`, { key: node.adminKey, body: { key: 'OTHER_SECRET', value: OTHER_MARKER } });
  assert.equal(secret.status, 200, secret.text);
  const row = await call(node.url, 'GET', `/api/v1/functions/${o}`, { key: node.adminKey });
  other = { id: o, hash: row.json.code_hash };
  assert.ok(existsSync(join(node.dataDir, 'versions', other.id, other.hash)), 'the other function is materialised on the host');
});

after(async () => {
  if (node.proc.exitCode === null) await node.stop();
});

// ---- syscalls

test('python - every dangerous syscall is refused (mount, unshare, setns, ptrace, bpf, kexec, modules, keys, userfaultfd, io_uring, …)', async (t) => {
  for (const name of DANGEROUS) {
    await t.test(name, async () => {
      const r = await invoke(node, probes.python, { body: { op: 'syscall', name } });
      // Refused with an errno, or the worker killed for it (a 502 contained to that worker).
      if (r.status === 502) return assert.equal(r.json.error.code, 'WORKER_CRASHED');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.ok, false, `${name} was allowed: ${JSON.stringify(r.json)}`);
    });
  }
  await canariesAnswer();
});

// A shared library whose constructor makes the raw calls: native code is what a node handler would bring
// (a prebuilt addon in its tarball) to get past what JavaScript can reach. Results go to /tmp as JSON.
const NATIVE_PROBE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int out;
static void put(const char *name, long r) {
  dprintf(out, "\"%s\":{\"ret\":%ld,\"errno\":%d},", name, r, r < 0 ? errno : 0);
}
static long fd_result(long r) { if (r >= 0) close((int)r); return r; }

__attribute__((constructor)) static void probe(void) {
  out = open("/tmp/native-probe.json", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (out < 0) return;
  dprintf(out, "{");
  pid_t child = fork();
  if (child == 0) { /* single-threaded, unlike node: the only place unshare(CLONE_NEWUSER) could work */
    long r = syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS);
    _exit(r == 0 ? 0 : (errno & 0x7f) + 1);
  }
  int st = 0;
  if (child > 0) waitpid(child, &st, 0);
  dprintf(out, "\"unshare\":{\"ret\":%d,\"errno\":%d},", child > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1, child > 0 && WIFEXITED(st) ? WEXITSTATUS(st) - 1 : -1);
  errno = 0; put("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
  pid_t sleeper = fork();
  if (sleeper == 0) { sleep(3); _exit(0); }
  errno = 0; put("ptrace", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, sleeper, 0, 0));
  kill(sleeper, SIGKILL); waitpid(sleeper, 0, 0);
  unsigned int map[32] = {2, 4, 4, 1};
  errno = 0; put("bpf", fd_result(syscall(SYS_bpf, 0, map, sizeof map)));
  errno = 0; put("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
  errno = 0; put("keyctl", syscall(SYS_keyctl, 0, -3, 1));
  errno = 0; put("userfaultfd", fd_result(syscall(SYS_userfaultfd, 1)));
  unsigned char params[120] = {0};
  errno = 0; put("io_uring_setup", fd_result(syscall(425, 1, params)));
  unsigned int perf[32] = {1, 128, 0, 0};
  errno = 0; put("perf_event_open", fd_result(syscall(SYS_perf_event_open, perf, 0, -1, -1, 0)));
  dprintf(out, "\"done\":true}");
  close(out);
}
`;

test('node - native code loaded with process.dlopen is refused the same calls (unshare, mount, ptrace, bpf, kexec, keyctl, userfaultfd, io_uring, perf)', async (t) => {
  let so: Buffer;
  try {
    const dir = tempDir('sec-native');
    writeFileSync(join(dir, 'probe.c'), NATIVE_PROBE_C);
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'probe.so'), join(dir, 'probe.c')], { stdio: 'pipe' });
    so = readFileSync(join(dir, 'probe.so'));
  } catch (err) {
    return t.skip(`no C compiler to build the native probe: ${(err as Error).message}`);
  }
  const handler = `const fs = require('fs'); exports.handler = async () => { try { process.dlopen({ exports: {} }, '/code/probe.so'); } catch (e) { /* no registration: only the constructor ran */ } return JSON.parse(fs.readFileSync('/tmp/native-probe.json', 'utf8')); };`;
  const id = await createFn(node, { timeout_ms: 15_000 });
  const up = await call(node.url, 'POST', `/api/v1/functions/${id}/deploy`, {
    key: node.adminKey,
    rawBody: tgz([{ name: 'handler.js', data: handler }, { name: 'probe.so', data: so }]),
    headers: { 'content-type': 'application/gzip' },
  });
  assert.equal(up.status, 202, up.text);
  assert.equal((await waitDeployment(node, up.json.id)).status, 'succeeded');
  const r = await invoke(node, id);
  if (r.status === 502) assert.equal(r.json.error.code, 'WORKER_CRASHED');
  else {
    assert.equal(r.status, 200, r.text);
    const allowed = Object.entries(r.json as Record<string, { ret: number; errno: number }>).filter(([k, v]) => k !== 'done' && v.ret !== -1);
    assert.deepEqual(allowed, [], `native code was allowed: ${JSON.stringify(allowed)}`);
  }
  await canariesAnswer();
});

attempt('node - no shell or host tool can be spawned, and a child node gets no further than its parent', async () => {
  for (const file of ['/bin/sh', '/usr/bin/bash', '/usr/bin/mount', '/usr/bin/unshare', '/usr/bin/nsenter', '/usr/bin/python3', '/usr/bin/bwrap', '/usr/sbin/ip', '/sbin/kexec']) {
    const o = await probe('node', { op: 'spawn', file, args: ['-c', 'id'] });
    assert.equal(o.ok, false, `${file} ran: ${JSON.stringify(o)}`);
    assert.equal(o.code, 'ENOENT', `${file}: ${JSON.stringify(o)}`);
  }
  // node itself is there: with internals exposed it still sees the same walls.
  const script = `const fs = require('fs'); const t = (f) => { try { f(); return 'allowed'; } catch (e) { return e.code || e.name; } };
    let binding = 'absent'; try { const { internalBinding } = require('internal/test/binding'); binding = typeof internalBinding('fs').open; } catch (e) { binding = e.code || e.name; }
    console.log(JSON.stringify({ shadow: t(() => fs.readFileSync('/etc/shadow')), code: t(() => fs.writeFileSync('/code/handler.js', 'x')), data: t(() => fs.readdirSync(${JSON.stringify(node.dataDir)})), root: fs.readdirSync('/').sort(), binding }));`;
  const o = await probe('node', { op: 'spawn', file: '/usr/bin/node', args: ['--expose-internals', '--allow-natives-syntax', '-e', script] });
  assert.equal(o.ok, true, `the child node did not run: ${JSON.stringify(o)}`);
  const seen = JSON.parse(o.stdout);
  assert.equal(seen.shadow, 'ENOENT');
  assert.equal(seen.code, 'EROFS');
  assert.equal(seen.data, 'ENOENT');
  for (const d of seen.root) assert.ok(['bin', 'code', 'dev', 'etc', 'lib', 'lib64', 'orva', 'proc', 'tmp', 'usr'].includes(d), `unexpected /${d} in the sandbox`);
});

attempt('node - process.dlopen of the node\'s own native addons and process.binding reach nothing of the host', async () => {
  for (const path of [join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), join(ROOT, `node_modules/uWebSockets.js/binaries/uws_linux_${process.arch}_115.node`)]) {
    assertRefused(await probe('node', { op: 'dlopen', path }), `dlopen ${path}`);
  }
  // process.binding('fs') (deprecated, still there in node 20) goes through the same kernel walls.
  const fsBinding = await probe('node', { op: 'binding', name: 'fs' });
  if (fsBinding.ok) assertRefused(await probe('node', { op: 'read', path: '/etc/shadow' }), '/etc/shadow');
});

// ---- files

for (const rt of RUNTIMES) {
  attempt(`${rt} - /etc/shadow, the node's data dir, its keys and the repository are not there`, async () => {
    const paths = ['/etc/shadow', '/etc/gshadow', '/root', join(node.dataDir, 'admin.key'), join(node.dataDir, 'master.key'), join(node.dataDir, 'nats.conf'), join(node.dataDir, 'node-id'), join(ROOT, 'package.json'), '/proc/sys/kernel/core_pattern/../../../../etc/shadow'];
    for (const path of paths) assertRefused(await probe(rt, { op: 'read', path }), `reading ${path}`);
    for (const path of [node.dataDir, join(node.dataDir, 'versions'), '/var', '/home', '/work', '/sys/fs/cgroup']) assertRefused(await probe(rt, { op: 'list', path }), `listing ${path}`);
    const etc = await probe(rt, { op: 'list', path: '/etc' });
    assert.equal(etc.ok, true);
    assert.ok(!etc.value.includes('shadow'), `/etc: ${etc.value}`);
  });

  attempt(`${rt} - another function's code, secrets and env are out of reach`, async () => {
    const versionDir = join(node.dataDir, 'versions', other.id, other.hash);
    for (const path of [join(versionDir, 'handler.js'), versionDir, join(node.dataDir, 'versions', other.id), `/code/../versions/${other.id}/${other.hash}/handler.js`, `/proc/1/root${versionDir}/handler.js`]) {
      const o = await probe(rt, { op: 'read', path });
      assertRefused(o, `reading ${path}`);
    }
    const code = await probe(rt, { op: 'list', path: '/code' });
    assert.equal(code.ok, true);
    assert.deepEqual(code.value, [rt === 'node' ? 'handler.js' : 'handler.py'], 'only its own version is at /code');
    const env = await probe(rt, { op: 'env' });
    assert.ok(!JSON.stringify(env.value).includes(OTHER_MARKER), 'another function\'s secret is in the env');
  });

  attempt(`${rt} - /proc shows nothing of the host: not the node's environment, not the node or NATS processes`, async () => {
    // A new pid namespace: the node's host pid does not exist in there.
    assertRefused(await probe(rt, { op: 'read', path: `/proc/${node.proc.pid}/environ` }), 'the node\'s /proc environ', ['ENOENT']);
    const init = await probe(rt, { op: 'read', path: '/proc/1/environ' });
    // pid 1 is the worker itself (bwrap --as-pid-1): its own environment and nothing of the host's.
    if (init.ok) assert.match(String(init.value), /^(?:ORVA_[A-Z_]+=[^\0]*\0|PWD=\/code\0)*$/, `/proc/1/environ holds more than the worker's own: ${String(init.value).slice(0, 200)}`);
    const all = JSON.stringify(await probe(rt, { op: 'procs' }));
    for (const s of [HOST_MARKER, node.dataDir, 'ORVA_DATA_DIR', 'node/main.ts', 'nats-server', node.adminKey]) assert.ok(!all.includes(s), `the sandbox's /proc shows ${s}`);
    const env = (await probe(rt, { op: 'env' })).value as Record<string, string>;
    // Only the function's own variables (bwrap adds PWD for --chdir).
    for (const k of Object.keys(env)) assert.ok(['ORVA_FUNCTION_ID', 'ORVA_ENTRYPOINT', 'ORVA_EXECUTION_ID', 'PWD'].includes(k), `unexpected env var ${k} in the worker`);
    assert.equal(env.PWD ?? '/code', '/code');
    assert.ok(!JSON.stringify(env).includes(HOST_MARKER));
  });

  attempt(`${rt} - /code, the adapter, the runtime and /etc are read-only`, async () => {
    const entry = rt === 'node' ? 'handler.js' : 'handler.py';
    const hash = (await call(node.url, 'GET', `/api/v1/functions/${probes[rt]}`, { key: node.adminKey })).json.code_hash;
    const hostFile = join(node.dataDir, 'versions', probes[rt], hash, entry);
    const before = readFileSync(hostFile, 'utf8');
    const adapter = rt === 'node' ? '/orva/node-adapter.cjs' : '/orva/python-adapter.py';
    for (const path of [`/code/${entry}`, '/code/new-file', adapter, rt === 'node' ? '/usr/bin/node' : '/usr/bin/python3.11', '/etc/passwd', '/etc/hosts']) {
      assertRefused(await probe(rt, { op: 'write', path }), `writing ${path}`, ['EROFS', 'EACCES', 'ENOENT', 'EPERM']);
    }
    assert.equal(readFileSync(hostFile, 'utf8'), before, 'the version on the host changed');
    assert.ok(!existsSync(join(node.dataDir, 'versions', probes[rt], hash, 'new-file')));
  });

  attempt(`${rt} - nothing outside the private /tmp is writable: not the sandbox's root, /orva, /usr or /etc`, async () => {
    // Files there would escape the /tmp size cap and outlive nothing but the worker: the root must be read-only too.
    const written: string[] = [];
    for (const path of ['/escape-file', '/orva/escape-file', '/usr/escape-file', '/usr/bin/escape-file', '/etc/escape-file', '/dev/escape-file']) {
      if ((await probe(rt, { op: 'write', path })).ok) written.push(path);
    }
    assert.deepEqual(written, [], 'writable outside /tmp (and uncapped)');
    // POSIX shared memory stays usable (Python's multiprocessing needs it) but on its own 1 MiB tmpfs.
    const shm = await invoke(node, await deployedWith(TMP_FILL[rt], { runtime: rt, memory_mb: 256, timeout_ms: 20_000 }), { rawBody: '/dev/shm' });
    assert.equal(shm.json.code, 'ENOSPC', `/dev/shm took ${shm.json.writtenMb} MiB: ${shm.text}`);
    assert.ok(shm.json.writtenMb <= 1);
    assert.equal((await probe(rt, { op: 'write', path: '/tmp/scratch' })).ok, true, 'the private /tmp is writable');
  });
}

// ---- resources

const FORK_BOMB: Record<Runtime, string> = {
  // Each spawn is a whole node (several threads, each counted by pids.max): 70 is past any 64-task budget.
  node: `const cp = require('child_process');
    exports.handler = async () => {
      let started = 0; const errors = {};
      for (let i = 0; i < 70; i++) {
        const c = cp.spawn('/usr/bin/node', ['-e', 'setTimeout(() => {}, 15000)'], { stdio: 'ignore' });
        const ok = await new Promise((res) => { c.once('spawn', () => res(true)); c.once('error', (e) => { errors[e.code] = (errors[e.code] || 0) + 1; res(false); }); });
        if (ok) started++;
      }
      return { started, errors };
    };`,
  python: `import errno, os, time
def handler(event):
    started, errors = 0, {}
    for i in range(300):
        try:
            pid = os.fork()
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            errors[name] = errors.get(name, 0) + 1
            continue
        if pid == 0:
            time.sleep(15)
            os._exit(0)
        started += 1
    return {'started': started, 'errors': errors}
`,
};

const MEMORY_HOG: Record<Runtime, string> = {
  // Buffers live outside V8's heap: only the cgroup can stop them.
  node: `const held = []; exports.handler = async () => { for (let i = 0; i < 64; i++) held.push(Buffer.alloc(16 << 20, 1)); return { held: held.length * 16 }; };`,
  python: `held = []
def handler(event):
    for i in range(64):
        held.append(b'\\x01' * (16 << 20))
    return {'held': len(held) * 16}
`,
};

const TMP_FILL: Record<Runtime, string> = {
  node: `const fs = require('fs');
    exports.handler = async (event) => {
      const file = (event.body || '/tmp') + '/fill';
      const chunk = Buffer.alloc(1 << 20, 1); let written = 0; let code = null;
      const fd = fs.openSync(file, 'w');
      try { for (let i = 0; i < 1024; i++) { fs.writeSync(fd, chunk); written++; } } catch (e) { code = e.code; } finally { fs.closeSync(fd); fs.rmSync(file); }
      return { writtenMb: written, code };
    };`,
  python: `import errno, os
def handler(event):
    path = (event['body'] or '/tmp') + '/fill'
    chunk = b'\\x01' * (1 << 20)
    written, code = 0, None
    try:
        with open(path, 'wb', buffering=0) as f:
            for i in range(1024):
                f.write(chunk)
                written += 1
    except OSError as e:
        code = errno.errorcode.get(e.errno, str(e.errno))
    finally:
        os.remove(path)
    return {'writtenMb': written, 'code': code}
`,
};

const OPEN_FILES: Record<Runtime, string> = {
  node: `const fs = require('fs');
    exports.handler = async () => {
      const fds = []; let code = null;
      try { for (let i = 0; i < 10000; i++) fds.push(fs.openSync('/code/handler.js', 'r')); } catch (e) { code = e.code; }
      for (const fd of fds) fs.closeSync(fd);
      return { opened: fds.length, code };
    };`,
  python: `import errno, os
def handler(event):
    fds, code = [], None
    try:
        for i in range(10000):
            fds.append(os.open('/code/handler.py', os.O_RDONLY))
    except OSError as e:
        code = errno.errorcode.get(e.errno, str(e.errno))
    for fd in fds:
        os.close(fd)
    return {'opened': len(fds), 'code': code}
`,
};

const SPIN: Record<Runtime, string> = {
  node: `exports.handler = async (e) => { if (e.body === 'spin') { for (;;) {} } return 'quick'; };`,
  python: `def handler(event):\n    if event['body'] == 'spin':\n        while True:\n            pass\n    return 'quick'\n`,
};

for (const rt of RUNTIMES) {
  attempt(`${rt} - a fork bomb is bounded by pids.max: the worker errors or dies, the node and the canaries survive`, async () => {
    const id = await deployedWith(FORK_BOMB[rt], { runtime: rt, timeout_ms: 20_000 });
    await canariesAnswer(); // the canaries' workers are warm and recorded before the bomb
    const r = await invoke(node, id);
    if (r.status === 200) {
      assert.ok(r.json.started < 64, `${r.json.started} processes started: pids.max did not stop the bomb (${JSON.stringify(r.json.errors)})`);
      assert.ok((r.json.errors.EAGAIN ?? 0) > 0, `no EAGAIN: ${JSON.stringify(r.json)}`);
    } else {
      assert.ok([502, 504].includes(r.status), r.text);
    }
    await canaryWorkersSurvived();
  });

  attempt(`${rt} - a memory hog far past memory_mb gets 502 WORKER_CRASHED out of memory, and only its worker dies`, async () => {
    const id = await deployedWith(MEMORY_HOG[rt], { runtime: rt, memory_mb: 64, timeout_ms: 20_000 });
    await canariesAnswer();
    const r = await invoke(node, id);
    assert.equal(r.status, 502, `1 GiB in a 64 MB function: ${r.status} ${r.text}`);
    assert.equal(r.json.error.code, 'WORKER_CRASHED');
    assert.match(r.json.error.hint, /out of memory/i);
    assert.equal(r.json.error.details.reason, 'out_of_memory');
    const { record, logs } = await execution(r);
    assert.equal(record.status, 'crashed');
    assert.equal(record.error_code, 'WORKER_CRASHED');
    assert.match(logs, /out of memory/i);
    await canaryWorkersSurvived();
  });

  attempt(`${rt} - filling /tmp stops at its cap with ENOSPC, not at the host's disk`, async () => {
    const before = diskFreeMb();
    const id = await deployedWith(TMP_FILL[rt], { runtime: rt, memory_mb: 256, timeout_ms: 20_000 });
    const r = await invoke(node, id);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.code, 'ENOSPC', `wrote ${r.json.writtenMb} MiB without hitting the cap: ${r.text}`);
    assert.ok(r.json.writtenMb <= 256, `${r.json.writtenMb} MiB fit in /tmp of a 256 MB function`);
    assert.ok(diskFreeMb() > before - 64, 'the host disk filled');
  });

  attempt(`${rt} - 10,000 open files are refused past the open-file limit with EMFILE`, async () => {
    const id = await deployedWith(OPEN_FILES[rt], { runtime: rt, timeout_ms: 20_000 });
    const r = await invoke(node, id);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.code, 'EMFILE', `opened ${r.json.opened} files: ${r.text}`);
    assert.ok(r.json.opened < 10_000);
    // The worker is still usable after closing them.
    assert.equal((await invoke(node, id)).status, 200);
  });

  attempt(`${rt} - an infinite loop gets 504 TIMEOUT and the pool recovers`, async () => {
    const id = await deployedWith(SPIN[rt], { runtime: rt, timeout_ms: 500 });
    const started = Date.now();
    const r = await invoke(node, id, { rawBody: 'spin' });
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json.error.code, 'TIMEOUT');
    assert.ok(Date.now() - started < 5_000, 'the timeout took too long');
    const next = await invoke(node, id, { rawBody: 'ok' });
    assert.equal(next.status, 200, next.text);
    assert.equal(next.json, 'quick');
  });
}

function diskFreeMb(): number {
  const out = execFileSync('df', ['-Pm', node.dataDir], { encoding: 'utf8' }).trim().split('\n')[1].split(/\s+/);
  return Number(out[3]);
}

// ---- after the suite

for (const rt of RUNTIMES) {
  attempt(`${rt} - the handler's own runtime is pid 1 and the only process: no unfiltered bwrap to reach through /proc/1/mem`, async () => {
    const src =
      rt === 'node'
        ? `const fs = require('fs'); exports.handler = async () => fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).map((n) => [Number(n), fs.readFileSync('/proc/' + n + '/cmdline', 'utf8').split('\\0')[0]]);`
        : `import os\ndef handler(event):\n    return [[int(n), open('/proc/%s/cmdline' % n, 'rb').read().split(b'\\0')[0].decode()] for n in os.listdir('/proc') if n.isdigit()]\n`;
    const r = await invoke(node, await deployedWith(src, { runtime: rt }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, [[1, rt === 'node' ? '/usr/bin/node' : '/usr/bin/python3.11']]);
  });
}

test('escape suite - once the node stops, none of its processes, cgroups, mounts or temp dirs is left', async () => {
  watch.sample();
  assert.equal(await node.stop(), 0, 'the node did not stop cleanly');
  await watch.assertNothingLeft(nodeTmp);
});


