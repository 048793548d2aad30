import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deployed, executionIdOf, executionLogs, invoke } from '../helpers/functions.ts';
import { call, errorCode, rawHttp } from '../helpers/http.ts';
import { type NodeHandle, startNode } from '../helpers/processes.ts';

let node: NodeHandle;
before(async () => {
  node = await startNode();
});
after(async () => {
  await node.stop();
});

// Every Node handler shape returns {shape}; the test checks each answers.
const NODE_SHAPES: Record<string, string> = {
  'exports.handler async': `exports.handler = async (event) => ({ shape: 'exports-async', method: event.method });`,
  'module.exports = fn (sync)': `module.exports = (event) => ({ shape: 'module-fn', method: event.method });`,
  'module.exports = { handler }': `module.exports = { handler: async (event) => ({ shape: 'module-obj', method: event.method }) };`,
  'ESM export default': `export default async function (event) { return { shape: 'esm-default', method: event.method }; }`,
  'ESM export const handler': `export const handler = (event) => ({ shape: 'esm-const', method: event.method });`,
};

describe('invoke - node handler shapes', () => {
  for (const [name, code] of Object.entries(NODE_SHAPES)) {
    test(`invoke - a node ${name} handler answers 200 JSON`, async () => {
      const id = await deployed(node, code);
      const r = await invoke(node, id, { method: 'PUT', body: {} });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(r.json.method, 'PUT');
      assert.ok(r.json.shape);
    });
  }
});

describe('invoke - python handler shapes', () => {
  test('invoke - a python sync handler answers 200 JSON', async () => {
    const id = await deployed(node, `def handler(event):\n    return {"shape": "py-sync", "method": event["method"]}\n`, { runtime: 'python' });
    const r = await invoke(node, id, { method: 'PATCH', body: {} });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { shape: 'py-sync', method: 'PATCH' });
  });
  test('invoke - a python async def handler is awaited', async () => {
    const id = await deployed(node, `import asyncio\nasync def handler(event):\n    await asyncio.sleep(0)\n    return {"shape": "py-async"}\n`, { runtime: 'python' });
    const r = await invoke(node, id);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { shape: 'py-async' });
  });
});

const EVENT_ECHO_NODE = `exports.handler = async (e) => ({ method: e.method, httpMethod: e.httpMethod, path: e.path, rawPath: e.rawPath, headers: e.headers, query: e.query, body: e.body, isBase64Encoded: e.isBase64Encoded, env: { fid: process.env.ORVA_FUNCTION_ID, eid: process.env.ORVA_EXECUTION_ID, ep: process.env.ORVA_ENTRYPOINT, custom: process.env.GREETING } });`;
const EVENT_ECHO_PY = `import os\ndef handler(e):\n    return {"method": e["method"], "httpMethod": e["httpMethod"], "path": e["path"], "rawPath": e["rawPath"], "headers": e["headers"], "query": e["query"], "body": e["body"], "isBase64Encoded": e["isBase64Encoded"], "env": {"fid": os.environ.get("ORVA_FUNCTION_ID"), "eid": os.environ.get("ORVA_EXECUTION_ID"), "ep": os.environ.get("ORVA_ENTRYPOINT"), "custom": os.environ.get("GREETING")}}\n`;

