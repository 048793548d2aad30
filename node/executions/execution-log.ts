/**
 * Execution records: node-local, high-volume, so never META commands. Each
 * call's record is buffered in memory and handed in batches (every FLUSH_MS
 * or BATCH_MAX records) to a writer thread, so neither the request path nor
 * the node's event loop ever waits on SQLite for them. Reads first sync with
 * the writer (read-your-writes). A graceful stop hands over what is buffered
 * and waits for the writer to commit it. Rows older than the retention are
 * pruned hourly; past `maxRecords` the oldest go with every batch, and past
 * `maxLogBytes` the oldest logs (their records are flagged), so sustained
 * traffic cannot fill the disk.
 * The file is separate from the replicated metadata.
 */
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';

export type ExecutionStatus = 'succeeded' | 'failed' | 'timeout' | 'crashed' | 'rejected';

export interface ExecutionRow {
  id: string;
  function_id: string;
  deployment_id: string | null;
  status: ExecutionStatus;
  http_status: number;
  duration_ms: number;
  cold_start: boolean;
  node: string;
  request_bytes: number;
  response_bytes: number;
  error_code: string | null;
  /** Whose fault a failure was: caller, platform or function. */
  fault: string | null;
  started_at: string;
  /** What made the call: `http` (/fn, a custom route) or `mcp` (a tool call at /mcp). */
  trigger: ExecutionTrigger;
  /** The channel whose token made an MCP call; null otherwise. */
  channel_id: string | null;
}

export type ExecutionTrigger = 'http' | 'mcp';

/** A record as read back: `logs_dropped` once the log budget took its logs (see ORVA_EXECUTION_LOGS_MAX_MB). */
export type ExecutionRecord = ExecutionRow & { logs_dropped: boolean };

/** What a call printed; empty with `logs_dropped` when the log budget took it, empty alone when it printed nothing. */
export interface ExecutionLogs {
  logs: string;
  logs_dropped: boolean;
}

/**
 * What writer-thread.mjs receives and answers, in order. A batch is one flat
 * array, RECORD_VALUES values a record (its columns in the writer's order,
 * then its logs): cloning plain values costs a fraction of cloning an object
 * per record.
 */
type WriterMessage = { type: 'batch'; values: unknown[] } | { type: 'sync'; id: number } | { type: 'prune'; before: string } | { type: 'close' };
type WriterReply = { type: 'synced'; id: number } | { type: 'closed' } | { type: 'error'; message: string; id?: number };

/** Values a record takes in a batch: the executions row's 15 columns, then its logs. */
const RECORD_VALUES = 16;
const FLUSH_MS = 50;
/**
 * A batch is one transaction on the writer thread, a burst of CPU on a core
 * the request loop and the workers share: 64 records take ~0.3 ms. Batches
 * of 500 (~2.5 ms each) raised invoke p99 at c=32 by 10–17 % on a 2-core
 * machine (paired rounds, same throughput).
 */
