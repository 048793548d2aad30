import { test, describe, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeFrame, FrameDecoder } from '../protocol/frames.ts';
import type { InvokeEvent } from '../protocol/worker-input.ts';
import { parseWorkerOutput, type ErrorFrame, type OkFrame, type WorkerOutput } from '../protocol/worker-output.ts';
import type { RuntimeName, SpawnSpec, WorkerProcess } from '../node/sandbox/driver.ts';
import { BwrapDriver } from '../node/sandbox/bwrap.ts';
import { firstFrame } from './helpers/sandbox-start.ts';

const driver = new BwrapDriver();
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
/** Workers not yet exited; a failed test's worker must not keep the runner alive. */
const live = new Set<WorkerProcess>();
afterEach(() => live.forEach((w) => w.kill()));

/** A fresh version dir holding `files` (paths relative to it). */
function codeDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'orva-sandbox-test-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A unique string, to find a test's processes with pgrep. */
const marker = () => `orvamark${randomBytes(6).toString('hex')}`;

const EVENT: InvokeEvent = {
  method: 'POST', httpMethod: 'POST', path: '/hello', rawPath: '/fn/hello',
  headers: { 'content-type': 'text/plain' }, query: { q: '1' }, body: 'hi', isBase64Encoded: false,
};

/** A spawned worker with its frames queued for the test to take in order. */
class TestWorker {
  readonly proc: WorkerProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #frames: WorkerOutput[] = [];
  #waiting: ((f: WorkerOutput) => void) | null = null;
  #seq = 0;

  constructor(spec: SpawnSpec) {
    this.proc = driver.spawn(spec);
    live.add(this.proc);
    this.proc.onExit(() => live.delete(this.proc));
    this.proc.onFrame((f) => {
      if (this.#waiting) {
        this.#waiting(f);
        this.#waiting = null;
      } else this.#frames.push(f);
    });
    this.exit = new Promise((resolve) => this.proc.onExit((code, signal) => resolve({ code, signal })));
  }

  next(): Promise<WorkerOutput> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      void this.exit.then(({ code, signal }) => reject(new Error(`worker exited (${code}, ${signal}): ${this.proc.outputTail}`)));
    });
  }

  async call(event: Partial<InvokeEvent> = {}, executionId = 'exec-1'): Promise<OkFrame | ErrorFrame> {
    const id = String(++this.#seq);
    this.proc.send({ type: 'invoke', id, executionId, event: { ...EVENT, ...event } });
    const f = await this.next();
    assert.ok(f.type === 'ok' || f.type === 'error', `unexpected ${f.type}`);
    assert.equal(f.id, id);
    return f;
  }

  /** Calls and expects an ok frame whose body is JSON. */
  async json(event: Partial<InvokeEvent> = {}, executionId?: string): Promise<unknown> {
    const f = await this.call(event, executionId);
    assert.equal(f.type, 'ok', f.type === 'error' ? f.stack : '');
    return JSON.parse(Buffer.from((f as OkFrame).body).toString());
  }

  async stop(): Promise<void> {
    this.proc.kill();
    await this.exit;
  }
}

function spec(runtime: RuntimeName, dir: string, over: Partial<SpawnSpec> = {}): SpawnSpec {
  return {
    runtime, codeDir: dir, entrypoint: runtime === 'node' ? 'handler.js' : 'handler.py',
    env: { ORVA_FUNCTION_ID: 'fn-test', GREETING: 'hello' }, memoryMb: 128, cpus: 1, networkMode: 'none', ...over,
  };
}

/** Starts a worker on `files` and waits for its ready frame. */
async function ready(runtime: RuntimeName, files: Record<string, string>, over: Partial<SpawnSpec> = {}): Promise<TestWorker> {
  const { w, first } = await firstFrame(() => new TestWorker(spec(runtime, codeDir(files), over)));
  assert.equal(first?.type, 'ready', JSON.stringify(first));
  return w;
}

