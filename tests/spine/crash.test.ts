import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import Database from 'better-sqlite3';
import type { MetaEnvelope } from '../../protocol/meta-commands.ts';
import { STREAMS } from '../../protocol/subjects.ts';
import { eventually } from '../helpers/assert.ts';
import { call } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

/** At most this many creates in the burst. */
const BURST = 400;
/** Concurrent clients in the burst. */
const WRITERS = 24;
/** Kill once this many creates were acknowledged: the rest are in flight. */
const KILL_AFTER_ACKS = 60;

let node: NodeHandle | null = null;
after(async () => {
  await node?.stop();
});

// Pids of processes whose command line mentions `needle` (pgrep without a shell, so it never matches itself).
function pidsMatching(needle: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', needle], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// The embedded nats-server's client URL, from the config the node wrote in its data dir.
function embeddedNatsUrl(dataDir: string): string {
  const m = /listen: "([^"]+)"/.exec(readFileSync(join(dataDir, 'nats.conf'), 'utf8'));
  assert.ok(m, 'no listen line in nats.conf');
  return `nats://${m[1]}`;
}

// Every envelope in ORVA_META with its sequence, read through an ordered consumer.
async function readMetaStream(natsUrl: string): Promise<{ lastSeq: number; entries: Array<{ seq: number; env: MetaEnvelope }> }> {
  const nc = await connect({ servers: natsUrl });
  try {
    const lastSeq = (await (await jetstreamManager(nc)).streams.info(STREAMS.meta)).state.last_seq;
    const consumer = await jetstream(nc).consumers.get(STREAMS.meta);
    const entries: Array<{ seq: number; env: MetaEnvelope }> = [];
    const iter = await consumer.fetch({ max_messages: lastSeq, expires: 5_000 });
    for await (const m of iter) {
      entries.push({ seq: m.seq, env: JSON.parse(Buffer.from(m.data).toString('utf8')) });
      if (m.seq >= lastSeq) break;
    }
    return { lastSeq, entries };
  } finally {
    await nc.close();
  }
}

// The applied sequence stored in the node's SQLite, read-only.
function appliedSeq(dataDir: string): number {
  const db = new Database(join(dataDir, 'orva.db'), { readonly: true });
  try {
    return (db.prepare("SELECT value FROM meta_state WHERE key = 'applied_seq'").get() as { value: number }).value;
  } finally {
    db.close();
  }
}

test('crash - kill -9 the node while it applies a burst of writes, restart it: every acknowledged write is there, none applied twice', async (t) => {
  const first = await startNode();
  node = first;
  const { dataDir, adminKey } = first;
  assert.ok(pidsMatching(dataDir).length > 0, 'the embedded nats-server should be running');

  // WRITERS clients each create functions back to back, so requests are always
  // in flight when the kill lands, however fast the node or slow this process.
  // They go on until the process is gone (not just until the kill is sent), so the node cannot answer
  // everything in flight first: requests are still arriving when it dies.
  const acked = new Map<string, string>();
  let failed = 0;
  let next = 0;
  let killing: Promise<void> | null = null;
  let dead = false;
  const writer = async () => {
    while (next < BURST && !dead) {
      const name = `crash-${String(next++).padStart(3, '0')}`;
      try {
        const r = await call(first.url, 'POST', '/api/v1/functions', { key: adminKey, body: { name, runtime: 'node' } });
        assert.equal(r.status, 201, r.text);
        acked.set(r.json.id, name);
        if (acked.size === KILL_AFTER_ACKS) killing ??= first.kill9().then(() => {
          dead = true;
        });
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
  await killing;
  assert.ok(failed > 0, `the kill landed after the burst (${acked.size} acked): nothing was in flight`);

  // The node's nats-server dies with it (parent-death signal), leaving nothing behind.
  await eventually('the orphaned nats-server to exit', () => (pidsMatching(dataDir).length === 0 ? true : undefined), 5_000);

  node = await startNode({ dataDir });
  assert.equal(node.adminKey, adminKey, 'a restart must keep the bootstrap key');
  const list = await call(node.url, 'GET', '/api/v1/functions', { key: adminKey });
  assert.equal(list.status, 200);
  const rows: Array<{ id: string; name: string }> = list.json.functions;
  const byId = new Map(rows.map((f) => [f.id, f.name]));
  for (const [id, name] of acked) assert.equal(byId.get(id), name, `acknowledged ${name} (${id}) lost`);
  assert.equal(new Set(rows.map((f) => f.name)).size, rows.length, 'a name appears twice');

  // The stream is the truth: each create in it is applied exactly once, and the applier is at its end.
  const stream = await readMetaStream(embeddedNatsUrl(dataDir));
  assert.equal(stream.entries.length, stream.lastSeq, 'the stream has gaps');
  assert.equal(new Set(stream.entries.map((e) => e.env.id)).size, stream.entries.length, 'a command was logged twice');
  const created = stream.entries.filter((e) => e.env.cmd.type === 'function.create');
  assert.deepEqual(
    rows.map((f) => f.id).sort(),
    created.map((e) => (e.env.cmd as { fn: { id: string } }).fn.id).sort(),
    'rows differ from the creates in the stream',
  );
  assert.ok(rows.length >= acked.size && rows.length <= BURST);
  t.diagnostic(`crash: ${acked.size} acked, ${failed} failed, ${rows.length} rows, stream last seq ${stream.lastSeq}`);
  assert.equal(appliedSeq(dataDir), stream.lastSeq);

  // A write after the restart works and lands after everything else.
  const late = await call(node.url, 'POST', '/api/v1/functions', { key: adminKey, body: { name: 'after-restart', runtime: 'python' } });
  assert.equal(late.status, 201, late.text);
  assert.equal(appliedSeq(dataDir), stream.lastSeq + 1);
  assert.equal(await node.stop(), 0);
  node = null;
  assert.deepEqual(pidsMatching(dataDir), [], 'a graceful stop left a nats-server running');
});

test('crash - the embedded nats-server is restarted when it dies, and writes work again', async () => {
  node = await startNode();
  const { dataDir, adminKey, url } = node;
  const [pid] = pidsMatching(dataDir);
  assert.ok(pid, 'no embedded nats-server found');
  process.kill(pid, 'SIGKILL');
  await eventually('a new nats-server', () => {
    const now = pidsMatching(dataDir);
    return now.length === 1 && now[0] !== pid ? true : undefined;
  }, 10_000);
  const created = await eventually('a write to succeed again', async () => {
    const r = await call(url, 'POST', '/api/v1/functions', { key: adminKey, body: { name: 'after-nats-restart', runtime: 'node' } });
    if (r.status === 201) return r.json;
    assert.ok(r.status === 503 || r.status === 409, `unexpected ${r.status}: ${r.text}`);
    return undefined;
  }, 15_000, 200);
  assert.equal((await call(url, 'GET', `/api/v1/functions/${created.id}`, { key: adminKey })).status, 200);
  // Writes keep working, not just the first few (the applier's consumer once stalled after four).
  for (let i = 0; i < 12; i++) {
    const r = await call(url, 'POST', '/api/v1/functions', { key: adminKey, body: { name: `steady-${i}`, runtime: 'node' } });
    assert.equal(r.status, 201, `write ${i} after the nats-server restart: ${r.text}`);
  }
  assert.equal(await node.stop(), 0);
  node = null;
  assert.deepEqual(pidsMatching(dataDir), []);
});