for (const [runtime, code] of [['node', EVENT_ECHO_NODE], ['python', EVENT_ECHO_PY]] as const) {
  test(`invoke - a ${runtime} handler sees the whole event and its env, but never the caller's credentials`, async () => {
    const id = await deployed(node, code, { runtime, env_vars: { GREETING: 'hi' } });
    const r = await invoke(node, id, { method: 'POST', path: '/a/b?x=1&y=two', rawBody: 'hello body', headers: { 'X-Custom': 'Yes', cookie: 'session_token=secret; theme=dark' } });
    assert.equal(r.status, 200, r.text);
    const e = r.json;
    assert.equal(e.method, 'POST');
    assert.equal(e.httpMethod, 'POST');
    assert.equal(e.path, '/a/b');
    assert.equal(e.rawPath, `/fn/${id}/a/b`);
    assert.deepEqual(e.query, { x: '1', y: 'two' });
    assert.equal(e.body, 'hello body');
    assert.equal(e.isBase64Encoded, false);
    assert.equal(e.headers['x-custom'], 'Yes');
    assert.equal(e.headers['x-orva-function-id'], id);
    assert.equal(e.headers['x-orva-execution-id'], r.headers.get('x-orva-execution-id'));
    assert.equal(e.headers['x-orva-api-key'], undefined, 'the API key must not reach the handler');
    assert.equal(e.headers.cookie, 'theme=dark', 'the session cookie must not reach the handler');
    assert.equal(e.env.fid, id);
    assert.equal(e.env.eid, r.headers.get('x-orva-execution-id'));
    assert.equal(e.env.ep, runtime === 'node' ? 'handler.js' : 'handler.py');
    assert.equal(e.env.custom, 'hi');
  });

  test(`invoke - a ${runtime} handler gets repeated headers and query keys joined, and names like constructor, toString or __proto__ as plain data`, async () => {
    const id = await deployed(node, code, { runtime });
    const r = await rawHttp(
      Number(new URL(node.url).port),
      [
        `GET /fn/${id}/q?constructor=1&toString=2&__proto__=3&x=a&x=b HTTP/1.1`,
        'Host: orva.test',
        `X-Orva-API-Key: ${node.adminKey}`,
        'X-Dup: one',
        'X-Dup: two',
        'Constructor: c',
        'Cookie: a=1',
        'Cookie: b=2',
        'Connection: close',
        '',
        '',
      ].join('\r\n'),
    );
    assert.equal(r.status, 200, r.text);
    const { query, headers } = r.json;
    for (const [k, v] of Object.entries({ constructor: '1', toString: '2', ['__proto__']: '3', x: 'a,b' })) assert.equal(Object.hasOwn(query, k) && query[k], v, `query ${k}`);
    for (const [k, v] of Object.entries({ 'x-dup': 'one, two', constructor: 'c', cookie: 'a=1; b=2' })) assert.equal(Object.hasOwn(headers, k) && headers[k], v, `header ${k}`);
  });

  test(`invoke - a ${runtime} handler's AWS-shaped response sets status, headers and a binary body both ways`, async () => {
    const src =
      runtime === 'node'
        ? `exports.handler = async (e) => { const input = Buffer.from(e.body, e.isBase64Encoded ? 'base64' : 'utf8'); return { statusCode: 201, headers: { 'X-Len': String(input.length), 'Content-Type': 'application/octet-stream' }, body: Buffer.from(input.map((b) => 255 - b)).toString('base64'), isBase64Encoded: true }; };`
        : `import base64\ndef handler(e):\n    data = base64.b64decode(e["body"]) if e["isBase64Encoded"] else e["body"].encode()\n    return {"statusCode": 201, "headers": {"X-Len": str(len(data)), "Content-Type": "application/octet-stream"}, "body": base64.b64encode(bytes(255 - b for b in data)).decode(), "isBase64Encoded": True}\n`;
    const id = await deployed(node, src, { runtime });
    const input = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0xc3]);
    const res = await fetch(`${node.url}/fn/${id}`, { method: 'POST', headers: { 'x-orva-api-key': node.adminKey, 'content-type': 'application/octet-stream' }, body: input });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-len'), String(input.length));
    const out = Buffer.from(await res.arrayBuffer());
    assert.deepEqual([...out], [...input].map((b) => 255 - b));
  });

  test(`invoke - a throwing ${runtime} handler gives 500 with the envelope, and the stack lands only in the execution's logs`, async () => {
    const src = runtime === 'node' ? `exports.handler = async () => { console.log('before the throw'); throw new Error('boom secret detail'); };` : `def handler(e):\n    print("before the throw")\n    raise ValueError("boom secret detail")\n`;
    const id = await deployed(node, src, { runtime });
    const r = await invoke(node, id);
    assert.equal(r.status, 500);
    assert.equal(r.json.error.code, 'FUNCTION_ERROR');
    assert.doesNotMatch(r.text, /boom secret detail/);
    const execId = r.json.error.details.execution_id;
    const logs = await executionLogs(node, execId);
    assert.match(logs.logs, /before the throw/);
    assert.match(logs.logs, /boom secret detail/);
    const exec = await call(node.url, 'GET', `/api/v1/executions/${execId}`, { key: node.adminKey });
    assert.equal(exec.json.status, 'failed');
    assert.equal(exec.json.http_status, 500);
    assert.equal(exec.json.error_code, 'FUNCTION_ERROR');
    assert.equal(exec.json.fault, 'function');
  });

  test(`invoke - what a ${runtime} handler prints lands in that execution's logs`, async () => {
    const src = runtime === 'node' ? `exports.handler = async (e) => { console.log('out-' + e.body); console.error('err-' + e.body); process.stdout.write('raw-' + e.body + '\\n'); return 'ok'; };` : `import sys\ndef handler(e):\n    print("out-" + e["body"])\n    print("err-" + e["body"], file=sys.stderr)\n    sys.stdout.write("raw-" + e["body"] + "\\n")\n    return "ok"\n`;
    const id = await deployed(node, src, { runtime });
    const ids: string[] = [];
    for (const tag of ['one', 'two']) {
      const r = await invoke(node, id, { rawBody: tag });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json, 'ok');
      ids.push(r.headers.get('x-orva-execution-id')!);
    }
    for (const [i, tag] of ['one', 'two'].entries()) {
      const logs = (await executionLogs(node, ids[i])).logs;
      assert.match(logs, new RegExp(`out-${tag}`));
      assert.match(logs, new RegExp(`err-${tag}`));
      assert.match(logs, new RegExp(`raw-${tag}`));
      assert.doesNotMatch(logs, new RegExp(tag === 'one' ? 'two' : 'one'), 'logs are per invocation');
    }
  });

  test(`invoke - what a ${runtime} handler writes past its runtime (fd 1/2 directly, a child process) lands in that execution's logs`, async () => {
    const src =
      runtime === 'node'
        ? `const { writeSync } = require('node:fs');\nconst { execFileSync } = require('node:child_process');\nexports.handler = (e) => { writeSync(1, 'fd1-' + e.body + '\\n'); writeSync(2, 'fd2-' + e.body + '\\n'); execFileSync(process.execPath, ['-e', 'console.log("child-" + process.argv[1])', e.body], { stdio: 'inherit' }); return 'ok'; };`
        : `import os, subprocess, sys\ndef handler(e):\n    os.write(1, ("fd1-" + e["body"] + "\\n").encode())\n    os.write(2, ("fd2-" + e["body"] + "\\n").encode())\n    subprocess.run([sys.executable, "-S", "-c", "import sys; print('child-' + sys.argv[1])", e["body"]], check=True)\n    return "ok"\n`;
    const id = await deployed(node, src, { runtime, memory_mb: 256 });
    const ids: string[] = [];
    for (const tag of ['one', 'two']) {
      const r = await invoke(node, id, { rawBody: tag });
      assert.equal(r.status, 200, r.text);
      ids.push(r.headers.get('x-orva-execution-id')!);
    }
    for (const [i, tag] of ['one', 'two'].entries()) {
      const logs = (await executionLogs(node, ids[i])).logs;
      for (const what of ['fd1', 'fd2', 'child']) assert.match(logs, new RegExp(`${what}-${tag}\n`));
      assert.doesNotMatch(logs, new RegExp(tag === 'one' ? 'two' : 'one'), 'logs are per invocation');
    }
  });

  test(`invoke - a child process a ${runtime} handler starts inherits the call's ORVA_EXECUTION_ID, also after the handler removed it`, async () => {
    const src =
      runtime === 'node'
        ? `const { execFileSync } = require('node:child_process');\nexports.handler = (e) => { const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(process.env.ORVA_EXECUTION_ID)']).toString(); if (e.query.drop) delete process.env.ORVA_EXECUTION_ID; return { child }; };`
        : `import os, subprocess, sys\ndef handler(e):\n    child = subprocess.run([sys.executable, "-S", "-c", "import os; print(os.environ['ORVA_EXECUTION_ID'], end='')"], capture_output=True, text=True, check=True).stdout\n    if e["query"].get("drop"):\n        del os.environ["ORVA_EXECUTION_ID"]\n    return {"child": child}\n`;
    const id = await deployed(node, src, { runtime, memory_mb: 256 });
    for (const path of ['/', '/?drop=1', '/', '/']) {
      const r = await invoke(node, id, { path });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.child, r.headers.get('x-orva-execution-id'));
    }
  });

  test(`invoke - a ${runtime} handler gets a body of several MiB whole, call after call`, async () => {
    const src = runtime === 'node' ? `exports.handler = (e) => ({ n: e.body.length, head: e.body.slice(0, 3), tail: e.body.slice(-3) });` : `def handler(e):\n    b = e["body"]\n    return {"n": len(b), "head": b[:3], "tail": b[-3:]}\n`;
    const id = await deployed(node, src, { runtime });
    for (const size of [3 * 1024 * 1024, 70_000, 5]) {
      const body = `<${'x'.repeat(size - 2)}>`;
      const r = await invoke(node, id, { rawBody: body });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { n: size, head: body.slice(0, 3), tail: body.slice(-3) });
    }
  });
}

