/**
 * META commands: every metadata write is one of these, appended to the
 * ORVA_META stream and applied by every node's MetaApplier in stream order.
 * Apply must be deterministic, so ids, timestamps and hashes are inside the
 * command — never taken from the applier's clock or random source. Secrets
 * never travel in plaintext: only hashes (keys, sessions, passwords).
 */
import type { Permission } from './permissions.ts';
import type { FunctionPatch, FunctionSpec, PoolConfig, PoolConfigPatch } from './schemas.ts';

export interface FunctionRecordData extends FunctionSpec {
  id: string;
  created_at: string;
}

export type MetaCommand =
  | { type: 'user.create'; id: string; username: string; password_hash: string; at: string }
  | { type: 'session.create'; token_hash: string; user_id: string; expires_at: string; at: string }
  | { type: 'session.refresh'; token_hash: string; expires_at: string }
  | { type: 'session.delete'; token_hash: string }
  | {
      type: 'key.create';
      id: string;
      name: string;
      prefix: string;
      hash: string;
      permissions: Permission[];
      expires_at: string | null;
      at: string;
      /** The first-start admin key: applied only if no bootstrap key exists yet. */
      bootstrap: boolean;
    }
  | { type: 'key.revoke'; id: string }
  | { type: 'key.touch'; uses: Array<{ id: string; at: string }> }
  | { type: 'function.create'; fn: FunctionRecordData }
  | { type: 'function.update'; id: string; patch: FunctionPatch; at: string }
  | { type: 'function.delete'; id: string }
  | { type: 'deployment.create'; id: string; function_id: string; source: DeploymentSource; node: string; at: string }
  | { type: 'deployment.progress'; id: string; phase: DeploymentPhase; at: string }
  | {
      type: 'deployment.finish';
      id: string;
      /** succeeded activates code_hash on the function; failed keeps the prior version serving. */
      status: 'succeeded' | 'failed';
      code_hash: string | null;
      error: string | null;
      /** Build output, capped by the builder so a command stays far below NATS max_payload. */
      logs: string;
      /** Versions kept per function; older ones are pruned at apply (same on every node). */
      keep_versions: number;
      at: string;
    }
  | {
      type: 'deployment.rollback';
      id: string;
      function_id: string;
      /** The version to activate again; must not be pruned. */
      code_hash: string;
      /** The deployment rolled back to: its configuration snapshot is restored with the code. */
      parent_deployment_id: string;
      node: string;
      keep_versions: number;
      at: string;
    }
  /** `ciphertext` is AES-256-GCM under the cluster's master key; plaintext never enters the log. */
  | { type: 'secret.upsert'; function_id: string; key: string; ciphertext: string; at: string }
  | { type: 'secret.delete'; function_id: string; key: string }
  | { type: 'route.create'; path: string; function_id: string; methods: string; at: string }
  | { type: 'route.delete'; path: string }
  | {
      type: 'channel.create';
      id: string;
      name: string;
      description: string | null;
      /** The token's public lookup part; the token itself travels only as its SHA-256. */
      prefix: string;
      hash: string;
      expires_at: string | null;
      functions: ChannelFunctionSpec[];
      at: string;
    }
  | { type: 'channel.update'; id: string; patch: { name?: string; description?: string | null; expires_at?: string | null }; at: string }
  /** Replaces the set; a function that stays keeps its added_at, and its override unless `description` is given. */
  | { type: 'channel.set-functions'; id: string; functions: ChannelFunctionSpec[]; at: string }
  | { type: 'channel.rotate'; id: string; prefix: string; hash: string; at: string }
  | { type: 'channel.delete'; id: string }
  | { type: 'channel.touch'; uses: Array<{ id: string; at: string }> }
  | {
      type: 'pool.config';
      function_id: string;
      patch: PoolConfigPatch;
      /** Used for fields neither the patch nor an existing row sets. */
      defaults: PoolConfig;
      at: string;
    };

/** One function of a channel; `description` overrides the function's own as its tool's description. */
export interface ChannelFunctionSpec {
  function_id: string;
  /** Absent: keep the current override (none for a new member); null: remove it. */
  description?: string | null;
}

export type DeploymentSource = 'inline' | 'tarball' | 'rollback';
export type DeploymentStatus = 'queued' | 'building' | 'succeeded' | 'failed';
/** Build phases in order; `done` and `failed` are terminal. */
export type DeploymentPhase = 'queued' | 'installing' | 'verifying' | 'packing' | 'storing' | 'activating' | 'done' | 'failed';

export type MetaCommandType = MetaCommand['type'];

/** What travels on the stream: the command plus who sent it. */
export interface MetaEnvelope {
  /** UUIDv7, also the JetStream Nats-Msg-Id so a retried publish is not applied twice. */
  id: string;
  origin: string;
  cmd: MetaCommand;
}

/** The result of applying one command, identical on every node. */
export type ApplyOutcome =
  | { ok: true }
  | { ok: false; code: 'CONFLICT' | 'NOT_FOUND' | 'VALIDATION' | 'VERSION_GCD' | 'TOOL_NAME_COLLISION'; message: string; details?: Record<string, unknown> };
