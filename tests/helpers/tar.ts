/** A small ustar writer for the tests, able to write the hostile archives no well-behaved tar would. */
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  /** '0' file (default), '5' directory, '1' hard link, '2' symlink, '3' char device, '6' fifo, … */
  type?: string;
  data?: string | Buffer;
  mode?: number;
  linkname?: string;
  /** Carry the name in a GNU 'L' or pax 'x' header first (needed past 100 bytes). */
  longName?: 'gnu' | 'pax';
}

function header(name: string, type: string, size: number, mode: number, linkname = '', gnu = false): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  h.write(type, 156, 'latin1');
  h.write(linkname, 157, 'utf8');
  h.write(gnu ? 'ustar  \0' : 'ustar\x0000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** An uncompressed tar with the two end-of-archive blocks. */
export function tar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? '0';
    if (e.longName === 'gnu') {
      const n = Buffer.from(`${e.name}\0`);
      blocks.push(header('././@LongLink', 'L', n.length, 0o644, '', true), padded(n));
    } else if (e.longName === 'pax') {
      const rec = Buffer.from(paxRecord('path', e.name));
      blocks.push(header('PaxHeader', 'x', rec.length, 0o644), padded(rec));
    }
    blocks.push(header(e.name, type, type === '0' ? data.length : 0, e.mode ?? (type === '5' ? 0o755 : 0o644), e.linkname, e.longName === 'gnu'));
    if (type === '0') blocks.push(padded(data));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function tgz(entries: TarEntry[]): Buffer {
  return gzipSync(tar(entries));
}

/** A multipart/form-data body with the given text fields and one file part; returns body and Content-Type. */
export function formData(fields: Record<string, string>, file?: { field: string; filename: string; data: Buffer }): { body: Buffer; contentType: string } {
  const boundary = `----orvatest${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\nContent-Type: application/gzip\r\n\r\n`), file.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