test('invoke - what a node call queues (a nextTick, a resolved promise) runs before the worker waits for the next call', async () => {
  const id = await deployed(node, `let ticks = 0; let thens = 0; exports.handler = () => { const seen = { ticks, thens }; process.nextTick(() => ticks++); Promise.resolve().then(() => thens++); return seen; };`);
  assert.deepEqual((await invoke(node, id)).json, { ticks: 0, thens: 0 });
  assert.deepEqual((await invoke(node, id)).json, { ticks: 1, thens: 1 });
});

test('invoke - a node worker is paused between calls: an interval a call started makes no progress while no call is in flight, and runs again during the next', async () => {
  const id = await deployed(node, `let ticks = 0; let timer = null; exports.handler = async (e) => { timer ??= setInterval(() => ticks++, 5); if (e.query.wait) await new Promise((r) => setTimeout(r, 100)); return { ticks }; };`);
  assert.equal((await invoke(node, id)).json.ticks, 0);
  await new Promise((r) => setTimeout(r, 300));
  // Running between calls, the interval would have ticked ~60 times by now.
  const idle = (await invoke(node, id)).json.ticks;
  assert.ok(idle <= 1, `the interval ran ${idle} times while the worker was idle`);
  const during = (await invoke(node, id, { path: '/?wait=1' })).json.ticks;
  assert.ok(during - idle >= 3, `the interval ran ${during - idle} times during a 100 ms call`);
});

