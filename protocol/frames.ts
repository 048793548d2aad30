/**
 * The worker channel codec: each frame is a 4-byte big-endian length, then
 * one msgpack value. Plain msgpack (`useRecords: false`) because the Python
 * adapter reads it with python3-msgpack; `int64AsType: 'auto'` keeps small
 * integers as numbers and only large ones as bigint.
 */
import { Packr, Unpackr, RESERVE_START_SPACE, type Options } from 'msgpackr';

// msgpackr implements int64AsType 'auto' but its typings only list 'bigint' | 'number' | 'string'.
const OPTIONS = { useRecords: false, int64AsType: 'auto' } as unknown as Options;
const packr = new Packr(OPTIONS);
const unpackr = new Unpackr(OPTIONS);

/** Default cap of one frame's payload: above the 6 MiB body limit plus logs, far below what could hurt the node. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const HEADER_BYTES = 4;

/** One whole frame (header and payload) in one buffer, so it goes out in one write. */
export function encodeFrame(value: unknown): Buffer {
  // msgpackr leaves 4 bytes free in front of the payload: no copy to prepend the length.
  const frame = packr.pack(value, RESERVE_START_SPACE | HEADER_BYTES);
  frame.writeUInt32BE(frame.length - HEADER_BYTES, 0);
  return frame;
}

/**
 * Turns a byte stream into decoded frames. Chunks may split a frame anywhere
 * or carry several; a partial frame is kept as a list of chunks and joined
 * once, when complete. Decoded binary values may view the pushed chunks, so
 * callers must not reuse a chunk's memory after pushing it.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes needed before the pending frame (or its header) is complete. */
  #needed = 0;

  constructor(private readonly maxFrameBytes: number = MAX_FRAME_BYTES) {}

  /**
   * The frames completed by this chunk, in order. Throws on a frame longer
   * than the cap or an undecodable payload; the stream is unusable after that.
   */
  push(chunk: Buffer): unknown[] {
    const frames: unknown[] = [];
    let buf = chunk;
    if (this.#buffered > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered < this.#needed) return frames;
      buf = Buffer.concat(this.#chunks, this.#buffered);
    }
    let offset = 0;
    while (buf.length - offset >= HEADER_BYTES) {
      const length = buf.readUInt32BE(offset);
      if (length > this.maxFrameBytes) throw new RangeError(`frame of ${length} bytes exceeds the ${this.maxFrameBytes} byte limit`);
      const end = offset + HEADER_BYTES + length;
      if (end > buf.length) break;
      frames.push(unpackr.unpack(buf.subarray(offset + HEADER_BYTES, end)));
      offset = end;
    }
    const rest = buf.length - offset;
    this.#chunks = rest > 0 ? [buf.subarray(offset)] : [];
    this.#buffered = rest;
    this.#needed = rest >= HEADER_BYTES ? HEADER_BYTES + buf.readUInt32BE(offset) : HEADER_BYTES;
    return frames;
  }
}
