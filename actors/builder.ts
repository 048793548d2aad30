/**
 * Builder — this node's deploy queue: builds run off the request path, up to
 * `concurrency` at once, the builds of one function one at a time and in the
 * order they were queued.
 *
 * Contract with its parent (the node):
 *  1. `reserve()` a place before recording the deployment, then `submit`
 *     the job into it once the row exists (status queued), or `cancel` it
 *     if recording failed. With `queueMax` builds queued or running there
 *     is no place (null), which the caller answers with BUILD_QUEUE_FULL.
 *     `tell(job)` is both at once and throws MailboxFullError instead.
 *  2. Each job ends with exactly one `deployment.finish` command: succeeded
 *     (which activates the version on every node) or failed (which leaves
 *     the prior version serving). A build never crashes the actor.
 *  3. Phases are published in order as they start: installing → verifying
 *     → packing → storing → activating, all of them before the finish. The
 *     build does not wait for each one's META round trip; it waits for all
 *     of them before it publishes the finish.
 *  4. A function's next build starts only once the previous one's finish has
 *     been applied here, so its finishes (and activations) keep their order.
 *
 * State: the jobs waiting (FIFO), the functions with a build running, the
 * count queued or running. Messages received: `BuildJob` (from the parent),
 * `BuildDone` (from a build of its own, once its finish is recorded).
 * Messages sent: META commands through `submit`.
 *
 * A build: write the files and manifest into a scratch dir, install
 * dependencies on the host (npm with scripts disabled; pip wheels only),
 * load the handler once in the real sandbox (a syntax error or a missing
 * module fails the build, not the first call), hash the tree, store it in
 * the object store, move it into versions/, then activate through META.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { DeploymentPhase, MetaCommand } from '../protocol/meta-commands.ts';
import type { Artifacts } from '../node/artifacts.ts';
import { hashTree } from '../node/artifacts.ts';
import type { Claim } from '../node/sandbox/eviction.ts';
import type { SandboxDriver, SpawnSpec } from '../node/sandbox/driver.ts';
import { workerLimitBytes } from '../node/sandbox/memory-budget.ts';
import type { Clock } from './clock.ts';
import { Actor, MailboxFullError } from './runtime.ts';
import { SANDBOX_START_ATTEMPTS, Worker } from './worker.ts';

export interface BuildJob {
  deploymentId: string;
  functionId: string;
  /** How the function's workers are spawned (env, limits), used to load the handler once. */
  spawn: Omit<SpawnSpec, 'codeDir'>;
  /** Relative paths; mode carries only the executable bit (0o755 or 0o644). */
  files: Array<{ path: string; data: Buffer; mode?: number }>;
  /** A manifest produced by protocol/dependencies.ts, if any. */
  manifest: { file: string; content: string } | null;
}

export interface BuilderDeps {
  submit: (cmd: MetaCommand) => Promise<void>;
  artifacts: Artifacts;
  driver: SandboxDriver;
  /**
   * Memory for the sandbox a build loads its handler in: the node's Evictor
   * (node/sandbox/eviction.ts). A deploy is asked for like a call, so it may evict
   * idle workers rather than fail on a budget they fill.
   */
  admit: (claim: Claim) => void;
  dataDir: string;
  /** Extra pip arguments (e.g. --index-url or --find-links for a local wheel index). */
  pipArgs: string[];
  /** Builds queued or running before tell() refuses (ORVA_BUILD_QUEUE_MAX). */
  queueMax: number;
  /**
   * Builds running at once (ORVA_BUILD_CONCURRENCY, default the machine's
   * available parallelism): a build is mostly CPU (a sandbox start, an npm
   * or pip install), so more than one per core makes each one slower.
   */
  concurrency: number;
  /** Versions kept per function (older ones are pruned when a build activates). */
  keepVersions: number;
  log: Logger;
  clock?: Clock;
}

/** Build logs kept per deployment; the head and tail survive when longer. */
const LOG_CAP = 64 * 1024;
const INSTALL_TIMEOUT_MS = 5 * 60_000;

class BuildLog {
  private text = '';
  line(s: string): void {
    this.text += s.endsWith('\n') ? s : `${s}\n`;
  }
  toString(): string {
    if (this.text.length <= LOG_CAP) return this.text;
    const half = LOG_CAP / 2;
    return `${this.text.slice(0, half)}\n… ${this.text.length - LOG_CAP} bytes cut …\n${this.text.slice(-half)}`;
  }
}

