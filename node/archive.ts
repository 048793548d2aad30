/**
 * Reading a deploy's .tar.gz in memory, with every check done before a byte
 * reaches the disk: the builder later writes exactly the files returned here,
 * so whatever passes must be safe to join onto a scratch dir. The system tar
 * is never used — it would follow links and create device nodes.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { OrvaError } from '../protocol/errors.ts';

export interface ArchiveFile {
  /** Normalised: relative, `/`-separated, no empty, `.` or `..` segment. */
  path: string;
  data: Buffer;
  /** 0o755 when any execute bit was set in the archive, else 0o644: owner, setuid and the rest are not kept. */
  mode: number;
}

export interface ArchiveLimits {
  /** Decompressed tar stream (headers included); also what a gzip bomb is cut off at. */
  maxUnpackedBytes: number;
  /** Regular files; directories only cost a header and are bounded by maxUnpackedBytes. */
  maxFiles: number;
  maxFileBytes: number;
}

/**
 * 64 MiB unpacked, 2,000 files, 32 MiB per file: a function's own source is
 * far smaller (dependencies are installed by the build, not uploaded), and
 * the whole tree is held in memory while it is checked.
 */
export const ARCHIVE_LIMITS: ArchiveLimits = { maxUnpackedBytes: 64 * 1024 * 1024, maxFiles: 2_000, maxFileBytes: 32 * 1024 * 1024 };

/** Linux NAME_MAX, and a whole-path bound well under PATH_MAX once joined onto the data dir. */
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 1024;

const BLOCK = 512;
const gunzipAsync = promisify(gunzip);

/** A refused archive: 400 VALIDATION naming the entry (when there is one) and a machine-readable reason. */
export function archiveError(reason: string, message: string, entry?: string): OrvaError {
  return new OrvaError('VALIDATION', entry === undefined ? `archive refused: ${message}` : `archive refused: ${entry}: ${message}`, entry === undefined ? { reason } : { entry, reason }, {
    hint: 'fix or remove the archive entry named in details.entry; details.reason says why it was refused',
  });
}

/** Gunzip (in the thread pool, cut off at the cap) and read the tar; VALIDATION on anything unsafe or malformed. */
export async function readTarGz(gz: Buffer, limits: ArchiveLimits = ARCHIVE_LIMITS): Promise<ArchiveFile[]> {
  let tar: Buffer;
  try {
    tar = await gunzipAsync(gz, { maxOutputLength: limits.maxUnpackedBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw archiveError('too-large', `it unpacks to more than ${limits.maxUnpackedBytes} bytes`);
    }
    throw archiveError('not-gzip', `not a valid gzip stream (${(err as Error).message})`);
  }
  return readTar(tar, limits);
}

type Kind = 'file' | 'dir';

/** Read an uncompressed ustar/GNU/pax tar. Links, devices, fifos and other types are refused. */
export function readTar(tar: Buffer, limits: ArchiveLimits = ARCHIVE_LIMITS): ArchiveFile[] {
  const files: ArchiveFile[] = [];
  // Every path seen, and every directory implied by a file path: a file may not also be a directory.
  const seen = new Map<string, Kind>();
  let longName: string | undefined;
  let pos = 0;
  while (pos + BLOCK <= tar.length) {
    const h = tar.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) return files;
    const at = `header at byte ${pos}`;
    if (!checksumOk(h)) throw archiveError('bad-header', 'tar header checksum mismatch', at);
    const magic = h.toString('latin1', 257, 265);
    const gnu = magic === 'ustar  \0';
    if (!gnu && !magic.startsWith('ustar\0')) throw archiveError('bad-header', 'not a ustar, GNU or pax tar header', at);
    const size = octal(h, 124, 12);
    if (size === undefined) throw archiveError('bad-header', 'unreadable size field', at);
    const dataStart = pos + BLOCK;
    const data = tar.subarray(dataStart, dataStart + size);
    if (data.length < size) throw archiveError('truncated', 'the archive ends inside an entry', at);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    const type = String.fromCharCode(h[156]);
    // GNU 'L' and pax 'x' carry the real name of the entry that follows.
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type === 'x') {
      longName = paxPath(data, at) ?? longName;
      continue;
    }
    if (type === 'g') continue; // pax global header: `git archive` writes the commit id here.

    const prefix = gnu ? '' : cString(h, 345, 155);
    const raw = longName ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
    longName = undefined;
    if (type === '1' || type === '2' || type === 'K') {
      // Every link is refused, even one pointing inside: a function tree never needs one, and a
      // target is only safe to judge after every other entry is placed.
      throw archiveError('link', `${type === '2' ? 'symbolic' : 'hard'} links are not allowed (-> ${cString(h, 157, 100)})`, raw);
    }
    if (type === '3' || type === '4' || type === '6') throw archiveError('special-file', 'device files and fifos are not allowed', raw);
    if (type !== '0' && type !== '\0' && type !== '5') throw archiveError('unsupported-type', `entry type '${type}' is not a regular file or directory`, raw);

    const kind: Kind = type === '5' ? 'dir' : 'file';
    const path = normalise(raw, kind);
    if (path === '') continue; // the archive's own root, `./`
    if (kind === 'dir') {
      if (seen.get(path) === 'file') throw archiveError('duplicate', 'is both a file and a directory', path);
      seen.set(path, 'dir');
      continue;
    }
    if (seen.has(path)) throw archiveError('duplicate', seen.get(path) === 'dir' ? 'is both a file and a directory' : 'appears twice', path);
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (seen.get(dir) === 'file') throw archiveError('duplicate', `${dir} is both a file and a directory`, path);
      seen.set(dir, 'dir');
    }
    seen.set(path, 'file');
    if (files.length >= limits.maxFiles) throw archiveError('too-many-files', `more than ${limits.maxFiles} files`, path);
    if (size > limits.maxFileBytes) throw archiveError('file-too-large', `${size} bytes is over the ${limits.maxFileBytes}-byte limit per file`, path);
    files.push({ path, data, mode: (octal(h, 100, 8) ?? 0) & 0o111 ? 0o755 : 0o644 });
  }
  // No end-of-archive blocks: accepted only when the stream ends exactly after an entry's last block.
  if (pos !== tar.length) throw archiveError('truncated', 'the archive does not end on a tar block boundary');
  return files;
}

