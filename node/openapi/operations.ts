/**
 * The documentation of every management route, keyed by "METHOD path" exactly
 * as the route registers itself (router syntax, `:id`). Kept here rather than
 * on the Route objects so that the resource files stay about behaviour, and a
 * branch that adds routes adds one entry here: the document is generated from
 * the routes the node really registers (document.ts), and a route without an
 * entry, or an entry without a route, is reported at start and fails
 * tests/api/openapi.test.ts.
 *
 * Common answers are derived, not listed: 401/403 from the route's access,
 * 400 from a body or query schema, 404 from a path parameter, 503 UNAVAILABLE
 * for writes (they go through the META log), 500 INTERNAL everywhere.
 * `errors` lists only what a route adds to those.
 */
import { z } from 'zod';
import type { ErrorCode } from '../../protocol/errors.ts';
import {
  anyObject,
  apiKeyCreated,
  apiKeyRecord,
  channelCreated,
  channelDetail,
  channelRecord,
  channelToken,
  deleted,
  deploymentAccepted,
  deploymentLogs,
  deploymentRecord,
  diffAnswer,
  executionLogs,
  executionRecord,
  functionRecord,
  functionSource,
  poolConfigRecord,
  routeRecord,
  runtimeList,
  secretRecord,
  sessionAnswer,
} from '../../protocol/responses.ts';
import {
  channelCreateBody,
  channelFunctionsBody,
  channelUpdateBody,
  credentialsBody,
  deployInlineBody,
  deploymentListQuery,
  diffQuery,
  executionListQuery,
  functionCreateBody,
  functionListQuery,
  functionUpdateBody,
  keyCreateBody,
  poolConfigBody,
  poolConfigQuery,
  rollbackBody,
  routeCreateBody,
  routeDeleteQuery,
  secretBody,
} from '../../protocol/schemas.ts';

/** A body that is not JSON: described by its media types only. */
export interface RawBody {
  contentTypes: Record<string, { description: string; schema: Record<string, unknown> }>;
}

export interface OperationDoc {
  summary: string;
  description?: string;
  tag: string;
  query?: z.ZodType;
  body?: z.ZodType | RawBody;
  ok: {
    status: number;
    description: string;
    /** A JSON answer; absent with `contentType` for text, SSE and the like. */
    schema?: z.ZodType;
    contentType?: string;
    headers?: Record<string, string>;
  };
  errors?: ErrorCode[];
}

const list = <K extends string>(key: K, item: z.ZodType) => z.looseObject({ [key]: z.array(item) } as Record<K, z.ZodArray<z.ZodType>>);
/** A paged list: `next_cursor` is the `cursor` of the next page, null on the last. */
const page = <K extends string>(key: K, item: z.ZodType) => list(key, item).extend({ next_cursor: z.string().nullable() });

const SSE = 'text/event-stream';

