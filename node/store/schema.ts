/**
 * The replicated metadata schema: written only by the MetaApplier, so every
 * node holds the same rows. Node-local execution records live in their own
 * file (see executions.ts).
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta_state (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta_state (key, value) VALUES ('applied_seq', 0);

CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL,
  permissions TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  last_used_at TEXT,
  bootstrap INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS functions (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  runtime TEXT NOT NULL,
  entrypoint TEXT NOT NULL,
  memory_mb INTEGER NOT NULL,
  cpus REAL NOT NULL,
  timeout_ms INTEGER NOT NULL,
  env_vars TEXT NOT NULL,
  network_mode TEXT NOT NULL,
  auth_mode TEXT NOT NULL,
  rate_limit_per_min INTEGER,
  description TEXT,
  status TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  code_hash TEXT,
  active_deployment_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS deployments (
  id TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  status TEXT NOT NULL,
  phase TEXT NOT NULL,
  source TEXT NOT NULL,
  code_hash TEXT,
  error TEXT,
  logs TEXT NOT NULL DEFAULT '',
  node TEXT NOT NULL,
  parent_deployment_id TEXT,
  config TEXT,
  pruned_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS deployments_by_function ON deployments (function_id, id);

CREATE TABLE IF NOT EXISTS secrets (
  function_id TEXT NOT NULL,
  key TEXT NOT NULL,
  ciphertext TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (function_id, key)
);

CREATE TABLE IF NOT EXISTS routes (
  path TEXT PRIMARY KEY,
  function_id TEXT NOT NULL,
  methods TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS pool_config (
  function_id TEXT PRIMARY KEY,
  min_warm INTEGER NOT NULL,
  max_warm INTEGER NOT NULL,
  idle_ttl_seconds INTEGER NOT NULL,
  target_concurrency INTEGER NOT NULL,
  scale_to_zero INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS channels (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  prefix TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  expires_at TEXT,
  last_used_at TEXT
);

CREATE TABLE IF NOT EXISTS channel_functions (
  channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
  function_id TEXT NOT NULL,
  description TEXT,
  added_at TEXT NOT NULL,
  PRIMARY KEY (channel_id, function_id)
);
CREATE INDEX IF NOT EXISTS channel_functions_by_function ON channel_functions (function_id);
`;

/**
 * Columns added since a table was first created, for files written by an
 * older node (CREATE TABLE IF NOT EXISTS leaves an existing table as it was).
 */
export const ADDED_COLUMNS: ReadonlyArray<{ table: string; column: string; type: string }> = [
  { table: 'functions', column: 'rate_limit_per_min', type: 'INTEGER' },
  { table: 'deployments', column: 'parent_deployment_id', type: 'TEXT' },
  { table: 'deployments', column: 'config', type: 'TEXT' },
  { table: 'functions', column: 'description', type: 'TEXT' },
];