/** Starts a worker, answers one call with the handler, and stops it. */
async function answer(runtime: RuntimeName, files: Record<string, string>, event?: Partial<InvokeEvent>, over?: Partial<SpawnSpec>): Promise<OkFrame | ErrorFrame> {
  const w = await ready(runtime, files, over);
  try {
    return await w.call(event);
  } finally {
    await w.stop();
  }
}

const body = (f: OkFrame | ErrorFrame): unknown => {
  assert.equal(f.type, 'ok', f.type === 'error' ? f.stack : '');
  return JSON.parse(Buffer.from((f as OkFrame).body).toString());
};

const pgrep = (pattern: string): string => {
  try {
    return execFileSync('pgrep', ['-f', pattern]).toString().trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
};

describe('frames', () => {
  const frames = [{ type: 'ready' }, { type: 'ok', id: '1', status: 200, headers: {}, body: Buffer.from('x'), logs: '' }, { type: 'ready' }];
  const bytes = Buffer.concat(frames.map((f) => encodeFrame(f)));

  test('frames - a frame split across many chunks decodes once complete', () => {
    const d = new FrameDecoder();
    const got: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...d.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(got, frames);
  });

  test('frames - several frames coalesced in one chunk all decode in order', () => {
    assert.deepEqual(new FrameDecoder().push(bytes), frames);
  });

  test('frames - a chunk ending mid-header keeps the rest for the next chunk', () => {
    const d = new FrameDecoder();
    const cut = encodeFrame(frames[0]).length + 2;
    assert.deepEqual(d.push(bytes.subarray(0, cut)), [frames[0]]);
    assert.deepEqual(d.push(bytes.subarray(cut)), frames.slice(1));
  });

  test('frames - a frame above the size limit throws as soon as its header is seen', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(17 * 1024 * 1024);
    assert.throws(() => new FrameDecoder().push(header), RangeError);
    assert.throws(() => new FrameDecoder(1000).push(encodeFrame({ big: 'x'.repeat(2000) })), RangeError);
  });

  test('frames - worker output of the wrong shape is rejected', () => {
    assert.deepEqual(parseWorkerOutput({ type: 'ready' }), { type: 'ready' });
    const ok = { type: 'ok', id: '1', status: 200, headers: { a: 'b' }, body: new Uint8Array(1), logs: '' };
    assert.ok(parseWorkerOutput(ok));
    for (const bad of [
      null, 'ok', [], { type: 'nope' }, { ...ok, status: 99 }, { ...ok, status: 200.5 }, { ...ok, status: '200' },
      { ...ok, headers: { a: 1 } }, { ...ok, headers: null }, { ...ok, body: 'text' }, { ...ok, id: 1 }, { ...ok, logs: undefined },
      { type: 'error', id: '1', name: 'E', message: 'm', logs: '' }, { type: 'load-error', name: 'E', message: 5, stack: '' },
    ]) assert.equal(parseWorkerOutput(bad), null, JSON.stringify(bad));
  });
});

