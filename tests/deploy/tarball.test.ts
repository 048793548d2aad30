import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { assertError } from '../helpers/assert.ts';
import { createFn, invoke, waitDeployment } from '../helpers/functions.ts';
import { call, type CallResult } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';
import { formData, tgz } from '../helpers/tar.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

interface UploadOptions {
  /** Send as a raw application/gzip body instead of multipart. */
  raw?: boolean;
  field?: string;
  dependencies?: string;
  key?: string;
}

// POST the archive to /deploy, as multipart (field `file` by default) or as a raw gzip body.
function upload(fnId: string, gz: Buffer, o: UploadOptions = {}): Promise<CallResult> {
  const key = o.key ?? node.adminKey;
  if (o.raw) return call(node.url, 'POST', `/api/v1/functions/${fnId}/deploy`, { key, rawBody: gz, headers: { 'content-type': 'application/gzip' } });
  const form = formData(o.dependencies === undefined ? {} : { dependencies: o.dependencies }, { field: o.field ?? 'file', filename: 'fn.tgz', data: gz });
  return call(node.url, 'POST', `/api/v1/functions/${fnId}/deploy`, { key, rawBody: form.body, headers: { 'content-type': form.contentType } });
}

// Upload, expect 202 with a tarball deployment record, wait for the build to succeed.
async function deployTgz(fnId: string, gz: Buffer, o: UploadOptions = {}): Promise<void> {
  const r = await upload(fnId, gz, o);
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.source, 'tarball');
  assert.equal(r.json.function_id, fnId);
  const dep = await waitDeployment(node, r.json.id);
  assert.equal(dep.status, 'succeeded', JSON.stringify(dep));
}

// No deployment row, no build scratch dir and no version dir for this function.
async function assertNothingWritten(fnId: string): Promise<void> {
  const list = await call(node.url, 'GET', `/api/v1/functions/${fnId}/deployments`, { key: node.adminKey });
  assert.deepEqual(list.json.deployments, []);
  const builds = join(node.dataDir, 'builds');
  assert.deepEqual(existsSync(builds) ? readdirSync(builds) : [], []);
  assert.equal(existsSync(join(node.dataDir, 'versions', fnId)), false);
}

const HANDLER_JS = `const { add } = require('./lib/util.js');\nexports.handler = async () => ({ sum: add(2, 3) });\n`;
const UTIL_JS = `exports.add = (a, b) => a + b;\n`;

test('tarball - a node function with a module it requires deploys as multipart and is invoked', async () => {
  const id = await createFn(node);
  await deployTgz(id, tgz([{ name: 'handler.js', data: HANDLER_JS }, { name: 'lib/', type: '5' }, { name: 'lib/util.js', data: UTIL_JS }]));
  const r = await invoke(node, id);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { sum: 5 });
});

test('tarball - a raw gzip body wrapped in one top-level directory, with a GNU long name, deploys and is invoked', async () => {
  const long = `lib/${'m'.repeat(120)}.js`;
  const id = await createFn(node);
  await deployTgz(
    id,
    tgz([
      { name: 'myfn/', type: '5' },
      { name: 'myfn/handler.js', data: `const m = require('./${long}');\nexports.handler = async () => ({ v: m.v });\n`, mode: 0o755 },
      { name: `myfn/${long}`, data: 'exports.v = "long";\n', longName: 'gnu' },
    ]),
    { raw: true },
  );
  const r = await invoke(node, id);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { v: 'long' });
});

test('tarball - a python function imports its helper module and package', async () => {
  const id = await createFn(node, { runtime: 'python' });
  await deployTgz(
    id,
    tgz([
      { name: 'handler.py', data: 'import helper\nfrom pkg.mod import twice\n\ndef handler(event):\n    return {"greeting": helper.greet("py"), "n": twice(21)}\n' },
      { name: 'helper.py', data: 'def greet(name):\n    return "hi " + name\n' },
      { name: 'pkg/__init__.py', data: '' },
      { name: 'pkg/mod.py', data: 'def twice(n):\n    return 2 * n\n' },
    ]),
    { field: 'archive' },
  );
  const r = await invoke(node, id);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { greeting: 'hi py', n: 42 });
});

const IS_NUMBER_JS = `const isNumber = require('is-number');\nexports.handler = async () => ({ yes: isNumber(5), no: isNumber('x') });\n`;

test("tarball - the archive's package.json is installed, and the dependencies field is used when it has none", async () => {
  const own = await createFn(node);
  const pkg = JSON.stringify({ name: 'fn', private: true, dependencies: { 'is-number': '7.0.0' } });
  await deployTgz(own, tgz([{ name: 'handler.js', data: IS_NUMBER_JS }, { name: 'package.json', data: pkg }]));
  const field = await createFn(node);
  await deployTgz(field, tgz([{ name: 'handler.js', data: IS_NUMBER_JS }]), { field: 'tarball', dependencies: 'is-number@7.0.0' });
  for (const id of [own, field]) {
    const r = await invoke(node, id);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { yes: true, no: false });
  }
});

