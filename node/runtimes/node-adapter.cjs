// Orva's Node.js runtime adapter. Runs inside the sandbox as
//   node --experimental-detect-module /orva/node-adapter.cjs <entrypoint>
// and serves one call at a time: invoke frames arrive on fd 3, answers leave
// on fd 4, each a 4-byte big-endian length + a msgpack value. What the
// handler prints through process.stdout/stderr (console) during a call is
// captured into that call's `logs`; what reaches fd 1/2 itself (child
// processes, direct writes) goes to the node, which adds it to the call in
// flight.
//
// Between calls the worker waits in a blocking read on fd 3, after one turn
// of the event loop (due timers, ready I/O): a handler's background work is
// paused while no call is in flight, as in a frozen sandbox, and resumes with
// the next call. Waking from read(2) costs a fraction of an event-loop wakeup
// and a stream's bookkeeping (+6.5 % invoke throughput, measured side by side).
//
// msgpack is a small codec below instead of msgpackr bound into the sandbox:
// the frames use a handful of types, and the adapter then loads no module
// besides the handler (no resolution or file reads at start, nothing shared
// with the host's node_modules).
//
// The adapter is CommonJS and loads the handler with require(), so that a
// CJS handler (the common case) never starts node's ESM loader: the loader's
// modules stay off the heap and its file reads off libuv's thread pool, whose
// four threads then never start. An idle worker held 0.5 MB less private
// memory and 4 threads fewer than with the adapter as an ES module and the
// handler import()ed. ESM handlers load through require() too (node 20.19+),
// unless they use top-level await: those (and every ESM handler on an older
// node 20) go through import(), which require() leaves unevaluated.
'use strict';

const { readSync, writeSync } = require('node:fs');
const { pathToFileURL } = require('node:url');

const LOG_CAP = 256 * 1024;
const TRUNCATED = '\n[orva: logs truncated at 256 KiB]\n';
const JSON_TYPE = 'application/json';
const EMPTY = Buffer.alloc(0);

// ---- msgpack decoding (the node's frames: maps, strings, numbers, booleans, nil, bin)

let src = EMPTY;
let at = 0;

function decode(buf) {
  src = buf;
  at = 0;
  return read();
}

function read() {
  const b = src[at++];
  if (b < 0x80) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b >= 0xa0 && b <= 0xbf) return str(b & 0x1f);
  if (b <= 0x8f) return map(b & 0x0f);
  if (b <= 0x9f) return arr(b & 0x0f);
  switch (b) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return bin(uint(1));
    case 0xc5: return bin(uint(2));
    case 0xc6: return bin(uint(4));
    case 0xca: return num(src.readFloatBE(at), 4);
    case 0xcb: return num(src.readDoubleBE(at), 8);
    case 0xcc: return uint(1);
    case 0xcd: return uint(2);
    case 0xce: return uint(4);
    case 0xcf: return num(Number(src.readBigUInt64BE(at)), 8);
    case 0xd0: return num(src.readInt8(at), 1);
    case 0xd1: return num(src.readInt16BE(at), 2);
    case 0xd2: return num(src.readInt32BE(at), 4);
    case 0xd3: return num(Number(src.readBigInt64BE(at)), 8);
    case 0xd4: // msgpackr writes `undefined` as fixext1 type 0
      if (src[at] === 0) return num(undefined, 2);
      break;
    case 0xd9: return str(uint(1));
    case 0xda: return str(uint(2));
    case 0xdb: return str(uint(4));
    case 0xdc: return arr(uint(2));
    case 0xdd: return arr(uint(4));
    case 0xde: return map(uint(2));
    case 0xdf: return map(uint(4));
  }
  throw new Error(`unsupported msgpack byte 0x${b.toString(16)}`);
}

function num(value, size) {
  at += size;
  return value;
}

function uint(size) {
  return num(src.readUIntBE(at, size), size);
}

function str(n) {
  return src.toString('utf8', at, (at += n));
}

// A copy: the input buffer is reused for the next frame.
function bin(n) {
  return Buffer.from(src.subarray(at, (at += n)));
}

function arr(n) {
  const a = new Array(n);
  for (let i = 0; i < n; i++) a[i] = read();
  return a;
}