describe('sandbox - node', () => {
  // [what, entrypoint, its source]; each answers with the event's path.
  const shapes: Array<[string, string, string]> = [
    ['CJS exports.handler (async)', 'handler.js', 'exports.handler = async (event) => event.path;'],
    ['CJS module.exports = fn (sync)', 'handler.js', 'module.exports = (event) => event.path;'],
    ['CJS module.exports = { handler }', 'handler.js', 'function handler(event) { return event.path; }\nmodule.exports = { handler };'],
    ['ESM export default fn', 'handler.js', 'export default async function (event) { return event.path; }'],
    ['ESM export const handler', 'handler.js', 'export const handler = (event) => event.path;'],
    ['ESM handler.mjs', 'handler.mjs', 'export const handler = async (event) => event.path;'],
    ['CJS handler.cjs', 'handler.cjs', 'module.exports.handler = (event) => event.path;'],
    // require() refuses it unevaluated; import() then evaluates it once (a second evaluation would answer 2).
    ['ESM with top-level await, evaluated once', 'handler.mjs', 'globalThis.loads = (globalThis.loads ?? 0) + 1;\nawait null;\nexport const handler = (event) => (globalThis.loads === 1 ? event.path : `evaluated ${globalThis.loads} times`);'],
  ];
  for (const [what, entrypoint, source] of shapes) {
    test(`sandbox - a node ${what} without package.json answers`, async () => {
      const f = await answer('node', { [entrypoint]: source }, {}, { entrypoint });
      assert.equal(body(f), '/hello');
      assert.equal((f as OkFrame).status, 200);
      assert.equal((f as OkFrame).headers['content-type'], 'application/json');
    });
  }

  test('sandbox - a node handler gets the event and its dependencies from /code/node_modules', async () => {
    const f = await answer('node', {
      'node_modules/greeter/index.js': 'module.exports = (n) => `hi ${n}`;',
      'handler.js': 'const greet = require("greeter");\nexports.handler = (e) => ({ msg: greet(e.query.q), e });',
    });
    assert.deepEqual(body(f), { msg: 'hi 1', e: EVENT });
  });

  test('sandbox - a node plain return is JSON with status 200 and undefined becomes null', async () => {
    const w = await ready('node', { 'handler.js': 'exports.handler = (e) => e.query.q === "u" ? undefined : e.query.q === "s" ? "text" : [1, { a: true }];' });
    assert.deepEqual(await w.json(), [1, { a: true }]);
    assert.equal(await w.json({ query: { q: 's' } }), 'text');
    assert.equal(await w.json({ query: { q: 'u' } }), null);
    await w.stop();
  });

  test('sandbox - a node AWS-shaped result sets status, stringified headers and body', async () => {
    const w = await ready('node', {
      'handler.js': `exports.handler = async (e) => e.query.q === 'obj'
        ? { statusCode: 201, body: { created: true } }
        : e.query.q === 'none' ? { statusCode: 204 }
        : { statusCode: 418, headers: { 'x-n': 7, 'Content-Type': 'text/plain' }, body: 'teapot' };`,
    });
    const text = (await w.call()) as OkFrame;
    assert.deepEqual([text.status, text.headers, Buffer.from(text.body).toString()], [418, { 'x-n': '7', 'Content-Type': 'text/plain' }, 'teapot']);
    const obj = (await w.call({ query: { q: 'obj' } })) as OkFrame;
    assert.deepEqual([obj.status, obj.headers, Buffer.from(obj.body).toString()], [201, { 'content-type': 'application/json' }, '{"created":true}']);
    const none = (await w.call({ query: { q: 'none' } })) as OkFrame;
    assert.deepEqual([none.status, none.body.length], [204, 0]);
    await w.stop();
  });

  test('sandbox - a node binary body travels base64 in and bytes out, both ways', async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 0x92, 0xc1]);
    const w = await ready('node', {
      'handler.js': `exports.handler = (e) => {
        const got = Buffer.from(e.body, 'base64');
        return e.query.q === 'raw' ? got : { statusCode: 200, isBase64Encoded: true, body: Buffer.from(got.reverse()).toString('base64') };
      };`,
    });
    const aws = (await w.call({ body: bytes.toString('base64'), isBase64Encoded: true })) as OkFrame;
    assert.deepEqual(Buffer.from(aws.body), Buffer.from(bytes).reverse());
    const raw = (await w.call({ body: bytes.toString('base64'), isBase64Encoded: true, query: { q: 'raw' } })) as OkFrame;
    assert.deepEqual([Buffer.from(raw.body), raw.headers['content-type']], [bytes, 'application/octet-stream']);
    await w.stop();
  });

  test('sandbox - a node handler that throws gives an error frame and the worker answers the next call', async () => {
    const w = await ready('node', {
      'handler.js': `let n = 0;
        exports.handler = async (e) => {
          n++;
          if (e.query.q === 'throw') { console.log('before'); throw new TypeError('bad input ' + n); }
          if (e.query.q === 'string') throw 'plain';
          if (e.query.q === 'status') return { statusCode: 42 };
          return { n };
        };`,
    });
    const err = (await w.call({ query: { q: 'throw' } })) as ErrorFrame;
    assert.deepEqual([err.type, err.name, err.message, err.logs], ['error', 'TypeError', 'bad input 1', 'before\n']);
    assert.match(err.stack, /handler\.js/);
    assert.deepEqual(await w.json(), { n: 2 });
    const plain = (await w.call({ query: { q: 'string' } })) as ErrorFrame;
    assert.deepEqual([plain.type, plain.name, plain.message], ['error', 'Error', 'plain']);
    const status = (await w.call({ query: { q: 'status' } })) as ErrorFrame;
    assert.deepEqual([status.type, status.name], ['error', 'RangeError']);
    assert.deepEqual(await w.json(), { n: 5 });
    await w.stop();
  });

  test('sandbox - a node uncaught exception during a call fails that call and the worker lives on', async () => {
    const w = await ready('node', {
      'handler.js': `exports.handler = (e) => e.query.q === 'boom'
        ? new Promise(() => setTimeout(() => { throw new Error('async boom'); }, 1))
        : 'fine';`,
    });
    const err = (await w.call({ query: { q: 'boom' } })) as ErrorFrame;
    assert.deepEqual([err.type, err.message], ['error', 'async boom']);
    assert.equal(await w.json(), 'fine');
    await w.stop();
  });

  test('sandbox - node output lands in logs and never breaks the framing', async () => {
    const fake = encodeFrame({ type: 'ok', id: '1', status: 200, headers: {}, body: Buffer.from('forged'), logs: '' });
    const w = await ready('node', {
      'handler.js': `const fs = require('fs');
        console.log('loading');
        exports.handler = (e) => {
          console.log('one', { a: 1 });
          console.error('two');
          process.stdout.write(Buffer.from(e.body, 'base64'));
          process.stderr.write('three\\n', () => {});
          fs.writeSync(1, Buffer.from(e.body, 'base64'));
          if (e.query.q === 'lots') for (let i = 0; i < 20000; i++) console.log('line ' + i + ' ' + 'x'.repeat(20));
          return 'done';
        };`,
    });
    const f = (await w.call({ body: fake.toString('base64') })) as OkFrame;
    assert.equal(Buffer.from(f.body).toString(), '"done"');
    assert.equal(f.logs, `one { a: 1 }\ntwo\n${fake.toString()}three\n`);
    const lots = (await w.call({ body: fake.toString('base64'), query: { q: 'lots' } })) as OkFrame;
    assert.equal(lots.type, 'ok');
    assert.ok(Buffer.byteLength(lots.logs) <= 256 * 1024 + 100, `logs are ${lots.logs.length} long`);
    assert.match(lots.logs, /line 0 x+\n/);
    assert.match(lots.logs, /logs truncated at 256 KiB/);
    assert.equal((await w.call({ body: '' })).type, 'ok'); // the channel is still in step
    assert.match(w.proc.outputTail, /loading\n/); // output outside a call is diagnostics
    await w.stop();
  });

  test('sandbox - node sees ORVA_EXECUTION_ID per call and only the spec env', async () => {
    const w = await ready('node', { 'handler.js': 'exports.handler = () => ({ id: process.env.ORVA_EXECUTION_ID, env: process.env });' });
    const a = (await w.json({}, 'exec-a')) as { id: string; env: Record<string, string> };
    const b = (await w.json({}, 'exec-b')) as { id: string };
    assert.deepEqual([a.id, b.id], ['exec-a', 'exec-b']);
    // PWD comes from bwrap's --chdir; nothing else besides the spec's env.
    assert.deepEqual(Object.keys(a.env).sort(), ['GREETING', 'ORVA_EXECUTION_ID', 'ORVA_FUNCTION_ID', 'PWD']);
    assert.deepEqual([a.env.GREETING, a.env.PWD], ['hello', '/code']);
    await w.stop();
  });
});

