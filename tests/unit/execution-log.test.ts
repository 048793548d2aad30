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
after(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });
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
  };
}

/** Newest first is id order; ids of one millisecond are in random order among themselves. */
const newestFirst = (ids: string[]) => [...ids].sort().reverse();

test('execution log - records come back by id, newest first, by function, with their logs', async () => {
  const log = new ExecutionLog(freshPath(), LIMITS, silent);
  const ids = [uuidv7(), uuidv7(), uuidv7()];
  const b = { ...row(ids[1], 'fn-b'), cold_start: true, status: 'timeout' as const, http_status: 504, error_code: 'TIMEOUT', fault: 'function' };
  log.record(row(ids[0]), 'first\n');
  log.record(b, '');
  log.record(row(ids[2]), 'third\n');
  assert.deepEqual(await log.get(ids[1]), b);
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
  assert.equal(await log.logs(ids[0]), 'first\n');
  assert.equal(await log.logs(ids[1]), '', 'a record without output has empty logs');
  assert.equal(await log.get(uuidv7()), undefined);
  assert.equal(await log.logs(uuidv7()), undefined);
  await log.close();
});

test('execution log - a graceful close commits what was buffered, and a reopened log serves it', async () => {
  const path = freshPath();
  const first = new ExecutionLog(path, LIMITS, silent);
  const ids = Array.from({ length: 150 }, () => uuidv7());
  for (const id of ids) first.record(row(id), `${id}\n`);
  await first.close();
  const again = new ExecutionLog(path, LIMITS, silent);
  assert.equal((await again.list({ limit: 1000 })).length, ids.length);
  assert.equal(await again.logs(ids[77]), `${ids[77]}\n`);
  await again.close();
});

test('execution log - records past the retention are pruned, logs and all, when the log opens', async () => {
  const path = freshPath();
  const first = new ExecutionLog(path, LIMITS, silent);
  const old = { ...row(uuidv7()), started_at: new Date(Date.now() - 10 * 86_400_000).toISOString() };
  const recent = { ...row(uuidv7()), started_at: new Date(Date.now() - 2 * 86_400_000).toISOString() };
  first.record(old, 'old\n');
  first.record(recent, 'recent\n');
  assert.equal((await first.list({ limit: 10 })).length, 2);
  await first.close();
  const again = new ExecutionLog(path, LIMITS, silent);
  assert.deepEqual(
    (await again.list({ limit: 10 })).map((r) => r.id),
    [recent.id],
  );
  assert.equal(await again.logs(old.id), undefined);
  assert.equal(await again.logs(recent.id), 'recent\n');
  await again.close();
});

test('execution log - past maxRecords the oldest records go, their logs with them', async () => {
  const path = freshPath();
  const log = new ExecutionLog(path, { ...LIMITS, maxRecords: 100 }, silent);
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
  assert.equal(await log.logs(ids[150]), 'out 150\n');
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
  const log = new ExecutionLog(path, limits, silent);
  const ids = Array.from({ length: 10 }, () => uuidv7());
  for (const [i, id] of ids.entries()) log.record(row(id), output(i));
  for (const [i, id] of ids.entries()) {
    assert.ok(await log.get(id), `record ${i} stays`);
    assert.equal(await log.logs(id), i >= 6 ? output(i) : '', `logs of record ${i}`);
  }
  await log.close();
  const again = new ExecutionLog(path, limits, silent);
  const last = uuidv7();
  again.record(row(last), output(10));
  assert.equal(await again.logs(last), output(10));
  assert.equal(await again.logs(ids[6]), '', 'the total was counted again on open, so the oldest kept logs made room');
  assert.equal(await again.logs(ids[7]), output(7));
  await again.close();
});
