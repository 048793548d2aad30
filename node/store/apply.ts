/**
 * Deterministic apply of one META command to SQLite. Runs inside the
 * applier's transaction; uses only what the command carries, so every node
 * reaches the same rows and the same outcome (conflicts included).
 */
import type Database from 'better-sqlite3';
import type { ApplyOutcome, ChannelFunctionSpec, MetaCommand } from '../../protocol/meta-commands.ts';
import { UUID_RE } from '../../protocol/ids.ts';
import type { FunctionStatus, PoolConfig } from '../../protocol/schemas.ts';
import { toolName, toolNameCollisions } from '../../protocol/tool-names.ts';

const UPDATABLE_COLUMNS = ['name', 'entrypoint', 'timeout_ms', 'memory_mb', 'cpus', 'env_vars', 'network_mode', 'auth_mode', 'rate_limit_per_min', 'description'] as const;

/**
 * The shape of a function a version was built with. Every deployment keeps
 * it, and a rollback restores it with the code: the old code may need its
 * old entrypoint, env and limits. Secrets are not part of it.
 */
const CONFIG_COLUMNS = ['entrypoint', 'env_vars', 'memory_mb', 'cpus', 'timeout_ms', 'network_mode', 'auth_mode', 'rate_limit_per_min'] as const;

function configSnapshot(db: Database.Database, functionId: string): string {
  return JSON.stringify(db.prepare(`SELECT ${CONFIG_COLUMNS.join(', ')} FROM functions WHERE id = ?`).get(functionId));
}

/**
 * A function's lifecycle, derived from its rows: a version serves (active),
 * else a build is in flight (building), else a build failed (error), else
 * it was never deployed (created).
 */
function lifecycle(db: Database.Database, functionId: string): FunctionStatus {
  const fn = db.prepare('SELECT code_hash FROM functions WHERE id = ?').get(functionId) as { code_hash: string | null };
  if (fn.code_hash !== null) return 'active';
  const has = (sql: string) => db.prepare(`SELECT 1 FROM deployments WHERE function_id = ? AND ${sql} LIMIT 1`).get(functionId) !== undefined;
  if (has("status IN ('queued', 'building')")) return 'building';
  if (has("status = 'failed'")) return 'error';
  return 'created';
}

/** Bring `status` up to date after a deployment changed; an operator's `inactive` stays. */
function settleStatus(db: Database.Database, functionId: string): void {
  db.prepare("UPDATE functions SET status = ? WHERE id = ? AND status != 'inactive'").run(lifecycle(db, functionId), functionId);
}

const HASH_RE = /^[0-9a-f]{64}$/;

const POOL_FIELDS = ['min_warm', 'max_warm', 'idle_ttl_seconds', 'target_concurrency', 'scale_to_zero'] as const;

const OK: ApplyOutcome = { ok: true };

/**
 * Make `hash` the function's active version and prune all but `keep`
 * versions: the active one plus the newest others (by latest deployment).
 */
function activate(db: Database.Database, functionId: string, deploymentId: string, hash: string, keep: number, at: string): void {
  db.prepare('UPDATE functions SET code_hash = ?, active_deployment_id = ?, updated_at = ? WHERE id = ?').run(hash, deploymentId, at, functionId);
  const versions = db
    .prepare("SELECT code_hash FROM deployments WHERE function_id = ? AND status = 'succeeded' AND pruned_at IS NULL GROUP BY code_hash ORDER BY MAX(id) DESC")
    .all(functionId) as Array<{ code_hash: string }>;
  const prune = db.prepare("UPDATE deployments SET pruned_at = ? WHERE function_id = ? AND code_hash = ? AND pruned_at IS NULL");
  for (const v of versions.filter((v) => v.code_hash !== hash).slice(keep - 1)) prune.run(at, functionId, v.code_hash);
}

function conflict(message: string, details?: Record<string, unknown>): ApplyOutcome {
  return { ok: false, code: 'CONFLICT', message, details };
}

function invalid(message: string): ApplyOutcome {
  return { ok: false, code: 'VALIDATION', message };
}