export const OPERATIONS: Record<string, OperationDoc> = {
  'GET /api/v1/system/health': {
    tag: 'system',
    summary: 'Liveness for load balancers and HEALTHCHECK',
    ok: { status: 200, description: 'the node is up', schema: z.looseObject({ status: z.literal('ok') }) },
  },
  'GET /api/v1/openapi.json': {
    tag: 'system',
    summary: 'This document',
    ok: { status: 200, description: 'OpenAPI 3.1, generated at start from the zod schemas and the route table', schema: anyObject },
  },
  'GET /api/v1/system/metrics': {
    tag: 'system',
    summary: 'Prometheus metrics',
    ok: { status: 200, description: 'Prometheus text exposition format', contentType: 'text/plain' },
  },
  'GET /api/v1/system/metrics.json': {
    tag: 'system',
    summary: 'The metrics as JSON (the dashboard)',
    ok: { status: 200, description: 'a metrics snapshot', schema: anyObject },
  },
  'GET /api/v1/events': {
    tag: 'system',
    summary: 'Server-sent events: metrics, execution, deployment',
    description:
      'A live stream; `event: metrics` every 5 s, `event: execution` for every invocation, `event: deployment` for every status or phase change. Accepts the API key header as well as the cookie; Last-Event-ID replays what a reconnecting client missed.',
    ok: { status: 200, description: 'an SSE stream', contentType: SSE },
  },
  'GET /api/v1/runtimes': {
    tag: 'system',
    summary: 'Supported runtimes and their interpreter versions',
    ok: { status: 200, description: 'the runtime catalog', schema: runtimeList },
  },
  'GET /api/v1/syscalls': {
    tag: 'system',
    summary: 'The seccomp policy catalog',
    ok: { status: 200, description: 'every system call the policies name and what each policy does', schema: anyObject },
  },

  'GET /api/v1/auth/status': {
    tag: 'auth',
    summary: 'Whether a user exists (onboarding or login)',
    ok: { status: 200, description: 'has_user', schema: z.looseObject({ has_user: z.boolean() }) },
  },
  'POST /api/v1/auth/onboard': {
    tag: 'auth',
    summary: 'First run: create the admin user and log in',
    body: credentialsBody,
    ok: { status: 201, description: 'the user; sets the session cookie', schema: sessionAnswer, headers: { 'Set-Cookie': 'session_token=…; HttpOnly; SameSite=Lax' } },
    errors: ['CONFLICT', 'UNAVAILABLE'],
  },
  'POST /api/v1/auth/login': {
    tag: 'auth',
    summary: 'Log in; sets the session cookie',
    body: credentialsBody,
    ok: { status: 200, description: 'the user; sets the session cookie', schema: sessionAnswer, headers: { 'Set-Cookie': 'session_token=…; HttpOnly; SameSite=Lax' } },
    errors: ['UNAUTHORIZED', 'RATE_LIMITED', 'UNAVAILABLE'],
  },
  'GET /api/v1/auth/me': {
    tag: 'auth',
    summary: 'The logged-in user',
    ok: { status: 200, description: 'the session user', schema: sessionAnswer },
  },
  'POST /api/v1/auth/refresh': {
    tag: 'auth',
    summary: 'Move the session expiry 7 days forward',
    ok: { status: 200, description: 'the new expiry', schema: z.looseObject({ expires_at: z.string() }) },
  },
  'POST /api/v1/auth/logout': {
    tag: 'auth',
    summary: 'End the session',
    ok: { status: 200, description: 'logged out; clears the cookie', schema: z.looseObject({ ok: z.literal(true) }) },
  },

  'GET /api/v1/keys': { tag: 'keys', summary: 'List API keys (never the plaintext)', ok: { status: 200, description: 'the keys', schema: list('keys', apiKeyRecord) } },
  'POST /api/v1/keys': {
    tag: 'keys',
    summary: 'Issue an API key',
    body: keyCreateBody,
    ok: { status: 201, description: 'the key record with its plaintext, returned this once', schema: apiKeyCreated },
  },
  'DELETE /api/v1/keys/:id': {
    tag: 'keys',
    summary: 'Revoke an API key',
    ok: { status: 200, description: 'revoked', schema: z.looseObject({ id: z.string(), revoked: z.literal(true) }) },
  },

  'GET /api/v1/functions': {
    tag: 'functions',
    summary: 'List functions',
    query: functionListQuery,
    ok: { status: 200, description: 'the functions', schema: page('functions', functionRecord) },
  },
  'POST /api/v1/functions': {
    tag: 'functions',
    summary: 'Create a function record',
    body: functionCreateBody,
    ok: { status: 201, description: 'the new function (status created until its first build)', schema: functionRecord },
    errors: ['CONFLICT'],
  },
  'GET /api/v1/functions/:id': { tag: 'functions', summary: 'One function', ok: { status: 200, description: 'the function', schema: functionRecord } },
  'PUT /api/v1/functions/:id': {
    tag: 'functions',
    summary: 'Partial update (drains the warm pool when limits, env or network change)',
    body: functionUpdateBody,
    ok: { status: 200, description: 'the updated function', schema: functionRecord },
    errors: ['CONFLICT'],
  },
  'DELETE /api/v1/functions/:id': {
    tag: 'functions',
    summary: 'Delete a function and its versions',
    ok: { status: 200, description: 'deleted', schema: deleted.extend({ id: z.string() }) },
  },
  'POST /api/v1/functions/:id/deploy-inline': {
    tag: 'deployments',
    summary: 'Deploy code given as JSON; the build runs asynchronously',
    body: deployInlineBody,
    ok: { status: 202, description: 'the queued deployment; poll Location or follow /deployments/{id}/stream', schema: deploymentAccepted, headers: { Location: '/api/v1/deployments/{id}' } },
    errors: ['BUILD_QUEUE_FULL'],
  },
  'POST /api/v1/functions/:id/deploy': {
    tag: 'deployments',
    summary: 'Deploy a .tar.gz (multipart file field, or a raw gzip body)',
    description: "The archive's root package.json (node) or requirements.txt (python) is installed; its entrypoint must be at the root or under one top-level directory.",
    body: {
      contentTypes: {
        'multipart/form-data': {
          description: 'a `file` field with the archive and an optional `dependencies` text field',
          schema: { type: 'object', properties: { file: { type: 'string', contentMediaType: 'application/gzip' }, dependencies: { type: 'string' } }, required: ['file'] },
        },
        'application/gzip': { description: 'the archive as the body', schema: { type: 'string', contentMediaType: 'application/gzip' } },
      },
    },
    ok: { status: 202, description: 'the queued deployment', schema: deploymentAccepted, headers: { Location: '/api/v1/deployments/{id}' } },
    errors: ['BUILD_QUEUE_FULL', 'PAYLOAD_TOO_LARGE'],
  },
  'GET /api/v1/functions/:id/deployments': {
    tag: 'deployments',
    summary: "A function's deployment history, newest first",
    query: deploymentListQuery,
    ok: { status: 200, description: 'the deployments', schema: page('deployments', deploymentRecord) },
  },
  'GET /api/v1/deployments/:id': { tag: 'deployments', summary: 'One deployment', ok: { status: 200, description: 'the deployment', schema: deploymentRecord } },
  'GET /api/v1/deployments/:id/logs': { tag: 'deployments', summary: 'Build logs', ok: { status: 200, description: 'the build log so far', schema: deploymentLogs } },
  'GET /api/v1/deployments/:id/stream': {
    tag: 'deployments',
    summary: 'Server-sent events of one build, ending at succeeded or failed',
    description: '`event: deployment` frames carry the deployment record; 204 to a reconnect that already saw the terminal state.',
    ok: { status: 200, description: 'an SSE stream', contentType: SSE },
  },
  'POST /api/v1/functions/:id/rollback': {
    tag: 'versions',
    summary: 'Activate an earlier version (and its configuration snapshot)',
    body: rollbackBody,
    ok: { status: 200, description: 'a deployment of source rollback', schema: deploymentRecord },
    errors: ['VERSION_NOT_FOUND', 'VERSION_GCD'],
  },
  'GET /api/v1/functions/:id/source': {
    tag: 'versions',
    summary: "The active version's handler and dependencies",
    ok: { status: 200, description: 'the source', schema: functionSource },
  },
  'GET /api/v1/functions/:id/diff': {
    tag: 'versions',
    summary: 'Compare two succeeded deployments (json, or unified text for `orva diff`)',
    query: diffQuery,
    ok: { status: 200, description: 'format=json: both files before and after; format=unified: text/x-diff', schema: diffAnswer },
    errors: ['VERSION_NOT_FOUND', 'VERSION_GCD'],
  },

  'GET /api/v1/functions/:id/secrets': {
    tag: 'secrets',
    summary: 'Secret names (never values)',
    ok: { status: 200, description: 'the secrets', schema: list('secrets', secretRecord) },
  },
  'POST /api/v1/functions/:id/secrets': {
    tag: 'secrets',
    summary: 'Set a secret (upsert); the pool refreshes',
    body: secretBody,
    ok: { status: 200, description: 'the secret, without its value', schema: secretRecord },
  },
  'DELETE /api/v1/functions/:id/secrets/:key': {
    tag: 'secrets',
    summary: 'Remove a secret; the pool refreshes',
    ok: { status: 200, description: 'deleted', schema: deleted.extend({ key: z.string() }) },
  },

  'GET /api/v1/routes': { tag: 'routes', summary: 'List custom routes', ok: { status: 200, description: 'the routes', schema: list('routes', routeRecord) } },
  'POST /api/v1/routes': {
    tag: 'routes',
    summary: 'Map a custom path to a function',
    body: routeCreateBody,
    ok: { status: 201, description: 'the route', schema: routeRecord },
    errors: ['CONFLICT'],
  },
  'DELETE /api/v1/routes': {
    tag: 'routes',
    summary: 'Remove a custom route',
    query: routeDeleteQuery,
    ok: { status: 200, description: 'deleted', schema: deleted.extend({ path: z.string() }) },
    errors: ['NOT_FOUND'],
  },

  'GET /api/v1/pool/config': {
    tag: 'pool',
    summary: "A function's autoscaler settings",
    query: poolConfigQuery,
    ok: { status: 200, description: 'the settings (defaults where unset)', schema: poolConfigRecord },
    errors: ['NOT_FOUND'],
  },
  'PUT /api/v1/pool/config': {
    tag: 'pool',
    summary: "Change a function's autoscaler settings (partial)",
    body: poolConfigBody,
    ok: { status: 200, description: 'the merged settings', schema: poolConfigRecord },
    errors: ['NOT_FOUND'],
  },

  'GET /api/v1/channels': { tag: 'channels', summary: 'List channels', ok: { status: 200, description: 'the channels', schema: list('channels', channelRecord) } },
  'POST /api/v1/channels': {
    tag: 'channels',
    summary: 'Bundle functions under one bearer token for /mcp',
    body: channelCreateBody,
    ok: { status: 201, description: 'the channel with its token, returned this once', schema: channelCreated },
    errors: ['TOOL_NAME_COLLISION', 'CONFLICT'],
  },
  'GET /api/v1/channels/:id': { tag: 'channels', summary: 'One channel with its functions', ok: { status: 200, description: 'the channel', schema: channelDetail } },
  'PATCH /api/v1/channels/:id': {
    tag: 'channels',
    summary: 'Rename, describe or change the expiry (not the function set)',
    body: channelUpdateBody,
    ok: { status: 200, description: 'the channel', schema: channelDetail },
    errors: ['TOOL_NAME_COLLISION', 'CONFLICT'],
  },
  'PUT /api/v1/channels/:id/functions': {
    tag: 'channels',
    summary: "Replace the channel's function set (overrides kept unless given)",
    body: channelFunctionsBody,
    ok: { status: 200, description: 'the channel', schema: channelDetail },
    errors: ['TOOL_NAME_COLLISION', 'CONFLICT'],
  },
  'POST /api/v1/channels/:id/rotate': {
    tag: 'channels',
    summary: 'Issue a new token; the old one stops working',
    ok: { status: 200, description: 'the new token, returned this once', schema: channelToken },
  },
  'DELETE /api/v1/channels/:id': {
    tag: 'channels',
    summary: 'Delete a channel',
    ok: { status: 200, description: 'deleted', schema: deleted.extend({ id: z.string() }) },
  },

  'GET /api/v1/executions': {
    tag: 'executions',
    summary: 'Recent invocations across the cluster, newest first',
    query: executionListQuery,
    ok: { status: 200, description: 'the executions', schema: page('executions', executionRecord) },
  },
  'GET /api/v1/executions/:id': { tag: 'executions', summary: 'One invocation', ok: { status: 200, description: 'the execution', schema: executionRecord } },
  'GET /api/v1/executions/:id/logs': {
    tag: 'executions',
    summary: "What the handler printed during one invocation",
    ok: { status: 200, description: 'stdout and stderr of the call', schema: executionLogs },
  },
};

