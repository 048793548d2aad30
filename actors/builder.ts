/**
 * Builder — this node's deploy queue: one build at a time, off the request
 * path.
 *
 * Contract with its parent (the node):
 *  1. `tell(job)` after the deployment row exists (status queued); a full
 *     mailbox throws MailboxFullError, which the caller answers with
 *     BUILD_QUEUE_FULL.
 *  2. Each job ends with exactly one `deployment.finish` command: succeeded
 *     (which activates the version on every node) or failed (which leaves
 *     the prior version serving). A build never crashes the actor.
 *  3. Phases are published as they start: installing → verifying → packing
 *     → storing → activating.
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
import type { SandboxDriver, SpawnSpec } from '../node/sandbox/driver.ts';
import type { Clock } from './clock.ts';
import { Actor } from './runtime.ts';
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
  dataDir: string;
  /** Extra pip arguments (e.g. --index-url or --find-links for a local wheel index). */
  pipArgs: string[];
  queueMax: number;
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

export class Builder extends Actor<BuildJob> {
  private pending = 0;

  constructor(private readonly d: BuilderDeps) {
    super({ name: 'builder', log: d.log, clock: d.clock, mailboxSize: d.queueMax });
  }

  /** Jobs queued or running. */
  get depth(): number {
    return this.pending;
  }

  override tell(job: BuildJob): void {
    super.tell(job);
    this.pending += 1;
  }

  protected async receive(job: BuildJob): Promise<void> {
    const log = new BuildLog();
    const scratch = join(this.d.dataDir, 'builds', job.deploymentId);
    const phase = (p: DeploymentPhase) => {
      log.line(`[${new Date(this.clock.now()).toISOString()}] ${p}`);
      return this.d.submit({ type: 'deployment.progress', id: job.deploymentId, phase: p, at: new Date(this.clock.now()).toISOString() });
    };
    let finish: MetaCommand;
    try {
      await phase('installing');
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
      await phase('verifying');
      await this.verify(job, scratch, log);
      await phase('packing');
      const hash = await hashTree(scratch);
      log.line(`code hash ${hash}`);
      await phase('storing');
      await this.d.artifacts.store(hash, scratch);
      await this.d.artifacts.adopt(job.functionId, hash, scratch);
      await phase('activating');
      finish = { type: 'deployment.finish', id: job.deploymentId, status: 'succeeded', code_hash: hash, error: null, logs: log.toString(), keep_versions: this.d.keepVersions, at: new Date(this.clock.now()).toISOString() };
    } catch (err) {
      const message = err instanceof BuildError ? err.message : `internal build error: ${(err as Error).message}`;
      if (!(err instanceof BuildError)) this.log.error({ err, deployment: job.deploymentId }, 'build failed unexpectedly');
      log.line(`build failed: ${message}`);
      finish = { type: 'deployment.finish', id: job.deploymentId, status: 'failed', code_hash: null, error: message, logs: log.toString(), keep_versions: this.d.keepVersions, at: new Date(this.clock.now()).toISOString() };
    } finally {
      this.pending -= 1;
    }
    await rm(scratch, { recursive: true, force: true }).catch(() => {});
    await this.d.submit(finish).catch((err) => this.log.error({ err, deployment: job.deploymentId }, 'could not record the build result'));
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
    for (let attempt = 1; ; attempt++) {
      const w = new Worker(this.d.driver, { ...job.spawn, codeDir: dir }, 0, this.clock);
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
