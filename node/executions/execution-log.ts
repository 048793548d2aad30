/**
 * Execution records: node-local, high-volume, so never META commands. Each
 * call's record is buffered in memory and written in one transaction per
 * batch (every FLUSH_MS or BATCH_MAX records), off the request path. A
 * graceful stop flushes what is buffered. Rows older than the retention are
 * pruned hourly. The file is separate from the replicated metadata.
 */
import Database from 'better-sqlite3';
import type { Logger } from 'pino';

export type ExecutionStatus = 'succeeded' | 'failed' | 'timeout' | 'crashed' | 'rejected';

export interface ExecutionRecord {
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
  /** What the handler printed, and the stack of a thrown error. */
  logs: string;
}

const FLUSH_MS = 200;
const BATCH_MAX = 500;
const PRUNE_EVERY_MS = 3600_000;

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
  started_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_function ON executions (function_id, id);
CREATE TABLE IF NOT EXISTS execution_logs (
  id TEXT PRIMARY KEY,
  logs TEXT NOT NULL
);
`;

export type ExecutionRow = Omit<ExecutionRecord, 'logs'>;
type StoredRow = Omit<ExecutionRow, 'cold_start'> & { cold_start: number };

export class ExecutionLog {
  private readonly db: Database.Database;
  private buffer: ExecutionRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly pruneTimer: NodeJS.Timeout;
  private readonly insertBatch: (rows: ExecutionRecord[]) => void;
  private readonly listeners: Array<(r: ExecutionRecord) => void> = [];

  constructor(
    path: string,
    private readonly retentionDays: number,
    private readonly log: Logger,
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const ins = this.db.prepare(
      `INSERT OR REPLACE INTO executions (id, function_id, deployment_id, status, http_status, duration_ms, cold_start, node, request_bytes, response_bytes, error_code, fault, started_at)
       VALUES (@id, @function_id, @deployment_id, @status, @http_status, @duration_ms, @cold_start, @node, @request_bytes, @response_bytes, @error_code, @fault, @started_at)`,
    );
    const insLogs = this.db.prepare('INSERT OR REPLACE INTO execution_logs (id, logs) VALUES (?, ?)');
    this.insertBatch = this.db.transaction((rows: ExecutionRecord[]) => {
      for (const r of rows) {
        ins.run({ ...r, cold_start: r.cold_start ? 1 : 0 });
        if (r.logs !== '') insLogs.run(r.id, r.logs);
      }
    });
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    this.prune();
  }

  /** Subscribe to every record as it is taken (SSE, metrics). */
  onRecord(listener: (r: ExecutionRecord) => void): void {
    this.listeners.push(listener);
  }

  /** Queue one record; never touches the disk on the caller's turn. */
  record(r: ExecutionRecord): void {
    this.buffer.push(r);
    for (const l of this.listeners) l(r);
    if (this.buffer.length >= BATCH_MAX) this.flush();
    else if (this.timer === null) this.timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    try {
      this.insertBatch(rows);
    } catch (err) {
      this.log.error({ err, rows: rows.length }, 'execution batch write failed');
    }
  }

  list(filter: { function_id?: string; limit: number }): ExecutionRow[] {
    this.flush();
    const rows = this.db
      .prepare('SELECT * FROM executions WHERE (@fn IS NULL OR function_id = @fn) ORDER BY id DESC LIMIT @limit')
      .all({ fn: filter.function_id ?? null, limit: filter.limit }) as StoredRow[];
    return rows.map((r) => ({ ...r, cold_start: r.cold_start === 1 }));
  }

  get(id: string): ExecutionRow | undefined {
    this.flush();
    const r = this.db.prepare('SELECT * FROM executions WHERE id = ?').get(id) as StoredRow | undefined;
    return r && { ...r, cold_start: r.cold_start === 1 };
  }

  logs(id: string): string | undefined {
    this.flush();
    if (!this.db.prepare('SELECT 1 FROM executions WHERE id = ?').get(id)) return undefined;
    return (this.db.prepare('SELECT logs FROM execution_logs WHERE id = ?').get(id) as { logs: string } | undefined)?.logs ?? '';
  }

  private prune(): void {
    const cutoff = new Date(Date.now() - this.retentionDays * 86_400_000).toISOString();
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM execution_logs WHERE id IN (SELECT id FROM executions WHERE started_at < ?)').run(cutoff);
      this.db.prepare('DELETE FROM executions WHERE started_at < ?').run(cutoff);
    });
    tx();
  }

  close(): void {
    clearInterval(this.pruneTimer);
    this.flush();
    this.db.close();
  }
}
