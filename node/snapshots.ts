/**
 * META snapshots: every `every` applied commands a node stores a `VACUUM INTO`
 * copy of its metadata (which carries its applied sequence) in the object
 * store and purges the stream below it, less one interval's tail so a node
 * less than a snapshot behind still replays instead of restoring. A node whose SQLite is missing, or behind what the stream
 * still holds, restores the newest snapshot before it opens the store and
 * tails the stream from there.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { STREAMS } from '../protocol/subjects.ts';
import type { Store } from './store/store.ts';

const NAME = 'meta-snapshot';

function snapshotSeq(description: string | undefined): number {
  const n = Number(description);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function localSeq(dbPath: string): number {
  if (!existsSync(dbPath)) return 0;
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT value FROM meta_state WHERE key = 'applied_seq'").get() as { value: number } | undefined)?.value ?? 0;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

/** Before the store opens: replace a missing or too-old SQLite file with the newest snapshot. */
export async function restoreSnapshot(bucket: ObjectStore, jsm: JetStreamManager, dbPath: string, log: Logger): Promise<void> {
  const info = await bucket.info(NAME);
  const snapSeq = snapshotSeq(info?.description);
  if (!info || snapSeq === 0) return;
  const local = localSeq(dbPath);
  const firstSeq = (await jsm.streams.info(STREAMS.meta)).state.first_seq;
  // Restore when there is nothing here, or when what we lack was purged from the stream.
  if (local >= snapSeq || (local > 0 && local >= firstSeq - 1)) return;
  const data = await bucket.getBlob(NAME);
  if (!data) return;
  const tmp = `${dbPath}.restore`;
  writeFileSync(tmp, gunzipSync(data), { mode: 0o600 });
  for (const suffix of ['-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  renameSync(tmp, dbPath);
  log.info({ snapshotSeq: snapSeq, localSeq: local }, 'metadata restored from snapshot');
}

export class Snapshotter {
  private applied = 0;
  private running = false;

  constructor(
    private readonly bucket: ObjectStore,
    private readonly jsm: JetStreamManager,
    private readonly store: Store,
    private readonly dbPath: string,
    private readonly every: number,
    private readonly log: Logger,
  ) {}

  /** Count an applied command; take a snapshot off the apply path once `every` have passed. */
  count(): void {
    if (++this.applied < this.every || this.running) return;
    this.applied = 0;
    this.running = true;
    setImmediate(() => {
      this.take()
        .catch((err) => this.log.warn({ err }, 'snapshot failed'))
        .finally(() => {
          this.running = false;
        });
    });
  }

  async take(): Promise<number> {
    const seq = this.store.appliedSeq();
    const current = snapshotSeq((await this.bucket.info(NAME))?.description);
    if (seq <= current) return current;
    const tmp = `${this.dbPath}.snapshot`;
    rmSync(tmp, { force: true });
    this.store.db.prepare('VACUUM INTO ?').run(tmp);
    try {
      await this.bucket.putBlob({ name: NAME, description: String(seq) }, gzipSync(readFileSync(tmp)));
    } finally {
      rmSync(tmp, { force: true });
    }
    if (seq > this.every) await this.jsm.streams.purge(STREAMS.meta, { seq: seq - this.every + 1 });
    this.log.info({ seq }, 'metadata snapshot stored');
    return seq;
  }
}
