/**
 * zod schemas of every REST body the node accepts. Objects are strict: an
 * unknown or non-whitelisted field is a VALIDATION error, never ignored.
 */
import { z } from 'zod';
import { PERMISSIONS } from './permissions.ts';

const username = z.string().regex(/^[A-Za-z0-9_.-]{3,64}$/, '3-64 letters, digits, _ . -');

export const credentialsBody = z.strictObject({
  username,
  password: z.string().min(1).max(1024),
});

const expiresInDays = z.number().int().min(1).max(3650);
const isoTimestamp = z.iso.datetime({ offset: true });

export const keyCreateBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    permissions: z.array(z.enum(PERMISSIONS)).min(1).max(4).optional(),
    expires_in_days: expiresInDays.optional(),
    expires_at: isoTimestamp.optional(),
  })
  .refine((b) => !(b.expires_in_days !== undefined && b.expires_at !== undefined), {
    message: 'give expires_in_days or expires_at, not both',
    path: ['expires_at'],
  });

/** Bounds and defaults of a function's limits; documented in the README. */
export const FUNCTION_LIMITS = {
  memory_mb: { min: 64, max: 4096, default: 128 },
  cpus: { min: 0.1, max: 8, default: 1 },
  timeout_ms: { min: 100, max: 900_000, default: 30_000 },
  env_vars: { maxEntries: 100, maxValueBytes: 4096 },
} as const;

export const RUNTIMES = {
  node: { defaultEntrypoint: 'handler.js', extensions: ['.js', '.mjs', '.cjs'] },
  python: { defaultEntrypoint: 'handler.py', extensions: ['.py'] },
} as const;
export type Runtime = keyof typeof RUNTIMES;

export const functionName = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'a lower-case slug: a-z, 0-9 and -, 1-64 characters');

/** A path inside the version dir: relative, no `..`, no hidden tricks. */
export const entrypoint = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.\/-]{0,127}$/, 'a relative file path')
  .refine((p) => !p.split('/').some((s) => s === '..' || s === '.' || s === ''), 'no empty, . or .. segments');

const utf8 = new TextEncoder();

const envVars = z
  // JSON.parse makes "__proto__" an own key, which the record below would drop silently.
  .custom<object>((v) => !(typeof v === 'object' && v !== null && Object.hasOwn(v, '__proto__')), '__proto__ is not an allowed name')
  .pipe(
    z.record(
      z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name')
        .refine((k) => !k.startsWith('ORVA_'), 'ORVA_ names are reserved'),
      z
        .string()
        .refine((v) => utf8.encode(v).length <= FUNCTION_LIMITS.env_vars.maxValueBytes, `at most ${FUNCTION_LIMITS.env_vars.maxValueBytes} bytes (UTF-8)`)
        // The kernel's environment block is NUL-separated: a NUL cannot be passed to a process.
        .refine((v) => !v.includes('\0'), 'no NUL characters'),
    ),
  )
  .refine((r) => Object.keys(r).length <= FUNCTION_LIMITS.env_vars.maxEntries, `at most ${FUNCTION_LIMITS.env_vars.maxEntries} variables`);

/** A function's lifecycle as `status` reports it; `inactive` is the operator's. */
export const FUNCTION_STATUSES = ['created', 'building', 'active', 'error', 'inactive'] as const;
export type FunctionStatus = (typeof FUNCTION_STATUSES)[number];

const RATE_LIMIT_MAX = 1_000_000;

/** A tool description an MCP client shows its model: 1 KiB of UTF-8 keeps a channel's tools/list small. */
export const DESCRIPTION_MAX_BYTES = 1024;

const description = z
  .string()
  .refine((v) => utf8.encode(v).length <= DESCRIPTION_MAX_BYTES, `at most ${DESCRIPTION_MAX_BYTES} bytes (UTF-8)`);

const L = FUNCTION_LIMITS;
const fields = {
  name: functionName,
  runtime: z.enum(['node', 'python']),
  entrypoint,
  memory_mb: z.number().int().min(L.memory_mb.min).max(L.memory_mb.max),
  cpus: z.number().min(L.cpus.min).max(L.cpus.max),
  timeout_ms: z.number().int().min(L.timeout_ms.min).max(L.timeout_ms.max),
  env_vars: envVars,
  network_mode: z.enum(['none', 'egress']),
  auth_mode: z.enum(['platform_key', 'none', 'signed']),
  /** Calls per minute per client address on each node; null (or absent) is unlimited. */
  rate_limit_per_min: z.number().int().min(1).max(RATE_LIMIT_MAX).nullable(),
  /** What an operator may set: `inactive` stops serving, `active` returns the function to its lifecycle. */
  status: z.enum(['active', 'inactive']),
  /** What the function does, for people and for the MCP tool it becomes in a channel; null clears it. */
  description: description.nullable(),
};

