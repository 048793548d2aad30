/**
 * The embedded nats-server for a single node: a supervised child with
 * JetStream on, bound to 127.0.0.1 on a free port, its store under the data
 * dir. It is restarted with backoff if it dies and killed when the node exits
 * — also on kill -9 of the node, through the parent-death signal.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * fsync every JetStream write before it is acknowledged: an acknowledged
 * META command must survive an OS crash or power loss, not only a process
 * kill (the default syncs every 2 minutes). Needs nats-server >= 2.10.
 */
export const JETSTREAM_DURABLE = 'sync_interval: always';

/**
 * The oldest nats-server that can keep acknowledged writes: 2.10 brought
 * sync_interval, and 2.10.20-22 could lose a whole stream after kill -9.
 */
export const DURABLE_NATS_SERVER = '2.10.23';

export function natsServerDurable(version: string): boolean {
  const [a = 0, b = 0, c = 0] = version.split(/[.-]/).map(Number);
  const [x, y, z] = DURABLE_NATS_SERVER.split('.').map(Number);
  return a !== x ? a > x : b !== y ? b > y : c >= z;
}

export class EmbeddedNats {
  private child: ChildProcess | null = null;
  private stopping = false;
  private failures = 0;
  private port = 0;

  constructor(
    private readonly bin: string,
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<string> {
    const version = execFileSync(this.bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server: v/, '');
    if (!natsServerDurable(version)) throw new Error(`${this.bin} is ${version}; Orva needs nats-server >= ${DURABLE_NATS_SERVER} (run ops/setup.sh, which installs it)`);
    const storeDir = join(this.dataDir, 'nats');
    mkdirSync(storeDir, { recursive: true, mode: 0o700 });
    const conf = join(this.dataDir, 'nats.conf');
    // The kernel picks the port the first time (no race with other processes); the config is then
    // rewritten with it, so a restarted server comes back where the client reconnects.
    const write = (port: number) =>
      writeFileSync(conf, [`listen: "127.0.0.1:${port}"`, 'server_name: "orva-embedded"', 'jetstream {', `  ${JETSTREAM_DURABLE}`, `  store_dir: ${JSON.stringify(storeDir)}`, '}', ''].join('\n'), { mode: 0o600 });
    write(-1);
    await this.spawnOnce(conf);
    write(this.port);
    return this.url;
  }

  private spawnOnce(conf: string): Promise<void> {
    return new Promise((resolveReady, reject) => {
      // setpriv --pdeathsig: the kernel kills nats-server if the node dies, even by SIGKILL.
      const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', this.bin, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.child = child;
      let ready = false;
      let tail = '';
      const timer = setTimeout(() => {
        if (!ready) reject(new Error(`nats-server did not become ready in 15 s: ${tail.slice(-500)}`));
      }, 15_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        tail = (tail + chunk.toString()).slice(-4000);
        const listening = /Listening for client connections on [\d.]+:(\d+)/.exec(tail);
        if (listening) this.port = Number(listening[1]);
        if (!ready && tail.includes('Server is ready')) {
          ready = true;
          clearTimeout(timer);
          this.failures = 0;
          resolveReady();
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ' — install it (apt-get install nats-server, or run npm start which does) or set ORVA_NATS_BIN' : '';
        reject(new Error(`cannot start ${this.bin}: ${err.message}${hint}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.child = null;
        if (!ready) {
          reject(new Error(`nats-server exited before ready (code ${code}, signal ${signal}): ${tail.slice(-500)}`));
          return;
        }
        if (this.stopping) return;
        this.failures += 1;
        const delay = Math.min(5_000, 200 * 2 ** (this.failures - 1));
        this.log.error({ code, signal, restartInMs: delay }, 'embedded nats-server died; restarting');
        setTimeout(() => {
          if (!this.stopping) this.spawnOnce(conf).catch((err) => this.log.error({ err }, 'embedded nats-server restart failed'));
        }, delay);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((done) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      child.kill('SIGTERM');
    });
  }
}
