/**
 * The seccomp catalog as `GET /api/v1/syscalls` returns it: every system call
 * a sandbox policy names, with what each policy does with it. Built by the
 * node from `node/sandbox/seccomp-policy.ts` and libseccomp's syscall tables.
 */

export const SECCOMP_POLICIES = ['default', 'strict', 'permissive'] as const;
export type SeccompPolicyName = (typeof SECCOMP_POLICIES)[number];

/** The architectures the filters are compiled for; any other is killed by the filter. */
export type SeccompArch = 'x86_64' | 'aarch64';

/**
 * `allow`: the call runs. `deny`: refused — with an errno, or by killing the
 * worker (the dangerous set; see `action`).
 */
export type SyscallVerdict = 'allow' | 'deny';

export interface SyscallEntry {
  name: string;
  /** The syscall number per architecture; null where the architecture has no such call (e.g. `open` on arm64). */
  number: Record<SeccompArch, number | null>;
  category: string;
  description: string;
  policies: Record<SeccompPolicyName, SyscallVerdict>;
  /**
   * How a refusal happens: `kill` (the worker dies with SIGSYS and the call
   * is reported as a refused system call), `errno` (EPERM, or ENOSYS for the
   * io_uring and clone3 calls so runtimes fall back quietly). Absent when no
   * policy refuses it.
   */
  action?: 'kill' | 'errno';
  /** Argument conditions (e.g. clone: no namespace flags), when the verdict depends on them. */
  note?: string;
}

export interface SyscallPolicyInfo {
  name: SeccompPolicyName;
  description: string;
  /** What a call the policy does not name gets. */
  unlisted: 'allow' | 'ENOSYS';
}

export interface SyscallCatalog {
  /** The node's architecture: the filters it loads are compiled for this one. */
  arch: SeccompArch;
  /** The policy functions get (ORVA_SECCOMP_POLICY on the node; default `default`). */
  active: SeccompPolicyName;
  policies: SyscallPolicyInfo[];
  syscalls: SyscallEntry[];
}
