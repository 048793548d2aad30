/**
 * The `orva` CLI as a user runs it: its bin script as a subprocess, against a
 * real node (real nats-server, real sandbox, real builds) over loopback.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, startNode, tempDir, type NodeHandle } from '../helpers/processes.ts';

const BIN = join(ROOT, 'node/cli/orva.mjs');

let node: NodeHandle;
let home: string;
const running = new Set<ChildProcess>();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `orva ARGS` with its own config dir; `stdin` is written and closed. */
function orva(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: home,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(opts.stdin ?? '');
  return new Promise((resolve) => child.once('close', (code) => {
    running.delete(child);
    resolve({ code, stdout, stderr });
  }));
}

/** `orva ARGS -o json`, asserting success, parsed. */
async function json(args: string[], opts: { stdin?: string } = {}): Promise<any> {
  const r = await orva([...args, '-o', 'json'], opts);
  assert.equal(r.code, 0, `orva ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A folder with these files, under the test's temp dir. */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(home, name);
  mkdirSync(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  return dir;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

before(async () => {
  node = await startNode();
  home = tempDir('cli-home');
  const r = await orva(['login', node.url], { stdin: `${node.adminKey}\n` });
  assert.equal(r.code, 0, r.stderr);
});
after(() => {
  for (const c of running) c.kill('SIGKILL');
});

describe('orva CLI', () => {
  test('cli - login stores the URL and key in a 0600 file, and status reports a healthy server', async () => {
    const cfg = join(home, '.config/orva/config.json');
    assert.equal(statSync(cfg).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, '.config/orva')).mode & 0o777, 0o700);
    const s = await json(['status']);
    assert.equal(s.health, 'ok');
    assert.equal(s.url, node.url);
    assert.deepEqual(s.runtimes.map((r: any) => r.id).sort(), ['node', 'python']);
    const human = await orva(['status']);
    assert.match(human.stdout, /health:\s+ok/);
  });

  test('cli - a bad key is refused at login and elsewhere with exit 4, the message, the hint and the request id', async () => {
    const login = await orva(['login', node.url], { stdin: 'orva_not_a_key\n', env: { XDG_CONFIG_HOME: join(home, 'other-config') } });
    assert.equal(login.code, 4);
    const r = await orva(['functions', 'ls'], { env: { ORVA_API_KEY: 'orva_not_a_key' } });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /UNAUTHORIZED/);
    assert.match(r.stderr, /hint: /);
    assert.match(r.stderr, /request id: req_/);
  });

  test('cli - an unreachable URL exits 3 and says which URL it could not reach', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await orva(['functions', 'ls'], { env: { ORVA_URL: url, ORVA_API_KEY: node.adminKey } });
    assert.equal(r.code, 3);
    assert.match(r.stderr, new RegExp(`could not reach ${url.replace(/[.]/g, '\\.')}`));
  });

  test('cli - deploy of a node folder with an npm dependency creates the function, and invoke sends stdin data', async () => {
    const dir = folder('padder', {
      'package.json': JSON.stringify({ name: 'padder', dependencies: { 'left-pad': '1.3.0' } }),
      'handler.js': "const leftPad = require('left-pad');\nmodule.exports = async (event) => { console.log('padding', event.body); return { statusCode: 200, body: leftPad(event.body, 8, '*') }; };\n",
    });
    const d = await json(['deploy', dir]);
    assert.equal(d.deployment.status, 'succeeded');
    assert.equal(d.function.name, 'padder');
    assert.equal(d.function.status, 'active');
    const r = await orva(['invoke', 'padder', '-d', '-'], { stdin: 'abc' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '*****abc');
    const j = await json(['invoke', 'padder', '-d', 'xy']);
    assert.equal(j.status, 200);
    assert.equal(j.body, '******xy');
    assert.ok(j.execution_id);

    // logs: the calls, each with what it printed.
    const logs = await json(['logs', 'padder']);
    assert.ok(logs.some((e: any) => e.id === j.execution_id && e.logs.includes('padding xy')));
    const text = await orva(['logs', 'padder']);
    assert.match(text.stdout, /padding abc/);
    const execs = await json(['executions', 'padder']);
    assert.ok(execs.some((e: any) => e.id === j.execution_id));
  });

  test('cli - deploy of a python folder builds and answers', async () => {
    const dir = folder('pyhello', { 'handler.py': "def handler(event, context=None):\n    print('hello from python')\n    return {'statusCode': 200, 'body': 'py:' + (event.get('body') or '')}\n" });
    const d = await json(['deploy', dir]);
    assert.equal(d.function.runtime, 'python');
    assert.equal(d.deployment.status, 'succeeded');
    const r = await orva(['invoke', 'pyhello', '-d', '@' + join(dir, 'handler.py')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^py:def handler/);
  });

  test('cli - logs --follow prints a call made while it follows, from the events stream', async () => {
    await json(['deploy', folder('follow', { 'handler.js': "module.exports = async (e) => { console.log('seen', e.body); return 'ok'; };\n" })]);
    const child = spawn(process.execPath, [BIN, 'logs', 'follow', '--follow', '--limit', '1', '-o', 'json'], {
      cwd: home,
      env: { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: join(home, '.config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const following = new Promise<void>((resolve) => child.stderr.on('data', (c: Buffer) => (err += c.toString()).includes('following') && resolve()));
    await following;
    const call = await json(['invoke', 'follow', '-d', 'marker-42']);
    const line = await new Promise<any>((resolve) => {
      const check = () => {
        const hit = out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.id === call.execution_id);
        if (hit) resolve(hit);
      };
      check();
      child.stdout.on('data', check);
    });
    assert.match(line.logs, /seen marker-42/);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('close', r));
    assert.equal(code, 0, err);
  });

  test('cli - diff shows the change between versions and rollback brings the previous one back', async () => {
    const file = join(folder('versions', {}), 'greet.js');
    writeFileSync(file, "module.exports = async () => ({ statusCode: 200, body: 'one' });\n");
    await json(['deploy', file, '--name', 'greet']);
    writeFileSync(file, "module.exports = async () => ({ statusCode: 200, body: 'two' });\n");
    await json(['deploy', file, '--name', 'greet']);
    assert.equal((await orva(['invoke', 'greet'])).stdout, 'two');

    const diff = await orva(['diff', 'greet']);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^-module\.exports = .*'one'/m);
    assert.match(diff.stdout, /^\+module\.exports = .*'two'/m);
    assert.doesNotMatch(diff.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
    const dj = await json(['diff', 'greet']);
    assert.equal(dj.files[0].added, 1);
    assert.equal(dj.files[0].removed, 1);

    const rb = await json(['rollback', 'greet']);
    assert.equal(rb.source, 'rollback');
    assert.equal((await orva(['invoke', 'greet'])).stdout, 'one');
  });

  test('cli - secrets set reads the value from stdin; ls shows the name only; rm removes it', async () => {
    await json(['deploy', folder('secretive', { 'handler.js': 'module.exports = async () => ({ statusCode: 200, body: process.env.API_TOKEN ?? "unset" });\n' })]);
    const set = await json(['secrets', 'set', 'secretive', 'API_TOKEN'], { stdin: 's3cr3t-value\n' });
    assert.equal(set.key, 'API_TOKEN');
    assert.equal((await orva(['invoke', 'secretive'])).stdout, 's3cr3t-value');
    const ls = await json(['secrets', 'ls', 'secretive']);
    assert.deepEqual(ls.map((s: any) => s.key), ['API_TOKEN']);
    assert.ok(!JSON.stringify(ls).includes('s3cr3t'));
    assert.equal((await json(['secrets', 'rm', 'secretive', 'API_TOKEN'])).deleted, true);
    assert.equal((await orva(['invoke', 'secretive'])).stdout, 'unset');
  });

  test('cli - a failed build exits 1 and prints the tail of the build log', async () => {
    const dir = folder('broken', { 'handler.js': 'module.exports = async () => { return ( ;\n' });
    const r = await orva(['deploy', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /build of broken failed/);
    assert.match(r.stderr, /last \d+ lines of the build log/);
    assert.match(r.stderr, /SyntaxError/);
  });

  test('cli - invoke prints the status line and headers with -i and exits 1 on a 4xx/5xx answer', async () => {
    await json(['deploy', folder('teapot', { 'handler.js': "module.exports = async (e) => ({ statusCode: e.path === '/tea' ? 418 : 200, headers: { 'x-kind': 'pot' }, body: 'path ' + e.path });\n" })]);
    const ok = await orva(['invoke', 'teapot', '-i', '--path', '/coffee', '-H', 'X-Test: 1']);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^HTTP 200/);
    assert.match(ok.stdout, /^x-kind: pot$/m);
    assert.match(ok.stdout, /path \/coffee$/);
    const tea = await orva(['invoke', 'teapot', '--path', '/tea']);
    assert.equal(tea.code, 1);
    assert.equal(tea.stdout, 'path /tea');
    assert.match(tea.stderr, /HTTP 418/);
  });

  test('cli - -o json output parses for functions, routes, pool, keys and executions', async () => {
    const created = await json(['functions', 'create', 'json-fn', '--runtime', 'node', '--memory', '256', '-e', 'A=1']);
    assert.equal(created.memory_mb, 256);
    assert.deepEqual(created.env_vars, { A: '1' });
    assert.ok((await json(['functions', 'ls'])).some((f: any) => f.id === created.id));
    assert.equal((await json(['functions', 'get', 'json-fn'])).id, created.id);
    assert.equal((await json(['functions', 'get', created.id])).name, 'json-fn');
    assert.equal((await json(['functions', 'update', 'json-fn', '--timeout', '5000'])).timeout_ms, 5000);

    assert.equal((await json(['routes', 'add', '/json-route', 'json-fn', '--methods', 'GET,POST'])).methods, 'GET,POST');
    assert.ok((await json(['routes'])).some((r: any) => r.path === '/json-route'));
    assert.equal((await json(['routes', 'rm', '/json-route'])).deleted, true);

    assert.equal((await json(['pool', 'set', 'json-fn', '--min-warm', '0', '--max-warm', '4'])).max_warm, 4);
    assert.equal((await json(['pool', 'get', 'json-fn'])).max_warm, 4);

    const key = await json(['keys', 'create', 'ci', '--permissions', 'invoke,read']);
    assert.match(key.key, /^orva_/);
    assert.ok((await json(['keys'])).some((k: any) => k.id === key.id));
    assert.equal((await json(['keys', 'rm', key.id])).revoked, true);

    assert.ok(Array.isArray(await json(['executions', '--limit', '5'])));
    assert.equal((await json(['functions', 'rm', 'json-fn'])).deleted, true);
    const gone = await orva(['functions', 'get', 'json-fn']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /no function named or with id json-fn/);
  });

  test('cli - channels: create prints the token once, get lists the tools, set-functions, rotate and rm', async () => {
    const a = await json(['functions', 'create', 'tool-a', '--runtime', 'node', '--description', 'looks up an order']);
    assert.equal(a.description, 'looks up an order');
    await json(['functions', 'create', 'tool-b', '--runtime', 'node']);
    const created = await json(['channels', 'create', 'bot', '-f', 'tool-a', '-f', 'tool-b', '--description', 'support']);
    assert.match(created.token, /^orva_chn_[0-9a-f]{32}$/);
    const human = await orva(['channels', 'create', 'bot-2', '-f', 'tool-a']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout.trim(), /^orva_chn_[0-9a-f]{32}$/, 'the token alone on stdout');
    assert.match(human.stderr, /cannot be shown again/);
    assert.ok((await json(['channels', 'ls'])).some((c: any) => c.id === created.id && c.function_count === 2));
    const detail = await json(['channels', 'get', 'bot']);
    assert.deepEqual(detail.functions.map((x: any) => x.tool_name).sort(), ['tool_a', 'tool_b']);
    assert.ok(!('token' in detail));
    assert.deepEqual((await json(['channels', 'set-functions', 'bot', '-f', 'tool-b'])).function_ids, [(await json(['functions', 'get', 'tool-b'])).id]);
    assert.equal((await json(['channels', 'update', 'bot', '--name', 'bot-renamed'])).name, 'bot-renamed');
    const rotated = await json(['channels', 'rotate', 'bot-renamed']);
    assert.notEqual(rotated.token, created.token);
    assert.equal((await json(['channels', 'rm', 'bot-renamed'])).deleted, true);
    assert.equal((await json(['channels', 'rm', 'bot-2'])).deleted, true);
  });

  test('cli - usage errors exit 2 and name the problem', async () => {
    const r = await orva(['functions', 'create', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--runtime/);
  });

  test('cli - npx orva runs the checkout’s bin', async () => {
    const child = spawn('npx', ['--no', '--', 'orva', '--version'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: home } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise((r) => child.once('close', r));
    assert.equal(code, 0);
    assert.equal(out.trim(), JSON.parse((await import('node:fs')).readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});