function map(n) {
  const o = {};
  for (let i = 0; i < n; i++) {
    const k = read();
    const v = read();
    // A "__proto__" header or query key must stay data, not change the prototype.
    if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    else o[k] = v;
  }
  return o;
}

// ---- msgpack encoding (our frames: maps, strings, integers, bin). Two passes
// (size, then write) so each frame is one exact buffer and one write.

function strHead(n) {
  return n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

function sizeOf(v) {
  if (typeof v === 'string') {
    const n = Buffer.byteLength(v);
    return strHead(n) + n;
  }
  if (typeof v === 'number') return v >= 0 && v < 128 && Number.isInteger(v) ? 1 : Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff ? 5 : 9;
  if (v instanceof Uint8Array) return (v.length < 0x100 ? 2 : v.length < 0x10000 ? 3 : 5) + v.length;
  const keys = Object.keys(v);
  let n = keys.length < 16 ? 1 : keys.length < 0x10000 ? 3 : 5;
  for (const k of keys) n += sizeOf(k) + sizeOf(v[k]);
  return n;
}

let out = EMPTY;
let pos = 0;

function head(small, codes, n) {
  if (small !== 0) out[pos++] = small | n;
  else if (codes[0] !== 0 && n < 0x100) { out[pos++] = codes[0]; out[pos++] = n; }
  else if (n < 0x10000) { out[pos++] = codes[1]; pos = out.writeUInt16BE(n, pos); }
  else { out[pos++] = codes[2]; pos = out.writeUInt32BE(n, pos); }
}

const STR = [0xd9, 0xda, 0xdb];
const BIN = [0xc4, 0xc5, 0xc6];
const MAP = [0, 0xde, 0xdf];

function write(v) {
  if (typeof v === 'string') {
    const n = Buffer.byteLength(v);
    head(n < 32 ? 0xa0 : 0, STR, n);
    pos += out.write(v, pos);
  } else if (typeof v === 'number') {
    if (v >= 0 && v < 128 && Number.isInteger(v)) out[pos++] = v;
    else if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) { out[pos++] = 0xd2; pos = out.writeInt32BE(v, pos); }
    else { out[pos++] = 0xcb; pos = out.writeDoubleBE(v, pos); }
  } else if (v instanceof Uint8Array) {
    head(0, BIN, v.length);
    out.set(v, pos);
    pos += v.length;
  } else {
    const keys = Object.keys(v);
    head(keys.length < 16 ? 0x80 : 0, MAP, keys.length);
    for (const k of keys) {
      write(k);
      write(v[k]);
    }
  }
}

// The node kills a worker whose frame is larger (protocol/frames.ts MAX_FRAME_BYTES).
const MAX_FRAME = 16 * 1024 * 1024;

// An answer (or error, or load error) too large to carry, as an error that fits: the call fails, the worker stays.
function tooLarge(frame, size) {
  const message = `the answer is ${size} bytes, over the ${MAX_FRAME} a call may return`;
  const small = { type: frame.type === 'load-error' ? 'load-error' : 'error', name: 'RangeError', message, stack: `RangeError: ${message}\n` };
  return frame.id === undefined ? small : { ...small, id: frame.id, logs: frame.logs };
}

function encodeFrame(frame) {
  let n = sizeOf(frame);
  if (n > MAX_FRAME) {
    frame = tooLarge(frame, n);
    n = sizeOf(frame);
  }
  out = Buffer.allocUnsafe(4 + n);
  out.writeUInt32BE(n, 0);
  pos = 4;
  write(frame);
  return out;
}

// ---- channel

// Frames out go with blocking writes on fd 4: one call is in flight, so the
// worker has nothing to do until the node has the answer. The node gone
// (EPIPE): nothing left to serve.
function send(frame, then) {
  const buf = encodeFrame(frame);
  try {
    for (let off = 0; off < buf.length; ) off += writeSync(4, buf, off);
  } catch {
    process.exit(1);
  }
  if (then) then();
}

// Frames in: fd 3 is never wrapped in a Socket, so it stays blocking. A frame
// that fits is decoded where it was read; a larger one is read straight into
// a buffer of its size.
const IN = Buffer.allocUnsafe(64 * 1024);
/** Bytes at the start of IN that belong to the next frame. */
let held = 0;

