/**
 * Restart at scale: how long a node with many functions takes to serve again,
 * how long a new node takes to join from the snapshot, and what the
 * in-memory function registry costs per function.
 *
 *   node --import tsx ops/bench/restart.ts [--functions 10000] [--deployed 300] [--timeout-s 600]
 *
 *  1. Starts a node (embedded NATS, as `npm start` does), creates `functions`
 *     functions through the API and deploys `deployed` of them (dependency-free
 *     handlers), then stops it gracefully.
 *  2. Starts it again on the same data dir: the time from spawn to the first
 *     200 of /system/health, to the first answer of a deployed function (a
 *     cold start included), and until every deployed function has answered
 *     once; checks the list holds every function.
 *  3. Starts a second node with an empty data dir on the first one's NATS: it
 *     restores the newest metadata snapshot and tails the log. Time from spawn
 *     to health, and to its first answer of a deployed function (which it
 *     fetches from the object store).
 *  4. Loads the registry from a copy of the node's SQLite file in this
 *     process: heap bytes per function, and the load time.
 *
 * Bounded: at most 20,000 functions and 1,000 deployed, and the timeout; every
 * process it started is killed at the end or on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FunctionRegistry } from '../../node/registry.ts';
import { Store } from '../../node/store/store.ts';
import { freePort } from './free-port.ts';
import { startScriptFlags } from './node-flags.ts';
import { boundedInt } from './args.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const { values: args } = parseArgs({
  options: {
    functions: { type: 'string', default: '10000' },
    deployed: { type: 'string', default: '300' },
    'timeout-s': { type: 'string', default: '600' },
  },
});
const FUNCTIONS = boundedInt('functions', args.functions, 1, 20_000);
const DEPLOYED = boundedInt('deployed', args.deployed, 1, Math.min(1000, FUNCTIONS));
const DEADLINE = Date.now() + boundedInt('timeout-s', args['timeout-s'], 30, 3600) * 1000;
const CODE = "exports.handler = async () => ({ hello: 'world' });\n";


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function checkDeadline(what: string): void {
  if (Date.now() > DEADLINE) throw new Error(`timed out during: ${what}`);
}


const work = mkdtempSync(join(tmpdir(), 'orva-restart-'));
const nodes = new Set<ChildProcess>();
function cleanup(): void {
  // Each node leads its own process group: this reaches nats-server and sandboxes too.
  for (const n of nodes) {
    try {
      process.kill(-n.pid!, 'SIGKILL');
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

interface Node {
  proc: ChildProcess;
  url: string;
  dataDir: string;
  spawnedAt: number;
  /** ms from spawn to the first 200 of /system/health. */
  healthyMs: number;
  output(): string;
}

