import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random bytes for ids come from a pool refilled 4 KiB at a time: one
 * `randomBytes` per id costs a syscall each, which on the invoke path (an
 * execution id per call) was the largest single item of the node's CPU.
 */
const POOL = Buffer.allocUnsafe(4096);
let poolPos = POOL.length;

function takeRandom(n: number): Buffer {
  if (poolPos + n > POOL.length) {
    randomFillSync(POOL);
    poolPos = 0;
  }
  poolPos += n;
  return POOL.subarray(poolPos - n, poolPos);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** RFC 9562 UUIDv7: time-ordered, so ids sort by creation in SQLite indexes. */
export function uuidv7(nowMs: number = Date.now()): string {
  const r = takeRandom(10);
  // 48-bit big-endian milliseconds, then version 7, variant 10, 74 random bits.
  const hi = Math.floor(nowMs / 0x10000);
  const lo = nowMs & 0xffff;
  return (
    HEX[(hi >>> 24) & 0xff] + HEX[(hi >>> 16) & 0xff] + HEX[(hi >>> 8) & 0xff] + HEX[hi & 0xff] +
    '-' + HEX[lo >>> 8] + HEX[lo & 0xff] +
    '-' + HEX[0x70 | (r[0] & 0x0f)] + HEX[r[1]] +
    '-' + HEX[0x80 | (r[2] & 0x3f)] + HEX[r[3]] +
    '-' + HEX[r[4]] + HEX[r[5]] + HEX[r[6]] + HEX[r[7]] + HEX[r[8]] + HEX[r[9]]
  );
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Request ids: a random tag per process and a counter — unique per node
 * without any randomness per request (they only correlate log lines).
 */
const BOOT_TAG = randomBytes(6).toString('base64url');
let requestCounter = 0;

export function requestId(): string {
  return `req_${BOOT_TAG}${(++requestCounter).toString(36)}`;
}