const BATCH_MAX = 64;
const PRUNE_EVERY_MS = 3600_000;
/** How long a stop waits for the writer to commit what is left. */
const CLOSE_TIMEOUT_MS = 10_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS executions (
  id TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  deployment_id TEXT,
  status TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  cold_start INTEGER NOT NULL,
  node TEXT NOT NULL,
  request_bytes INTEGER NOT NULL,
  response_bytes INTEGER NOT NULL,
  error_code TEXT,
  fault TEXT,
  started_at TEXT NOT NULL,
  logs_dropped INTEGER NOT NULL DEFAULT 0,
  trigger TEXT NOT NULL DEFAULT 'http',
  channel_id TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_function ON executions (function_id, id);
CREATE TABLE IF NOT EXISTS execution_logs (
  id TEXT PRIMARY KEY,
  logs TEXT NOT NULL
);
`;

/** Columns added after the first release, with their declarations, in the order they were added. */
const ADDED_COLUMNS: Array<[string, string]> = [
  ['logs_dropped', 'INTEGER NOT NULL DEFAULT 0'],
  ['trigger', "TEXT NOT NULL DEFAULT 'http'"],
  ['channel_id', 'TEXT'],
];

type StoredRow = Omit<ExecutionRecord, 'cold_start' | 'logs_dropped'> & { cold_start: number; logs_dropped: number };

const fromStored = (r: StoredRow): ExecutionRecord => ({ ...r, cold_start: r.cold_start === 1, logs_dropped: r.logs_dropped === 1 });

export class ExecutionLog {
  /** This thread's connection: schema and reads only; the writer thread has its own. */
  private readonly db: Database.Database;
  private readonly writer: Worker;
  /** Records not yet handed to the writer, flattened (see WriterMessage). */
  private buffer: unknown[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly listeners: Array<(r: ExecutionRow) => void> = [];
  private readonly syncs = new Map<number, () => void>();
  private nextSync = 0;
  private closed: Promise<void> | null = null;

  constructor(
    path: string,
    private readonly limits: { retentionDays: number; maxRecords: number; maxLogBytes: number },
    private readonly log: Logger,
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
    // Files written by older nodes lack the columns added since: the logs-dropped flag, then the trigger and channel of MCP calls.
    const columns = new Set((this.db.pragma('table_info(executions)') as Array<{ name: string }>).map((c) => c.name));
    for (const [name, decl] of ADDED_COLUMNS) if (!columns.has(name)) this.db.exec(`ALTER TABLE executions ADD COLUMN ${name} ${decl}`);
    this.writer = new Worker(new URL('./writer-thread.mjs', import.meta.url), { workerData: { path, maxRecords: limits.maxRecords, maxLogBytes: limits.maxLogBytes } });
    this.writer.on('message', (m: WriterReply) => {
      if (m.type === 'synced') {
        this.syncs.get(m.id)?.();
        this.syncs.delete(m.id);
      } else if (m.type === 'error') this.log.error({ err: m.message }, 'execution writer failed');
    });
    this.writer.on('error', (err) => this.log.error({ err }, 'execution writer thread died'));
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    this.prune();
  }

  /** Subscribe to every record as it is taken (SSE, metrics); logs stay behind their own endpoint. */
  onRecord(listener: (r: ExecutionRow) => void): void {
    this.listeners.push(listener);
  }

  /** Queue one record and `logs`, what the handler printed and the stack of a thrown error. */
  record(r: ExecutionRow, logs: string): void {
    this.buffer.push(r.id, r.function_id, r.deployment_id, r.status, r.http_status, r.duration_ms, r.cold_start ? 1 : 0, r.node, r.request_bytes, r.response_bytes, r.error_code, r.fault, r.started_at, r.trigger, r.channel_id, logs);
    for (const l of this.listeners) l(r);
    if (this.buffer.length >= BATCH_MAX * RECORD_VALUES) this.flush();
    else if (this.timer === null) this.timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return;
    this.post({ type: 'batch', values: this.buffer });
    this.buffer = [];
  }

  private post(m: WriterMessage): void {
    this.writer.postMessage(m);
  }

  /** Resolves once everything recorded so far is committed. */
  private sync(): Promise<void> {
    this.flush();
    const id = ++this.nextSync;
    return new Promise((resolve) => {
      this.syncs.set(id, resolve);
      this.post({ type: 'sync', id });
    });
  }

  /** The newest records, those with an id below `before` only when given (uuidv7 ids sort by time). */
  async list(filter: { function_id?: string; limit: number; before?: string }): Promise<ExecutionRecord[]> {
    await this.sync();
    const rows = this.db
      .prepare('SELECT * FROM executions WHERE (@fn IS NULL OR function_id = @fn) AND (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit')
      .all({ fn: filter.function_id ?? null, before: filter.before ?? null, limit: filter.limit }) as StoredRow[];
    return rows.map(fromStored);
  }

  async get(id: string): Promise<ExecutionRecord | undefined> {
    await this.sync();
    const r = this.db.prepare('SELECT * FROM executions WHERE id = ?').get(id) as StoredRow | undefined;
    return r && fromStored(r);
  }

  async logs(id: string): Promise<ExecutionLogs | undefined> {
    await this.sync();
    const r = this.db
      .prepare("SELECT coalesce(l.logs, '') AS logs, e.logs_dropped FROM executions e LEFT JOIN execution_logs l ON l.id = e.id WHERE e.id = ?")
      .get(id) as { logs: string; logs_dropped: number } | undefined;
    return r && { logs: r.logs, logs_dropped: r.logs_dropped === 1 };
  }

  private prune(): void {
    this.post({ type: 'prune', before: new Date(Date.now() - this.limits.retentionDays * 86_400_000).toISOString() });
  }

  /** Hand over what is buffered and wait until the writer committed it and closed. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      clearInterval(this.pruneTimer);
      this.flush();
      const done = () => {
        clearTimeout(timer);
        void this.writer.terminate().finally(resolve);
      };
      // A writer thread that died answers nothing: a stop must not wait for it forever.
      const timer = setTimeout(() => {
        this.log.error('execution writer did not confirm its last batch; stopping without it');
        done();
      }, CLOSE_TIMEOUT_MS);
      this.writer.on('message', (m: WriterReply) => {
        if (m.type === 'closed') done();
      });
      this.writer.once('exit', done);
      this.post({ type: 'close' });
    }).finally(() => this.db.close());
    return this.closed;
  }
}
