/**
 * Seccomp for the sandbox: the policies of `seccomp-policy.ts` compiled to
 * classic BPF by libseccomp (Debian's python3-seccomp, run once per node
 * process with the system's /usr/bin/python3 — never hand-assembled), and a
 * `BwrapLayer` that hands the program to bwrap as `--seccomp FD`. bwrap loads
 * it (with no_new_privs) right before it execs the runtime, so everything the
 * handler runs, and every thread and child, is under it.
 *
 * Compiling takes ~50 ms; the bytes are cached per policy for the life of the
 * process and reused for every spawn, so a cold start pays nothing for it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SECCOMP_POLICIES, type SeccompArch, type SeccompPolicyName, type SyscallCatalog, type SyscallEntry, type SyscallVerdict } from '../../protocol/syscalls.ts';
import type { BwrapLayer } from './bwrap.ts';
import { AF_UNIX, CLONE_NS_FLAGS, CLONE_THREAD, CONDITIONAL, DANGEROUS, GROUPS } from './seccomp-policy.ts';

const EPERM = 1;
const ENOSYS = 38; // the same number on x86_64 and arm64 (asm-generic)

/** The Python that has Debian's libseccomp binding: not whatever `python3` is first on PATH (pyenv, venvs). */
const SYSTEM_PYTHON = '/usr/bin/python3';
const COMPILER = fileURLToPath(new URL('seccomp-compile.py', import.meta.url));

const ARCH_OF: Partial<Record<NodeJS.Architecture, SeccompArch>> = { x64: 'x86_64', arm64: 'aarch64' };

type Action = { type: 'allow' } | { type: 'kill' } | { type: 'errno'; errno: number };
interface Rule {
  name: string;
  action: Action;
  /** Each [argument index, mask, value]: (arg & mask) == value. */
  args?: Array<[number, number, number]>;
}
interface PolicySpec {
  default: Action;
  rules: Rule[];
}

const ALLOW: Action = { type: 'allow' };
const KILL: Action = { type: 'kill' };
const errno = (n: number): Action => ({ type: 'errno', errno: n });

const NS_MASK = Object.values(CLONE_NS_FLAGS).reduce((a, b) => a | b, 0);

/** The rules of one policy (see seccomp-policy.ts for what each means). */
function policySpec(policy: SeccompPolicyName): PolicySpec {
  const rules: Rule[] = [];
  const permissive = policy === 'permissive';
  const named = new Set<string>();
  for (const g of GROUPS) {
    const allowed = g.allowedIn.includes(policy);
    // Under permissive the default is allow already; naming allowed calls would only grow the program.
    if (permissive && allowed) continue;
    for (const name of g.names) {
      if (named.has(name)) continue;
      named.add(name);
      rules.push({ name, action: allowed ? ALLOW : errno(EPERM) });
    }
  }
  // clone: a namespace flag kills in every policy (one rule per flag: any one set is enough).
  for (const flag of Object.values(CLONE_NS_FLAGS)) rules.push({ name: 'clone', action: KILL, args: [[0, flag, flag]] });
  if (policy === 'default') rules.push({ name: 'clone', action: ALLOW, args: [[0, NS_MASK, 0]] });
  if (policy === 'strict') rules.push({ name: 'clone', action: ALLOW, args: [[0, NS_MASK | CLONE_THREAD, CLONE_THREAD]] });
  if (policy === 'default') rules.push({ name: 'socket', action: ALLOW });
  if (policy === 'strict') rules.push({ name: 'socket', action: ALLOW, args: [[0, 0xffffffff, AF_UNIX]] });
  for (const c of DANGEROUS) rules.push({ name: c.name, action: c.action === 'kill' ? KILL : errno(ENOSYS) });
  return { default: permissive ? ALLOW : errno(ENOSYS), rules };
}

interface Compiled {
  arch: SeccompArch;
  bpf: Record<SeccompPolicyName, Uint8Array>;
  numbers: Record<string, Record<SeccompArch, number | null>>;
}

let compiled: Compiled | null = null;

/** Every syscall name the catalog lists, in catalog order. */
function catalogNames(): string[] {
  const names = new Set<string>();
  for (const g of GROUPS) for (const n of g.names) names.add(n);
  for (const c of CONDITIONAL) names.add(c.name);
  for (const c of DANGEROUS) names.add(c.name);
  return [...names];
}

