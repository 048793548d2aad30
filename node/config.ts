/**
 * Node configuration, from environment variables only. Every variable and its
 * default is listed in the README; an invalid value stops the node at start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PoolConfig } from '../protocol/schemas.ts';
import { isValidNodeId } from '../protocol/subjects.ts';
import { SECCOMP_POLICIES, type SeccompPolicyName } from '../protocol/syscalls.ts';

export interface Config {
  /** ORVA_HOST, default 0.0.0.0: a homelab box is reached from the LAN. */
  host: string;
  /** ORVA_PORT, default 8443. */
  port: number;
  /** ORVA_DATA_DIR, default ./data: SQLite file, embedded NATS store, versions, keys. */
  dataDir: string;
  /** ORVA_NATS_URL; absent means an embedded nats-server child. */
  natsUrl: string | null;
  /** ORVA_NODE_ID; default a random id persisted in the data dir. */
  nodeId: string;
  /** ORVA_LOG_LEVEL, default info. */
  logLevel: string;
  /** ORVA_BODY_LIMIT_BYTES, default 6 MiB: the largest request body accepted. */
  bodyLimitBytes: number;
  /** ORVA_COOKIE_SECURE=1 marks the session cookie Secure (set it behind TLS). */
  cookieSecure: boolean;
  /** ORVA_META_REPLICAS, default 1; set 3 on a NATS cluster of three or more servers. */
  metaReplicas: number;
  /** ORVA_NATS_BIN, default nats-server on PATH or /usr/sbin/nats-server. */
  natsBin: string;
  /** ORVA_POOL_MAX_WORKERS, default 8: workers per function per node until pool_config says otherwise. */
  poolMaxWorkers: number;
  /** ORVA_POOL_QUEUE_TIMEOUT_MS, default 10000: how long a call waits for a worker before POOL_AT_CAPACITY. */
  poolQueueTimeoutMs: number;
  /** ORVA_POOL_IDLE_TTL_S, default 300: idle workers above min_warm die after this. */
  poolIdleTtlS: number;
  /** ORVA_BUILD_QUEUE_MAX, default 16: builds queued on one node before BUILD_QUEUE_FULL. */
  buildQueueMax: number;
  /** ORVA_VERSIONS_KEEP, default 5: versions kept per function; older ones are pruned (410 VERSION_GCD). */
  versionsKeep: number;
  /** ORVA_MASTER_KEY (64 hex digits or base64 of 32 bytes) or ORVA_MASTER_KEY_FILE; default a 0600 file in the data dir. */
  masterKeyFile: string;
  masterKey: string | null;
  /** ORVA_SECCOMP_POLICY: default | strict | permissive (default `default`), for every function of the node. */
  seccompPolicy: SeccompPolicyName;
  /** ORVA_MEMORY_BUDGET_MB: memory all workers' limits may reserve together; default 80 % of the host's RAM. */
  memoryBudgetMb: number | null;
  /** ORVA_KEY_TOUCH_INTERVAL_MS, default 30000: how often API-key and channel-token uses are written to last_used_at (one META command each). */
  keyTouchIntervalMs: number;
  /** ORVA_SNAPSHOT_EVERY, default 1000: applied META commands between metadata snapshots. */
  snapshotEvery: number;
  /** ORVA_EXECUTION_RETENTION_DAYS, default 7. */
  executionRetentionDays: number;
  /** ORVA_EXECUTION_MAX_RECORDS, default 1,000,000 (about 330 MB without logs): the most execution records a node keeps. */
  executionMaxRecords: number;
  /** ORVA_EXECUTION_LOGS_MAX_MB, default 1024: the most captured output a node keeps; past it the oldest logs go first. */
  executionLogsMaxMb: number;
  /** ORVA_PIP_ARGS: extra pip arguments for python builds, e.g. `--index-url http://mirror/simple`. */
  pipArgs: string[];
}

function intVar(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

function seccompPolicyOf(v: string | undefined): SeccompPolicyName {
  if (v === undefined || v === '') return 'default';
  if (!(SECCOMP_POLICIES as readonly string[]).includes(v)) throw new Error(`ORVA_SECCOMP_POLICY must be one of ${SECCOMP_POLICIES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as SeccompPolicyName;
}

function persistedNodeId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = `n-${randomBytes(5).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o644 });
  return id;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.ORVA_DATA_DIR || './data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const nodeId = env.ORVA_NODE_ID || persistedNodeId(dataDir);
  if (!isValidNodeId(nodeId)) throw new Error(`ORVA_NODE_ID must be 1-64 of A-Z a-z 0-9 _ -, got ${JSON.stringify(nodeId)}`);
  const natsBin = env.ORVA_NATS_BIN || (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
  return {
    host: env.ORVA_HOST || '0.0.0.0',
    port: intVar(env, 'ORVA_PORT', 8443, 0, 65535),
    dataDir,
    natsUrl: env.ORVA_NATS_URL || null,
    nodeId,
    logLevel: env.ORVA_LOG_LEVEL || 'info',
    bodyLimitBytes: intVar(env, 'ORVA_BODY_LIMIT_BYTES', 6 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    cookieSecure: env.ORVA_COOKIE_SECURE === '1' || env.ORVA_COOKIE_SECURE === 'true',
    metaReplicas: intVar(env, 'ORVA_META_REPLICAS', 1, 1, 5),
    natsBin,
    poolMaxWorkers: intVar(env, 'ORVA_POOL_MAX_WORKERS', 8, 1, 1024),
    poolQueueTimeoutMs: intVar(env, 'ORVA_POOL_QUEUE_TIMEOUT_MS', 10_000, 1, 600_000),
    poolIdleTtlS: intVar(env, 'ORVA_POOL_IDLE_TTL_S', 300, 1, 86_400),
    buildQueueMax: intVar(env, 'ORVA_BUILD_QUEUE_MAX', 16, 1, 10_000),
    versionsKeep: intVar(env, 'ORVA_VERSIONS_KEEP', 5, 1, 1000),
    masterKeyFile: env.ORVA_MASTER_KEY_FILE || join(dataDir, 'master.key'),
    masterKey: env.ORVA_MASTER_KEY || null,
    seccompPolicy: seccompPolicyOf(env.ORVA_SECCOMP_POLICY),
    memoryBudgetMb: env.ORVA_MEMORY_BUDGET_MB ? intVar(env, 'ORVA_MEMORY_BUDGET_MB', 0, 64, 16 * 1024 * 1024) : null,
    keyTouchIntervalMs: intVar(env, 'ORVA_KEY_TOUCH_INTERVAL_MS', 30_000, 100, 86_400_000),
    snapshotEvery: intVar(env, 'ORVA_SNAPSHOT_EVERY', 1000, 10, 10_000_000),
    executionRetentionDays: intVar(env, 'ORVA_EXECUTION_RETENTION_DAYS', 7, 1, 3650),
    executionMaxRecords: intVar(env, 'ORVA_EXECUTION_MAX_RECORDS', 1_000_000, 100, 1_000_000_000),
    executionLogsMaxMb: intVar(env, 'ORVA_EXECUTION_LOGS_MAX_MB', 1024, 1, 1024 * 1024),
    pipArgs: (env.ORVA_PIP_ARGS ?? '').split(/\s+/).filter(Boolean),
  };
}

/** pool_config of a function without a stored row. */
export function poolDefaults(c: Config): PoolConfig {
  return { min_warm: 0, max_warm: c.poolMaxWorkers, idle_ttl_seconds: c.poolIdleTtlS, target_concurrency: 1, scale_to_zero: true };
}