function readInto(buf, off) {
  for (;;) {
    try {
      const n = readSync(3, buf, off, buf.length - off, null);
      if (n === 0) process.exit(0); // the node closed our input: nothing more to serve
      return n;
    } catch (err) {
      if (err.code === 'EINTR') continue;
      realStderr(`orva adapter: reading frames failed: ${err.message}\n`);
      process.exit(1);
    }
  }
}

function nextFrame() {
  while (held < 4) held += readInto(IN, held);
  const end = 4 + IN.readUInt32BE(0);
  if (end <= IN.length) {
    while (held < end) held += readInto(IN, held);
    const frame = decode(IN.subarray(4, end));
    held = IN.copy(IN, 0, end, held);
    return frame;
  }
  const whole = Buffer.allocUnsafe(end);
  let got = IN.copy(whole, 0, 0, held);
  while (got < end) got += readInto(whole, got);
  held = 0;
  return decode(whole.subarray(4));
}

function serveNext() {
  const frame = nextFrame();
  if (frame.type !== 'invoke') throw new Error(`unexpected frame type ${frame.type}`);
  invoke(frame);
}

// ---- output capture: during a call, stdout/stderr writes become its logs

/** The call in flight: { id, logs, bytes }, or null between calls. */
let current = null;

function appendLog(text) {
  const call = current;
  if (call.bytes > LOG_CAP) return; // already truncated
  const n = Buffer.byteLength(text);
  if (call.bytes + n <= LOG_CAP) {
    call.logs += text;
    call.bytes += n;
  } else {
    call.logs += Buffer.from(text).toString('utf8', 0, LOG_CAP - call.bytes) + TRUNCATED;
    call.bytes = LOG_CAP + 1;
  }
}

function capture(stream) {
  const real = stream.write.bind(stream);
  stream.write = function write(chunk, encoding, cb) {
    if (current === null) return real(chunk, encoding, cb);
    appendLog(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') process.nextTick(done);
    return true;
  };
  return real;
}

capture(process.stdout);
const realStderr = capture(process.stderr);
// Opening fd 1/2 as streams made them non-blocking (O_NONBLOCK is shared by
// every holder of the descriptor): a handler's large fs.writeSync(1, …) would
// fail with EAGAIN whenever the node had not drained it yet. The node always
// drains them, so blocking writes only wait.
for (const s of [process.stdout, process.stderr]) s._handle?.setBlocking?.(true);

// ---- results

function text(v) {
  try {
    return String(v);
  } catch {
    return '[unprintable]';
  }
}

function failure(err) {
  try {
    if (err === null || typeof err !== 'object') return { name: 'Error', message: text(err), stack: '' };
    return {
      name: err.name === undefined ? 'Error' : text(err.name),
      message: 'message' in err ? text(err.message) : text(err),
      stack: err.stack === undefined ? '' : text(err.stack),
    };
  } catch {
    return { name: 'Error', message: '[unreadable error]', stack: '' };
  }
}

const json = (v) => Buffer.from(JSON.stringify(v) ?? 'null');

/**
 * The handler's return value as { status, headers, body }: an object with a
 * numeric statusCode is the AWS proxy shape; anything else is the JSON body
 * of a 200, except bytes, which are sent as they are.
 */
function response(v) {
  if (v !== null && typeof v === 'object' && typeof v.statusCode === 'number') {
    const status = v.statusCode;
    if (!Number.isInteger(status) || status < 100 || status > 599) throw new RangeError(`statusCode must be an integer from 100 to 599, got ${status}`);
    const headers = {};
    let typed = false;
    if (v.headers !== null && typeof v.headers === 'object') {
      for (const k of Object.keys(v.headers)) {
        headers[k] = String(v.headers[k]);
        if (k.toLowerCase() === 'content-type') typed = true;
      }
    }
    const b = v.body;
    let body;
    if (b === undefined || b === null) body = EMPTY;
    else if (typeof b === 'string') body = Buffer.from(b, v.isBase64Encoded === true ? 'base64' : 'utf8');
    else if (b instanceof Uint8Array) body = b;
    else {
      body = json(b);
      if (!typed) headers['content-type'] = JSON_TYPE;
    }
    return { status, headers, body };
  }
  if (v instanceof Uint8Array) return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: v };
  return { status: 200, headers: { 'content-type': JSON_TYPE }, body: json(v) };
}