function notFound(message: string, details?: Record<string, unknown>): ApplyOutcome {
  return { ok: false, code: 'NOT_FOUND', message, details };
}

type Refusal = Extract<ApplyOutcome, { ok: false }>;

/**
 * Whether these functions can be one channel's tools: each name makes a tool
 * name and no two make the same one; null when they can. Checked here, at
 * apply, so a rename racing a channel change cannot slip a collision in on
 * any node. `field` is what the caller gave: the set, or the new name.
 */
function checkToolSet(functions: Array<{ id: string; name: string }>, field: 'function_ids' | 'name'): Refusal | null {
  for (const fn of functions) {
    const t = toolName(fn.name);
    if (!t.ok) return { ok: false, code: 'VALIDATION', message: t.error, details: { issues: [{ path: field, message: t.error }], function_id: fn.id, name: fn.name } };
  }
  const collisions = toolNameCollisions(functions);
  if (collisions.length === 0) return null;
  const c = collisions[0];
  return {
    ok: false,
    code: 'TOOL_NAME_COLLISION',
    message: `functions ${c.function_names.join(' and ')} would both be the tool ${c.name}`,
    details: { tool_name: c.name, function_ids: c.function_ids, function_names: c.function_names, collisions },
  };
}

/** The named functions, or NOT_FOUND listing those that do not exist. */
function channelMembers(db: Database.Database, ids: string[]): Array<{ id: string; name: string }> | ApplyOutcome {
  const get = db.prepare('SELECT id, name FROM functions WHERE id = ?');
  const found = ids.map((id) => get.get(id) as { id: string; name: string } | undefined);
  const missing = ids.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) return notFound(`function ${missing.join(', ')} not found`, { function_ids: missing });
  return found as Array<{ id: string; name: string }>;
}

function addChannelFunctions(db: Database.Database, channelId: string, functions: ChannelFunctionSpec[], at: string): void {
  const insert = db.prepare('INSERT INTO channel_functions (channel_id, function_id, description, added_at) VALUES (?, ?, ?, ?)');
  for (const f of functions) insert.run(channelId, f.function_id, f.description ?? null, at);
}