/**
 * Operations served outside the management router, by their own handlers
 * (node.ts: `/fn/*`, and `/mcp` once it is there): no Route object describes
 * them, so each entry lists its paths, methods, permission, auth schemes and
 * every error code itself (nothing is derived).
 */
export interface OutsideRouterDoc extends OperationDoc {
  paths: string[];
  methods: string[];
  permission: string;
  /** OpenAPI security requirements; `{}` makes credentials optional. */
  security: Array<Record<string, string[]>>;
}

export const OUTSIDE_ROUTER: OutsideRouterDoc[] = [
  {
    paths: ['/fn/{id}', '/fn/{id}/{path}'],
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    permission: 'invoke',
    // platform_key: the key or the cookie; none: nothing; signed: the X-Orva-Signature HMAC.
    security: [{ apiKey: [] }, { sessionCookie: [] }, {}],
    tag: 'invoke',
    summary: 'Call a function',
    description:
      "Method, headers, query, body and the path after the id reach the handler as its event. The answer is the handler's. Needs the invoke permission when the function's auth_mode is platform_key; none for none; an HMAC signature (X-Orva-Timestamp, X-Orva-Signature) for signed. Custom routes (GET /api/v1/routes) reach the same handler.",
    body: { contentTypes: { '*/*': { description: 'passed to the handler as is', schema: {} } } },
    ok: { status: 200, description: "the handler's answer (its own status and headers); X-Orva-Execution-Id names the execution", contentType: '*/*' },
    errors: [
      'UNAUTHORIZED',
      'FORBIDDEN',
      'NOT_FOUND',
      'NOT_ACTIVE',
      'PAYLOAD_TOO_LARGE',
      'RATE_LIMITED',
      'INTERNAL',
      'BUILD_FAILED',
      'FUNCTION_ERROR',
      'SANDBOX_ERROR',
      'WORKER_CRASHED',
      'BUILDING',
      'POOL_AT_CAPACITY',
      'MEMORY_EXHAUSTED',
      'SHUTTING_DOWN',
      'TIMEOUT',
    ],
  },
  {
    paths: ['/mcp'],
    methods: ['POST'],
    permission: 'an API key or session (operator tools, filtered by its permissions) or a channel token (its functions as tools)',
    security: [{ bearer: [] }, { apiKey: [] }, { sessionCookie: [] }],
    tag: 'mcp',
    summary: 'MCP Streamable HTTP endpoint (stateless JSON-RPC)',
    description:
      'One JSON-RPC message or batch per request, answered as JSON. A channel token (orva_chn_…) lists one tool per bundled function; an operator key or session lists the management tools its permissions allow. GET and DELETE answer 405. A missing or bad credential is 401 with WWW-Authenticate: Bearer realm="orva"; a foreign Origin is 403.',
    body: { contentTypes: { 'application/json': { description: 'a JSON-RPC 2.0 request, notification or batch', schema: {} } } },
    ok: { status: 200, description: 'the JSON-RPC answer (202 for notifications alone)', contentType: 'application/json' },
    errors: ['UNAUTHORIZED', 'FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'METHOD_NOT_ALLOWED'],
  },
];
