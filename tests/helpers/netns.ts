/**
 * A network-namespace test host: somewhere outside a sandbox's loopback that
 * is not the host itself, for the egress tests. A veth pair joins the host to
 * a fresh namespace `orva-t-<pid>` on a private /30 (10.254.<n>.1 host side,
 * .2 inside); a /32 link-local address (169.254.<n>.2) is routed in as well,
 * so a "metadata service" the sandbox must not reach really listens. An HTTP
 * server inside answers every request with `body`. Needs root (`ip netns`).
 * Traffic only ever goes between the host and that namespace.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const IP = '/usr/sbin/ip';
const NAME_PREFIX = 'orva-t-';

export interface NetnsHost {
  /** The namespace, `orva-t-<pid>`. */
  name: string;
  /** The host side of the veth pair (a host interface address while the namespace exists). */
  hostAddress: string;
  /** The namespace side, where the server listens. */
  address: string;
  /** A link-local address inside the namespace, routed from the host. */
  linkLocal: string;
  port: number;
  /** What the server answers. */
  body: string;
  /** Stop the server and remove the namespace and its veth pair; idempotent. */
  close(): void;
}

function ip(...args: string[]): string {
  return execFileSync(IP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** veth names are at most 15 bytes: `ovt` + the pid + `h`. */
const vethHost = (pid: number) => `ovt${pid}h`;
const vethInner = (pid: number) => `ovt${pid}n`;

/** Remove test namespaces (and their veths) of earlier runs whose process is gone; returns their names. */
export function removeStaleNetns(): string[] {
  const removed: string[] = [];
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0];
    const m = new RegExp(`^${NAME_PREFIX}(\\d+)$`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && alive(pid)) continue;
    teardown(name, pid);
    removed.push(name);
  }
  return removed;
}

function teardown(name: string, pid: number): void {
  // Kill whatever still runs in the namespace (a server of a crashed run), then the links and the namespace.
  try {
    for (const p of ip('netns', 'pids', name).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {}
    }
  } catch {}
  try {
    ip('link', 'del', vethHost(pid));
  } catch {}
  try {
    ip('netns', 'del', name);
  } catch {}
}

/** Create the namespace and start its server; `close()` it in `after`. */
export async function startNetnsHost(): Promise<NetnsHost> {
  removeStaleNetns();
  const pid = process.pid;
  const name = `${NAME_PREFIX}${pid}`;
  const n = (pid % 250) + 1;
  const hostAddress = `10.254.${n}.1`;
  const address = `10.254.${n}.2`;
  const linkLocal = `169.254.${n}.2`;
  const port = 8080;
  const body = `orva-netns-ok-${pid}-${Date.now()}`;
  let server: ChildProcess | null = null;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    server?.kill('SIGKILL');
    teardown(name, pid);
  };
  process.once('exit', close);
  try {
    ip('netns', 'add', name);
    ip('link', 'add', vethHost(pid), 'type', 'veth', 'peer', 'name', vethInner(pid));
    ip('link', 'set', vethInner(pid), 'netns', name);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', vethHost(pid));
    ip('link', 'set', vethHost(pid), 'up');
    ip('-n', name, 'addr', 'add', `${address}/30`, 'dev', vethInner(pid));
    ip('-n', name, 'addr', 'add', `${linkLocal}/32`, 'dev', vethInner(pid));
    ip('-n', name, 'link', 'set', vethInner(pid), 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'route', 'add', 'default', 'via', hostAddress);
    // Only this /32 of 169.254.0.0/16 is routed, and into the namespace: the real metadata address is untouched.
    ip('route', 'add', `${linkLocal}/32`, 'via', address, 'dev', vethHost(pid));
    const code = `require('http').createServer((q, s) => s.end(${JSON.stringify(body)})).listen(${port}, '0.0.0.0', () => console.log('listening'))`;
    server = spawn(IP, ['netns', 'exec', name, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    const srv = server;
    await new Promise<void>((res, rej) => {
      let out = '';
      const t = setTimeout(() => rej(new Error(`netns server not listening in 10 s: ${out}`)), 10_000);
      srv.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('listening')) {
          clearTimeout(t);
          res();
        }
      });
      srv.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      srv.once('exit', (code) => {
        clearTimeout(t);
        rej(new Error(`netns server exited ${code}: ${out}`));
      });
    });
  } catch (err) {
    close();
    throw err;
  }
  return { name, hostAddress, address, linkLocal, port, body, close };
}
