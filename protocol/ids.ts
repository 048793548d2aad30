import { randomBytes } from 'node:crypto';

/** RFC 9562 UUIDv7: time-ordered, so ids sort by creation in SQLite indexes. */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Short random id for request ids and similar non-persistent tags. */
export function shortId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}
