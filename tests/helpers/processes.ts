/**
 * Test harness: real nats-server and real node processes over loopback.
 * Every process started here is registered and killed when the test file ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after } from 'node:test';
import { JETSTREAM_DURABLE } from '../../node/nats-embedded.ts';
import { BwrapDriver } from '../../node/sandbox/bwrap.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
const NATS_BIN = '/usr/sbin/nats-server';

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
after(async () => {
  await Promise.all([...children].map((c) => waitExit(c, 0)));
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  // A node killed here (or by a test) leaves its workers' cgroups to the next node start: remove them now.
  await BwrapDriver.cleanupStale();
});

/** A temp dir removed when the test file ends. */
export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `orva-${tag}-`));
  tempDirs.add(d);
  return d;
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', () => {
      clearTimeout(t);
      res();
    });
  });
}

export interface NatsHandle {
  url: string;
  stop(): Promise<void>;
}

/** A standalone nats-server with JetStream, as a cluster's shared NATS, on a port the kernel picks. */
export async function startNats(): Promise<NatsHandle> {
  const dir = tempDir('nats');
  // As a durable deployment runs it: every JetStream write fsynced before its ack.
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `jetstream {\n  ${JETSTREAM_DURABLE}\n  store_dir: ${JSON.stringify(dir)}\n}\n`);
  const child = spawn(NATS_BIN, ['-c', conf, '-a', '127.0.0.1', '-p', '-1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  const port = await new Promise<number>((res, rej) => {
    let out = '';
    const t = setTimeout(() => rej(new Error(`nats-server not ready: ${out}`)), 15_000);
    child.stderr!.on('data', (c: Buffer) => {
      out += c.toString();
      const listening = /Listening for client connections on [\d.]+:(\d+)/.exec(out);
      if (listening && out.includes('Server is ready')) {
        clearTimeout(t);
        res(Number(listening[1]));
      }
    });
    child.once('exit', (code) => rej(new Error(`nats-server exited ${code}: ${out}`)));
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await waitExit(child, 5_000);
    },
  };
}

export interface NodeHandle {
  url: string;
  port: number;
  dataDir: string;
  /** The bootstrap admin key, read from the data dir (empty on a node that did not create it). */
  adminKey: string;
  proc: ChildProcess;
  /** Everything the node printed (pino JSON lines). */
  output(): string;
  /** SIGTERM and wait for the graceful exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, no cleanup. */
  kill9(): Promise<void>;
}

export interface NodeOptions {
  natsUrl?: string;
  dataDir?: string;
  env?: Record<string, string>;
  /** Wait for the admin.key file (true for a first single node). Default true when no natsUrl. */
  expectAdminKey?: boolean;
  /**
   * A host file the node inherits open as fd 100 without close-on-exec (Node itself marks low inherited descriptors close-on-exec, not high ones), the way
   * a shell redirection or a careless service manager hands one over.
   */
  inheritedFile?: string;
  /** Start it with the README's `npm start` (setup, then the node) instead of running node/main.ts directly. */
  npmStart?: boolean;
}

/**
 * Start `node/main.ts` as a real process on a port the kernel picks (no
 * race with other tests' processes), and wait until it answers health.
 */
export async function startNode(opts: NodeOptions = {}): Promise<NodeHandle> {
  const dataDir = opts.dataDir ?? tempDir('node');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ORVA_PORT: '0',
    ORVA_HOST: '127.0.0.1',
    ORVA_DATA_DIR: dataDir,
    ORVA_LOG_LEVEL: 'info',
    ...(opts.natsUrl ? { ORVA_NATS_URL: opts.natsUrl } : {}),
    ...opts.env,
  };
  const argv = opts.npmStart ? ['npm', 'start', '--silent'] : [process.execPath, '--import', 'tsx', join(ROOT, 'node/main.ts')];
  // (A descriptor passed through spawn's stdio arrives with close-on-exec set, so the shell opens it.)
  const [cmd, ...args] = opts.inheritedFile ? ['/bin/bash', '-c', 'exec 100<>"$0"; exec "$@"', opts.inheritedFile, ...argv] : argv;
  const proc = spawn(cmd!, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 60_000;
  let port = 0;
  let url = '';
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node exited ${proc.exitCode} before ready:\n${out}`);
    if (Date.now() > deadline) throw new Error(`node not ready in 60 s:\n${out}`);
    port ||= Number(/"port":(\d+),[^\n]*"msg":"orva node listening"/.exec(out)?.[1] ?? 0);
    if (port === 0) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    url = `http://127.0.0.1:${port}`;
    try {
      const r = await fetch(`${url}/api/v1/system/health`);
      if (r.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  let adminKey = '';
  try {
    adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  } catch {}
  return {
    url,
    port,
    dataDir,
    adminKey,
    proc,
    output: () => out,
    stop: async () => {
      proc.kill('SIGTERM');
      await waitExit(proc, 40_000);
      return proc.exitCode;
    },
    kill9: async () => {
      proc.kill('SIGKILL');
      await waitExit(proc, 5_000);
    },
  };
}