async function startNode(name: string, env: Record<string, string> = {}): Promise<Node> {
  const dataDir = join(work, name);
  const port = await freePort();
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, [...startScriptFlags(), '--import', 'tsx', join(ROOT, 'node/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ORVA_DATA_DIR: dataDir, ORVA_HOST: '127.0.0.1', ORVA_PORT: String(port), ORVA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  nodes.add(proc);
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited ${proc.exitCode ?? proc.signalCode}:\n${out.slice(-4000)}`);
    checkDeadline(`${name} start`);
    try {
      if ((await fetch(`${url}/api/v1/system/health`)).ok) break;
    } catch {}
    await sleep(10);
  }
  return { proc, url, dataDir, spawnedAt, healthyMs: performance.now() - spawnedAt, output: () => out };
}

/** The node's start-up log lines, up to "listening", as ms after the spawn (the node's clock and this one are the same machine's). */
function startTimeline(n: Node): string {
  const spawnedAtMs = performance.timeOrigin + n.spawnedAt;
  const marks: string[] = [];
  for (const line of n.output().split('\n')) {
    let rec: { time?: number; msg?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (rec.time === undefined || rec.msg === undefined) continue;
    marks.push(`${Math.round(rec.time - spawnedAtMs)} ${rec.msg}`);
    if (rec.msg === 'orva node listening') break;
  }
  return marks.join('; ');
}

async function stopNode(n: Node): Promise<void> {
  const exited = new Promise((r) => n.proc.once('exit', r));
  n.proc.kill('SIGTERM');
  await exited;
  nodes.delete(n.proc);
}

let key = '';
async function api(n: Node, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${n.url}${path}`, {
    method,
    headers: { 'x-orva-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, json };
}

async function eachLimited<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Every function a node lists, following the pages. */
async function listAll(n: Node): Promise<any[]> {
  const out: any[] = [];
  for (let cursor: string | null = null; ; ) {
    const page: { status: number; json: any } = await api(n, 'GET', `/api/v1/functions?limit=10000${cursor ? `&cursor=${cursor}` : ''}`);
    if (page.status !== 200) throw new Error(`list: ${page.status} ${JSON.stringify(page.json)}`);
    out.push(...page.json.functions);
    cursor = page.json.next_cursor ?? null;
    if (cursor === null) return out;
  }
}

/**
 * ms from `since` until the function answers 200 (503 while the node catches up is retried), or
 * 'memory' when the node refuses it a worker for its memory budget (which holds about 100 workers of
 * 128 MB functions per 24 GB; idle workers of other functions are not evicted for it).
 */
async function firstAnswer(n: Node, fn: string, since: number): Promise<number | 'memory'> {
  for (;;) {
    checkDeadline('first answer');
    const r = await api(n, 'POST', `/fn/${fn}`, {});
    if (r.status === 200) return performance.now() - since;
    if (r.json?.error?.code === 'MEMORY_EXHAUSTED') return 'memory';
    if (r.status !== 503 && r.status !== 404) throw new Error(`invoke ${fn}: ${r.status} ${JSON.stringify(r.json)}`);
    await sleep(5);
  }
}

function heapPerFunction(dbFile: string): { bytes: number; loadMs: number; count: number } {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const store = new Store(dbFile);
  try {
    // Warm the statements and the code paths so that only the entries are counted.
    new FunctionRegistry(store);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const t = performance.now();
    const registry = new FunctionRegistry(store);
    const loadMs = performance.now() - t;
    gc();
    gc();
    const bytes = process.memoryUsage().heapUsed - before;
    const count = [...registry.all()].length;
    return { bytes: bytes / count, loadMs, count };
  } finally {
    store.close();
  }
}

async function main(): Promise<void> {
  const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  let a = await startNode('a');
  key = readFileSync(join(a.dataDir, 'admin.key'), 'utf8').trim();
  console.log(`fresh node healthy after ${fmt(a.healthyMs)}`);

  const t0 = performance.now();
  const ids: string[] = [];
  await eachLimited(Array.from({ length: FUNCTIONS }, (_, i) => i), 16, async (i) => {
    checkDeadline('creating functions');
    const r = await api(a, 'POST', '/api/v1/functions', { name: `scale-${i}`, runtime: 'node' });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    ids.push(r.json.id);
  });
  console.log(`created ${FUNCTIONS} functions in ${fmt(performance.now() - t0)}`);

  const t1 = performance.now();
  const deployedIds = ids.slice(0, DEPLOYED);
  await eachLimited(deployedIds, 16, async (fn) => {
    for (;;) {
      checkDeadline('deploying');
      const r = await api(a, 'POST', `/api/v1/functions/${fn}/deploy-inline`, { code: CODE });
      if (r.status === 202) return;
      if (r.status !== 503) throw new Error(`deploy: ${r.status} ${JSON.stringify(r.json)}`);
      await sleep(100);
    }
  });
  for (;;) {
    checkDeadline('waiting for builds');
    const active = (await listAll(a)).filter((f) => f.code_hash !== null).length;
    if (active === DEPLOYED) break;
    await sleep(250);
  }
  console.log(`deployed ${DEPLOYED} in ${fmt(performance.now() - t1)}`);
  await stopNode(a);

  a = await startNode('a', { ORVA_LOG_LEVEL: 'info' });
  const invokeMs = await firstAnswer(a, deployedIds[0]!, a.spawnedAt);
  const listed = (await listAll(a)).length;
  let refused = 0;
  await eachLimited(deployedIds, 4, async (fn) => {
    if ((await firstAnswer(a, fn, a.spawnedAt)) === 'memory') refused += 1;
  });
  const allMs = performance.now() - a.spawnedAt;
  console.log(`restart: healthy after ${fmt(a.healthyMs)}, first deployed function answered after ${typeof invokeMs === 'number' ? fmt(invokeMs) : invokeMs}; listed ${listed} of ${FUNCTIONS}`);
  console.log(`  every deployed function called once, 4 at a time: ${DEPLOYED - refused} answered, ${refused} refused MEMORY_EXHAUSTED, done ${fmt(allMs)} after the spawn`);

  console.log(`  where the restart went (the node's own log, ms after spawn): ${startTimeline(a)}`);

  const natsPort = /listen: "127\.0\.0\.1:(\d+)"/.exec(readFileSync(join(a.dataDir, 'nats.conf'), 'utf8'))![1];
  const b = await startNode('b', { ORVA_NATS_URL: `nats://127.0.0.1:${natsPort}`, ORVA_LOG_LEVEL: 'info' });
  const bInvokeMs = await firstAnswer(b, deployedIds.at(-1)!, b.spawnedAt);
  const bListed = (await listAll(b)).length;
  const restored = /metadata restored from snapshot/.test(b.output());
  console.log(`  where the join went: ${startTimeline(b)}`);
  console.log(`join: healthy after ${fmt(b.healthyMs)} (${restored ? 'restored from the snapshot' : 'no snapshot restored'}), first deployed function answered after ${typeof bInvokeMs === 'number' ? fmt(bInvokeMs) : bInvokeMs}; listed ${bListed} of ${FUNCTIONS}`);
  await stopNode(b);
  await stopNode(a);

  const copy = join(work, 'registry-probe.db');
  copyFileSync(join(a.dataDir, 'orva.db'), copy);
  const heap = heapPerFunction(copy);
  console.log(`registry: ${heap.count} entries loaded in ${heap.loadMs.toFixed(0)} ms, ${Math.round(heap.bytes)} heap bytes per function`);
}

main()
  .catch((err) => {
    console.error(err);
    for (const n of nodes) console.error(`a node still running (pid ${n.pid}) had exited: ${n.exitCode ?? n.signalCode ?? 'no'}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
