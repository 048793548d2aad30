/**
 * The seccomp policies as data: which system calls each policy allows, which
 * it refuses, and how. `seccomp.ts` compiles this with libseccomp and builds
 * the `GET /api/v1/syscalls` catalog from it — one source for both, so the
 * dashboard shows exactly what the filter does.
 *
 * - `default` (what every function gets): an allowlist shaped like Docker's
 *   default profile — what Node, Python and ordinary native extensions use.
 *   A call not named here gets ENOSYS (a runtime probing a newer call falls
 *   back, as it would on an older kernel).
 * - `strict`: the allowlist minus process creation and IP sockets: threads
 *   only (clone with CLONE_THREAD), Unix sockets only.
 * - `permissive`: everything except the dangerous set below (allow by
 *   default) — for code that needs unusual calls; the namespaces, the
 *   capability drop and the cgroup limits still hold.
 *
 * The dangerous set is refused in every policy. Its calls either reach kernel
 * surface that has no business in a function (module loading, kexec, bpf,
 * perf, keyrings, userfaultfd), or undo the sandbox (mount, namespaces,
 * ptrace, handle-based open). They kill the worker process (SIGSYS) rather
 * than return EPERM: a legitimate handler never makes them, so the attempt is
 * recorded against the execution that made it (the driver reports
 * `seccompKilled`), and hostile code gets no second try to probe with.
 * io_uring and clone3 are the exception: they get ENOSYS, because libuv
 * probes io_uring_setup at start and glibc tries clone3 before clone —
 * killing them would kill every worker. io_uring would otherwise bypass the
 * filter (its operations are not system calls); clone3's flags live in a
 * struct the filter cannot read, so glibc's fallback to clone lets the
 * namespace flags be checked.
 */
import type { SeccompPolicyName, SyscallVerdict } from '../../protocol/syscalls.ts';

interface Group {
  category: string;
  description: string;
  names: readonly string[];
  /** Which policies allow the group (the others refuse it with EPERM). */
  allowedIn: readonly SeccompPolicyName[];
}

const ALL: readonly SeccompPolicyName[] = ['default', 'strict', 'permissive'];
const NOT_STRICT: readonly SeccompPolicyName[] = ['default', 'permissive'];
const PERMISSIVE_ONLY: readonly SeccompPolicyName[] = ['permissive'];

