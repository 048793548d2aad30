// The execution writer, in a worker thread: batches of records are inserted
// here so a multi-millisecond SQLite transaction never stalls the node's
// request loop (it showed up directly in invoke p99). Messages are handled
// in order, so answering `sync` means every earlier batch is committed.
// Plain JS: worker threads do not get the tsx loader the node runs under.
// Messages are typed in execution-log.ts (WriterMessage / WriterReply).
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

// A batch takes milliseconds of CPU; at the default priority, on a small
// machine, it takes them from the request loop and the workers and shows up
// in invoke p99. Commits can wait: this thread (Linux nice is per thread)
// runs at nice 10 and takes what they leave. Without /proc it runs as it is.
try {
  setPriority(Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]), 10);
} catch {}

const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
const ins = db.prepare(
  `INSERT OR REPLACE INTO executions (id, function_id, deployment_id, status, http_status, duration_ms, cold_start, node, request_bytes, response_bytes, error_code, fault, started_at, trigger, channel_id)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
);
const insLogs = db.prepare('INSERT OR REPLACE INTO execution_logs (id, logs) VALUES (?, ?)');
const { maxRecords, maxLogBytes } = workerData;

// What execution_logs holds, in bytes: counted once here, then kept current
// by every insert and delete below (and counted again after a failed
// transaction, whose changes were rolled back).
const BYTES = 'coalesce(sum(length(CAST(logs AS BLOB))), 0)';
const countLogBytes = db.prepare(`SELECT ${BYTES} FROM execution_logs`).pluck();
let logBytes = countLogBytes.get();

// Records matching `where` go, their logs with them (and out of logBytes).
function dropper(where) {
  const matching = `id IN (SELECT id FROM executions WHERE ${where})`;
  const bytes = db.prepare(`SELECT ${BYTES} FROM execution_logs WHERE ${matching}`).pluck();
  const logs = db.prepare(`DELETE FROM execution_logs WHERE ${matching}`);
  const records = db.prepare(`DELETE FROM executions WHERE ${where}`);
  return (arg) => {
    logBytes -= bytes.get(arg);
    logs.run(arg);
    records.run(arg);
  };
}
const dropStartedBefore = dropper('started_at < ?');

// The newest maxRecords are kept. Rowids grow with every insert, so those
// below max(rowid) - maxRecords + 1 are the oldest; each batch drops the ones
// it pushed past the limit (a few dozen deletes, not a large burst later).
const newestRowid = db.prepare('SELECT max(rowid) FROM executions').pluck();
const dropBelow = dropper('rowid < ?');

// Past maxLogBytes the oldest logs go first; their records stay, flagged, so
// an empty read tells "dropped" from "printed nothing".
const oldestLogs = db.prepare('SELECT rowid AS at, length(CAST(logs AS BLOB)) AS bytes FROM execution_logs ORDER BY rowid LIMIT 256');
const flagDroppedThrough = db.prepare('UPDATE executions SET logs_dropped = 1 WHERE id IN (SELECT id FROM execution_logs WHERE rowid <= ?)');
const dropLogsThrough = db.prepare('DELETE FROM execution_logs WHERE rowid <= ?');
function keepLogBudget() {
  while (logBytes > maxLogBytes) {
    const oldest = oldestLogs.all();
    if (oldest.length === 0) return void (logBytes = 0);
    let through = 0;
    for (const { at, bytes } of oldest) {
      through = at;
      logBytes -= bytes;
      if (logBytes <= maxLogBytes) break;
    }
    flagDroppedThrough.run(through);
    dropLogsThrough.run(through);
  }
}

// A batch is flat: each record's 15 column values in the statement's order, then its logs.
const insertBatch = db.transaction((v) => {
  for (let i = 0; i < v.length; i += 16) {
    ins.run(v[i], v[i + 1], v[i + 2], v[i + 3], v[i + 4], v[i + 5], v[i + 6], v[i + 7], v[i + 8], v[i + 9], v[i + 10], v[i + 11], v[i + 12], v[i + 13], v[i + 14]);
    if (v[i + 15] === '') continue;
    insLogs.run(v[i], v[i + 15]);
    logBytes += Buffer.byteLength(v[i + 15]);
  }
  const below = newestRowid.get() - maxRecords + 1;
  // Rowids start at 1: until the table first reaches the limit, nothing is below it.
  if (below > 1) dropBelow(below);
  keepLogBudget();
});
const prune = db.transaction(dropStartedBefore);

parentPort.on('message', (m) => {
  try {
    if (m.type === 'batch') insertBatch(m.values);
    else if (m.type === 'prune') prune(m.before);
    else if (m.type === 'sync') parentPort.postMessage({ type: 'synced', id: m.id });
    else if (m.type === 'close') {
      db.close();
      parentPort.postMessage({ type: 'closed' });
    }
  } catch (err) {
    if (m.type === 'batch' || m.type === 'prune') logBytes = countLogBytes.get();
    parentPort.postMessage({ type: 'error', message: err.message, id: m.id });
  }
});