class BuildError extends Error {}

/** A place in the build queue: submit the job into it, or give it back. */
export interface BuildReservation {
  submit(job: BuildJob): void;
  cancel(): void;
}

/** A build of this actor's own that has recorded its finish (internal: only the builder sends it). */
interface BuildDone {
  done: string;
}
type Msg = BuildJob | BuildDone;

export class Builder extends Actor<Msg> {
  private readonly waiting: BuildJob[] = [];
  /** Functions with a build running: their next build waits. */
  private readonly building = new Set<string>();
  /** Jobs queued or running. */
  private pending = 0;
  /** Object-store puts in flight, by hash: identical code deployed to several functions at once is packed and stored once. */
  private readonly storing = new Map<string, Promise<void>>();

  constructor(private readonly d: BuilderDeps) {
    super({ name: 'builder', log: d.log, clock: d.clock });
  }

  /** Jobs queued or running. */
  get depth(): number {
    return this.pending;
  }

  /**
   * Hold a place in the queue while the caller records the deployment (a
   * META round trip), so that deploys arriving meanwhile are refused before
   * they record anything; null when queueMax builds are queued or running.
   */
  reserve(): BuildReservation | null {
    if (this.pending >= this.d.queueMax) return null;
    this.pending += 1;
    let used = false;
    const use = () => {
      if (used) throw new Error('a build reservation is used once');
      used = true;
    };
    return {
      submit: (job) => {
        use();
        super.tell(job);
      },
      cancel: () => {
        use();
        this.pending -= 1;
      },
    };
  }

  /** Queue a build; MailboxFullError past queueMax builds queued or running. */
  override tell(job: BuildJob): void {
    const place = this.reserve();
    if (!place) throw new MailboxFullError(this.name);
    place.submit(job);
  }

  protected receive(msg: Msg): void {
    if ('done' in msg) {
      this.building.delete(msg.done);
      this.pending -= 1;
    } else this.waiting.push(msg);
    this.startReady();
  }

