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

const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Where each of the 16 bytes' two hex digits go in the 36-character text. */
const DIGIT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const TEXT = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');

/**
 * RFC 9562 UUIDv7: time-ordered, so ids sort by creation in SQLite indexes.
 * Written as bytes and read out once: one flat string per id (an execution
 * id per call), not the chain of partial strings that concatenation leaves.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const r = takeRandom(10);
  // 48-bit big-endian milliseconds, then version 7, variant 10, 74 random bits.
  const hi = Math.floor(nowMs / 0x10000);
  const lo = nowMs & 0xffff;
  put(0, hi >>> 24);
  put(1, hi >>> 16);
  put(2, hi >>> 8);
  put(3, hi);
  put(4, lo >>> 8);
  put(5, lo);
  put(6, 0x70 | (r[0] & 0x0f));
  put(7, r[1]);
  put(8, 0x80 | (r[2] & 0x3f));
  for (let i = 3; i < 10; i++) put(i + 6, r[i]);
  return TEXT.toString('latin1', 0, 36);
}

/** Byte `i` of the id as its two hex digits. */
function put(i: number, byte: number): void {
  TEXT[DIGIT_AT[i]] = HEX[(byte >>> 4) & 0x0f];
  TEXT[DIGIT_AT[i] + 1] = HEX[byte & 0x0f];
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
