/**
 * Reference point (b): the floor of Orva's design. uWS → one invoke frame
 * over a pipe → the project's real node adapter → reply frame → HTTP, with
 * no auth, registry, store, execution records or sandbox. Same codec
 * (protocol/frames.ts), same adapter flags, fds and scheduling policy
 * (SCHED_BATCH) as the bwrap driver, a fixed pool with a FIFO wait queue
 * like the FunctionSupervisor's.
 *
 *   node --import tsx ops/bench/relay.ts <port> <workers> <codeDir> [plain|bwrap]
 *
 * `plain` (the floor) runs the adapter as a bare child process; `bwrap` runs
 * it through the project's sandbox driver, which separates the sandbox's
 * cost from the rest of the node's.
 */
import { spawn } from 'node:child_process';
import { STATUS_CODES } from 'node:http';
import { join, posix, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import uWS, { type HttpResponse } from '../../node/http/uws.ts';
import { RUNTIMES } from '../../node/runtimes/index.ts';
import { BwrapDriver, CHRT } from '../../node/sandbox/bwrap.ts';
import type { SpawnSpec, WorkerProcess } from '../../node/sandbox/driver.ts';
import { encodeFrame, FrameDecoder } from '../../protocol/frames.ts';
import type { InvokeEvent } from '../../protocol/worker-input.ts';

// A normal exit on SIGTERM, so `node --cpu-prof` writes its profile; sandboxed
// workers are ended first, so their cgroups go with them.
let stopping = false;
const sandboxed: WorkerProcess[] = [];
process.on('SIGTERM', () => {
  stopping = true;
  for (const proc of sandboxed) proc.kill();
  void driver.settle().then(() => process.exit(0));
});

const [portArg, workersArg, codeDirArg, mode = 'plain'] = process.argv.slice(2);
if (!codeDirArg || (mode !== 'plain' && mode !== 'bwrap')) throw new Error('usage: relay.ts <port> <workers> <codeDir> [plain|bwrap]');
const codeDir = resolve(codeDirArg);

interface Call {
  res: HttpResponse;
  aborted: boolean;
  event: InvokeEvent;
}

type Frame = { type: string; status: number; headers: Record<string, string>; body: Uint8Array };

interface Worker {
  send(frame: unknown): void;
  call: Call | null;
  seq: number;
}

const runtime = RUNTIMES.node;
const spec: SpawnSpec = { runtime: 'node', codeDir, entrypoint: 'handler.js', env: { ORVA_FUNCTION_ID: 'relay', ORVA_ENTRYPOINT: 'handler.js' }, memoryMb: 128, cpus: 1, networkMode: 'none' };

function spawnPlain(onFrame: (f: Frame) => void): (frame: unknown) => void {
  // The adapter imports `/code/<entrypoint>` and pathToFileURL normalises it
  // lexically, so an entrypoint climbing out of /code reaches the handler
  // without a /code directory on the host.
  const entrypoint = posix.relative('/code', join(codeDir, spec.entrypoint));
  const argv = runtime.command({ ...spec, entrypoint }).map((a) => (a === runtime.adapterPath ? runtime.adapterFile : a));
  // SCHED_BATCH as the bwrap driver runs its workers: a woken worker does not preempt the relay's loop.
  const child = spawn(CHRT, ['--batch', '0', ...argv], {
    env: spec.env,
    // Same fds as the bwrap driver: frames in on 3, frames out on 4.
    stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'],
  });
  child.on('exit', (code, signal) => fail(`worker exited (${code ?? signal})`));
  const decoder = new FrameDecoder();
  (child.stdio[4] as Readable).on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) onFrame(f as Frame);
  });
  const input = child.stdio[3] as Writable;
  return (frame) => input.write(encodeFrame(frame));
}

const driver = new BwrapDriver();
function spawnSandboxed(onFrame: (f: Frame) => void): (frame: unknown) => void {
  const proc = driver.spawn(spec);
  sandboxed.push(proc);
  proc.onExit((code, signal) => stopping || fail(`sandboxed worker exited (${code ?? signal}): ${proc.outputTail}`));
  proc.onFrame((f) => onFrame(f as unknown as Frame));
  return (frame) => proc.send(frame as never);
}

function fail(why: string): never {
  console.error(`relay: ${why}`);
  process.exit(1);
}

const idle: Worker[] = [];
const queue: Call[] = [];
const statusLines = new Map<number, string>();
let ready = 0;
const poolSize = Number(workersArg);

for (let i = 0; i < poolSize; i++) {
  const w: Worker = { send: () => {}, call: null, seq: 0 };
  w.send = (mode === 'bwrap' ? spawnSandboxed : spawnPlain)((frame) => {
    if (frame.type === 'ready') {
      if (++ready === poolSize) listen();
      release(w);
    } else answer(w, frame);
  });
}

function release(w: Worker): void {
  const next = queue.shift();
  if (next) send(w, next);
  else idle.push(w);
}

function send(w: Worker, call: Call): void {
  w.call = call;
  w.send({ type: 'invoke', id: String(++w.seq), executionId: 'relay', event: call.event });
}

function answer(w: Worker, frame: Frame): void {
  const call = w.call!;
  w.call = null;
  release(w);
  if (call.aborted) return;
  const status = frame.type === 'ok' ? frame.status : 500;
  let line = statusLines.get(status);
  if (line === undefined) statusLines.set(status, (line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`));
  call.res.cork(() => {
    call.res.writeStatus(line);
    if (frame.type === 'ok') for (const k in frame.headers) call.res.writeHeader(k, frame.headers[k]);
    call.res.end(frame.type === 'ok' ? frame.body : '');
  });
}

function dispatch(call: Call): void {
  const w = idle.pop();
  if (w) send(w, call);
  else queue.push(call);
}

function listen(): void {
  uWS
    .App()
    .any('/*', (res, req) => {
      const headers: Record<string, string> = {};
      req.forEach((k, v) => (headers[k] = v));
      const method = req.getCaseSensitiveMethod().toUpperCase();
      const url = req.getUrl();
      const call: Call = {
        res,
        aborted: false,
        event: { method, httpMethod: method, path: url, rawPath: url, headers, query: {}, body: '', isBase64Encoded: false },
      };
      res.onAborted(() => (call.aborted = true));
      if (headers['content-length'] === undefined || headers['content-length'] === '0') return dispatch(call);
      const chunks: Buffer[] = [];
      res.onData((ab, isLast) => {
        // uWS reuses the ArrayBuffer after this callback: copy it.
        chunks.push(Buffer.copyBytesFrom(new Uint8Array(ab)));
        if (!isLast) return;
        call.event.body = Buffer.concat(chunks).toString('utf8');
        dispatch(call);
      });
    })
    .listen('127.0.0.1', Number(portArg), (socket) => {
      if (!socket) throw new Error('relay: cannot listen');
      console.log(`listening ${uWS.us_socket_local_port(socket)}`);
    });
}