const handler = { name: 'handler.js', data: 'exports.handler = async () => 1;\n' };
const refusals: Array<[string, () => Buffer, string, string | undefined]> = [
  ['a zip-slip path', () => tgz([handler, { name: '../evil.js', data: 'x' }]), 'parent-segment', '../evil.js'],
  ['a zip-slip path deeper down', () => tgz([handler, { name: 'a/../../evil.js', data: 'x' }]), 'parent-segment', 'a/../../evil.js'],
  ['a zip-slip pax long name', () => tgz([handler, { name: `${'../'.repeat(40)}evil.js`, data: 'x', longName: 'pax' }]), 'parent-segment', `${'../'.repeat(40)}evil.js`],
  ['an absolute path', () => tgz([handler, { name: '/etc/x', data: 'x' }]), 'absolute-path', '/etc/x'],
  ['a symlink escaping the root', () => tgz([handler, { name: 'link', type: '2', linkname: '/etc/passwd' }]), 'link', 'link'],
  ['a hard link', () => tgz([handler, { name: 'hard', type: '1', linkname: '../outside' }]), 'link', 'hard'],
  ['a device file', () => tgz([handler, { name: 'dev/null', type: '3' }]), 'special-file', 'dev/null'],
  ['a 10,000-file archive', () => tgz([handler, ...Array.from({ length: 9_999 }, (_, i) => ({ name: `many/${i}.js`, data: 'x' }))]), 'too-many-files', 'many/1999.js'],
  ['a gzip bomb', () => tgz([handler, { name: 'zeros.bin', data: Buffer.alloc(65 * 1024 * 1024) }]), 'too-large', undefined],
  ['a duplicate path', () => tgz([handler, { name: './handler.js', data: 'again' }]), 'duplicate', 'handler.js'],
  ['a missing entrypoint', () => tgz([{ name: 'main.js', data: 'x' }]), 'missing-entrypoint', 'handler.js'],
  ['an npm config file', () => tgz([handler, { name: '.npmrc', data: 'registry=http://evil.example/' }]), 'install-config', '.npmrc'],
  ['a package.json with a git dependency', () => tgz([handler, { name: 'package.json', data: '{"dependencies":{"x":"git+https://evil.example/x.git"}}' }]), 'manifest', 'package.json'],
  ['something that is not gzip', () => Buffer.from('PK\x03\x04 this is a zip'), 'not-gzip', undefined],
];

test('tarball - hostile and broken archives are refused with 400 naming the entry, and nothing is written', async () => {
  const id = await createFn(node);
  for (const [what, make, reason, entry] of refusals) {
    const r = await upload(id, make());
    assertError(r, 400, 'VALIDATION');
    assert.equal(r.json.error.details.reason, reason, `${what}: ${r.text}`);
    assert.equal(r.json.error.details.entry, entry, `${what}: ${r.text}`);
    if (entry !== undefined) assert.ok(r.json.error.message.includes(entry), `${what}: the message names the entry: ${r.json.error.message}`);
  }
  await assertNothingWritten(id);
});

test('tarball - both a package.json in the archive and a dependencies field are refused as ambiguous', async () => {
  const id = await createFn(node);
  const r = await upload(id, tgz([{ name: 'handler.js', data: IS_NUMBER_JS }, { name: 'package.json', data: '{"dependencies":{"is-number":"7.0.0"}}' }]), { dependencies: 'is-number@7.0.0' });
  assertError(r, 400, 'VALIDATION');
  assert.match(r.json.error.message, /package\.json/);
  await assertNothingWritten(id);
});

test('tarball - bad requests: malformed multipart, no file part, wrong content type, unknown function, read-only key', async () => {
  const id = await createFn(node);
  const url = `/api/v1/functions/${id}/deploy`;
  const send = (body: string | Buffer, contentType: string, key = node.adminKey, path = url) => call(node.url, 'POST', path, { key, rawBody: body, headers: { 'content-type': contentType } });

  assertError(await send('--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nno closing boundary', 'multipart/form-data; boundary=b'), 400, 'VALIDATION');
  assertError(await send('x', 'multipart/form-data'), 400, 'VALIDATION');
  const noFile = formData({ dependencies: 'is-number' });
  const r = await send(noFile.body, noFile.contentType);
  assertError(r, 400, 'VALIDATION');
  assert.match(r.json.error.message, /field named file/);
  assertError(await send(gzipSync('x'), 'application/x-www-form-urlencoded'), 400, 'VALIDATION');
  assertError(await send(Buffer.alloc(0), 'application/gzip'), 400, 'VALIDATION');
  await assertNothingWritten(id);

  const gz = tgz([handler]);
  assertError(await send(gz, 'application/gzip', node.adminKey, '/api/v1/functions/019df200-0000-7000-8000-000000000000/deploy'), 404, 'NOT_FOUND');
  const readOnly = await call(node.url, 'POST', '/api/v1/keys', { key: node.adminKey, body: { name: 'reader', permissions: ['read'] } });
  assert.equal(readOnly.status, 201, readOnly.text);
  assertError(await send(gz, 'application/gzip', readOnly.json.key), 403, 'FORBIDDEN');
  assertError(await send(gz, 'application/gzip', ''), 401, 'UNAUTHORIZED');
  await assertNothingWritten(id);
});

test('tarball - a python archive cannot run code on the host by shadowing pip during the install', async () => {
  const marker = `/tmp/orva-pip-shadow-${process.pid}`;
  const id = await createFn(node, { runtime: 'python' });
  const r = await upload(
    id,
    tgz([
      { name: 'handler.py', data: 'def handler(event):\n    return 1\n' },
      { name: 'requirements.txt', data: 'six\n' },
      { name: 'pip/__init__.py', data: '' },
      { name: 'pip/__main__.py', data: `open(${JSON.stringify(marker)}, "w").write("ran on the host")\n` },
    ]),
  );
  assert.equal(r.status, 202, r.text);
  await waitDeployment(node, r.json.id);
  const escaped = existsSync(marker);
  rmSync(marker, { force: true });
  assert.equal(escaped, false, `${marker} was written by archive code running outside the sandbox`);
});
