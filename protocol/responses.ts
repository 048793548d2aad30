/**
 * zod schemas of what the REST API answers. The node builds its answers from
 * its SQLite rows; these describe them for the OpenAPI document and for
 * clients (the `orva` CLI) — one description that both sides read.
 * Objects are loose: a client must accept fields added later.
 */
import { z } from 'zod';
import { ERRORS } from './errors.ts';
import { PERMISSIONS } from './permissions.ts';
import { FUNCTION_STATUSES } from './schemas.ts';

const timestamp = z.string().describe('RFC 3339 timestamp');
const id = z.string().describe('a UUIDv7');
const codeHash = z.string().regex(/^[0-9a-f]{64}$/).describe('SHA-256 of the built version');

export const errorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(ERRORS) as [keyof typeof ERRORS, ...(keyof typeof ERRORS)[]]),
      message: z.string(),
      request_id: z.string(),
      hint: z.string().optional(),
      retry_after_s: z.number().int().optional().describe('also sent as the Retry-After header'),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: 'ErrorEnvelope', description: 'Every 4xx/5xx answer; codes in ERRORS.md' });

export const functionRecord = z
  .looseObject({
    id,
    name: z.string(),
    description: z.string().nullable(),
    runtime: z.enum(['node', 'python']),
    entrypoint: z.string(),
    memory_mb: z.number().int(),
    cpus: z.number(),
    timeout_ms: z.number().int(),
    env_vars: z.record(z.string(), z.string()),
    network_mode: z.enum(['none', 'egress']),
    auth_mode: z.enum(['platform_key', 'none', 'signed']),
    rate_limit_per_min: z.number().int().nullable(),
    status: z.enum(FUNCTION_STATUSES),
    version: z.number().int(),
    code_hash: codeHash.nullable(),
    active_deployment_id: id.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Function' });

export const deploymentRecord = z
  .looseObject({
    id,
    function_id: id,
    status: z.enum(['queued', 'building', 'succeeded', 'failed']),
    phase: z.string(),
    source: z.string().describe('inline, tarball or rollback'),
    code_hash: codeHash.nullable(),
    error: z.string().nullable(),
    node: z.string(),
    parent_deployment_id: id.nullable(),
    config: z.record(z.string(), z.unknown()).nullable().describe('the function configuration this version was built with'),
    pruned_at: timestamp.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
    finished_at: timestamp.nullable(),
  })
  .meta({ id: 'Deployment' });

/** The 202 of a deploy: the record plus its id again as `deployment_id`, what Orva's clients poll by. */
export const deploymentAccepted = deploymentRecord.extend({ deployment_id: id }).meta({ id: 'DeploymentAccepted' });

export const deploymentLogs = z.looseObject({ deployment_id: id, status: deploymentRecord.shape.status, phase: z.string(), logs: z.string() });

export const executionRecord = z
  .looseObject({
    id,
    function_id: id,
    deployment_id: id.nullable(),
    status: z.enum(['succeeded', 'failed', 'timeout', 'crashed', 'rejected']),
    http_status: z.number().int(),
    duration_ms: z.number(),
    cold_start: z.boolean(),
    node: z.string(),
    request_bytes: z.number().int(),
    response_bytes: z.number().int(),
    error_code: z.string().nullable(),
    fault: z.enum(['caller', 'platform', 'function']).nullable(),
    started_at: timestamp,
    trigger: z.enum(['http', 'mcp']).describe('how the call came in: /fn or a custom route, or an MCP tools/call'),
    channel_id: id.nullable().describe('the channel whose token made an MCP call'),
    logs_dropped: z.boolean().optional(),
  })
  .meta({ id: 'Execution' });

export const executionLogs = z.looseObject({ execution_id: id, logs: z.string(), logs_dropped: z.boolean() });

export const apiKeyRecord = z
  .looseObject({
    id,
    name: z.string(),
    prefix: z.string(),
    permissions: z.array(z.enum(PERMISSIONS)),
    created_at: timestamp,
    expires_at: timestamp.nullable(),
    last_used_at: timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });

export const apiKeyCreated = apiKeyRecord.extend({ key: z.string().describe('the plaintext key, returned once') });

export const secretRecord = z.looseObject({ key: z.string(), created_at: timestamp, updated_at: timestamp }).meta({ id: 'Secret' });

export const routeRecord = z
  .looseObject({ path: z.string(), function_id: id, methods: z.string().describe('* or a comma list'), created_at: timestamp })
  .meta({ id: 'Route' });

export const poolConfigRecord = z
  .looseObject({
    function_id: id,
    min_warm: z.number().int(),
    max_warm: z.number().int(),
    idle_ttl_seconds: z.number().int(),
    target_concurrency: z.number().int(),
    scale_to_zero: z.boolean(),
  })
  .meta({ id: 'PoolConfig' });

export const sessionAnswer = z.looseObject({ user: z.looseObject({ id: z.string(), username: z.string() }), expires_at: timestamp });

export const functionSource = z.looseObject({
  function_id: id,
  deployment_id: id.nullable(),
  code_hash: codeHash,
  runtime: z.enum(['node', 'python']),
  filename: z.string(),
  code: z.string(),
  dependencies: z.string().nullable(),
});

export const diffAnswer = z.looseObject({
  from: deploymentRecord,
  to: deploymentRecord,
  files: z.array(
    z.looseObject({ path: z.string(), kind: z.enum(['handler', 'manifest']), before: z.string(), after: z.string(), added: z.number().int(), removed: z.number().int() }),
  ),
});

export const runtimeList = z.looseObject({
  runtimes: z.array(
    z.looseObject({ id: z.enum(['node', 'python']), name: z.string(), version: z.string().nullable(), default_entrypoint: z.string(), extensions: z.array(z.string()) }),
  ),
});

export const channelRecord = z
  .looseObject({
    id,
    name: z.string(),
    description: z.string().nullable(),
    prefix: z.string(),
    function_count: z.number().int(),
    last_used_at: timestamp.nullable(),
    expires_at: timestamp.nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'Channel' });

export const channelDetail = channelRecord
  .extend({
    function_ids: z.array(id),
    functions: z.array(
      z.looseObject({
        function_id: id,
        name: z.string(),
        tool_name: z.string().nullable().describe('the MCP tool this function becomes'),
        description: z.string().optional().describe("the channel's override of the function's description"),
        added_at: timestamp,
      }),
    ),
  })
  .meta({ id: 'ChannelDetail' });

export const channelCreated = channelDetail.extend({ token: z.string().describe('orva_chn_…, returned once') });

export const channelToken = z.looseObject({ id, token: z.string().describe('orva_chn_…, returned once'), prefix: z.string() });

/** Answers of deletes and similar acknowledgements. */
export const deleted = z.looseObject({ deleted: z.literal(true) });
export const anyObject = z.looseObject({});