function finish(call, value, failed) {
  if (current !== call) return; // already answered (an uncaught error ended it)
  let frame;
  if (!failed) {
    try {
      // response() may run user code (toJSON, getters) whose output still belongs to this call.
      frame = { type: 'ok', id: call.id, ...response(value), logs: call.logs };
    } catch (err) {
      value = err;
      failed = true;
    }
  }
  if (failed) frame = { type: 'error', id: call.id, ...failure(value), logs: call.logs };
  current = null;
  send(frame);
  setImmediate(serveNext);
}

// process.env.ORVA_EXECUTION_ID = … would call setenv(3), and glibc keeps
// every value it was ever given (about 110 bytes a call, never freed): a worker
// serving millions of calls would grow until its memory limit killed it. So
// process.env becomes a view of the real environment in which this one
// variable lives in JS; everything else (other variables, writes, what a child
// process inherits through process.env) behaves as before.
const EXECUTION_ID = 'ORVA_EXECUTION_ID';
/** The call's id; undefined before the first call and after a handler deletes it. */
let executionId;
const own = (k) => k === EXECUTION_ID && executionId !== undefined;
process.env = new Proxy(process.env, {
  get: (env, k) => (k === EXECUTION_ID ? executionId : Reflect.get(env, k)),
  set(env, k, v) {
    if (k !== EXECUTION_ID) return Reflect.set(env, k, v);
    executionId = String(v);
    return true;
  },
  has: (env, k) => (k === EXECUTION_ID ? own(k) : Reflect.has(env, k)),
  deleteProperty(env, k) {
    if (k !== EXECUTION_ID) return Reflect.deleteProperty(env, k);
    executionId = undefined;
    return true;
  },
  ownKeys: (env) => [...Reflect.ownKeys(env).filter((k) => k !== EXECUTION_ID), ...(own(EXECUTION_ID) ? [EXECUTION_ID] : [])],
  getOwnPropertyDescriptor: (env, k) =>
    k === EXECUTION_ID ? (own(k) ? { value: executionId, writable: true, enumerable: true, configurable: true } : undefined) : Reflect.getOwnPropertyDescriptor(env, k),
});

let handler = null;

function invoke(frame) {
  const call = { id: frame.id, logs: '', bytes: 0 };
  current = call;
  executionId = frame.executionId;
  let result;
  try {
    result = handler(frame.event);
  } catch (err) {
    return finish(call, err, true);
  }
  // Sync handlers answer without a detour through the microtask queue.
  if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
    Promise.resolve(result).then((v) => finish(call, v, false), (err) => finish(call, err, true));
  } else {
    finish(call, result, false);
  }
}

// An error no call can catch: it fails the call in flight (the worker then
// serves the next one); between calls the state is unknown, so exit and let
// the supervisor start a fresh worker.
function uncaught(err) {
  if (current !== null) return finish(current, err, true);
  const f = failure(err);
  realStderr(`orva adapter: uncaught error between calls: ${f.stack || f.message}\n`);
  process.exit(1);
}
process.on('uncaughtException', uncaught);
process.on('unhandledRejection', uncaught);

// ---- start

function pick(ns) {
  const d = ns.default;
  if (d !== null && typeof d === 'object' && typeof d.handler === 'function') return d.handler.bind(d);
  if (typeof ns.handler === 'function') return ns.handler;
  if (typeof d === 'function') return d;
  return null;
}

/** The handler's module as an ES module namespace (a CJS module's exports become its `default`, as import() gives them). */
function load(entrypoint) {
  let exports;
  try {
    exports = require(`/code/${entrypoint}`);
  } catch (err) {
    if (err?.code !== 'ERR_REQUIRE_ASYNC_MODULE' && err?.code !== 'ERR_REQUIRE_ESM') throw err;
    return import(pathToFileURL(`/code/${entrypoint}`).href);
  }
  return exports?.[Symbol.toStringTag] === 'Module' ? exports : { default: exports };
}

const entrypoint = process.argv[2];
(async () => {
  try {
    handler = pick(await load(entrypoint));
    if (handler === null) throw new TypeError(`${entrypoint} exports no handler: use exports.handler, module.exports = fn, export default fn or export const handler`);
  } catch (err) {
    send({ type: 'load-error', ...failure(err) }, () => process.exit(1));
  }
  if (handler !== null) send({ type: 'ready' }, () => setImmediate(serveNext));
})();