export const functionCreateBody = z
  .strictObject({
    name: fields.name,
    runtime: fields.runtime,
    entrypoint: fields.entrypoint.optional(),
    memory_mb: fields.memory_mb.default(L.memory_mb.default),
    cpus: fields.cpus.default(L.cpus.default),
    timeout_ms: fields.timeout_ms.default(L.timeout_ms.default),
    env_vars: fields.env_vars.default({}),
    network_mode: fields.network_mode.default('none'),
    auth_mode: fields.auth_mode.default('platform_key'),
    rate_limit_per_min: fields.rate_limit_per_min.default(null),
    description: fields.description.optional(),
  })
  .transform((b) => ({ ...b, entrypoint: b.entrypoint ?? RUNTIMES[b.runtime].defaultEntrypoint }))
  .refine((b) => entrypointFits(b.runtime, b.entrypoint), { message: 'entrypoint extension does not match the runtime', path: ['entrypoint'] });

/** PUT accepts only these; anything else (runtime, id, …) is refused. */
export const functionUpdateBody = z
  .strictObject({
    name: fields.name.optional(),
    entrypoint: fields.entrypoint.optional(),
    timeout_ms: fields.timeout_ms.optional(),
    memory_mb: fields.memory_mb.optional(),
    cpus: fields.cpus.optional(),
    env_vars: fields.env_vars.optional(),
    network_mode: fields.network_mode.optional(),
    auth_mode: fields.auth_mode.optional(),
    rate_limit_per_min: fields.rate_limit_per_min.optional(),
    status: fields.status.optional(),
    description: fields.description.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one field to change');

export type FunctionSpec = z.output<typeof functionCreateBody>;
export type FunctionPatch = z.output<typeof functionUpdateBody>;

export function entrypointFits(runtime: Runtime, path: string): boolean {
  return RUNTIMES[runtime].extensions.some((ext) => path.endsWith(ext));
}

export const functionListQuery = z.strictObject({
  status: z.enum(FUNCTION_STATUSES).optional(),
  runtime: fields.runtime.optional(),
});

export const deployInlineBody = z.strictObject({
  code: z.string().min(1),
  /** Defaults to the function's entrypoint, and must name it. */
  filename: entrypoint.optional(),
  dependencies: z.string().max(64 * 1024).optional(),
});

const limitParam = (dflt: number, max: number) => z.coerce.number().int().min(1).max(max).default(dflt);

export const deploymentListQuery = z.strictObject({ limit: limitParam(50, 1000) });

export const executionListQuery = z.strictObject({
  function_id: z.string().max(64).optional(),
  limit: limitParam(50, 1000),
});

/** Per-function autoscaler tuning; bounds documented in the README. */
export const POOL_LIMITS = {
  min_warm: { min: 0, max: 64 },
  max_warm: { min: 1, max: 256 },
  idle_ttl_seconds: { min: 1, max: 86_400 },
  target_concurrency: { min: 1, max: 1000 },
} as const;

const P = POOL_LIMITS;
export const poolConfigBody = z.strictObject({
  function_id: z.string().max(64),
  min_warm: z.number().int().min(P.min_warm.min).max(P.min_warm.max).optional(),
  max_warm: z.number().int().min(P.max_warm.min).max(P.max_warm.max).optional(),
  idle_ttl_seconds: z.number().int().min(P.idle_ttl_seconds.min).max(P.idle_ttl_seconds.max).optional(),
  target_concurrency: z.number().int().min(P.target_concurrency.min).max(P.target_concurrency.max).optional(),
  scale_to_zero: z.boolean().optional(),
});
export type PoolConfigPatch = Omit<z.output<typeof poolConfigBody>, 'function_id'>;
export type PoolConfig = Required<PoolConfigPatch>;

export const poolConfigQuery = z.strictObject({ function_id: z.string().max(64) });

/**
 * The secret that keys the HMAC of `auth_mode: signed` calls. The one ORVA_
 * name a secret may have; it verifies callers and is never given to the handler.
 */
export const SIGNING_SECRET = 'ORVA_SIGNING_SECRET';

/** Secret names are environment variable names: they are injected as such. */
export const secretBody = z.strictObject({
  key: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name')
    .refine((k) => k === SIGNING_SECRET || !k.startsWith('ORVA_'), `ORVA_ names are reserved (except ${SIGNING_SECRET})`),
  value: z.string().max(64 * 1024),
});

export const RESERVED_ROUTE_PREFIXES = ['/api/', '/fn/', '/mcp/', '/web/', '/_orva/'] as const;
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/**
 * A custom route path: `/exact/path` matches only itself; `/prefix/*`
 * matches the prefix and everything below it.
 */
export const routePath = z
  .string()
  .max(256)
  .regex(/^\/(?:[A-Za-z0-9._~!$&'()+,;=:@%-]+\/?)*(?:\*)?$/, 'a URL path starting with /, optionally ending in /*')
  .refine((p) => !p.split('/').some((seg) => seg === '..' || seg === '.'), 'no . or .. segments')
  .refine((p) => !p.includes('*') || p.endsWith('/*'), 'a wildcard only as a final /*')
  .refine((p) => !RESERVED_ROUTE_PREFIXES.some((r) => `${p}/`.startsWith(r) || p === r.slice(0, -1)), `reserved prefixes: ${RESERVED_ROUTE_PREFIXES.join(' ')}`);

export const routeCreateBody = z.strictObject({
  path: routePath,
  function_id: z.string().max(64),
  methods: z
    .string()
    .max(100)
    .default('*')
    .transform((m) => m.trim().toUpperCase())
    .refine((m) => m === '*' || m.split(',').every((x) => (HTTP_METHODS as readonly string[]).includes(x.trim())), `* or a comma list of ${HTTP_METHODS.join(', ')}`)
    .transform((m) => (m === '*' ? '*' : [...new Set(m.split(',').map((x) => x.trim()))].join(','))),
});

export const routeDeleteQuery = z.strictObject({ path: z.string().max(256) });

export const rollbackBody = z
  .strictObject({ deployment_id: z.string().max(64).optional(), code_hash: z.string().regex(/^[0-9a-f]{64}$/).optional() })
  .refine((b) => (b.deployment_id === undefined) !== (b.code_hash === undefined), 'give deployment_id or code_hash, exactly one');

export const diffQuery = z.strictObject({
  from: z.string().max(64),
  to: z.string().max(64),
  format: z.enum(['json', 'unified']).default('json'),
});

/** A channel's bundle size: each function is a tool its clients list, and the set travels in one META command. */
export const CHANNEL_MAX_FUNCTIONS = 100;

const channelFunctionIds = z
  .array(z.string().max(64))
  .min(1, 'a channel bundles at least one function')
  .max(CHANNEL_MAX_FUNCTIONS)
  .refine((ids) => new Set(ids).size === ids.length, 'function_ids must not repeat');

/** Per-function tool description overrides; null removes an override. Keys must be among function_ids. */
const channelDescriptions = z
  .custom<object>((v) => !(typeof v === 'object' && v !== null && Object.hasOwn(v, '__proto__')), '__proto__ is not a function id')
  .pipe(z.record(z.string().max(64), description.nullable()));

const descriptionsInSet = (b: { function_ids: string[]; descriptions?: Record<string, string | null> }) =>
  Object.keys(b.descriptions ?? {}).every((id) => b.function_ids.includes(id));
const descriptionsInSetIssue = { message: 'descriptions may only name functions listed in function_ids', path: ['descriptions'] };

const channelName = z.string().trim().min(1).max(100);

export const channelCreateBody = z
  .strictObject({
    name: channelName,
    description: description.optional(),
    function_ids: channelFunctionIds,
    descriptions: channelDescriptions.optional(),
    expires_in_days: expiresInDays.optional(),
    expires_at: isoTimestamp.optional(),
  })
  .refine((b) => !(b.expires_in_days !== undefined && b.expires_at !== undefined), {
    message: 'give expires_in_days or expires_at, not both',
    path: ['expires_at'],
  })
  .refine(descriptionsInSet, descriptionsInSetIssue);

/** PATCH: the function set is changed only by PUT /functions. */
export const channelUpdateBody = z
  .strictObject({
    name: channelName.optional(),
    description: description.nullable().optional(),
    /** null: never expires. */
    expires_at: isoTimestamp.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one field to change');

export const channelFunctionsBody = z
  .strictObject({
    function_ids: channelFunctionIds,
    descriptions: channelDescriptions.optional(),
  })
  .refine(descriptionsInSet, descriptionsInSetIssue);