export function applyCommand(db: Database.Database, cmd: MetaCommand): ApplyOutcome {
  switch (cmd.type) {
    case 'user.create': {
      // Onboarding is first-run only: a second user.create loses, on every node alike.
      if (db.prepare('SELECT 1 FROM users LIMIT 1').get()) return conflict('a user already exists');
      db.prepare('INSERT INTO users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)').run(cmd.id, cmd.username, cmd.password_hash, cmd.at);
      return OK;
    }
    case 'session.create': {
      if (!db.prepare('SELECT 1 FROM users WHERE id = ?').get(cmd.user_id)) return notFound('user not found');
      db.prepare('INSERT OR REPLACE INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run(cmd.token_hash, cmd.user_id, cmd.at, cmd.expires_at);
      // Expired sessions are pruned here, by the command's clock, so every node prunes the same rows.
      db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(cmd.at);
      return OK;
    }
    case 'session.refresh': {
      const r = db.prepare('UPDATE sessions SET expires_at = ? WHERE token_hash = ?').run(cmd.expires_at, cmd.token_hash);
      return r.changes === 1 ? OK : notFound('session not found');
    }
    case 'session.delete':
      db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(cmd.token_hash);
      return OK;
    case 'key.create': {
      // Issued once per cluster, ever: revoking it must not make the next start mint another.
      if (cmd.bootstrap && db.prepare("SELECT 1 FROM meta_state WHERE key = 'bootstrap_issued'").get()) return conflict('a bootstrap key was already issued');
      if (db.prepare('SELECT 1 FROM api_keys WHERE prefix = ?').get(cmd.prefix)) return conflict('key prefix collision');
      db.prepare(
        'INSERT INTO api_keys (id, name, prefix, hash, permissions, created_at, expires_at, bootstrap) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(cmd.id, cmd.name, cmd.prefix, cmd.hash, JSON.stringify(cmd.permissions), cmd.at, cmd.expires_at, cmd.bootstrap ? 1 : 0);
      if (cmd.bootstrap) db.prepare("INSERT INTO meta_state (key, value) VALUES ('bootstrap_issued', 1)").run();
      return OK;
    }
    case 'key.revoke': {
      const r = db.prepare('DELETE FROM api_keys WHERE id = ?').run(cmd.id);
      return r.changes === 1 ? OK : notFound(`api key ${cmd.id} not found`, { key_id: cmd.id });
    }
    case 'key.touch': {
      const touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)');
      for (const use of cmd.uses) touch.run(use.at, use.id, use.at);
      return OK;
    }
    case 'function.create': {
      const f = cmd.fn;
      // Ids name directories on every node: never trust their shape to the publisher.
      if (!UUID_RE.test(f.id)) return invalid('function id must be a UUID');
      if (db.prepare('SELECT 1 FROM functions WHERE name = ?').get(f.name)) return conflict(`a function named ${f.name} already exists`, { name: f.name });
      db.prepare(
        `INSERT INTO functions (id, name, runtime, entrypoint, memory_mb, cpus, timeout_ms, env_vars, network_mode, auth_mode, rate_limit_per_min, description, status, version, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'created', 1, ?, ?)`,
      ).run(f.id, f.name, f.runtime, f.entrypoint, f.memory_mb, f.cpus, f.timeout_ms, JSON.stringify(f.env_vars), f.network_mode, f.auth_mode, f.rate_limit_per_min ?? null, f.description ?? null, f.created_at, f.created_at);
      return OK;
    }
    case 'function.update': {
      if (!db.prepare('SELECT 1 FROM functions WHERE id = ?').get(cmd.id)) return notFound(`function ${cmd.id} not found`, { function_id: cmd.id });
      const p = cmd.patch;
      if (p.name !== undefined && db.prepare('SELECT 1 FROM functions WHERE name = ? AND id != ?').get(p.name, cmd.id)) {
        return conflict(`a function named ${p.name} already exists`, { name: p.name });
      }
      if (p.name !== undefined) {
        // A rename must keep every channel holding the function a valid, collision-free tool set.
        const channels = db.prepare('SELECT channel_id FROM channel_functions WHERE function_id = ?').all(cmd.id) as Array<{ channel_id: string }>;
        for (const { channel_id } of channels) {
          const members = db
            .prepare('SELECT f.id, CASE WHEN f.id = ? THEN ? ELSE f.name END AS name FROM channel_functions cf JOIN functions f ON f.id = cf.function_id WHERE cf.channel_id = ? ORDER BY f.id')
            .all(cmd.id, p.name, channel_id) as Array<{ id: string; name: string }>;
          const refused = checkToolSet(members, 'name');
          if (refused) return { ...refused, details: { ...refused.details, channel_id } };
        }
      }
      const sets: string[] = [];
      const values: unknown[] = [];
      // Column names come from this fixed list, never from the command itself.
      for (const k of UPDATABLE_COLUMNS) {
        const v = p[k];
        if (v === undefined) continue;
        sets.push(`${k} = ?`);
        values.push(k === 'env_vars' ? JSON.stringify(v) : v);
      }
      if (p.status !== undefined) {
        sets.push('status = ?');
        values.push(p.status === 'inactive' ? 'inactive' : lifecycle(db, cmd.id));
      }
      db.prepare(`UPDATE functions SET ${sets.join(', ')}, version = version + 1, updated_at = ? WHERE id = ?`).run(...values, cmd.at, cmd.id);
      return OK;
    }
    case 'function.delete': {
      const r = db.prepare('DELETE FROM functions WHERE id = ?').run(cmd.id);
      if (r.changes !== 1) return notFound(`function ${cmd.id} not found`, { function_id: cmd.id });
      // channel_functions too: a deleted function leaves every channel that held it.
      for (const table of ['deployments', 'secrets', 'routes', 'pool_config', 'channel_functions']) db.prepare(`DELETE FROM ${table} WHERE function_id = ?`).run(cmd.id);
      return OK;
    }
    case 'deployment.create': {
      if (!db.prepare('SELECT 1 FROM functions WHERE id = ?').get(cmd.function_id)) return notFound(`function ${cmd.function_id} not found`, { function_id: cmd.function_id });
      db.prepare(
        "INSERT INTO deployments (id, function_id, status, phase, source, node, config, created_at, updated_at) VALUES (?, ?, 'queued', 'queued', ?, ?, ?, ?, ?)",
      ).run(cmd.id, cmd.function_id, cmd.source, cmd.node, configSnapshot(db, cmd.function_id), cmd.at, cmd.at);
      settleStatus(db, cmd.function_id);
      return OK;
    }
    case 'deployment.progress': {
      const r = db.prepare("UPDATE deployments SET status = 'building', phase = ?, updated_at = ? WHERE id = ? AND status IN ('queued', 'building')").run(cmd.phase, cmd.at, cmd.id);
      return r.changes === 1 ? OK : notFound(`deployment ${cmd.id} not in progress`, { deployment_id: cmd.id });
    }
    case 'deployment.finish': {
      const dep = db.prepare("SELECT function_id FROM deployments WHERE id = ? AND status IN ('queued', 'building')").get(cmd.id) as { function_id: string } | undefined;
      if (!dep) return notFound(`deployment ${cmd.id} not in progress`, { deployment_id: cmd.id });
      db.prepare('UPDATE deployments SET status = ?, phase = ?, code_hash = ?, error = ?, logs = ?, updated_at = ?, finished_at = ? WHERE id = ?').run(
        cmd.status,
        cmd.status === 'succeeded' ? 'done' : 'failed',
        cmd.code_hash,
        cmd.error,
        cmd.logs,
        cmd.at,
        cmd.at,
        cmd.id,
      );
      if (cmd.status === 'succeeded' && !HASH_RE.test(cmd.code_hash ?? '')) return invalid('code_hash must be 64 hex digits');
      if (cmd.status === 'succeeded') {
        // The version's configuration is the function's as its build succeeded.
        db.prepare('UPDATE deployments SET config = ? WHERE id = ?').run(configSnapshot(db, dep.function_id), cmd.id);
        activate(db, dep.function_id, cmd.id, cmd.code_hash!, cmd.keep_versions, cmd.at);
      }
      settleStatus(db, dep.function_id);
      return OK;
    }
    case 'deployment.rollback': {
      if (!HASH_RE.test(cmd.code_hash)) return invalid('code_hash must be 64 hex digits');
      if (!db.prepare('SELECT 1 FROM functions WHERE id = ?').get(cmd.function_id)) return notFound(`function ${cmd.function_id} not found`, { function_id: cmd.function_id });
      const parent = db
        .prepare("SELECT config FROM deployments WHERE id = ? AND function_id = ? AND code_hash = ? AND status = 'succeeded'")
        .get(cmd.parent_deployment_id, cmd.function_id, cmd.code_hash) as { config: string | null } | undefined;
      if (!parent) return notFound(`deployment ${cmd.parent_deployment_id} is not a version of function ${cmd.function_id}`, { deployment_id: cmd.parent_deployment_id });
      const live = db.prepare("SELECT 1 FROM deployments WHERE function_id = ? AND code_hash = ? AND status = 'succeeded' AND pruned_at IS NULL").get(cmd.function_id, cmd.code_hash);
      if (!live) return { ok: false, code: 'VERSION_GCD', message: `version ${cmd.code_hash} was pruned`, details: { code_hash: cmd.code_hash } };
      // Decided here, not by the caller's read: two rollbacks racing to the same version must not both apply.
      const current = db.prepare('SELECT code_hash FROM functions WHERE id = ?').get(cmd.function_id) as { code_hash: string | null };
      if (current.code_hash === cmd.code_hash) return invalid(`version ${cmd.code_hash} is already active`);
      if (parent.config !== null) {
        const config = JSON.parse(parent.config) as Record<(typeof CONFIG_COLUMNS)[number], unknown>;
        // Column names come from the fixed list, values from the snapshot this apply wrote itself.
        db.prepare(`UPDATE functions SET ${CONFIG_COLUMNS.map((c) => `${c} = ?`).join(', ')}, version = version + 1 WHERE id = ?`).run(...CONFIG_COLUMNS.map((c) => config[c] ?? null), cmd.function_id);
      }
      db.prepare(
        "INSERT INTO deployments (id, function_id, status, phase, source, code_hash, node, parent_deployment_id, config, created_at, updated_at, finished_at) VALUES (?, ?, 'succeeded', 'done', 'rollback', ?, ?, ?, ?, ?, ?, ?)",
      ).run(cmd.id, cmd.function_id, cmd.code_hash, cmd.node, cmd.parent_deployment_id, configSnapshot(db, cmd.function_id), cmd.at, cmd.at, cmd.at);
      activate(db, cmd.function_id, cmd.id, cmd.code_hash, cmd.keep_versions, cmd.at);
      settleStatus(db, cmd.function_id);
      return OK;
    }
    case 'secret.upsert': {
      if (!db.prepare('SELECT 1 FROM functions WHERE id = ?').get(cmd.function_id)) return notFound(`function ${cmd.function_id} not found`, { function_id: cmd.function_id });
      db.prepare(
        'INSERT INTO secrets (function_id, key, ciphertext, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (function_id, key) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at',
      ).run(cmd.function_id, cmd.key, cmd.ciphertext, cmd.at, cmd.at);
      return OK;
    }
    case 'secret.delete': {
      const r = db.prepare('DELETE FROM secrets WHERE function_id = ? AND key = ?').run(cmd.function_id, cmd.key);
      return r.changes === 1 ? OK : notFound(`secret ${cmd.key} not found`, { function_id: cmd.function_id, key: cmd.key });
    }
    case 'route.create': {
      if (!db.prepare('SELECT 1 FROM functions WHERE id = ?').get(cmd.function_id)) return notFound(`function ${cmd.function_id} not found`, { function_id: cmd.function_id });
      if (db.prepare('SELECT 1 FROM routes WHERE path = ?').get(cmd.path)) return conflict(`route ${cmd.path} already exists`, { path: cmd.path });
      db.prepare('INSERT INTO routes (path, function_id, methods, created_at) VALUES (?, ?, ?, ?)').run(cmd.path, cmd.function_id, cmd.methods, cmd.at);
      return OK;
    }
    case 'route.delete': {
      const r = db.prepare('DELETE FROM routes WHERE path = ?').run(cmd.path);
      return r.changes === 1 ? OK : notFound(`route ${cmd.path} not found`, { path: cmd.path });
    }
    case 'channel.create': {
      if (!UUID_RE.test(cmd.id)) return invalid('channel id must be a UUID');
      if (db.prepare('SELECT 1 FROM channels WHERE prefix = ?').get(cmd.prefix)) return conflict('channel token prefix collision');
      const members = channelMembers(db, cmd.functions.map((f) => f.function_id));
      if (!Array.isArray(members)) return members;
      const refused = checkToolSet(members, 'function_ids');
      if (refused) return refused;
      db.prepare('INSERT INTO channels (id, name, description, prefix, hash, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
        cmd.id,
        cmd.name,
        cmd.description,
        cmd.prefix,
        cmd.hash,
        cmd.at,
        cmd.at,
        cmd.expires_at,
      );
      addChannelFunctions(db, cmd.id, cmd.functions, cmd.at);
      return OK;
    }
    case 'channel.update': {
      if (!db.prepare('SELECT 1 FROM channels WHERE id = ?').get(cmd.id)) return notFound(`channel ${cmd.id} not found`, { channel_id: cmd.id });
      const sets: string[] = [];
      const values: unknown[] = [];
      // Column names come from this fixed list, never from the command itself.
      for (const k of ['name', 'description', 'expires_at'] as const) {
        if (cmd.patch[k] === undefined) continue;
        sets.push(`${k} = ?`);
        values.push(cmd.patch[k]);
      }
      db.prepare(`UPDATE channels SET ${[...sets, 'updated_at = ?'].join(', ')} WHERE id = ?`).run(...values, cmd.at, cmd.id);
      return OK;
    }
    case 'channel.set-functions': {
      if (!db.prepare('SELECT 1 FROM channels WHERE id = ?').get(cmd.id)) return notFound(`channel ${cmd.id} not found`, { channel_id: cmd.id });
      const members = channelMembers(db, cmd.functions.map((f) => f.function_id));
      if (!Array.isArray(members)) return members;
      const refused = checkToolSet(members, 'function_ids');
      if (refused) return refused;
      const current = new Map(
        (db.prepare('SELECT function_id, description, added_at FROM channel_functions WHERE channel_id = ?').all(cmd.id) as Array<{ function_id: string; description: string | null; added_at: string }>).map(
          (r) => [r.function_id, r],
        ),
      );
      db.prepare('DELETE FROM channel_functions WHERE channel_id = ?').run(cmd.id);
      const insert = db.prepare('INSERT INTO channel_functions (channel_id, function_id, description, added_at) VALUES (?, ?, ?, ?)');
      for (const f of cmd.functions) {
        const kept = current.get(f.function_id);
        insert.run(cmd.id, f.function_id, f.description !== undefined ? f.description : (kept?.description ?? null), kept?.added_at ?? cmd.at);
      }
      db.prepare('UPDATE channels SET updated_at = ? WHERE id = ?').run(cmd.at, cmd.id);
      return OK;
    }
    case 'channel.rotate': {
      if (db.prepare('SELECT 1 FROM channels WHERE prefix = ? AND id != ?').get(cmd.prefix, cmd.id)) return conflict('channel token prefix collision');
      const r = db.prepare('UPDATE channels SET prefix = ?, hash = ?, updated_at = ? WHERE id = ?').run(cmd.prefix, cmd.hash, cmd.at, cmd.id);
      return r.changes === 1 ? OK : notFound(`channel ${cmd.id} not found`, { channel_id: cmd.id });
    }
    case 'channel.delete': {
      const r = db.prepare('DELETE FROM channels WHERE id = ?').run(cmd.id);
      if (r.changes !== 1) return notFound(`channel ${cmd.id} not found`, { channel_id: cmd.id });
      // Also by hand: a file opened without foreign_keys would keep the rows.
      db.prepare('DELETE FROM channel_functions WHERE channel_id = ?').run(cmd.id);
      return OK;
    }
    case 'channel.touch': {
      const touch = db.prepare('UPDATE channels SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)');
      for (const use of cmd.uses) touch.run(use.at, use.id, use.at);
      return OK;
    }
    case 'pool.config': {
      if (!db.prepare('SELECT 1 FROM functions WHERE id = ?').get(cmd.function_id)) return notFound(`function ${cmd.function_id} not found`, { function_id: cmd.function_id });
      const current = db.prepare('SELECT min_warm, max_warm, idle_ttl_seconds, target_concurrency, scale_to_zero FROM pool_config WHERE function_id = ?').get(cmd.function_id) as
        | (Omit<PoolConfig, 'scale_to_zero'> & { scale_to_zero: number })
        | undefined;
      const base: PoolConfig = current ? { ...current, scale_to_zero: current.scale_to_zero === 1 } : cmd.defaults;
      const next: PoolConfig = { ...base };
      for (const k of POOL_FIELDS) if (cmd.patch[k] !== undefined) (next as Record<string, unknown>)[k] = cmd.patch[k];
      if (next.min_warm > next.max_warm) return { ok: false, code: 'VALIDATION', message: 'min_warm must not exceed max_warm', details: { min_warm: next.min_warm, max_warm: next.max_warm } };
      db.prepare(
        `INSERT INTO pool_config (function_id, min_warm, max_warm, idle_ttl_seconds, target_concurrency, scale_to_zero, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (function_id) DO UPDATE SET min_warm = excluded.min_warm, max_warm = excluded.max_warm, idle_ttl_seconds = excluded.idle_ttl_seconds,
         target_concurrency = excluded.target_concurrency, scale_to_zero = excluded.scale_to_zero, updated_at = excluded.updated_at`,
      ).run(cmd.function_id, next.min_warm, next.max_warm, next.idle_ttl_seconds, next.target_concurrency, next.scale_to_zero ? 1 : 0, cmd.at);
      return OK;
    }
  }
}