/** Names that exist only on some architectures (x86_64's legacy calls) are fine: they are skipped where absent. */
export const GROUPS: readonly Group[] = [
  {
    category: 'process',
    description: 'Process identity, scheduling, limits and exit',
    allowedIn: ALL,
    names: [
      'exit', 'exit_group', 'getpid', 'getppid', 'gettid', 'getuid', 'geteuid', 'getgid', 'getegid', 'getgroups',
      'getresuid', 'getresgid', 'getpgid', 'getpgrp', 'getsid', 'setsid', 'setpgid', 'setuid', 'setgid', 'setreuid',
      'setregid', 'setresuid', 'setresgid', 'setgroups', 'setfsuid', 'setfsgid', 'capget', 'capset', 'prctl', 'arch_prctl',
      'set_tid_address', 'set_robust_list', 'get_robust_list', 'rseq', 'execve', 'execveat', 'wait4', 'waitid', 'kill',
      'tgkill', 'tkill', 'pidfd_open', 'pidfd_send_signal', 'sched_yield', 'sched_getaffinity', 'sched_setaffinity',
      'sched_getparam', 'sched_setparam', 'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max',
      'sched_get_priority_min', 'sched_rr_get_interval', 'sched_getattr', 'sched_setattr', 'getpriority', 'setpriority',
      'getrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'times', 'ioprio_get', 'ioprio_set',
    ],
  },
  {
    category: 'process',
    description: 'Starting child processes (fork, vfork); strict allows threads only',
    allowedIn: NOT_STRICT,
    names: ['fork', 'vfork'],
  },
  {
    category: 'signals',
    description: 'Signal handling',
    allowedIn: ALL,
    names: [
      'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigtimedwait', 'rt_sigsuspend',
      'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'signalfd', 'signalfd4', 'pause', 'alarm', 'restart_syscall',
    ],
  },
  {
    category: 'memory',
    description: 'Mapping and managing the process\'s own memory',
    allowedIn: ALL,
    names: [
      'brk', 'mmap', 'munmap', 'mremap', 'mprotect', 'madvise', 'mlock', 'mlock2', 'munlock', 'mlockall', 'munlockall',
      'mincore', 'msync', 'membarrier', 'memfd_create', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'remap_file_pages',
    ],
  },
  {
    category: 'time',
    description: 'Reading clocks, sleeping and timers',
    allowedIn: ALL,
    names: [
      'clock_gettime', 'clock_getres', 'clock_nanosleep', 'nanosleep', 'gettimeofday', 'time', 'timer_create',
      'timer_settime', 'timer_gettime', 'timer_getoverrun', 'timer_delete', 'timerfd_create', 'timerfd_settime',
      'timerfd_gettime', 'getitimer', 'setitimer',
    ],
  },
  {
    category: 'files',
    description: 'Opening, reading, writing and inspecting files (inside the sandbox\'s own filesystem view)',
    allowedIn: ALL,
    names: [
      'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2', 'open', 'openat',
      'openat2', 'close', 'close_range', 'creat', 'lseek', 'dup', 'dup2', 'dup3', 'fcntl', 'flock', 'fsync', 'fdatasync',
      'sync', 'syncfs', 'sync_file_range', 'ftruncate', 'truncate', 'fallocate', 'fadvise64', 'readahead', 'sendfile',
      'splice', 'tee', 'vmsplice', 'copy_file_range', 'stat', 'fstat', 'lstat', 'newfstatat', 'statx', 'statfs', 'fstatfs',
      'access', 'faccessat', 'faccessat2', 'getdents', 'getdents64', 'getcwd', 'chdir', 'fchdir', 'mkdir', 'mkdirat',
      'rmdir', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat',
      'readlink', 'readlinkat', 'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'fchownat', 'lchown', 'umask', 'utime',
      'utimes', 'utimensat', 'futimesat', 'mknod', 'mknodat', 'getxattr', 'lgetxattr', 'fgetxattr', 'listxattr',
      'llistxattr', 'flistxattr', 'setxattr', 'lsetxattr', 'fsetxattr', 'removexattr', 'lremovexattr', 'fremovexattr',
      'ioctl', 'pipe', 'pipe2', 'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch',
    ],
  },
  {
    category: 'events',
    description: 'Waiting on file descriptors and futexes (event loops, locks)',
    allowedIn: ALL,
    names: [
      'select', 'pselect6', 'poll', 'ppoll', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait',
      'epoll_pwait2', 'eventfd', 'eventfd2', 'futex', 'futex_waitv',
    ],
  },
  {
    category: 'ipc',
    description: 'System V IPC and POSIX message queues (private to the sandbox\'s IPC namespace)',
    allowedIn: ALL,
    names: [
      'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semctl', 'semtimedop', 'msgget', 'msgsnd', 'msgrcv', 'msgctl',
      'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr',
    ],
  },
  {
    category: 'network',
    description: 'Sockets (reach depends on the function\'s network_mode); strict allows Unix sockets only',
    allowedIn: ALL,
    names: [
      'socketpair', 'connect', 'bind', 'listen', 'accept', 'accept4', 'getsockname', 'getpeername', 'sendto', 'recvfrom',
      'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown', 'setsockopt', 'getsockopt',
    ],
  },
  {
    category: 'system',
    description: 'System information and randomness',
    allowedIn: ALL,
    names: ['uname', 'sysinfo', 'getrandom', 'getcpu'],
  },
  {
    category: 'system',
    description: 'Rarely needed calls that need privileges the sandbox lacks or touch host-wide state: refused except in permissive',
    allowedIn: PERMISSIVE_ONLY,
    names: [
      'personality', 'chroot', 'syslog', 'get_mempolicy', 'set_mempolicy', 'mbind', 'move_pages', 'migrate_pages',
      'process_madvise', 'fanotify_init', 'fanotify_mark', 'landlock_create_ruleset', 'landlock_add_rule',
      'landlock_restrict_self', 'vhangup', 'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex',
      'sethostname', 'setdomainname', 'iopl', 'ioperm',
    ],
  },
];

