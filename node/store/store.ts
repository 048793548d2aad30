/**
 * The node's SQLite file: opened in WAL mode, schema created on first open.
 * Writes happen only through `applyEnvelope` (the MetaApplier), which stores
 * the applied stream sequence in the same transaction as the command's rows,
 * so a crash can never apply a command twice or lose one.
 */
import Database from 'better-sqlite3';
import type { ApplyOutcome, MetaEnvelope } from '../../protocol/meta-commands.ts';
import { applyCommand } from './apply.ts';
import type { PoolConfig } from '../../protocol/schemas.ts';
import type { ApiKeyRow, ChannelFunctionRow, ChannelRow, DeploymentRow, FunctionRow, RouteRow, SecretRow, UserRow } from './rows.ts';
import { ADDED_COLUMNS, SCHEMA } from './schema.ts';

export class Store {
  readonly db: Database.Database;
  private readonly getSeq: Database.Statement<[], { value: number }>;
  private readonly setSeq: Database.Statement<[number]>;
  private readonly applyTx: (seq: number, env: MetaEnvelope) => ApplyOutcome | null;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is enough: a transaction lost to power failure is re-applied from the stream.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    for (const { table, column, type } of ADDED_COLUMNS) {
      const has = (this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column);
      if (!has) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
    this.getSeq = this.db.prepare("SELECT value FROM meta_state WHERE key = 'applied_seq'");
    this.setSeq = this.db.prepare("UPDATE meta_state SET value = ? WHERE key = 'applied_seq'");
    this.applyTx = this.db.transaction((seq: number, env: MetaEnvelope) => {
      if (seq <= this.appliedSeq()) return null;
      // A command that fails validation at apply time still advances the sequence:
      // its outcome is part of the deterministic history.
      const outcome = applyCommand(this.db, env.cmd);
      this.setSeq.run(seq);
      return outcome;
    });
  }

  appliedSeq(): number {
    return this.getSeq.get()?.value ?? 0;
  }

  /** Apply one stream message exactly once; null when `seq` was applied before. */
  applyEnvelope(seq: number, env: MetaEnvelope): ApplyOutcome | null {
    return this.applyTx(seq, env);
  }

  skip(seq: number): void {
    if (seq > this.appliedSeq()) this.setSeq.run(seq);
  }

  close(): void {
    this.db.close();
  }

  // Reads. Each is local and synchronous.

  bootstrapIssued(): boolean {
    return this.db.prepare("SELECT 1 FROM meta_state WHERE key = 'bootstrap_issued'").get() !== undefined;
  }

  hasUser(): boolean {
    return this.db.prepare('SELECT 1 FROM users LIMIT 1').get() !== undefined;
  }

  userByName(username: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  }

  userById(id: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
  }

  session(tokenHash: string): { user_id: string; expires_at: string } | undefined {
    return this.db.prepare('SELECT user_id, expires_at FROM sessions WHERE token_hash = ?').get(tokenHash) as
      | { user_id: string; expires_at: string }
      | undefined;
  }

  apiKeys(): ApiKeyRow[] {
    return this.db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all() as ApiKeyRow[];
  }

  apiKey(id: string): ApiKeyRow | undefined {
    return this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as ApiKeyRow | undefined;
  }

  functions(filter: { status?: string; runtime?: string } = {}): FunctionRow[] {
    return this.db
      .prepare('SELECT * FROM functions WHERE (@status IS NULL OR status = @status) AND (@runtime IS NULL OR runtime = @runtime) ORDER BY created_at, id')
      .all({ status: filter.status ?? null, runtime: filter.runtime ?? null }) as FunctionRow[];
  }

  function(id: string): FunctionRow | undefined {
    return this.db.prepare('SELECT * FROM functions WHERE id = ?').get(id) as FunctionRow | undefined;
  }

  deployment(id: string): DeploymentRow | undefined {
    return this.db.prepare('SELECT * FROM deployments WHERE id = ?').get(id) as DeploymentRow | undefined;
  }

  deployments(functionId: string, limit: number): DeploymentRow[] {
    return this.db.prepare('SELECT * FROM deployments WHERE function_id = ? ORDER BY id DESC LIMIT ?').all(functionId, limit) as DeploymentRow[];
  }

