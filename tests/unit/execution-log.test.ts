import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { type ExecutionRow, ExecutionLog } from '../../node/executions/execution-log.ts';
import { uuidv7 } from '../../protocol/ids.ts';

const dir = mkdtempSync(join(tmpdir(), 'orva-execlog-'));
const silent = pino({ level: 'silent' });
/** Every log opened here, closed at the end too: a failed assertion must not leave a writer thread holding the process open. */
const opened: ExecutionLog[] = [];
function open(path: string, limits: ConstructorParameters<typeof ExecutionLog>[1]): ExecutionLog {
  const log = new ExecutionLog(path, limits, silent);
  opened.push(log);
  return log;
}
after(async () => {
  await Promise.all(opened.map((l) => l.close()));
  rmSync(dir, { recursive: true, force: true });
});
let files = 0;
const freshPath = () => join(dir, `executions-${++files}.db`);
const LIMITS = { retentionDays: 7, maxRecords: 1_000_000, maxLogBytes: 1024 * 1024 * 1024 };

function row(id: string, function_id = 'fn-a'): ExecutionRow {
  return {
    id,
    function_id,
    deployment_id: 'dep-1',
    status: 'succeeded',
    http_status: 200,
    duration_ms: 1.5,
    cold_start: false,
    node: 'n-test',
    request_bytes: 3,
    response_bytes: 4,
    error_code: null,
    fault: null,
    started_at: new Date().toISOString(),
    trigger: 'http',
    channel_id: null,
  };
}

/** Newest first is id order; ids of one millisecond are in random order among themselves. */
const newestFirst = (ids: string[]) => [...ids].sort().reverse();

test('execution log - records come back by id, newest first, by function, with their logs, trigger and channel', async () => {
  const log = open(freshPath(), LIMITS);
  const ids = [uuidv7(), uuidv7(), uuidv7()];
  const b = { ...row(ids[1], 'fn-b'), cold_start: true, status: 'timeout' as const, http_status: 504, error_code: 'TIMEOUT', fault: 'function', trigger: 'mcp' as const, channel_id: 'ch-1' };
  log.record(row(ids[0]), 'first\n');
  log.record(b, '');
  log.record(row(ids[2]), 'third\n');
  assert.deepEqual(await log.get(ids[1]), { ...b, logs_dropped: false });
  assert.deepEqual(
    (await log.list({ limit: 10 })).map((r) => r.id),
    newestFirst(ids),
  );
  assert.deepEqual(
    (await log.list({ function_id: 'fn-a', limit: 10 })).map((r) => r.id),
    newestFirst([ids[0], ids[2]]),
  );
  assert.deepEqual(
    (await log.list({ limit: 2 })).map((r) => r.id),
    newestFirst(ids).slice(0, 2),
  );
  assert.equal((await log.logs(ids[0]))?.logs, 'first\n');
  assert.deepEqual(await log.logs(ids[1]), { logs: '', logs_dropped: false }, 'a record without output has empty logs, none dropped');
  assert.equal(await log.get(uuidv7()), undefined);
  assert.equal(await log.logs(uuidv7()), undefined);
  await log.close();
});

test('execution log - a graceful close commits what was buffered, and a reopened log serves it', async () => {
  const path = freshPath();
  const first = open(path, LIMITS);
  const ids = Array.from({ length: 150 }, () => uuidv7());
  for (const id of ids) first.record(row(id), `${id}\n`);
  await first.close();
  const again = open(path, LIMITS);
  assert.equal((await again.list({ limit: 1000 })).length, ids.length);
  assert.equal((await again.logs(ids[77]))?.logs, `${ids[77]}\n`);
  await again.close();
});

test('execution log - records past the retention are pruned, logs and all, when the log opens', async () => {
  const path = freshPath();
  const first = open(path, LIMITS);
  const old = { ...row(uuidv7()), started_at: new Date(Date.now() - 10 * 86_400_000).toISOString() };
  const recent = { ...row(uuidv7()), started_at: new Date(Date.now() - 2 * 86_400_000).toISOString() };
  first.record(old, 'old\n');
  first.record(recent, 'recent\n');
  assert.equal((await first.list({ limit: 10 })).length, 2);
  await first.close();
  const again = open(path, LIMITS);
  assert.deepEqual(
    (await again.list({ limit: 10 })).map((r) => r.id),
    [recent.id],
  );
  assert.equal(await again.logs(old.id), undefined);
  assert.equal((await again.logs(recent.id))?.logs, 'recent\n');
  await again.close();
});