/** Conditional rules: one syscall whose verdict depends on its arguments. */
export const CLONE_NS_FLAGS = {
  CLONE_NEWNS: 0x00020000, CLONE_NEWCGROUP: 0x02000000, CLONE_NEWUTS: 0x04000000, CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000, CLONE_NEWPID: 0x20000000, CLONE_NEWNET: 0x40000000, CLONE_NEWTIME: 0x00000080,
} as const;
export const CLONE_THREAD = 0x00010000;
export const AF_UNIX = 1;

export const CONDITIONAL: ReadonlyArray<{ name: string; category: string; description: string; note: string; policies: Record<SeccompPolicyName, SyscallVerdict> }> = [
  {
    name: 'clone', category: 'process', description: 'Create a thread or child process',
    note: 'a namespace flag (CLONE_NEW*) kills the worker in every policy; strict allows threads (CLONE_THREAD) only',
    policies: { default: 'allow', strict: 'allow', permissive: 'allow' },
  },
  {
    name: 'socket', category: 'network', description: 'Create a socket',
    note: 'strict allows AF_UNIX only',
    policies: { default: 'allow', strict: 'allow', permissive: 'allow' },
  },
];

export interface DangerousCall {
  name: string;
  category: string;
  description: string;
  /** `kill`: SIGSYS to the worker (the default); `enosys`: refused as if the kernel lacked it. */
  action: 'kill' | 'enosys';
}

const d = (category: string, description: string, names: string[], action: 'kill' | 'enosys' = 'kill'): DangerousCall[] =>
  names.map((name) => ({ name, category, description, action }));

/** Refused in every policy. */
export const DANGEROUS: readonly DangerousCall[] = [
  ...d('mounts', 'Mount, unmount or re-root filesystems (would reshape the sandbox\'s filesystem view)', [
    'mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
  ]),
  ...d('namespaces', 'Create or join namespaces (would leave the sandbox\'s isolation)', ['unshare', 'setns']),
  ...d('debugging', 'Inspect or modify other processes (ptrace, cross-process memory access, fd theft)', [
    'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'kcmp',
  ]),
  ...d('kernel', 'Load code into the kernel, replace it, or reach tracing interfaces', [
    'bpf', 'perf_event_open', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'create_module',
    'lookup_dcookie', 'uselib', 'nfsservctl',
  ]),
  ...d('keyrings', 'Kernel keyrings (shared kernel state, a long history of bugs)', ['keyctl', 'add_key', 'request_key']),
  ...d('memory', 'userfaultfd: stalls kernel page faults at will, a standard exploit primitive', ['userfaultfd']),
  ...d('files', 'Open files by handle, bypassing the mount namespace\'s path checks', ['open_by_handle_at', 'name_to_handle_at']),
  ...d('system', 'Host-wide administration: reboot, swap, process accounting, quotas', [
    'reboot', 'swapon', 'swapoff', 'acct', 'quotactl', 'quotactl_fd',
  ]),
  ...d('io_uring', 'Asynchronous I/O rings: their operations bypass this filter. ENOSYS, because libuv probes io_uring_setup at start', [
    'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  ], 'enosys'),
  ...d('process', 'clone3: its flags sit in a struct the filter cannot read; ENOSYS makes glibc fall back to clone, whose flags are checked', ['clone3'], 'enosys'),
];
