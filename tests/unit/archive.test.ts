import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { OrvaError } from '../../protocol/errors.ts';
import { ARCHIVE_LIMITS, type ArchiveFile, readTar, readTarGz, unwrapTopDir } from '../../node/archive.ts';
import { formBoundary, parseMultipart } from '../../node/multipart.ts';
import { tempDir } from '../helpers/processes.ts';
import { formData, type TarEntry, tar, tgz } from '../helpers/tar.ts';

// The files of an archive as {path: text}.
const contents = (files: ArchiveFile[]) => Object.fromEntries(files.map((f) => [f.path, f.data.toString()]));

// Assert that reading `gz` is refused as VALIDATION with this reason (and entry, when given).
async function refused(gz: Buffer, reason: string, entry?: string, limits = ARCHIVE_LIMITS): Promise<void> {
  await assert.rejects(readTarGz(gz, limits), (err: unknown) => {
    assert.ok(err instanceof OrvaError, String(err));
    assert.equal(err.code, 'VALIDATION');
    assert.equal(err.details?.reason, reason, err.message);
    if (entry !== undefined) assert.equal(err.details?.entry, entry, err.message);
    return true;
  });
}

test('archive - regular files and directories are read, ./ is stripped and only the execute bit is kept', async () => {
  const files = await readTarGz(
    tgz([
      { name: './', type: '5' },
      { name: './handler.js', data: 'h', mode: 0o4777 },
      { name: './lib/', type: '5' },
      { name: './lib/util.js', data: 'u', mode: 0o600 },
      { name: 'pax_global_header', type: 'g' },
    ]),
  );
  assert.deepEqual(files.map((f) => [f.path, f.data.toString(), f.mode]), [['handler.js', 'h', 0o755], ['lib/util.js', 'u', 0o644]]);
});

