import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PERMISSIONS, type Permission } from '../../protocol/permissions.ts';
import { loadConfig } from '../../node/config.ts';
import { checkMcpOrigin } from '../../node/mcp/origin.ts';
import { inputJsonSchema, TOOLS, toolsFor } from '../../node/tools/index.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'orva-tools-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

// Every object schema inside a JSON Schema, nested ones included.
function objectsOf(schema: unknown, out: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> {
  if (schema && typeof schema === 'object') {
    const o = schema as Record<string, unknown>;
    if (o.type === 'object' && o.properties) out.push(o);
    for (const v of Object.values(o)) objectsOf(v, out);
  }
  return out;
}

test('tool registry - names are unique and valid MCP tool names; every input is a strict object schema', () => {
  const names = TOOLS.map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  for (const t of TOOLS) {
    assert.match(t.name, /^[a-z][a-z0-9_]{0,62}$/);
    assert.ok(t.title.length > 0 && t.description.length > 0, t.name);
    const schema = inputJsonSchema(t.input);
    assert.equal(schema.type, 'object', t.name);
    assert.equal(schema.$schema, undefined, 'no dialect marker inside a tool definition');
    for (const o of objectsOf(schema)) assert.equal(o.additionalProperties, false, `${t.name}: an object admits unknown fields`);
    // Unknown fields are refused by the zod schema itself, not only described so.
    assert.equal(t.input.safeParse({ surely_unknown_field: 1 }).success, false, t.name);
  }
});

test('tool registry - destructive tools take confirm, are never read-only, and include every delete, rollback and revoke', () => {
  for (const t of TOOLS) {
    const props = (inputJsonSchema(t.input).properties ?? {}) as Record<string, unknown>;
    assert.equal('confirm' in props, t.destructive, `${t.name}: confirm exactly on destructive tools`);
    if (t.destructive) assert.equal(t.readOnly, false, t.name);
    if (/^(delete_|revoke_|rollback$)/.test(t.name)) assert.equal(t.destructive, true, `${t.name} must be destructive`);
    if (t.permission === 'read') assert.equal(t.readOnly, true, `${t.name}: what a read key may call changes nothing`);
  }
});

test('tool registry - the permission filter: each permission sees exactly its own tools', () => {
  for (const p of PERMISSIONS) {
    const seen = toolsFor(new Set<Permission>([p]));
    assert.ok(seen.length > 0, p);
    assert.ok(seen.every((t) => t.permission === p));
  }
  assert.deepEqual(toolsFor(new Set<Permission>(['invoke'])).map((t) => t.name), ['invoke_function']);
  assert.equal(toolsFor(new Set(PERMISSIONS)).length, TOOLS.length);
  assert.ok(toolsFor(new Set<Permission>(['read'])).every((t) => t.readOnly), 'a read key gets no tool that writes');
});

test('mcp origin - no Origin, the node\'s own or an allowed one pass; others, "null" and garbage are refused', () => {
  const allowed = new Set(['https://app.example.com']);
  const host = { host: '10.0.0.5:8443' };
  checkMcpOrigin(host, allowed);
  checkMcpOrigin({ ...host, origin: 'http://10.0.0.5:8443' }, allowed);
  checkMcpOrigin({ ...host, origin: 'https://app.example.com' }, allowed);
  for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'http://10.0.0.5:9999', 'null', 'garbage']) {
    assert.throws(() => checkMcpOrigin({ ...host, origin }, allowed), (e: { code?: string }) => e.code === 'FORBIDDEN', origin);
  }
});

test('config - ORVA_MCP_ALLOWED_ORIGINS takes a comma list of bare origins and stops the node on anything else', () => {
  const env = (v?: string) => ({ ORVA_DATA_DIR: dataDir, ORVA_NODE_ID: 'n-test', ...(v !== undefined && { ORVA_MCP_ALLOWED_ORIGINS: v }) });
  assert.deepEqual(loadConfig(env()).mcpAllowedOrigins, []);
  assert.deepEqual(loadConfig(env(' https://a.example , http://localhost:5173 ')).mcpAllowedOrigins, ['https://a.example', 'http://localhost:5173']);
  for (const bad of ['https://a.example/', 'https://a.example/path', 'a.example', 'ftp://a.example', '*']) {
    assert.throws(() => loadConfig(env(bad)), /ORVA_MCP_ALLOWED_ORIGINS/, bad);
  }
});