test('invoke - a JSON body is always JSON: NaN and Infinity fail a python call with 500 FUNCTION_ERROR, and a node one answers null as JSON.stringify does', async () => {
  const py = await deployed(node, `def handler(e):\n    return {"score": float(e["body"])}\n`, { runtime: 'python' });
  for (const value of ['nan', 'inf', '-inf']) {
    const r = await invoke(node, py, { rawBody: value });
    assert.equal(r.status, 500, `${value}: ${r.text}`);
    assert.equal(errorCode(r), 'FUNCTION_ERROR');
    const { logs } = await executionLogs(node, executionIdOf(r));
    assert.match(logs, /not JSON compliant/);
  }
  const ok = await invoke(node, py, { rawBody: '1.5' });
  assert.deepEqual([ok.status, ok.json], [200, { score: 1.5 }]);
  const js = await deployed(node, `exports.handler = async (e) => ({ score: Number(e.body) / 0 - Infinity });`);
  const r = await invoke(node, js, { rawBody: '1' });
  assert.deepEqual([r.status, r.text], [200, '{"score":null}']);
});

test('invoke - HEAD gets the status and headers without a body, an error too, and the connection serves on', async () => {
  const id = await deployed(node, `exports.handler = async () => 'x'.repeat(10);`, { auth_mode: 'none' });
  const { connect } = await import('node:net');
  const sock = connect(node.port, '127.0.0.1');
  let raw = '';
  sock.on('data', (d) => (raw += d));
  const answer = async (request: string, done: RegExp) => {
    raw = '';
    sock.write(request);
    while (!done.test(raw)) await new Promise((r) => setTimeout(r, 20));
    return raw;
  };
  // One request at a time on one connection: a body after a HEAD answer would be read as the start of the next response.
  assert.match(await answer(`HEAD /fn/${id} HTTP/1.1\r\nHost: x\r\n\r\n`, /\r\n\r\n/), /^HTTP\/1\.1 200 [^]*x-orva-execution-id: [^]*\r\n\r\n$/);
  assert.match(await answer(`GET /api/v1/system/health HTTP/1.1\r\nHost: x\r\n\r\n`, /\{"status":"ok"\}/), /^HTTP\/1\.1 200 [^]*\r\n\r\n\{"status":"ok"\}$/);
  assert.match(await answer(`HEAD /fn/no-such-function HTTP/1.1\r\nHost: x\r\n\r\n`, /\r\n\r\n/), /^HTTP\/1\.1 404 [^]*\r\n\r\n$/);
  assert.match(await answer(`GET /api/v1/system/health HTTP/1.1\r\nHost: x\r\n\r\n`, /\{"status":"ok"\}/), /^HTTP\/1\.1 200 [^]*\r\n\r\n\{"status":"ok"\}$/, 'no stray error body before it');
  sock.destroy();
});