/** Compiles all three policies for this machine's architecture, once per process. Throws when libseccomp is missing. */
export function compileSeccomp(): Compiled {
  if (compiled) return compiled;
  const arch = ARCH_OF[process.arch];
  if (!arch) throw new Error(`seccomp: no filter for architecture ${process.arch}`);
  const spec = {
    arch,
    catalog: catalogNames(),
    policies: Object.fromEntries(SECCOMP_POLICIES.map((p) => [p, policySpec(p)])),
  };
  // -I: isolated mode — no user site-packages, no PYTHON* env, no cwd on sys.path.
  const out = execFileSync(SYSTEM_PYTHON, ['-I', COMPILER], { input: JSON.stringify(spec), env: {}, maxBuffer: 16 * 1024 * 1024, timeout: 30_000 });
  const result = JSON.parse(out.toString()) as { bpf: Record<string, string>; numbers: Compiled['numbers'] };
  const bpf = Object.fromEntries(SECCOMP_POLICIES.map((p) => {
    const bytes = Buffer.from(result.bpf[p] ?? '', 'base64');
    // A classic BPF program is a whole number of 8-byte instructions; anything else is a broken export.
    if (bytes.length === 0 || bytes.length % 8 !== 0) throw new Error(`seccomp: libseccomp exported ${bytes.length} bytes for ${p}`);
    return [p, new Uint8Array(bytes)];
  })) as Record<SeccompPolicyName, Uint8Array>;
  compiled = { arch, bpf, numbers: result.numbers };
  return compiled;
}

/**
 * The layer: `--seccomp FD` with the policy's program. There is no per-function
 * policy field in the API, so every function of a node gets the node's policy
 * (`default` unless the operator chose otherwise).
 */
export function seccompLayer(policy: SeccompPolicyName): BwrapLayer {
  const program = compileSeccomp().bpf[policy];
  return { args: (_spec, fds) => ['--seccomp', fds.add(program)] };
}

/** The catalog `GET /api/v1/syscalls` returns. */
export function seccompCatalog(active: SeccompPolicyName): SyscallCatalog {
  const { arch, numbers } = compileSeccomp();
  const entries = new Map<string, SyscallEntry>();
  const verdicts = (allowedIn: readonly SeccompPolicyName[]): Record<SeccompPolicyName, SyscallVerdict> =>
    Object.fromEntries(SECCOMP_POLICIES.map((p) => [p, allowedIn.includes(p) ? 'allow' : 'deny'])) as Record<SeccompPolicyName, SyscallVerdict>;
  const number = (name: string) => numbers[name] ?? { x86_64: null, aarch64: null };
  for (const g of GROUPS) {
    for (const name of g.names) {
      if (entries.has(name)) continue;
      const policies = verdicts(g.allowedIn);
      const denied = Object.values(policies).includes('deny');
      entries.set(name, { name, number: number(name), category: g.category, description: g.description, policies, ...(denied ? { action: 'errno' as const } : {}) });
    }
  }
  for (const c of CONDITIONAL) {
    entries.set(c.name, { name: c.name, number: number(c.name), category: c.category, description: c.description, policies: c.policies, note: c.note, ...(c.name === 'clone' ? { action: 'kill' as const } : {}) });
  }
  for (const c of DANGEROUS) {
    entries.set(c.name, {
      name: c.name, number: number(c.name), category: c.category, description: c.description,
      policies: verdicts([]), action: c.action === 'kill' ? 'kill' : 'errno',
    });
  }
  // A call the architecture does not have at all is not part of this node's catalog.
  const syscalls = [...entries.values()].filter((e) => e.number.x86_64 !== null || e.number.aarch64 !== null);
  return {
    arch,
    active,
    policies: [
      { name: 'default', description: 'What every function gets: the calls Node, Python and ordinary native code use; anything unlisted gets ENOSYS', unlisted: 'ENOSYS' },
      { name: 'strict', description: 'The default minus child processes (threads only) and IP sockets (Unix sockets only)', unlisted: 'ENOSYS' },
      { name: 'permissive', description: 'Everything except the dangerous set (mounts, namespaces, ptrace, bpf, kernel modules, keyrings, io_uring, …)', unlisted: 'allow' },
    ],
    syscalls,
  };
}