/**
 * A path as it will be joined onto the build dir: a leading `./` goes, and
 * anything that could leave the dir or mean two things is refused.
 */
function normalise(raw: string, kind: Kind): string {
  if (raw.includes('\0')) throw archiveError('nul-byte', 'the name contains a NUL byte', raw.replaceAll('\0', '\\0'));
  if (raw.includes('\\')) throw archiveError('backslash', 'backslashes are not allowed in names', raw);
  if (raw.startsWith('/')) throw archiveError('absolute-path', 'absolute paths are not allowed', raw);
  let p = raw.replace(/^(?:\.\/)+/, '');
  if (kind === 'dir') p = p.replace(/\/$/, '');
  if (p === '' || p === '.') {
    if (kind === 'dir') return '';
    throw archiveError('empty-name', 'a file without a name', raw);
  }
  for (const seg of p.split('/')) {
    if (seg === '..') throw archiveError('parent-segment', '".." segments are not allowed', raw);
    if (seg === '' || seg === '.') throw archiveError('empty-name', 'empty or "." segments are not allowed', raw);
    if (Buffer.byteLength(seg) > MAX_SEGMENT_BYTES) throw archiveError('name-too-long', `a name segment is over ${MAX_SEGMENT_BYTES} bytes`, raw);
  }
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) throw archiveError('name-too-long', `the path is over ${MAX_PATH_BYTES} bytes`, raw);
  return p;
}

/**
 * When the entrypoint is not at the root but every file sits under one
 * directory that holds it (`tar czf fn.tgz myfn/`), that directory is the
 * root. An entrypoint found as-is always wins, so `src/handler.js` keeps its `src/`.
 */
export function unwrapTopDir(files: ArchiveFile[], entrypoint: string): ArchiveFile[] {
  if (files.length === 0 || files.some((f) => f.path === entrypoint)) return files;
  const top = files[0].path.split('/')[0];
  if (!files.every((f) => f.path.startsWith(`${top}/`))) return files;
  return files.map((f) => ({ ...f, path: f.path.slice(top.length + 1) }));
}

/** pax records are `<len> <key>=<value>\n`, the length counting the whole record. */
function paxPath(data: Buffer, at: string): string | undefined {
  let path: string | undefined;
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // NUL padding some writers leave after the last record
    const space = data.indexOf(0x20, pos);
    const len = space < 0 ? Number.NaN : Number(data.toString('latin1', pos, space));
    if (!Number.isSafeInteger(len) || len <= space - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw archiveError('bad-header', 'malformed pax extended header', at);
    }
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0 && record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    pos += len;
  }
  return path;
}

/** The header checksum: the byte sum with the checksum field counted as spaces. */
function checksumOk(h: Buffer): boolean {
  const stored = octal(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return stored === sum;
}

/** An octal numeric field (NUL/space padded); undefined for anything else, including GNU base-256 sizes, which only files far over the caps need. */
function octal(h: Buffer, offset: number, length: number): number | undefined {
  const s = h.toString('latin1', offset, offset + length).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]{0,12}$/.test(s)) return undefined;
  return s === '' ? 0 : Number.parseInt(s, 8);
}

function cString(h: Buffer, offset: number, length: number): string {
  const field = h.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.toString('utf8', 0, end < 0 ? length : end);
}
