/**
 * The OpenAPI 3.1 document, generated once at start from the routes the node
 * registered and the zod schemas in protocol/ (zod 4's JSON Schema output is
 * JSON Schema 2020-12, which OpenAPI 3.1 uses as is).
 */
import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../../protocol/errors.ts';
import { errorEnvelope } from '../../protocol/responses.ts';
import type { Route } from '../http/api.ts';
import { OPERATIONS, type OperationDoc, OUTSIDE_ROUTER, type RawBody } from './operations.ts';

type Json = Record<string, unknown>;

export interface OpenApiBuild {
  document: Json;
  /** Registered routes with no entry in OPERATIONS ("METHOD path"). */
  undocumented: string[];
  /** Entries of OPERATIONS that no registered route has. */
  stale: string[];
}

export const routeKey = (r: Pick<Route, 'method' | 'path'>) => `${r.method} ${r.path}`;

/** `/functions/:id` → `/functions/{id}`. */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z_]\w*)/g, '{$1}');

const SCHEMES = {
  apiKey: { type: 'apiKey', in: 'header', name: 'X-Orva-API-Key', description: 'orva_… API key; its permissions (invoke, read, write, admin) gate each operation' },
  sessionCookie: { type: 'apiKey', in: 'cookie', name: 'session_token', description: 'set by POST /api/v1/auth/login; writes also need a same-site Origin' },
  bearer: { type: 'http', scheme: 'bearer', description: 'at /mcp: an API key or a channel token (orva_chn_…); channel tokens are refused at every /api/v1 endpoint' },
} as const;

/**
 * JSON Schema of one zod schema with its named parts (`.meta({id})`) hoisted
 * into `components`: zod emits them under `$defs` of each schema, which an
 * OpenAPI document cannot reference.
 */
function schemaOf(schema: z.ZodType, io: 'input' | 'output', components: Json): Json {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete json.$schema;
  const defs = (json.$defs ?? {}) as Json;
  delete json.$defs;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v === null || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) out[k] = k === '$ref' && typeof x === 'string' ? x.replace('#/$defs/', '#/components/schemas/') : rewrite(x);
    return out;
  };
  for (const [name, def] of Object.entries(defs)) components[name] ??= rewrite(def);
  // A schema that is itself named comes back as a bare definition with an id: reference it instead.
  const id = (json.id as string | undefined) ?? undefined;
  if (id !== undefined) {
    delete json.id;
    components[id] ??= rewrite(json);
    return { $ref: `#/components/schemas/${id}` };
  }
  return rewrite(json) as Json;
}

/** The codes a route can answer: its own plus those its shape implies (see operations.ts). */
function errorCodes(doc: OperationDoc, access: Route['access'], method: string, hasPathParams: boolean): ErrorCode[] {
  const codes = new Set<ErrorCode>(doc.errors ?? []);
  if (access !== 'public') codes.add('UNAUTHORIZED');
  if (access !== 'public' && access !== 'session') codes.add('FORBIDDEN');
  if (doc.body !== undefined && !('contentTypes' in doc.body)) codes.add('INVALID_JSON');
  if (doc.body !== undefined || doc.query !== undefined) codes.add('VALIDATION');
  if (hasPathParams) codes.add('NOT_FOUND');
  if (method !== 'GET') codes.add('UNAVAILABLE');
  codes.add('INTERNAL');
  return [...codes];
}

/** How an operation is guarded: its permission, its OpenAPI security and the codes it can answer. */
interface Guard {
  permission: string;
  security: Array<Record<string, string[]>>;
  codes: ErrorCode[];
}

function routerGuard(doc: OperationDoc, access: Route['access'], method: string, path: string): Guard {
  let security: Guard['security'];
  if (access === 'public') security = [];
  else if (access === 'session') security = [{ sessionCookie: [] }];
  else security = [{ apiKey: [] }, { sessionCookie: [] }];
  return { permission: access, security, codes: errorCodes(doc, access, method, /\{\w+\}/.test(path)) };
}

function operation(key: string, doc: OperationDoc, guard: Guard, path: string, components: Json): Json {
  const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  if (doc.query) {
    const q = schemaOf(doc.query, 'input', components) as { properties?: Json; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      params.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema: schema as { type: string } });
    }
  }
  const op: Json = {
    operationId: key.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, ''),
    tags: [doc.tag],
    summary: doc.summary,
    description: `${doc.description ? `${doc.description}\n\n` : ''}Permission: ${guard.permission}.`,
    'x-orva-permission': guard.permission,
  };
  if (params.length > 0) op.parameters = params;
  if (doc.body !== undefined) {
    const raw = 'contentTypes' in doc.body ? (doc.body as RawBody) : null;
    op.requestBody = {
      required: true,
      content: raw
        ? Object.fromEntries(Object.entries(raw.contentTypes).map(([type, c]) => [type, { schema: c.schema }]))
        : { 'application/json': { schema: schemaOf(doc.body as z.ZodType, 'input', components) } },
    };
  }
  op.security = guard.security;

  const ok: Json = { description: doc.ok.description };
  if (doc.ok.schema) ok.content = { 'application/json': { schema: schemaOf(doc.ok.schema, 'output', components) } };
  else if (doc.ok.contentType) ok.content = { [doc.ok.contentType]: { schema: { type: 'string' } } };
  if (doc.ok.headers) ok.headers = Object.fromEntries(Object.entries(doc.ok.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]));
  const responses: Json = { [String(doc.ok.status)]: ok };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of guard.codes) byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code]);
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = {
      description: list.join(', '),
      content: {
        'application/json': {
          schema: {
            allOf: [{ $ref: '#/components/schemas/ErrorEnvelope' }, { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: list } } } } }],
          },
        },
      },
    };
  }
  op.responses = responses;
  return op;
}

export function buildOpenApi(routes: Route[], version: string): OpenApiBuild {
  const components: Json = {};
  schemaOf(errorEnvelope, 'output', components);
  const paths: Record<string, Json> = {};
  const registered = new Set(routes.map(routeKey));
  const undocumented: string[] = [];
  for (const r of routes) {
    const key = routeKey(r);
    const doc = OPERATIONS[key];
    const path = openApiPath(r.path);
    if (!doc) {
      // Still listed, marked, so that a client sees the route exists and a test sees it lacks its entry.
      undocumented.push(key);
      (paths[path] ??= {})[r.method.toLowerCase()] = { summary: 'undocumented', 'x-orva-undocumented': true, 'x-orva-permission': r.access, responses: { default: { description: 'undocumented' } } };
      continue;
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = operation(key, doc, routerGuard(doc, r.access, r.method, path), path, components);
  }
  for (const doc of OUTSIDE_ROUTER) {
    for (const path of doc.paths) {
      for (const method of doc.methods) {
        (paths[path] ??= {})[method.toLowerCase()] = operation(`${method} ${path}`, doc, { permission: doc.permission, security: doc.security, codes: doc.errors ?? [] }, path, components);
      }
    }
  }
  const stale = Object.keys(OPERATIONS).filter((k) => !registered.has(k));
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Orva',
      version,
      description:
        'Self-hosted Functions-as-a-Service. Every 4xx/5xx answer is the error envelope; each operation lists the codes it can answer. `x-orva-permission` names what an API key needs: invoke, read, write, admin, public (nothing) or session (a logged-in cookie).',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }, { sessionCookie: [] }],
    paths,
    components: { schemas: components, securitySchemes: SCHEMES },
  };
  return { document, undocumented, stale };
}
