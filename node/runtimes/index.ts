/**
 * The runtime catalog: for each language, what the sandbox must contain and
 * how the adapter starts inside it. The sandbox driver binds `roBinds` and
 * the adapter read-only, nothing else of the host's runtime installation.
 */
import { fileURLToPath } from 'node:url';
import type { RuntimeName, SpawnSpec } from '../sandbox/driver.ts';

export interface Runtime {
  /** The interpreter the sandbox runs (also bound read-only). */
  interpreter: string;
  /** The handler file when a function names none. */
  defaultEntrypoint: string;
  /** Host path of the adapter; the sandbox sees it at `adapterPath`. */
  adapterFile: string;
  adapterPath: string;
  /** Host paths the runtime needs, bound read-only at the same path (skipped when missing). */
  roBinds: readonly string[];
  /** argv inside the sandbox; the adapter takes the entrypoint (relative to /code) as its argument. */
  command(spec: SpawnSpec): string[];
}

const MULTIARCH: Partial<Record<NodeJS.Architecture, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const multiarch = MULTIARCH[process.arch];
if (!multiarch) throw new Error(`no sandbox library layout known for ${process.arch}`);

/**
 * Debian's shared libraries and the dynamic loader (/lib64 holds only the
 * loader's symlink), with the loader cache so lookups skip the directory scan.
 * Both interpreters and their C extensions link against these alone.
 */
const SHARED_LIBRARIES = [`/usr/lib/${multiarch}`, '/usr/lib64', '/etc/ld.so.cache'];

const adapter = (name: string): string => fileURLToPath(new URL(name, import.meta.url));

export const RUNTIMES: Readonly<Record<RuntimeName, Runtime>> = {
  node: {
    interpreter: '/usr/bin/node',
    defaultEntrypoint: 'handler.js',
    adapterFile: adapter('node-adapter.cjs'),
    adapterPath: '/orva/node-adapter.cjs',
    // One self-contained binary (ICU, OpenSSL, CA roots built in).
    roBinds: ['/usr/bin/node', ...SHARED_LIBRARIES],
    command: (spec) => [
      RUNTIMES.node.interpreter,
      // A handler.js with ESM syntax and no package.json loads as ESM instead of failing as CJS.
      '--experimental-detect-module',
      '--disable-warning=ExperimentalWarning',
      // The heap stops at the budget with a "heap out of memory" crash the node can report, not a silent kill.
      `--max-old-space-size=${spec.memoryMb}`,
      // V8's memory reducer schedules full collections for a few seconds after allocation stops; a
      // worker paused between calls can only run them once calls come back. Without it,
      // c=32 after a minute's pause had a lower p99 in 9 of 10 paired rounds (median 4.7 against
      // 5.3 ms), and idle workers' RSS was the same (48 MB each, 40 s after load).
      '--no-memory-reducer',
      // One V8 platform thread instead of four: the background compiler and GC helpers of a process
      // serving one call at a time. An idle worker had 3 threads and 0.9 MB of private memory fewer
      // (their stacks and malloc arenas), 8.6 against 9.5 MB after 2,000 calls.
      '--v8-pool-size=1',
      '/orva/node-adapter.cjs',
      spec.entrypoint,
    ],
  },
  python: {
    interpreter: '/usr/bin/python3.11',
    defaultEntrypoint: 'handler.py',
    adapterFile: adapter('python-adapter.py'),
    adapterPath: '/orva/python-adapter.py',
    roBinds: [
      '/usr/bin/python3.11',
      '/usr/lib/python3.11',
      // Only msgpack of Debian's dist-packages, for the adapter; the handler's own deps live in /code.
      '/usr/lib/python3/dist-packages/msgpack',
      // The `ssl` module's OpenSSL dir (cert.pem and certs/ point into /etc/ssl/certs).
      '/usr/lib/ssl',
      ...SHARED_LIBRARIES,
    ],
    // -S: no site module (no host site-packages on sys.path, faster start); -B: /code is read-only
    // anyway; -u: the worker's own stdout/stderr reach the node's diagnostics without delay.
    command: (spec) => [RUNTIMES.python.interpreter, '-S', '-B', '-u', '/orva/python-adapter.py', spec.entrypoint],
  },
};