  /** Builds still queued or running on some node (see interrupted-builds.ts for those that never will finish). */
  unfinishedDeployments(): DeploymentRow[] {
    return this.db.prepare("SELECT * FROM deployments WHERE status IN ('queued', 'building')").all() as DeploymentRow[];
  }

  /** The newest deployment of a function, whatever its status. */
  latestDeployment(functionId: string): DeploymentRow | undefined {
    return this.db.prepare('SELECT * FROM deployments WHERE function_id = ? ORDER BY id DESC LIMIT 1').get(functionId) as DeploymentRow | undefined;
  }

  /** Succeeded, unpruned versions of a function, newest first. */
  liveVersions(functionId: string): string[] {
    return (
      this.db
        .prepare("SELECT code_hash FROM deployments WHERE function_id = ? AND status = 'succeeded' AND pruned_at IS NULL GROUP BY code_hash ORDER BY MAX(id) DESC")
        .all(functionId) as Array<{ code_hash: string }>
    ).map((r) => r.code_hash);
  }

  /** Whether any function still has this version unpruned (artifacts are shared by hash). */
  versionInUse(hash: string): boolean {
    return this.db.prepare("SELECT 1 FROM deployments WHERE code_hash = ? AND status = 'succeeded' AND pruned_at IS NULL LIMIT 1").get(hash) !== undefined;
  }

  /** The pruned versions of a function (to remove locally after a GC). */
  prunedVersions(functionId: string): string[] {
    return (
      this.db
        .prepare('SELECT DISTINCT code_hash FROM deployments WHERE function_id = ? AND pruned_at IS NOT NULL AND code_hash NOT IN (SELECT code_hash FROM deployments WHERE function_id = ? AND pruned_at IS NULL AND code_hash IS NOT NULL)')
        .all(functionId, functionId) as Array<{ code_hash: string }>
    ).map((r) => r.code_hash);
  }

  secrets(functionId: string): SecretRow[] {
    return this.db.prepare('SELECT * FROM secrets WHERE function_id = ? ORDER BY key').all(functionId) as SecretRow[];
  }

  routes(): RouteRow[] {
    return this.db.prepare('SELECT * FROM routes ORDER BY path').all() as RouteRow[];
  }

  route(path: string): RouteRow | undefined {
    return this.db.prepare('SELECT * FROM routes WHERE path = ?').get(path) as RouteRow | undefined;
  }

  poolConfig(functionId: string): PoolConfig | undefined {
    const r = this.db.prepare('SELECT min_warm, max_warm, idle_ttl_seconds, target_concurrency, scale_to_zero FROM pool_config WHERE function_id = ?').get(functionId) as
      | (Omit<PoolConfig, 'scale_to_zero'> & { scale_to_zero: number })
      | undefined;
    return r && { ...r, scale_to_zero: r.scale_to_zero === 1 };
  }

  functionByName(name: string): FunctionRow | undefined {
    return this.db.prepare('SELECT * FROM functions WHERE name = ?').get(name) as FunctionRow | undefined;
  }

  channels(): ChannelRow[] {
    return this.db
      .prepare('SELECT c.*, (SELECT COUNT(*) FROM channel_functions cf WHERE cf.channel_id = c.id) AS function_count FROM channels c ORDER BY c.created_at, c.id')
      .all() as ChannelRow[];
  }

  channel(id: string): ChannelRow | undefined {
    return this.db
      .prepare('SELECT c.*, (SELECT COUNT(*) FROM channel_functions cf WHERE cf.channel_id = c.id) AS function_count FROM channels c WHERE c.id = ?')
      .get(id) as ChannelRow | undefined;
  }

  /** A channel's functions in tool order (by function name); empty for an unknown channel. */
  channelFunctions(channelId: string): ChannelFunctionRow[] {
    return this.db
      .prepare(
        `SELECT cf.function_id, cf.description, cf.added_at, f.name AS function_name, f.description AS function_description
         FROM channel_functions cf JOIN functions f ON f.id = cf.function_id WHERE cf.channel_id = ? ORDER BY f.name`,
      )
      .all(channelId) as ChannelFunctionRow[];
  }
}