test('execution log - past maxRecords the oldest records go, their logs with them', async () => {
  const path = freshPath();
  const log = open(path, { ...LIMITS, maxRecords: 100 });
  const ids: string[] = [];
  for (let i = 0; i < 250; i++) {
    ids.push(uuidv7());
    log.record(row(ids[i]), `out ${i}\n`);
    // Several batches, as under traffic.
    if (i % 60 === 59) await log.list({ limit: 1 });
  }
  const kept = (await log.list({ limit: 1000 })).map((r) => r.id);
  assert.deepEqual(kept, newestFirst(ids.slice(150)));
  assert.equal(await log.get(ids[149]), undefined);
  assert.equal(await log.logs(ids[149]), undefined);
  assert.equal((await log.logs(ids[150]))?.logs, 'out 150\n');
  await log.close();
  const db = new Database(path, { readonly: true });
  assert.equal(db.prepare('SELECT count(*) FROM execution_logs').pluck().get(), 100, 'no logs outlive their record');
  db.close();
});

test('execution log - past maxLogBytes the oldest logs go first, their records stay, also across a reopen', async () => {
  const path = freshPath();
  const limits = { ...LIMITS, maxLogBytes: 4000 };
  // 1,000 bytes each: é is two bytes in UTF-8, and the budget counts bytes.
  const output = (i: number) => `${i}`.padEnd(10, '-') + 'é'.repeat(495);
  const log = open(path, limits);
  const ids = Array.from({ length: 10 }, () => uuidv7());
  for (const [i, id] of ids.entries()) log.record(row(id), output(i));
  for (const [i, id] of ids.entries()) {
    assert.ok(await log.get(id), `record ${i} stays`);
    assert.deepEqual(await log.logs(id), i >= 6 ? { logs: output(i), logs_dropped: false } : { logs: '', logs_dropped: true }, `logs of record ${i}`);
    assert.equal((await log.get(id))!.logs_dropped, i < 6, `record ${i} says whether its logs went`);
  }
  await log.close();
  const again = open(path, limits);
  const last = uuidv7();
  again.record(row(last), output(10));
  assert.equal((await again.logs(last))?.logs, output(10));
  assert.deepEqual(await again.logs(ids[6]), { logs: '', logs_dropped: true }, 'the total was counted again on open, so the oldest kept logs made room');
  assert.equal((await again.logs(ids[7]))?.logs, output(7));
  await again.close();
});

test('execution log - a file from before the dropped-logs flag gains it on open and keeps its records', async () => {
  const path = freshPath();
  const old = new Database(path);
  old.exec(`CREATE TABLE executions (id TEXT PRIMARY KEY, function_id TEXT NOT NULL, deployment_id TEXT, status TEXT NOT NULL, http_status INTEGER NOT NULL,
    duration_ms REAL NOT NULL, cold_start INTEGER NOT NULL, node TEXT NOT NULL, request_bytes INTEGER NOT NULL, response_bytes INTEGER NOT NULL,
    error_code TEXT, fault TEXT, started_at TEXT NOT NULL);
    CREATE TABLE execution_logs (id TEXT PRIMARY KEY, logs TEXT NOT NULL);`);
  const before = row(uuidv7());
  old.prepare('INSERT INTO executions VALUES (@id, @function_id, @deployment_id, @status, @http_status, @duration_ms, 0, @node, @request_bytes, @response_bytes, @error_code, @fault, @started_at)').run(before);
  old.prepare('INSERT INTO execution_logs VALUES (?, ?)').run(before.id, 'x'.repeat(3000));
  old.close();
  const log = open(path, { ...LIMITS, maxLogBytes: 4000 });
  assert.deepEqual(await log.get(before.id), { ...before, logs_dropped: false });
  const after = uuidv7();
  log.record(row(after), 'y'.repeat(3000));
  assert.deepEqual(await log.logs(before.id), { logs: '', logs_dropped: true }, 'the budget still works on the old file');
  assert.deepEqual(await log.logs(after), { logs: 'y'.repeat(3000), logs_dropped: false });
  await log.close();
});