const TOO_LARGE = {
  node: `const worker = Math.random(); exports.handler = (e) => { if (e.body === 'big') return { statusCode: 200, body: Buffer.alloc(17 * 1024 * 1024, 97) }; if (e.body === 'throw') throw new Error('x'.repeat(17 * 1024 * 1024)); return { worker }; };`,
  python: `import random\nworker = random.random()\ndef handler(e):\n    if e['body'] == 'big':\n        return {'statusCode': 200, 'body': 'a' * (17 * 1024 * 1024)}\n    if e['body'] == 'throw':\n        raise ValueError('x' * (17 * 1024 * 1024))\n    return {'worker': worker}\n`,
};
for (const runtime of ['node', 'python'] as const) {
  test(`invoke - a ${runtime} answer or error over 16 MiB fails its call with 500 FUNCTION_ERROR and the worker keeps serving`, async () => {
    const id = await deployed(node, TOO_LARGE[runtime], { runtime, memory_mb: 256 });
    const worker = (await invoke(node, id, { rawBody: 'small' })).json.worker;
    for (const body of ['big', 'throw']) {
      const r = await invoke(node, id, { rawBody: body });
      assert.equal(r.status, 500, r.text.slice(0, 200));
      assert.equal(errorCode(r), 'FUNCTION_ERROR');
      const { logs } = await executionLogs(node, executionIdOf(r));
      assert.match(logs, /over the 16777216 a call may return/);
    }
    const after = await invoke(node, id, { rawBody: 'small' });
    assert.equal(after.status, 200);
    assert.equal(after.json.worker, worker, 'the same worker served on');
  });
}

test("invoke - a call's stdout/stderr output is capped in its logs, and the worker keeps serving", async () => {
  const id = await deployed(node, `const { writeSync } = require('node:fs'); exports.handler = () => { const line = 'y'.repeat(1023) + '\\n'; for (let i = 0; i < 1024; i++) writeSync(1, line); return 'done'; };`);
  for (let i = 0; i < 2; i++) {
    const r = await invoke(node, id);
    assert.equal(r.status, 200, r.text);
    const { logs } = await executionLogs(node, executionIdOf(r));
    assert.ok(logs.endsWith('[orva: output truncated]\n'), logs.slice(-80));
    assert.equal(logs.length, 256 * 1024 + '\n[orva: output truncated]\n'.length);
  }
});

test('invoke - the execution record carries status, duration, cold_start, node and sizes', async () => {
  const id = await deployed(node, `exports.handler = async () => 'x'.repeat(10);`);
  const first = await invoke(node, id, { rawBody: 'abc' });
  const second = await invoke(node, id, { rawBody: 'abcd' });
  const e1 = (await call(node.url, 'GET', `/api/v1/executions/${first.headers.get('x-orva-execution-id')}`, { key: node.adminKey })).json;
  const e2 = (await call(node.url, 'GET', `/api/v1/executions/${second.headers.get('x-orva-execution-id')}`, { key: node.adminKey })).json;
  assert.equal(e1.status, 'succeeded');
  assert.equal(e1.http_status, 200);
  assert.equal(e1.cold_start, true);
  assert.equal(e2.cold_start, false);
  assert.equal(e1.function_id, id);
  assert.equal(e1.request_bytes, 3);
  assert.equal(e2.request_bytes, 4);
  assert.equal(e1.response_bytes, 12);
  assert.ok(e1.duration_ms > 0);
  assert.ok(e1.node);
  const list = await call(node.url, 'GET', `/api/v1/executions?function_id=${id}&limit=1`, { key: node.adminKey });
  assert.equal(list.json.executions.length, 1);
  assert.equal(list.json.executions[0].id, e2.id, 'newest first');
});
