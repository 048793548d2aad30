/**
 * Code artifacts: a built version dir is content-addressed by its hash,
 * packed as a tar.gz into the ORVA_ARTIFACTS object-store bucket, and
 * materialised on each node under versions/<function>/<hash>/ on demand —
 * extracted beside it, then renamed into place, so a half-written version is
 * never visible.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import type { Logger } from 'pino';

/** Run a command, collecting stdout; rejects with its stderr on failure. */
function run(cmd: string, args: string[], input?: Uint8Array): Promise<Buffer> {
  return new Promise((resolveOut, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolveOut(Buffer.concat(out)) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-1000)}`))));
    child.stdin.end(input);
  });
}

/**
 * SHA-256 over the sorted tree: each entry's relative path, kind, executable
 * bit and content (or link target). Stable across machines and tar runs.
 */
export async function hashTree(root: string): Promise<string> {
  const h = createHash('sha256');
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, path));
      if (st.isDirectory()) {
        h.update(`d ${path}\n`);
        await walk(path);
      } else if (st.isSymbolicLink()) {
        h.update(`l ${path} ${await readlink(join(root, path))}\n`);
      } else if (st.isFile()) {
        const content = await readFile(join(root, path));
        h.update(`f ${path} ${st.mode & 0o111 ? 'x' : '-'} ${content.length}\n`);
        h.update(content);
      }
    }
  }
  await walk('');
  return h.digest('hex');
}

export class Artifacts {
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly bucket: ObjectStore,
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {}

  versionDir(functionId: string, hash: string): string {
    return join(this.dataDir, 'versions', functionId, hash);
  }

  /** Pack `dir` and store it under `hash` unless the bucket already has it. */
  async store(hash: string, dir: string): Promise<void> {
    if (await this.bucket.info(hash)) return;
    const tgz = await run('tar', ['-C', dir, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', '-', '.']);
    await this.bucket.putBlob({ name: hash, description: 'orva version' }, tgz);
  }

  /** Move a freshly built dir into place as this node's copy of the version. */
  async adopt(functionId: string, hash: string, builtDir: string): Promise<void> {
    const target = this.versionDir(functionId, hash);
    if (existsSync(target)) {
      await rm(builtDir, { recursive: true, force: true });
      return;
    }
    await mkdir(join(this.dataDir, 'versions', functionId), { recursive: true });
    await rename(builtDir, target);
  }

  /** Delete a version from the object store (other nodes keep serving their local copies until drained). */
  async remove(hash: string): Promise<void> {
    await this.bucket.delete(hash);
  }

  /** The local path of a version, fetching and extracting it once if this node lacks it. */
  materialize(functionId: string, hash: string): Promise<string> {
    const target = this.versionDir(functionId, hash);
    if (existsSync(target)) return Promise.resolve(target);
    const key = `${functionId}/${hash}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(functionId, hash, target).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetch(functionId: string, hash: string, target: string): Promise<string> {
    const tgz = await this.bucket.getBlob(hash);
    if (!tgz) throw new Error(`artifact ${hash} is not in the object store`);
    const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
    await mkdir(tmp, { recursive: true });
    try {
      await run('tar', ['-C', tmp, '--no-same-owner', '-xzf', '-'], tgz);
      if ((await hashTree(tmp)) !== hash) throw new Error(`artifact ${hash} does not match its hash`);
      if (!existsSync(target)) await rename(tmp, target);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    this.log.info({ fn: functionId, hash }, 'version materialised from the object store');
    return target;
  }
}