test('archive - long names via GNU L and pax path headers are read', async () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.js`;
  for (const longName of ['gnu', 'pax'] as const) {
    assert.deepEqual(contents(await readTarGz(tgz([{ name: long, data: 'x', longName }]))), { [long]: 'x' }, longName);
  }
});

test('archive - archives written by GNU tar in gnu, pax and ustar formats are read the same', async () => {
  const dir = tempDir('archive');
  const long = `${'n'.repeat(110)}.js`;
  mkdirSync(join(dir, 'fn', 'lib'), { recursive: true });
  writeFileSync(join(dir, 'fn', 'handler.js'), 'handler');
  writeFileSync(join(dir, 'fn', 'lib', 'util.js'), 'util');
  writeFileSync(join(dir, 'fn', long), 'long');
  for (const format of ['gnu', 'pax']) {
    const gz = execFileSync('tar', [`--format=${format}`, '-czf', '-', '-C', dir, 'fn']);
    assert.deepEqual(contents(await readTarGz(gz)), { 'fn/handler.js': 'handler', 'fn/lib/util.js': 'util', [`fn/${long}`]: 'long' }, format);
  }
  const ustar = execFileSync('tar', ['--format=ustar', `--exclude=${long}`, '-czf', '-', '-C', join(dir, 'fn'), '.']);
  assert.deepEqual(contents(await readTarGz(ustar)), { 'handler.js': 'handler', 'lib/util.js': 'util' });
});

const hostile: Array<[string, TarEntry[], string, string]> = [
  ['a parent segment', [{ name: '../evil.js', data: 'x' }], 'parent-segment', '../evil.js'],
  ['a parent segment deeper down', [{ name: 'a/../../evil.js', data: 'x' }], 'parent-segment', 'a/../../evil.js'],
  ['a parent segment in a pax path', [{ name: '../../pax-evil.js', data: 'x', longName: 'pax' }], 'parent-segment', '../../pax-evil.js'],
  ['an absolute path', [{ name: '/etc/x', data: 'x' }], 'absolute-path', '/etc/x'],
  ['a backslash', [{ name: '..\\evil.js', data: 'x' }], 'backslash', '..\\evil.js'],
  ['a NUL byte inside a GNU long name', [{ name: 'ok.js\0../../evil.js', data: 'x', longName: 'gnu' }], 'nul-byte', 'ok.js\\0../../evil.js'],
  ['an empty name', [{ name: '', data: 'x' }], 'empty-name', ''],
  ['an empty segment', [{ name: 'a//b.js', data: 'x' }], 'empty-name', 'a//b.js'],
  ['a symlink out of the root', [{ name: 'link', type: '2', linkname: '/etc/passwd' }], 'link', 'link'],
  ['a symlink inside the root', [{ name: 'a.js', data: 'x' }, { name: 'b.js', type: '2', linkname: 'a.js' }], 'link', 'b.js'],
  ['a hard link', [{ name: 'hard', type: '1', linkname: '../../etc/shadow' }], 'link', 'hard'],
  ['a character device', [{ name: 'null', type: '3' }], 'special-file', 'null'],
  ['a block device', [{ name: 'sda', type: '4' }], 'special-file', 'sda'],
  ['a fifo', [{ name: 'pipe', type: '6' }], 'special-file', 'pipe'],
  ['a contiguous file', [{ name: 'c', type: '7' }], 'unsupported-type', 'c'],
  ['a duplicate path', [{ name: 'a.js', data: '1' }, { name: './a.js', data: '2' }], 'duplicate', 'a.js'],
  ['a file that is also a directory', [{ name: 'a/b.js', data: '1' }, { name: 'a', data: '2' }], 'duplicate', 'a'],
  ['a directory that is also a file', [{ name: 'a', data: '1' }, { name: 'a/b.js', data: '2' }], 'duplicate', 'a/b.js'],
  ['an over-long segment', [{ name: `${'x'.repeat(256)}.js`, data: 'x', longName: 'pax' }], 'name-too-long', `${'x'.repeat(256)}.js`],
];
for (const [what, entries, reason, entry] of hostile) {
  test(`archive - ${what} is refused naming the entry`, () => refused(tgz(entries), reason, entry));
}

test('archive - more files than the cap are refused (10,000 files)', async () => {
  const entries = Array.from({ length: 10_000 }, (_, i) => ({ name: `f/${i}.js`, data: 'x' }));
  await refused(tgz(entries), 'too-many-files', 'f/2000.js');
});

test('archive - a file over the per-file cap and a gzip bomb over the unpacked cap are refused', async () => {
  const limits = { maxUnpackedBytes: 1024 * 1024, maxFiles: 10, maxFileBytes: 64 * 1024 };
  await refused(tgz([{ name: 'big.js', data: Buffer.alloc(64 * 1024 + 1) }]), 'file-too-large', 'big.js', limits);
  const bomb = tgz([{ name: 'zeros', data: Buffer.alloc(8 * 1024 * 1024) }]);
  assert.ok(bomb.length < 64 * 1024, `bomb is ${bomb.length} bytes`);
  await refused(bomb, 'too-large', undefined, limits);
});

test('archive - malformed input is refused: not gzip, a bad checksum, a truncated entry, a non-ustar header', async () => {
  await refused(Buffer.from('PK\x03\x04 a zip file'), 'not-gzip');
  const good = tar([{ name: 'a.js', data: 'x'.repeat(600) }]);
  const badSum = Buffer.from(good);
  badSum[0] ^= 1;
  await refused(gzipSync(badSum), 'bad-header');
  await refused(gzipSync(good.subarray(0, 1024)), 'truncated');
  const v7 = Buffer.from(good);
  v7.fill(0, 257, 265);
  await refused(gzipSync(v7), 'bad-header');
});

test('archive - a tar without end-of-archive blocks is read when it ends on an entry', () => {
  const t = tar([{ name: 'a.js', data: 'x' }]);
  assert.deepEqual(contents(readTar(t.subarray(0, t.length - 1024))), { 'a.js': 'x' });
});

test('archive - one top-level directory is unwrapped only when the entrypoint is not already at its path', () => {
  const f = (...paths: string[]) => paths.map((path) => ({ path, data: Buffer.alloc(0), mode: 0o644 }));
  const paths = (files: ArchiveFile[]) => files.map((x) => x.path);
  assert.deepEqual(paths(unwrapTopDir(f('myfn/handler.js', 'myfn/lib/u.js'), 'handler.js')), ['handler.js', 'lib/u.js']);
  assert.deepEqual(paths(unwrapTopDir(f('src/handler.js', 'src/u.js'), 'src/handler.js')), ['src/handler.js', 'src/u.js']);
  assert.deepEqual(paths(unwrapTopDir(f('a/handler.js', 'b/u.js'), 'handler.js')), ['a/handler.js', 'b/u.js']);
  assert.deepEqual(paths(unwrapTopDir(f('myfn'), 'handler.js')), ['myfn']);
});

test('multipart - fields and files are parsed, with a preamble, quoted boundary and binary content', () => {
  const bin = Buffer.from([0, 1, 2, 13, 10, 45, 45, 255]);
  const { body, contentType } = formData({ dependencies: 'is-number@7.0.0' }, { field: 'file', filename: 'fn.tgz', data: bin });
  const boundary = formBoundary(contentType)!;
  const parts = parseMultipart(Buffer.concat([Buffer.from('preamble\r\n'), body]), boundary);
  assert.deepEqual(parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString('hex')]), [
    ['dependencies', undefined, undefined, Buffer.from('is-number@7.0.0').toString('hex')],
    ['file', 'fn.tgz', 'application/gzip', bin.toString('hex')],
  ]);
  assert.equal(formBoundary('multipart/form-data; boundary="a b"'), 'a b');
  assert.equal(formBoundary('application/gzip'), undefined);
});

test('multipart - malformed bodies are refused as VALIDATION', () => {
  const isValidation = (err: unknown) => err instanceof OrvaError && err.code === 'VALIDATION';
  assert.throws(() => formBoundary('multipart/form-data'), isValidation);
  const cases = [
    'no boundary at all',
    '--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nunterminated',
    '--b\r\nContent-Disposition: form-data; name="f"\r\nno end of headers',
    '--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--',
    '--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--',
    '--bX\r\n',
  ];
  for (const c of cases) assert.throws(() => parseMultipart(Buffer.from(c), 'b'), isValidation, JSON.stringify(c));
});
