/**
 * `npm run bench -- --at-scale [N]`: many functions on one node (N, default
 * 1,000), every one callable.
 *
 * One node as `npm start` runs it (embedded NATS, the bwrap sandbox, the
 * start script's node flags), then:
 *
 *  1. create N functions, half node and half python, 128 MB each, without
 *     dependencies (each with its own code, so no two builds are alike);
 *  2. deploy them all inline, DEPLOYERS at a time, each deployer following its
 *     build's stream to the end; a 503 BUILD_QUEUE_FULL is sent again after
 *     its Retry-After;
 *  3. call each function once;
 *  4. call them for 60 s from CALLERS concurrent callers, each call's function
 *     drawn from a Zipf distribution over all N (rank k weighs 1/k^s, s = 1;
 *     ranks shuffled over the functions, so both runtimes are among the hot);
 *  5. stop the node gracefully, start it again on the same data, and time
 *     until a call to the hottest function answers 200.
 *
 * Every answer counts once: a 503 MEMORY_EXHAUSTED (or any other error) is a
 * failure, never retried. Cold starts and invocations come from the node's
 * own execution records (metrics.json, before and after each phase);
 * evictions from the counter `orva_worker_evictions_total` when the node has
 * it. Memory: the node process's RSS, each warm worker's RSS and PSS (the
 * sandboxed runtime process), and the host's MemTotal − MemAvailable.
 *
 * Every ORVA_* variable in the bench's environment reaches the node
 * (ORVA_MEMORY_BUDGET_MB, ORVA_BUILD_QUEUE_MAX, ORVA_POOL_IDLE_TTL_S, …).
 * Options after --at-scale: the count N; --seconds S (the mixed phase,
 * default 60). Results go to stdout and ops/bench/results/at-scale-<N>.{md,json}.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.ts';
import { descendants } from './proc.ts';

const ROOT = resolve(import.meta.dirname, '../..');

const DEFAULT_FUNCTIONS = 1000;
const DEFAULT_SECONDS = 60;
/** Deploys in flight: twice the node's default build queue, so the queue stays full and BUILD_QUEUE_FULL gets exercised. */
const DEPLOYERS = 32;
/** Creates in flight: each is a META write, acknowledged one by one. */
const CREATORS = 8;
/** Concurrent first calls: every one is a cold start. */
const FIRST_CALLERS = 16;
/** Concurrent callers in the mixed phase: the node's c=32 point of the warm benchmark. */
const CALLERS = 32;
const ZIPF_EXPONENT = 1;
const MEMORY_MB = 128;
/** A call may wait ORVA_POOL_QUEUE_TIMEOUT_MS (10 s by default) for a worker; anything past this is the client giving up. */
const CALL_TIMEOUT_MS = 60_000;
const SAMPLE_EVERY_MS = 2_000;
const BUCKET_S = 10;

type Runtime = 'node' | 'python';

const handlerCode = (runtime: Runtime, i: number): string =>
  runtime === 'node'
    ? `exports.handler = async (event) => ({ fn: ${i}, hello: event.query.name ?? 'world' });\n`
    : `def handler(event):\n    return {"fn": ${i}, "hello": event["query"].get("name", "world")}\n`;

// ---- the node process: its own process group, killed with everything it started when the bench exits

const started = new Set<ChildProcess>();
const tempDirs = new Set<string>();