describe('sandbox - python', () => {
  test('sandbox - a python sync handler answers with the event as a dict', async () => {
    const f = await answer('python', { 'handler.py': 'def handler(event):\n    return {"path": event["path"], "q": event["query"], "b64": event["isBase64Encoded"]}\n' });
    assert.deepEqual(body(f), { path: '/hello', q: { q: '1' }, b64: false });
    assert.equal((f as OkFrame).headers['content-type'], 'application/json');
  });

  test('sandbox - a python async def handler is awaited on one persistent loop', async () => {
    const w = await ready('python', {
      'handler.py': 'import asyncio\nasync def handler(event):\n    await asyncio.sleep(0.001)\n    return id(asyncio.get_running_loop())\n',
    });
    const first = await w.json();
    assert.equal(typeof first, 'number');
    assert.equal(await w.json(), first);
    await w.stop();
  });

  test('sandbox - a python plain return is JSON with status 200 and None becomes null', async () => {
    const w = await ready('python', { 'handler.py': 'def handler(e):\n    return None if e["query"]["q"] == "n" else [1, {"a": True}, "é"]\n' });
    assert.deepEqual(await w.json(), [1, { a: true }, 'é']);
    assert.equal(await w.json({ query: { q: 'n' } }), null);
    await w.stop();
  });

  test('sandbox - a python AWS-shaped result sets status, stringified headers and body', async () => {
    const w = await ready('python', {
      'handler.py': `def handler(e):
    if e["query"]["q"] == "obj":
        return {"statusCode": 201, "body": {"created": True}}
    return {"statusCode": 418, "headers": {"x-n": 7, "Content-Type": "text/plain"}, "body": "teapot"}
`,
    });
    const text = (await w.call()) as OkFrame;
    assert.deepEqual([text.status, text.headers, Buffer.from(text.body).toString()], [418, { 'x-n': '7', 'Content-Type': 'text/plain' }, 'teapot']);
    const obj = (await w.call({ query: { q: 'obj' } })) as OkFrame;
    assert.deepEqual([obj.status, obj.headers, Buffer.from(obj.body).toString()], [201, { 'content-type': 'application/json' }, '{"created":true}']);
    await w.stop();
  });

  test('sandbox - a python binary body travels base64 in and bytes out, both ways', async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 0x92, 0xc1]);
    const w = await ready('python', {
      'handler.py': `import base64
def handler(e):
    got = base64.b64decode(e["body"])
    if e["query"]["q"] == "raw":
        return got
    return {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(got[::-1]).decode()}
`,
    });
    const aws = (await w.call({ body: bytes.toString('base64'), isBase64Encoded: true })) as OkFrame;
    assert.deepEqual(Buffer.from(aws.body), Buffer.from(bytes).reverse());
    const raw = (await w.call({ body: bytes.toString('base64'), isBase64Encoded: true, query: { q: 'raw' } })) as OkFrame;
    assert.deepEqual([Buffer.from(raw.body), raw.headers['content-type']], [bytes, 'application/octet-stream']);
    await w.stop();
  });

  test('sandbox - a python handler that raises gives an error frame and the worker answers the next call', async () => {
    const w = await ready('python', {
      'handler.py': `n = 0
def handler(e):
    global n
    n += 1
    if e["query"]["q"] == "raise":
        print("before")
        raise ValueError(f"bad input {n}")
    return {"n": n}
`,
    });
    const err = (await w.call({ query: { q: 'raise' } })) as ErrorFrame;
    assert.deepEqual([err.type, err.name, err.message, err.logs], ['error', 'ValueError', 'bad input 1', 'before\n']);
    assert.match(err.stack, /handler\.py", line 7/);
    assert.deepEqual(await w.json(), { n: 2 });
    await w.stop();
  });

  test('sandbox - python output lands in logs and never breaks the framing', async () => {
    const fake = encodeFrame({ type: 'ok', id: '1', status: 200, headers: {}, body: Buffer.from('forged'), logs: '' });
    const w = await ready('python', {
      'handler.py': `import sys, os, base64, logging
print("loading")
log = logging.getLogger("fn")
logging.basicConfig(level=logging.INFO, format="%(message)s")
def handler(e):
    print("one", {"a": 1})
    print("two", file=sys.stderr)
    sys.stdout.write(base64.b64decode(e["body"]).decode("latin-1"))
    log.info("three")
    os.write(1, base64.b64decode(e["body"]))
    if e["query"]["q"] == "lots":
        for i in range(20000):
            print(f"line {i} " + "x" * 20)
    return "done"
`,
    });
    const f = (await w.call({ body: fake.toString('base64') })) as OkFrame;
    assert.equal(Buffer.from(f.body).toString(), '"done"');
    assert.equal(f.logs, `one {'a': 1}\ntwo\n${fake.toString('latin1')}three\n`);
    const lots = (await w.call({ body: fake.toString('base64'), query: { q: 'lots' } })) as OkFrame;
    assert.equal(lots.type, 'ok');
    assert.ok(Buffer.byteLength(lots.logs) <= 256 * 1024 + 100, `logs are ${lots.logs.length} long`);
    assert.match(lots.logs, /logs truncated at 256 KiB/);
    assert.match(w.proc.outputTail, /loading\n/);
    await w.stop();
  });

  test('sandbox - python sees ORVA_EXECUTION_ID per call, only the spec env, and its deps from /code/.deps', async () => {
    const w = await ready('python', {
      '.deps/greeter.py': 'def greet(n):\n    return "hi " + n\n',
      'handler.py': 'import os\nfrom greeter import greet\ndef handler(e):\n    return {"id": os.environ["ORVA_EXECUTION_ID"], "env": dict(os.environ), "msg": greet("x")}\n',
    });
    const a = (await w.json({}, 'exec-a')) as { id: string; env: Record<string, string>; msg: string };
    const b = (await w.json({}, 'exec-b')) as { id: string };
    assert.deepEqual([a.id, b.id, a.msg], ['exec-a', 'exec-b', 'hi x']);
    assert.deepEqual(Object.keys(a.env).sort(), ['GREETING', 'ORVA_EXECUTION_ID', 'ORVA_FUNCTION_ID', 'PWD']);
    await w.stop();
  });
});

