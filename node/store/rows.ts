/** Row shapes as read from SQLite, and their public JSON forms. */
import type { Permission } from '../../protocol/permissions.ts';
import type { FunctionStatus } from '../../protocol/schemas.ts';

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  created_at: string;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  permissions: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  bootstrap: number;
}

export interface FunctionRow {
  id: string;
  name: string;
  runtime: 'node' | 'python';
  entrypoint: string;
  memory_mb: number;
  cpus: number;
  timeout_ms: number;
  env_vars: string;
  network_mode: 'none' | 'egress';
  auth_mode: 'platform_key' | 'none' | 'signed';
  rate_limit_per_min: number | null;
  /** What the function does; a channel's tool description unless the channel overrides it. */
  description: string | null;
  status: FunctionStatus;
  version: number;
  code_hash: string | null;
  active_deployment_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface DeploymentRow {
  id: string;
  function_id: string;
  status: 'queued' | 'building' | 'succeeded' | 'failed';
  phase: string;
  source: string;
  code_hash: string | null;
  error: string | null;
  logs: string;
  node: string;
  /** A rollback's: the deployment whose version and configuration it restored. */
  parent_deployment_id: string | null;
  /** JSON: the function's configuration this version was built with (see apply.ts). */
  config: string | null;
  pruned_at: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface SecretRow {
  function_id: string;
  key: string;
  ciphertext: string;
  created_at: string;
  updated_at: string;
}

export interface RouteRow {
  path: string;
  function_id: string;
  methods: string;
  created_at: string;
}

export interface ChannelRow {
  id: string;
  name: string;
  description: string | null;
  /** `orva_chn_` and the token's first 8 hex digits: shown in listings, used to find the hash. */
  prefix: string;
  hash: string;
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  /** Not a column: counted by the read. */
  function_count: number;
}

/** One function of a channel, with the function's own name and description beside the override. */
export interface ChannelFunctionRow {
  function_id: string;
  /** The channel's override of the tool description; null: the function's own is used. */
  description: string | null;
  added_at: string;
  function_name: string;
  function_description: string | null;
}

/** A channel as listings show it: never the hash, never the token. */
export function channelJson(row: ChannelRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    prefix: row.prefix,
    function_count: row.function_count,
    last_used_at: row.last_used_at,
    expires_at: row.expires_at,
    created_at: row.created_at,
  };
}

/** A deployment as the API returns it; build logs have their own endpoint. */
export function deploymentJson(row: DeploymentRow) {
  const { logs: _logs, config, ...rest } = row;
  if (config === null) return { ...rest, config: null };
  const c = JSON.parse(config) as Record<string, unknown>;
  return { ...rest, config: { ...c, env_vars: JSON.parse(c.env_vars as string) as Record<string, string> } };
}

/** A function as the API returns it. */
export function functionJson(row: FunctionRow) {
  return { ...row, env_vars: JSON.parse(row.env_vars) as Record<string, string> };
}

/** An API key as listings show it: never the hash, never the plaintext. */
export function keyJson(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    permissions: JSON.parse(row.permissions) as Permission[],
    created_at: row.created_at,
    expires_at: row.expires_at,
    last_used_at: row.last_used_at,
  };
}