process.on('exit', () => {
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {}
  }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

interface OrvaNode {
  proc: ChildProcess;
  output(): string;
}

function startNode(nodeFlags: string[], env: NodeJS.ProcessEnv): OrvaNode {
  const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(ROOT, 'node/main.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.add(proc);
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-8000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return { proc, output: () => out };
}

/** SIGTERM, then the exit (the node drains, flushes and stops its workers and NATS); SIGKILL after graceMs. */
async function stopNode(n: OrvaNode, graceMs: number): Promise<{ ms: number; graceful: boolean }> {
  const t0 = performance.now();
  let graceful = true;
  if (n.proc.exitCode === null && n.proc.signalCode === null) {
    const exited = new Promise<void>((r) => n.proc.once('exit', () => r()));
    n.proc.kill('SIGTERM');
    graceful = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  }
  const ms = performance.now() - t0;
  try {
    process.kill(-n.proc.pid!, 'SIGKILL');
  } catch {}
  started.delete(n.proc);
  return { ms, graceful };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- HTTP over one keep-alive pool: lighter than fetch, which matters when the client shares two cores with the node

interface Answer {
  /** 0 when no HTTP answer came (refused, reset, timed out). */
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  ms: number;
}

class Client {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  constructor(
    readonly port: number,
    readonly key: string,
  ) {}

  request(method: string, path: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<Answer> {
    const t0 = performance.now();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((done) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.#agent,
          timeout: timeoutMs,
          headers: { 'x-orva-api-key': this.key, ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 }));
          res.on('error', (err) => done({ status: 0, headers: {}, body: err.message, ms: performance.now() - t0 }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (err) => done({ status: 0, headers: {}, body: err.message, ms: performance.now() - t0 }));
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function json(a: Answer): any {
  try {
    return JSON.parse(a.body);
  } catch {
    return null;
  }
}

/** The error envelope's code, `HTTP <status>` without one, `NETWORK` without an answer. */
function errorCode(a: Answer): string {
  if (a.status === 0) return 'NETWORK';
  return json(a)?.error?.code ?? `HTTP ${a.status}`;
}

function retryAfterMs(a: Answer): number {
  const s = Number(a.headers['retry-after'] ?? json(a)?.error?.retry_after_s);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 1000;
}

// ---- what the host and the processes hold

function meminfoKb(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** MemTotal − MemAvailable: what the host could not hand out now, in MB. */
function hostUsedMb(): number {
  const m = meminfoKb();
  return (m.MemTotal! - m.MemAvailable!) / 1024;
}

function statusKb(pid: number, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function pssKb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}


interface WorkerMemory {
  count: number;
  rssMb: number;
  pssMb: number;
}

/** PSS of the node and everything below it (NATS, bwrap, workers), in MB: Orva's share of the host, whatever else runs there. */
function treePssMb(nodePid: number): number {
  return [nodePid, ...descendants(nodePid)].reduce((sum, pid) => sum + pssKb(pid), 0) / 1024;
}

/** The node's warm workers by runtime: the sandboxed runtime processes below it (bwrap's own monitor process excluded). */
function workerCensus(nodePid: number): Record<Runtime, WorkerMemory> {
  const census: Record<Runtime, WorkerMemory> = { node: { count: 0, rssMb: 0, pssMb: 0 }, python: { count: 0, rssMb: 0, pssMb: 0 } };
  for (const pid of descendants(nodePid)) {
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const rt: Runtime | null = comm === 'node' ? 'node' : comm.startsWith('python3') ? 'python' : null;
    if (!rt) continue;
    census[rt].count++;
    census[rt].rssMb += statusKb(pid, 'VmRSS') / 1024;
    census[rt].pssMb += pssKb(pid) / 1024;
  }
  return census;
}

// ---- the node's own counters

interface Counters {
  invocations: number;
  coldStarts: number;
  /** null: the node has no such counter. */
  evictions: number | null;
}

async function counters(c: Client): Promise<Counters> {
  const snap = json(await c.request('GET', '/api/v1/system/metrics.json'));
  const prom = await c.request('GET', '/api/v1/system/metrics');
  let evictions: number | null = null;
  for (const line of prom.body.split('\n')) {
    const m = /^orva_worker_evictions_total(?:\{[^}]*\})? (\S+)/.exec(line);
    if (m) evictions = (evictions ?? 0) + Number(m[1]);
  }
  return { invocations: snap?.invocations?.total ?? 0, coldStarts: snap?.cold_starts ?? 0, evictions };
}

/** Execution records reach the metrics in batches: read until two reads 500 ms apart agree (at most 10 s). */
async function settledCounters(c: Client): Promise<Counters> {
  let last = await counters(c);
  for (let i = 0; i < 20; i++) {
    await sleep(500);
    const now = await counters(c);
    if (now.invocations === last.invocations && now.coldStarts === last.coldStarts) return now;
    last = now;
  }
  return last;
}

// ---- statistics

function pct(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** A seeded PRNG (mulberry32): the same draw of functions on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ranks 0..n-1 with P(k) ∝ 1/(k+1)^s, by inverse CDF. */
function zipfSampler(n: number, s: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  for (let k = 0; k < n; k++) cdf[k]! /= sum;
  return () => {
    const u = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Run `work` over `items` from `width` concurrent loops. */
async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** Calls and their outcomes. */
class Tally {
  readonly okMs: number[] = [];
  readonly failedMs: number[] = [];
  readonly allMs: number[] = [];
  readonly failures = new Map<string, number>();
  calls = 0;

  add(a: Answer): void {
    this.calls++;
    this.allMs.push(a.ms);
    if (a.status === 200) this.okMs.push(a.ms);
    else {
      this.failedMs.push(a.ms);
      const code = errorCode(a);
      this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
    }
  }

  get ok(): number {
    return this.okMs.length;
  }

  summary(): CallSummary {
    return {
      calls: this.calls,
      ok: this.ok,
      successFraction: this.calls ? this.ok / this.calls : null,
      p50Ms: pct(this.okMs, 50),
      p99Ms: pct(this.okMs, 99),
      allP99Ms: pct(this.allMs, 99),
      failedP50Ms: pct(this.failedMs, 50),
      failures: Object.fromEntries([...this.failures].sort((a, b) => b[1] - a[1])),
    };
  }
}

interface CallSummary {
  calls: number;
  ok: number;
  successFraction: number | null;
  /** Over the 200 answers. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Over every answer, failures included. */
  allP99Ms: number | null;
  /** How long a failed call took to fail. */
  failedP50Ms: number | null;
  /** Failed calls by error code. */
  failures: Record<string, number>;
}

// ---- the report

interface Report {
  machine: { cpus: number; model: string; node: string; memTotalMb: number; nodeFlags: string[]; orvaEnv: Record<string, string> };
  functions: { total: number; node: number; python: number; memoryMb: number };
  startMs: number;
  create: { ms: number; perSecond: number; failures: Record<string, number> };
  deploy: { ms: number; perSecond: number; succeeded: number; failed: number; queueFullRetries: number; errors: string[] };
  firstCall: CallSummary & { coldFraction: number | null; recorded: number };
  mixed: CallSummary & {
    seconds: number;
    callers: number;
    perSecond: number;
    coldFraction: number | null;
    recorded: number;
    distinctFunctions: number;
    buckets: Array<{ fromS: number; perSecond: number; successFraction: number | null; p99Ms: number | null }>;
  };
  evictions: number | null;
  memory: {
    hostUsedBeforeMb: number;
    hostUsedPeakMb: number;
    hostUsedEndMb: number;
    nodeRssPeakMb: number;
    nodeRssEndMb: number;
    /** PSS of the node, NATS, the sandboxes and workers together, at the end of the mix. */
    treePssEndMb: number;
    workers: Record<Runtime, WorkerMemory>;
  };
  restart: { stopMs: number; graceful: boolean; toHealthMs: number | null; toFirst200Ms: number | null };
  errors: string[];
}

const f0 = (n: number | null | undefined) => (n === null || n === undefined ? 'n/a' : n.toFixed(0));
const f1 = (n: number | null | undefined) => (n === null || n === undefined ? 'n/a' : n.toFixed(n < 10 ? 2 : 1));
const pc = (n: number | null | undefined) => (n === null || n === undefined ? 'n/a' : `${(n * 100).toFixed(n >= 0.999 && n < 1 ? 2 : 1)} %`);
const fails = (f: Record<string, number>) => Object.entries(f).map(([k, v]) => `${k} × ${v}`).join(', ') || 'none';

function markdown(r: Report): string {
  const m = r.machine;
  const w = r.memory.workers;
  const per = (x: WorkerMemory, k: 'rssMb' | 'pssMb') => (x.count ? (x[k] / x.count).toFixed(1) : 'n/a');
  const L: string[] = [];
  L.push(`# Orva at-scale benchmark: ${r.functions.total} functions on one node`, '');
  L.push(`${new Date().toISOString()} · ${m.cpus} × ${m.model} · ${(m.memTotalMb / 1024).toFixed(1)} GiB RAM · Node ${m.node} · node flags: ${m.nodeFlags.join(' ') || 'none'} · ORVA_* given: ${Object.entries(m.orvaEnv).map(([k, v]) => `${k}=${v}`).join(' ') || 'none (defaults)'}`, '');
  const budget = m.orvaEnv.ORVA_MEMORY_BUDGET_MB ? Number(m.orvaEnv.ORVA_MEMORY_BUDGET_MB) : m.memTotalMb * 0.8;
  const reserve = Math.ceil(r.functions.memoryMb * 1.5);
  L.push(`${r.functions.node} node and ${r.functions.python} python functions, ${r.functions.memoryMb} MB each, no dependencies. The client runs on the same cores as the node. Memory budget ${budget.toFixed(0)} MB${m.orvaEnv.ORVA_MEMORY_BUDGET_MB ? '' : ' (80 % of RAM)'}: each worker reserves ${reserve} MB (1.5 × memory_mb), so ${Math.floor(budget / reserve)} workers fit at once.`, '');
  L.push('| phase | figure |', '|---|---|');
  L.push(`| node start | ready (health 200) in ${f0(r.startMs)} ms |`);
  L.push(`| create | ${r.functions.total} in ${(r.create.ms / 1000).toFixed(1)} s: ${f1(r.create.perSecond)}/s, ${CREATORS} at a time; failures: ${fails(r.create.failures)} |`);
  L.push(`| deploy | ${r.deploy.succeeded} succeeded, ${r.deploy.failed} failed, in ${(r.deploy.ms / 1000).toFixed(1)} s from the first request to the last success: **${f1(r.deploy.perSecond)} deploys/s**; ${DEPLOYERS} in flight, ${r.deploy.queueFullRetries} BUILD_QUEUE_FULL answers retried |`);
  const fc = r.firstCall;
  L.push(`| first call of each | ${fc.ok}/${fc.calls} answered 200 (**${pc(fc.successFraction)}**), cold starts ${pc(fc.coldFraction)} of ${fc.recorded} recorded; p50 ${f1(fc.p50Ms)} ms, p99 ${f1(fc.p99Ms)} ms; ${FIRST_CALLERS} at a time; failures: ${fails(fc.failures)} |`);
  const mx = r.mixed;
  L.push(`| Zipf mix (s = ${ZIPF_EXPONENT}), ${mx.seconds} s, ${mx.callers} callers | ${mx.calls} calls over ${mx.distinctFunctions} functions, ${f0(mx.perSecond)}/s; **${pc(mx.successFraction)}** answered 200; cold starts **${pc(mx.coldFraction)}** of ${mx.recorded} recorded; **p50 ${f1(mx.p50Ms)} ms, p99 ${f1(mx.p99Ms)} ms** (200s; every answer: p99 ${f1(mx.allP99Ms)} ms); failures: ${fails(mx.failures)}${mx.failedP50Ms === null ? '' : ` (p50 ${f1(mx.failedP50Ms)} ms to fail)`} |`);
  L.push(`| evictions (\`orva_worker_evictions_total\`) | ${r.evictions === null ? 'n/a (the node has no such counter)' : f0(r.evictions)} |`);
  L.push(`| node process RSS | ${f0(r.memory.nodeRssEndMb)} MB at the end, ${f0(r.memory.nodeRssPeakMb)} MB peak |`);
  L.push(`| warm workers at the end | node: ${w.node.count} (RSS ${per(w.node, 'rssMb')} MB, PSS ${per(w.node, 'pssMb')} MB each); python: ${w.python.count} (RSS ${per(w.python, 'rssMb')} MB, PSS ${per(w.python, 'pssMb')} MB each); PSS in all ${f0(w.node.pssMb + w.python.pssMb)} MB |`);
  L.push(`| Orva's processes in all (PSS of the node, NATS, sandboxes, workers) | ${f0(r.memory.treePssEndMb)} MB at the end of the mix |`);
  L.push(`| host memory used (MemTotal − MemAvailable, everything on the machine) | ${f0(r.memory.hostUsedBeforeMb)} MB before the node, ${f0(r.memory.hostUsedPeakMb)} MB peak, ${f0(r.memory.hostUsedEndMb)} MB at the end of the mix |`);
  L.push(`| restart | graceful stop in ${f0(r.restart.stopMs)} ms${r.restart.graceful ? '' : ' (not graceful: killed)'}; started again: health 200 after ${f0(r.restart.toHealthMs)} ms, **first call answered 200 after ${f0(r.restart.toFirst200Ms)} ms** |`);
  L.push('', `## The mix, per ${BUCKET_S} s`, '', '| from s | calls/s | answered 200 | p99 ms (200s) |', '|---:|---:|---:|---:|');
  for (const b of mx.buckets) L.push(`| ${b.fromS} | ${f0(b.perSecond)} | ${pc(b.successFraction)} | ${f1(b.p99Ms)} |`);
  L.push('', 'Cold starts and "recorded" are the node\'s own execution records (metrics.json before and after the phase). Worker RSS counts the runtime binary\'s pages that every worker shares; PSS divides them among their users.');
  if (r.deploy.errors.length || r.errors.length) L.push('', '## Errors', '', ...[...r.deploy.errors, ...r.errors].map((e) => `- ${e.split('\n')[0]}`));
  return L.join('\n') + '\n';
}

// ---- the run

function parseArgs(args: string[]): { n: number; seconds: number } {
  const at = args.indexOf('--at-scale');
  const next = args[at + 1];
  const n = next !== undefined && /^\d+$/.test(next) ? Number(next) : DEFAULT_FUNCTIONS;
  const s = args.indexOf('--seconds');
  const seconds = s === -1 ? DEFAULT_SECONDS : Number(args[s + 1]);
  if (!(Number.isInteger(n) && n >= 2)) throw new Error(`--at-scale wants a function count of at least 2, got ${next}`);
  if (!(Number.isFinite(seconds) && seconds > 0)) throw new Error(`--seconds wants a positive number, got ${args[s + 1]}`);
  return { n, seconds };
}

async function untilHealthy(c: Client, proc: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the node exited ${proc.exitCode} before it was ready:\n${output().slice(-4000)}`);
    if ((await c.request('GET', '/api/v1/system/health', undefined, 2000)).status === 200) return;
    if (Date.now() > deadline) throw new Error(`the node was not ready in ${timeoutMs / 1000} s:\n${output().slice(-4000)}`);
    await sleep(25);
  }
}

/** Deploy inline and follow the build's stream to its end: the final deployment record, or an error text. */
async function deployOne(c: Client, fnId: string, code: string, onQueueFull: () => void): Promise<{ ok: boolean; error?: string }> {
  let a: Answer;
  for (;;) {
    a = await c.request('POST', `/api/v1/functions/${fnId}/deploy-inline`, { code });
    if (a.status === 503 && errorCode(a) === 'BUILD_QUEUE_FULL') {
      onQueueFull();
      await sleep(retryAfterMs(a));
      continue;
    }
    break;
  }
  if (a.status !== 202) return { ok: false, error: `deploy ${fnId}: ${a.status} ${a.body.slice(0, 300)}` };
  const depId: string = json(a).id;
  // The stream closes on succeeded or failed; a stream cut short (a slow reader is dropped) falls back to polling.
  const stream = await c.request('GET', `/api/v1/deployments/${depId}/stream`, undefined, 30 * 60_000);
  let last: any = null;
  for (const m of stream.body.matchAll(/^data: (.*)$/gm)) last = JSON.parse(m[1]!);
  while (last?.status !== 'succeeded' && last?.status !== 'failed') {
    await sleep(200);
    last = json(await c.request('GET', `/api/v1/deployments/${depId}`));
  }
  return last.status === 'succeeded' ? { ok: true } : { ok: false, error: `build ${depId} of ${fnId} failed: ${String(last.error ?? '').slice(0, 300)}` };
}

export async function atScale(args: string[], o: { nodeFlags: string[]; resultsDir: string }): Promise<void> {
  const { n, seconds } = parseArgs(args);
  const orvaEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ORVA_'))) as Record<string, string>;
  const dataDir = mkdtempSync(join(tmpdir(), 'orva-bench-at-scale-'));
  tempDirs.add(dataDir);
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ORVA_LOG_LEVEL: 'warn',
    ...orvaEnv,
    ORVA_DATA_DIR: dataDir,
    ORVA_HOST: '127.0.0.1',
    ORVA_PORT: String(port),
  };
  const errors: string[] = [];
  const log = (s: string) => console.error(s);

  const hostUsedBeforeMb = hostUsedMb();
  log(`at scale: ${n} functions; host memory used before the node: ${hostUsedBeforeMb.toFixed(0)} MB`);
  let t0 = performance.now();
  let node = startNode(o.nodeFlags, env);
  const anon = new Client(port, '');
  await untilHealthy(anon, node.proc, node.output, 60_000);
  const startMs = performance.now() - t0;
  const c = new Client(port, readFileSync(join(dataDir, 'admin.key'), 'utf8').trim());

  // 1. create
  const fns = Array.from({ length: n }, (_, i) => ({ i, runtime: (i % 2 === 0 ? 'node' : 'python') as Runtime, id: '' }));
  const createFailures = new Map<string, number>();
  t0 = performance.now();
  await inParallel(fns, CREATORS, async (f) => {
    const a = await c.request('POST', '/api/v1/functions', { name: `scale-${f.runtime}-${f.i}`, runtime: f.runtime, memory_mb: MEMORY_MB });
    if (a.status === 201) f.id = json(a).id;
    else createFailures.set(errorCode(a), (createFailures.get(errorCode(a)) ?? 0) + 1);
  });
  const createMs = performance.now() - t0;
  const created = fns.filter((f) => f.id);
  log(`created ${created.length}/${n} in ${(createMs / 1000).toFixed(1)} s`);

  // 2. deploy
  let queueFullRetries = 0;
  const deployErrors: string[] = [];
  const deployed: typeof fns = [];
  t0 = performance.now();
  let lastSuccess = t0;
  await inParallel(created, DEPLOYERS, async (f) => {
    const r = await deployOne(c, f.id, handlerCode(f.runtime, f.i), () => queueFullRetries++);
    if (r.ok) {
      deployed.push(f);
      lastSuccess = performance.now();
      if (deployed.length % 100 === 0) log(`  deployed ${deployed.length}`);
    } else deployErrors.push(r.error!);
  });
  const deployMs = lastSuccess - t0;
  log(`deployed ${deployed.length}/${created.length} in ${(deployMs / 1000).toFixed(1)} s, ${queueFullRetries} BUILD_QUEUE_FULL retries, ${deployErrors.length} failures`);

  // 3. the first call of each
  const call = (id: string) => c.request('POST', `/fn/${id}?name=bench`, { name: 'bench' });
  let before = await settledCounters(c);
  const first = new Tally();
  await inParallel(deployed, FIRST_CALLERS, async (f) => first.add(await call(f.id)));
  let after = await settledCounters(c);
  const firstRecorded = after.invocations - before.invocations;
  const firstCall = { ...first.summary(), recorded: firstRecorded, coldFraction: firstRecorded ? (after.coldStarts - before.coldStarts) / firstRecorded : null };
  log(`first calls: ${first.ok}/${first.calls} answered 200, p50 ${f1(firstCall.p50Ms)} ms, p99 ${f1(firstCall.p99Ms)} ms, failures ${fails(firstCall.failures)}`);

  // 4. the Zipf mix
  const rand = prng(1);
  const ranked = [...deployed];
  for (let i = ranked.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [ranked[i], ranked[j]] = [ranked[j]!, ranked[i]!];
  }
  const draw = zipfSampler(ranked.length, ZIPF_EXPONENT, rand);
  before = after;
  const mixed = new Tally();
  const touched = new Set<string>();
  const buckets: Tally[] = [];
  const lastBucket = Math.ceil(seconds / BUCKET_S) - 1;
  let hostUsedPeakMb = hostUsedMb();
  let nodeRssPeakMb = statusKb(node.proc.pid!, 'VmRSS') / 1024;
  const sampler = setInterval(() => {
    hostUsedPeakMb = Math.max(hostUsedPeakMb, hostUsedMb());
    nodeRssPeakMb = Math.max(nodeRssPeakMb, statusKb(node.proc.pid!, 'VmRSS') / 1024);
  }, SAMPLE_EVERY_MS);
  log(`mixed calls for ${seconds} s from ${CALLERS} callers`);
  const mixStart = performance.now();
  const mixEnd = mixStart + seconds * 1000;
  await Promise.all(
    Array.from({ length: ranked.length ? CALLERS : 0 }, async () => {
      while (performance.now() < mixEnd) {
        const f = ranked[draw()]!;
        touched.add(f.id);
        const a = await call(f.id);
        mixed.add(a);
        // A call answered after the end belongs to the last bucket.
        (buckets[Math.min(lastBucket, Math.floor((performance.now() - mixStart) / 1000 / BUCKET_S))] ??= new Tally()).add(a);
      }
    }),
  );
  const mixMs = performance.now() - mixStart;
  clearInterval(sampler);
  const hostUsedEndMb = hostUsedMb();
  const nodeRssEndMb = statusKb(node.proc.pid!, 'VmRSS') / 1024;
  const workers = workerCensus(node.proc.pid!);
  const treePssEndMb = treePssMb(node.proc.pid!);
  after = await settledCounters(c);
  const mixRecorded = after.invocations - before.invocations;
  const mixedReport = {
    ...mixed.summary(),
    seconds,
    callers: CALLERS,
    perSecond: mixed.calls / (mixMs / 1000),
    recorded: mixRecorded,
    coldFraction: mixRecorded ? (after.coldStarts - before.coldStarts) / mixRecorded : null,
    distinctFunctions: touched.size,
    buckets: Array.from({ length: lastBucket + 1 }, (_, i) => {
      const s = buckets[i]?.summary();
      const spanS = i === lastBucket ? mixMs / 1000 - i * BUCKET_S : BUCKET_S;
      return { fromS: i * BUCKET_S, perSecond: (s?.calls ?? 0) / spanS, successFraction: s?.successFraction ?? null, p99Ms: s?.p99Ms ?? null };
    }),
  };
  log(`mix: ${mixed.calls} calls, ${pc(mixedReport.successFraction)} answered 200, p50 ${f1(mixedReport.p50Ms)} ms, p99 ${f1(mixedReport.p99Ms)} ms, cold ${pc(mixedReport.coldFraction)}, failures ${fails(mixedReport.failures)}`);

  // 5. restart: stop gracefully, start on the same data and port, time until the hottest function answers
  const stopped = await stopNode(node, 120_000);
  log(`stopped in ${stopped.ms.toFixed(0)} ms${stopped.graceful ? '' : ' (killed after the grace period)'}`);
  let toHealthMs: number | null = null;
  let toFirst200Ms: number | null = null;
  t0 = performance.now();
  node = startNode(o.nodeFlags, env);
  const hottest = ranked[0];
  try {
    await untilHealthy(anon, node.proc, node.output, 120_000);
    toHealthMs = performance.now() - t0;
    const deadline = Date.now() + 180_000;
    while (hottest && toFirst200Ms === null) {
      if ((await call(hottest.id)).status === 200) toFirst200Ms = performance.now() - t0;
      else if (Date.now() > deadline) throw new Error(`${hottest.id} did not answer 200 within 180 s of the restart`);
      else await sleep(20);
    }
    log(`restarted: health after ${f0(toHealthMs)} ms, first 200 after ${f0(toFirst200Ms)} ms`);
  } catch (err) {
    errors.push(`restart: ${(err as Error).message}`);
  }
  await stopNode(node, 120_000);
  c.close();
  anon.close();

  const report: Report = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', node: process.version, memTotalMb: totalmem() / 1024 / 1024, nodeFlags: o.nodeFlags, orvaEnv },
    functions: { total: n, node: fns.filter((f) => f.runtime === 'node').length, python: fns.filter((f) => f.runtime === 'python').length, memoryMb: MEMORY_MB },
    startMs,
    create: { ms: createMs, perSecond: created.length / (createMs / 1000), failures: Object.fromEntries(createFailures) },
    deploy: { ms: deployMs, perSecond: deployMs > 0 ? deployed.length / (deployMs / 1000) : 0, succeeded: deployed.length, failed: created.length - deployed.length, queueFullRetries, errors: deployErrors.slice(0, 20) },
    firstCall,
    mixed: mixedReport,
    evictions: after.evictions,
    memory: { hostUsedBeforeMb, hostUsedPeakMb, hostUsedEndMb, nodeRssPeakMb, nodeRssEndMb, treePssEndMb, workers },
    restart: { stopMs: stopped.ms, graceful: stopped.graceful, toHealthMs, toFirst200Ms },
    errors,
  };
  const md = markdown(report);
  mkdirSync(o.resultsDir, { recursive: true });
  writeFileSync(join(o.resultsDir, `at-scale-${n}.md`), md);
  writeFileSync(join(o.resultsDir, `at-scale-${n}.json`), JSON.stringify(report, null, 2) + '\n');
  console.log('\n' + md);
  console.log(`written: ${join(o.resultsDir, `at-scale-${n}.md`)}, ${join(o.resultsDir, `at-scale-${n}.json`)}`);
}