  /** Start waiting jobs, oldest first, while a slot is free; a job whose function is building waits its turn. */
  private startReady(): void {
    for (let i = 0; i < this.waiting.length && this.building.size < this.d.concurrency; ) {
      const job = this.waiting[i]!;
      if (this.building.has(job.functionId)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.building.add(job.functionId);
      void this.build(job).finally(() => super.tell({ done: job.functionId }));
    }
  }

  /** One build, from files to its recorded finish; never throws. */
  private async build(job: BuildJob): Promise<void> {
    const log = new BuildLog();
    const scratch = join(this.d.dataDir, 'builds', job.deploymentId);
    // Phases are chained, not awaited: each is published after the one before it is applied (so every node and stream sees them in order) while the build goes on.
    let phases: Promise<void> = Promise.resolve();
    const phase = (p: DeploymentPhase) => {
      log.line(`[${new Date(this.clock.now()).toISOString()}] ${p}`);
      const at = new Date(this.clock.now()).toISOString();
      phases = phases.then(() => this.d.submit({ type: 'deployment.progress', id: job.deploymentId, phase: p, at }));
      // Surfaced by the await before the finish; unobserved until then.
      phases.catch(() => {});
    };
    let finish: MetaCommand;
    try {
      phase('installing');
      await rm(scratch, { recursive: true, force: true });
      await mkdir(scratch, { recursive: true });
      for (const f of job.files) {
        await mkdir(dirname(join(scratch, f.path)), { recursive: true });
        await writeFile(join(scratch, f.path), f.data, { mode: f.mode ?? 0o644 });
      }
      if (!existsSync(join(scratch, job.spawn.entrypoint))) throw new BuildError(`the entrypoint ${job.spawn.entrypoint} is not in the deployed files`);
      if (job.manifest) {
        await writeFile(join(scratch, job.manifest.file), job.manifest.content);
        await this.install(job, scratch, log);
      }
      phase('verifying');
      await this.verify(job, scratch, log);
      phase('packing');
      const hash = await hashTree(scratch);
      log.line(`code hash ${hash}`);
      phase('storing');
      await this.store(hash, scratch);
      await this.d.artifacts.adopt(job.functionId, hash, scratch);
      phase('activating');
      await phases;
      finish = { type: 'deployment.finish', id: job.deploymentId, status: 'succeeded', code_hash: hash, error: null, logs: log.toString(), keep_versions: this.d.keepVersions, at: new Date(this.clock.now()).toISOString() };
    } catch (err) {
      const message = err instanceof BuildError ? err.message : `internal build error: ${(err as Error).message}`;
      if (!(err instanceof BuildError)) this.log.error({ err, deployment: job.deploymentId }, 'build failed unexpectedly');
      log.line(`build failed: ${message}`);
      // The finish comes after every phase that was published.
      await phases.catch(() => {});
      finish = { type: 'deployment.finish', id: job.deploymentId, status: 'failed', code_hash: null, error: message, logs: log.toString(), keep_versions: this.d.keepVersions, at: new Date(this.clock.now()).toISOString() };
    }
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
    await this.d.submit(finish).catch((err) => this.log.error({ err, deployment: job.deploymentId }, 'could not record the build result'));
  }

  private store(hash: string, dir: string): Promise<void> {
    let p = this.storing.get(hash);
    if (!p) {
      p = this.d.artifacts.store(hash, dir).finally(() => this.storing.delete(hash));
      this.storing.set(hash, p);
    }
    return p;
  }

  private async install(job: BuildJob, dir: string, log: BuildLog): Promise<void> {
    if (job.spawn.runtime === 'node') {
      // Scripts stay off: an install script would run unsandboxed on the host.
      await this.exec('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], dir, log);
    } else {
      // -I: the build dir (deployed code) must not shadow pip or the stdlib; --isolated: no pip config from it either.
      await this.exec('/usr/bin/python3', ['-I', '-m', 'pip', 'install', '--isolated', '--only-binary=:all:', '--no-compile', '--disable-pip-version-check', '--target', join(dir, '.deps'), '-r', join(dir, 'requirements.txt'), ...this.d.pipArgs], dir, log);
    }
  }

  private exec(cmd: string, args: string[], cwd: string, log: BuildLog): Promise<void> {
    log.line(`$ ${cmd} ${args.join(' ')}`);
    return new Promise((resolveRun, reject) => {
      // No config from the deployed code's dir: npm would read a user config from HOME.
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, npm_config_cache: join(this.d.dataDir, 'npm-cache'), npm_config_userconfig: '/dev/null' };
      const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env });
      const timer = setTimeout(() => child.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
      child.stdout.on('data', (c: Buffer) => log.line(c.toString()));
      child.stderr.on('data', (c: Buffer) => log.line(c.toString()));
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new BuildError(`cannot run ${cmd}: ${err.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolveRun();
        else reject(new BuildError(`dependency install failed (${cmd} exited ${code ?? signal})`));
      });
    });
  }

  /** Load the handler once in the real sandbox: what cannot load must not activate. */
  private async verify(job: BuildJob, dir: string, log: BuildLog): Promise<void> {
    const spec = { ...job.spawn, codeDir: dir };
    for (let attempt = 1; ; attempt++) {
      let w: Worker;
      try {
        w = await new Promise<Worker>((resolve, reject) =>
          this.d.admit({
            functionId: job.functionId,
            bytes: workerLimitBytes(spec.memoryMb),
            evict: true,
            start: () => {
              try {
                resolve(new Worker(this.d.driver, spec, 0, this.clock));
              } catch (err) {
                reject(err);
              }
            },
            refuse: reject,
          }),
        );
      } catch (err) {
        throw new BuildError(`no sandbox to load the handler in: ${(err as Error).message}`);
      }
      try {
        await w.ready;
        log.line('handler loaded in the sandbox');
        return;
      } catch (err) {
        const e = err as Error & { loadError?: boolean };
        // A sandbox that did not start (rather than a handler that threw) gets another try.
        if (!e.loadError && attempt < SANDBOX_START_ATTEMPTS) {
          log.line(`the sandbox did not start (${e.message}); trying again`);
          continue;
        }
        throw new BuildError(`the handler failed to load: ${e.name}: ${e.message}`);
      } finally {
        w.kill();
      }
    }
  }
}