describe('sandbox - isolation and lifecycle', () => {
  test('sandbox - code is read-only, host files are absent, uid is not 0, only lo exists, pid 1 shows nothing of the host', async () => {
    const probe = `const fs = require('fs'), os = require('os');
      const attempt = (f) => { try { return String(f()); } catch (e) { return e.code; } };
      exports.handler = () => ({
        writeCode: attempt(() => fs.writeFileSync('/code/x', 'x')),
        writeTmp: attempt(() => fs.writeFileSync('/tmp/x', 'x')),
        shadow: attempt(() => fs.readFileSync('/etc/shadow')),
        root: attempt(() => fs.readdirSync('/root')),
        work: attempt(() => fs.readdirSync('/work')),
        home: attempt(() => fs.readdirSync('/home')),
        varDir: attempt(() => fs.readdirSync('/var')),
        top: fs.readdirSync('/').sort(),
        uid: process.getuid(), gid: process.getgid(),
        ifaces: Object.keys(os.networkInterfaces()),
        environ1: fs.readFileSync('/proc/1/environ', 'latin1'),
        cmdline1: fs.readFileSync('/proc/1/cmdline', 'latin1'),
        pids: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).length,
        hostname: os.hostname(),
      });`;
    const dir = codeDir({ 'handler.js': probe });
    const { w, first } = await firstFrame(() => new TestWorker(spec('node', dir, { env: { SECRET_TOKEN: 's3cret-value' } })));
    assert.equal(first?.type, 'ready');
    const r = (await w.json()) as Record<string, unknown>;
    await w.stop();
    assert.equal(r.writeCode, 'EROFS');
    assert.equal(r.writeTmp, 'undefined');
    assert.deepEqual([r.shadow, r.root, r.work, r.home, r.varDir], ['ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'ENOENT']);
    assert.deepEqual(r.top, ['bin', 'code', 'dev', 'etc', 'lib', 'lib64', 'orva', 'proc', 'tmp', 'usr']);
    assert.deepEqual([r.uid, r.gid], [65534, 65534]);
    assert.deepEqual(r.ifaces, ['lo']);
    // The worker is pid 1 (bwrap --as-pid-1): /proc/1 holds its own environment, nothing of the host's.
    assert.equal(r.environ1, 'SECRET_TOKEN=s3cret-value\0PWD=/code\0');
    assert.doesNotMatch(String(r.cmdline1), /s3cret|SECRET_TOKEN|orva-sandbox-test/);
    assert.equal(r.pids, 1);
    assert.equal(r.hostname, 'orva');
  });

  test('sandbox - workers of both runtimes run SCHED_BATCH, so waking one never preempts the node', async () => {
    // Field 41 of /proc/self/stat is the scheduling policy; SCHED_BATCH is 3.
    const node = await ready('node', { 'handler.js': `exports.handler = () => Number(require('fs').readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[38]);` });
    const py = await ready('python', { 'handler.py': 'import os\ndef handler(event):\n    return os.sched_getscheduler(0) == os.SCHED_BATCH\n' });
    assert.equal(await node.json(), 3);
    assert.equal(await py.json(), true);
    await Promise.all([node.stop(), py.stop()]);
  });

  test('sandbox - a warm worker of either runtime does not grow with the execution ids it is given', async () => {
    // Setting the id with setenv(3) left every value behind in glibc (~100 bytes a call): 25,000
    // calls grew a worker by ~2.5 MiB, and millions ended in an out-of-memory kill.
    // Node: resident memory outside the JS heap, whose own size moves by megabytes with garbage collection.
    const rssNode = `exports.handler = () => { const m = process.memoryUsage(); return m.rss - m.heapTotal; };`;
    const rssPy = 'def handler(event):\n    with open("/proc/self/statm") as f:\n        return int(f.read().split()[1]) * 4096\n';
    const workers = [await ready('node', { 'handler.js': rssNode }), await ready('python', { 'handler.py': rssPy })];
    await Promise.all(workers.map(async (w, n) => {
      const id = (i: number) => `019ace5f-0000-7000-8000-${String(i).padStart(12, '0')}`;
      let before = 0;
      for (let i = 0; i < 30_000; i++) {
        const rss = (await w.json({}, id(i))) as number;
        if (i === 5_000) before = rss;
        if (i === 29_999) assert.ok(rss - before < 1024 * 1024, `${['node', 'python'][n]} grew ${rss - before} bytes over 25,000 calls`);
      }
    }));
    await Promise.all(workers.map((w) => w.stop()));
  });

  test('sandbox - the sandbox host command line carries no env values', async () => {
    const w = await ready('node', { 'handler.js': 'exports.handler = () => 1;' }, { env: { SECRET_TOKEN: 's3cret-value' } });
    const cmdline = readFileSync(`/proc/${w.proc.pid}/cmdline`, 'latin1');
    assert.match(cmdline, /^\/usr\/bin\/bwrap\0--args\0\d+\0--\0\/usr\/bin\/node/);
    assert.doesNotMatch(cmdline, /s3cret/);
    await w.stop();
  });

  test('sandbox - a node syntax error gives a load-error frame and the worker exits non-zero', async () => {
    const { w, first: f } = await firstFrame(() => new TestWorker(spec('node', codeDir({ 'handler.js': 'exports.handler = (e) => {' }))));
    assert.deepEqual([f.type, f.type === 'load-error' && f.name], ['load-error', 'SyntaxError']);
    const { code } = await w.exit;
    assert.notEqual(code, 0);
  });

  test('sandbox - a node module without a handler gives a load-error frame', async () => {
    const { w, first: f } = await firstFrame(() => new TestWorker(spec('node', codeDir({ 'handler.js': 'exports.other = 1;' }))));
    assert.equal(f.type, 'load-error');
    assert.match((f as { message: string }).message, /exports no handler/);
    assert.notEqual((await w.exit).code, 0);
  });

  test('sandbox - a python syntax error gives a load-error frame and the worker exits non-zero', async () => {
    const { w, first: f } = await firstFrame(() => new TestWorker(spec('python', codeDir({ 'handler.py': 'def handler(e)\n    return 1\n' }))));
    assert.deepEqual([f.type, f.type === 'load-error' && f.name], ['load-error', 'SyntaxError']);
    assert.notEqual((await w.exit).code, 0);
  });

  test('sandbox - kill ends the worker and everything it started, and onExit fires once', async () => {
    const mark = marker();
    const w = await ready('node', {
      [`${mark}.js`]: `const { spawn } = require('child_process');
        exports.handler = () => { spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${mark}-child'], { stdio: 'ignore' }); return 'spawned'; };`,
    }, { entrypoint: `${mark}.js` });
    assert.equal(await w.json(), 'spawned');
    assert.ok(pgrep(`${mark}-child`), 'the grandchild runs');
    let exits = 0;
    w.proc.onExit(() => exits++);
    w.proc.kill();
    w.proc.kill();
    assert.deepEqual(await w.exit, { code: null, signal: 'SIGKILL' });
    assert.equal(exits, 1);
    w.proc.send({ type: 'invoke', id: 'late', executionId: 'x', event: EVENT }); // a no-op once gone
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pgrep(mark), '');
  });

  test('sandbox - a worker writing garbage to its frame channel is killed as a protocol violation', async () => {
    const w = await ready('node', {
      'handler.js': `const fs = require('fs');
        exports.handler = () => { fs.writeSync(4, Buffer.from([0, 0, 0, 2, 0x92, 0x01])); return new Promise(() => {}); };`, // an array of 2 holding 1
    });
    w.proc.send({ type: 'invoke', id: '1', executionId: 'x', event: EVENT });
    assert.deepEqual(await w.exit, { code: null, signal: 'SIGKILL' });
    assert.match(w.proc.protocolError ?? '', /undecodable/);
  });

  test('sandbox - a worker sending a well-encoded frame of the wrong shape is killed as a protocol violation', async () => {
    const w = await ready('node', {
      'handler.js': `const fs = require('fs');
        exports.handler = () => { fs.writeSync(4, Buffer.from([0, 0, 0, 3, 0x81, 0xa0, 0xc0])); return new Promise(() => {}); };`, // { "": null }
    });
    w.proc.send({ type: 'invoke', id: '1', executionId: 'x', event: EVENT });
    assert.deepEqual(await w.exit, { code: null, signal: 'SIGKILL' });
    assert.match(w.proc.protocolError ?? '', /invalid frame/);
  });

  test('sandbox - an unsafe spec is refused before anything starts', () => {
    const dir = codeDir({ 'handler.js': '' });
    assert.throws(() => driver.spawn(spec('node', dir, { env: { A: 'x\0--bind\0/\0/host' } })), /NUL/);
    assert.throws(() => driver.spawn(spec('node', dir, { env: { 'A=B': 'x' } })), /env var name/);
    for (const entrypoint of ['../etc/passwd', '/etc/passwd', 'a/../../b.js', './handler.js', ''])
      assert.throws(() => driver.spawn(spec('node', dir, { entrypoint })), /invalid entrypoint/);
    assert.throws(() => driver.spawn(spec('node', dir, { memoryMb: 0 })), /invalid memoryMb/);
  });
});
