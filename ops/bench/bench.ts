/**
 * `npm run bench`: Orva's invoke benchmark, in one run on this machine.
 *
 *  1. warm invoke throughput and p50/p99 (wrk) of a hello-world handler, node
 *     and python, at c = 1, 32, 128, through a real node (embedded NATS);
 *  2. the same load on the reference points built here: a bare uWS hello
 *     server, a uWS → pipe → adapter relay (the design's floor), and that
 *     relay with the adapter in the project's bwrap sandbox (the sandbox's
 *     share of the gap);
 *  3. cold-start latency per runtime (PUT env_vars drains the pool);
 *  4. deploy-to-first-success per runtime.
 *
 * Every server is started first and stays up; only the one under load is
 * busy (the idle ones' timers show in the 'other' CPU column, a few % at
 * most), and wrk always competes with it for the machine's cores. The warm
 * points are measured in interleaved rounds and reported as medians, the
 * ratios as the median of each round's ratio. Results go to stdout and
 * ops/bench/results/latest.{md,json}.
 *
 * Others' load on the machine skews everything: each point first waits for
 * a quiet moment (bounded), and the CPU column shows what else ran.
 *
 * Options: --profile writes a V8 CPU profile of the Orva node for the whole
 * run and prints its top functions (see profile.ts); --quick shortens every
 * phase; --mcp runs only the MCP section instead (mcp.ts: tools/call beside
 * the direct call, results in results/mcp-latest.{md,json}); --at-scale [N]
 * runs at-scale.ts (N functions on one node) instead.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from './free-port.ts';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { summariseProfile } from './profile.ts';
import { mcpBench, mcpMarkdown } from './mcp.ts';
import { descendants } from './proc.ts';
import { startScriptFlags } from './node-flags.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const HERE = join(ROOT, 'ops/bench');
const RESULTS = join(HERE, 'results');
const PROFILE = process.argv.includes('--profile');
const QUICK = process.argv.includes('--quick');

const CONCURRENCY = [1, 32, 128];
const WARMUP_S = 1;
/**
 * Before the first round, each target serves this long at the highest
 * concurrency, unmeasured. Orva's pools start with the one worker the deploy
 * check woke and grow to their ceiling under load, and calls stay slower for
 * about five seconds after that (1-s points from a fresh deploy: p99 48, 8,
 * 5.9, 6.8, 5.7 ms, then 3.7–4.9). Without this, round 1 at c=32 measured
 * that ramp (p99 5.7–7.2 ms in five of five runs, 3.4 ms once warmed up),
 * not a warm pool.
 */
const PREWARM_S = QUICK ? 3 : 8;
const MEASURE_S = QUICK ? 2 : 4;
/**
 * Every target is measured once per round, targets interleaved point by
 * point (the order rotating each round): these VMs drift by tens of percent
 * within minutes, and a point measured minutes after its reference compares
 * the machine's moods, not the servers.
 */
const ROUNDS = QUICK ? 1 : 3;
const COLD_SAMPLES = QUICK ? 5 : 15;
const DEPLOY_SAMPLES = QUICK ? 1 : 3;
/** Same ceiling for the Orva node and the relay (Orva's default, set explicitly). */
const POOL_WORKERS = 8;
/** Every server runs with the node flags `npm start` gives the node (package.json), so the bench measures what users run. */
const NODE_FLAGS = startScriptFlags();

const BARE = 'bare uWS';
const RELAY = 'relay (floor)';
const RELAY_BWRAP = 'relay + bwrap';
const NODE_CODE = "exports.handler = async () => ({hello: 'world'})\n";
const PYTHON_CODE = 'def handler(event):\n    return {"hello": "world"}\n';
type Runtime = 'node' | 'python';
const CODE: Record<Runtime, string> = { node: NODE_CODE, python: PYTHON_CODE };

// ---- process bookkeeping: everything started here dies with the bench

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/**
 * Every child leads its own process group, so a kill reaches what it started
 * (adapters, sandboxes, nats-server) too. A server's group stays listed after
 * its leader exits, until `stop` has killed the rest; wrk starts nothing.
 */
function start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; leaf?: boolean } = {}): ChildProcess {
  const child = spawn(cmd, args, { cwd: ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  if (opts.leaf) child.once('exit', () => children.delete(child));
  return child;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {}
}

/** SIGTERM (graceful: the node flushes and writes its CPU profile), then SIGKILL the group after graceMs. */
async function stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(graceMs)]);
  }
  killGroup(child, 'SIGKILL');
  children.delete(child);
}

function cleanupNow(): void {
  for (const c of children) killGroup(c, 'SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: killing every process the bench started`);
    cleanupNow();
    process.exit(130);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `orva-bench-${tag}-`));
  tempDirs.add(d);
  return d;
}


/** Start a reference server (prints `listening <port>`) and wait for it. */
async function startReference(script: string, args: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = start(process.execPath, [...NODE_FLAGS, '--import', 'tsx', join(HERE, script), '0', ...args]);
  let out = '';
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${script} not listening in 20 s: ${out}`)), 20_000);
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(Number(m[1]));
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => rej(new Error(`${script} exited ${code}: ${out}`)));
  });
  return { proc, port };
}

// ---- CPU accounting from /proc: where the cores went during a measurement

const TICKS_PER_S = 100;

function procTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
}


function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

interface CpuSample {
  server: number;
  children: Map<number, number>;
  wrk: number;
  machine: { busy: number; total: number };
  at: number;
}

function sampleCpu(serverPid: number, wrkPid: number): CpuSample {
  return {
    server: procTicks(serverPid),
    children: new Map(descendants(serverPid).map((p) => [p, procTicks(p)])),
    wrk: procTicks(wrkPid),
    machine: machineTicks(),
    at: performance.now(),
  };
}

/**
 * CPU in % of one core: the server process, its descendants (workers,
 * embedded nats-server), wrk, and the rest of the machine (anything else
 * running — it skews the figures, so it is reported).
 */
interface CpuUse {
  server: number;
  children: number;
  wrk: number;
  other: number;
}

function cpuDelta(a: CpuSample, b: CpuSample): CpuUse {
  const s = (b.at - a.at) / 1000;
  const pct = (ticks: number) => Math.round((ticks / TICKS_PER_S / s) * 100);
  let kids = 0;
  for (const [pid, t] of b.children) kids += t - (a.children.get(pid) ?? 0);
  const machine = ((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * 100 * cpus().length;
  const use = { server: pct(b.server - a.server), children: pct(kids), wrk: pct(b.wrk - a.wrk), other: 0 };
  use.other = Math.max(0, Math.round(machine - use.server - use.children - use.wrk));
  return use;
}

/** Busy CPU of the whole machine over `ms`, in % of one core: other people's load skews every figure. */
async function backgroundLoad(ms = 1000): Promise<number> {
  const a = machineTicks();
  await sleep(ms);
  const b = machineTicks();
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100 * cpus().length);
}

/**
 * Others' work on this machine (test suites, builds) skews every figure. Before
 * each point, wait for a quiet second — bounded by QUIET_BUDGET_MS over the
 * whole run, so the bench still ends in time on a machine that stays busy.
 */
const QUIET_PCT = 25;
const QUIET_BUDGET_MS = 60_000;
let quietWaitedMs = 0;

async function awaitQuiet(): Promise<void> {
  while (quietWaitedMs < QUIET_BUDGET_MS) {
    const t = performance.now();
    const busy = await backgroundLoad(500);
    quietWaitedMs += performance.now() - t;
    if (busy < QUIET_PCT) return;
  }
}

// ---- load generation

export interface WrkResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  requests: number;
  errors: number;
  cpu?: CpuUse;
}

/** One wrk run; -t2 above c=1 gave the servers the most throughput on 2 cores (measured: +10–35 % over -t1). */
function wrk(url: string, c: number, seconds: number, key: string, onStart?: (pid: number) => void, request: WrkRequest = {}): Promise<WrkResult> {
  const threads = c === 1 ? 1 : 2;
  const args = [`-t${threads}`, `-c${c}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-s', join(HERE, request.script ?? 'wrk-post.lua'), url];
  const proc = start('wrk', args, { env: { ...process.env, ORVA_BENCH_KEY: key, ...request.env }, leaf: true });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  onStart?.(proc.pid!);
  return new Promise((res, rej) => {
    const guard = setTimeout(() => killGroup(proc, 'SIGKILL'), (seconds + 15) * 1000);
    proc.once('exit', () => {
      clearTimeout(guard);
      const m = /BENCH (\{.*\})/.exec(out);
      if (!m) return rej(new Error(`wrk gave no summary: ${out}`));
      const j = JSON.parse(m[1]);
      res({
        rps: Math.round(j.requests / (j.duration_us / 1e6)),
        p50: j.p50_us / 1000,
        p90: j.p90_us / 1000,
        p99: j.p99_us / 1000,
        max: j.max_us / 1000,
        requests: j.requests,
        errors: j.non2xx + j.connect + j.read + j.write + j.timeout,
      });
    });
  });
}

/** Another request than wrk-post.lua's: a wrk script in this folder, and the environment it reads. */
interface WrkRequest {
  script?: string;
  env?: Record<string, string>;
}

/** A server under load: its name, the URL wrk posts to, its pid (for CPU), the API key it wants, and what to post. */
export interface Target {
  name: string;
  url: string;
  pid: number;
  key: string;
  request?: WrkRequest;
}

/**
 * Warm up, then measure one concurrency. CPU is sampled inside the run
 * (0.3 s after wrk starts, 0.3 s before it ends) so wrk is alive at both
 * samples and connection set-up and teardown stay out.
 */
async function loadPoint(t: Target, c: number): Promise<WrkResult> {
  await awaitQuiet();
  await wrk(t.url, c, WARMUP_S, t.key, undefined, t.request);
  let wrkPid = 0;
  const run = wrk(t.url, c, MEASURE_S, t.key, (pid) => (wrkPid = pid), t.request);
  await sleep(300);
  const before = sampleCpu(t.pid, wrkPid);
  await sleep(MEASURE_S * 1000 - 600);
  const cpu = cpuDelta(before, sampleCpu(t.pid, wrkPid));
  const r = await run;
  r.cpu = cpu;
  console.error(`  ${t.name} c=${c}: ${r.rps} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, cpu % server ${cpu.server} children ${cpu.children} wrk ${cpu.wrk} other ${cpu.other}`);
  return r;
}

/** The round with the median throughput (its latencies and CPU belong to the same run). */
function medianRun(runs: WrkResult[]): WrkResult {
  return [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)]!;
}

// ---- the Orva node over its HTTP API

export interface Orva {
  proc: ChildProcess;
  url: string;
  key: string;
  output(): string;
}

async function startOrva(): Promise<Orva> {
  const dataDir = tempDir('node');
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ORVA_DATA_DIR: dataDir,
    ORVA_HOST: '127.0.0.1',
    ORVA_PORT: String(port),
    ORVA_LOG_LEVEL: 'warn',
    ORVA_POOL_MAX_WORKERS: String(POOL_WORKERS),
  };
  const profArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS, 'profile')}`] : [];
  const proc = start(process.execPath, [...NODE_FLAGS, ...profArgs, '--import', 'tsx', join(ROOT, 'node/main.ts')], { env });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`orva node exited ${proc.exitCode} before ready:\n${out.slice(-4000)}`);
    try {
      if ((await fetch(`${url}/api/v1/system/health`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`orva node not ready in 60 s:\n${out.slice(-4000)}`);
    await sleep(100);
  }
  const key = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  return { proc, url, key, output: () => out };
}

async function api(o: Orva, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(`${o.url}${path}`, {
    method,
    headers: { 'x-orva-api-key': o.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, json: json ?? text, headers: r.headers };
}

let fnCounter = 0;

async function createFn(o: Orva, runtime: Runtime): Promise<string> {
  const r = await api(o, 'POST', '/api/v1/functions', { name: `bench-${runtime}-${++fnCounter}`, runtime });
  if (r.status !== 201) throw new Error(`create function: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id;
}

const invoke = (o: Orva, id: string) => api(o, 'POST', `/fn/${id}`, { name: 'bench' });

/** Create, deploy inline, and poll the invoke until the first 200: ms from the deploy request to that answer. */
async function deployToFirstSuccess(o: Orva, runtime: Runtime): Promise<{ id: string; ms: number }> {
  const id = await createFn(o, runtime);
  const t0 = performance.now();
  const d = await api(o, 'POST', `/api/v1/functions/${id}/deploy-inline`, { code: CODE[runtime] });
  if (d.status !== 202) throw new Error(`deploy-inline: ${d.status} ${JSON.stringify(d.json)}`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await invoke(o, id);
    if (r.status === 200) return { id, ms: performance.now() - t0 };
    if (r.status !== 503 || Date.now() > deadline) throw new Error(`first invoke: ${r.status} ${JSON.stringify(r.json)}`);
    await sleep(10);
  }
}

interface ColdSample {
  ms: number;
  /** The node's own cold_start flag for the call; null when its record could not be read. */
  cold: boolean | null;
  /** The node's own duration_ms of the call. */
  serverMs: number | null;
}

interface ColdResult {
  samples: ColdSample[];
  /** Percentiles over the samples not recorded as warm: a warm one measures no cold start. */
  p50: number;
  p90: number;
  confirmedCold: number;
  serverP50: number | null;
}

/** Each round: PUT a new env var (drains the pool), then time the next call from the client. */
async function coldStarts(o: Orva, id: string): Promise<ColdResult> {
  const samples: ColdSample[] = [];
  const executions: string[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    const p = await api(o, 'PUT', `/api/v1/functions/${id}`, { env_vars: { BENCH_ROUND: String(i) } });
    if (p.status !== 200) throw new Error(`PUT function: ${p.status} ${JSON.stringify(p.json)}`);
    const t0 = performance.now();
    const r = await invoke(o, id);
    samples.push({ ms: performance.now() - t0, cold: null, serverMs: null });
    if (r.status !== 200) throw new Error(`cold invoke: ${r.status} ${JSON.stringify(r.json)}`);
    executions.push(r.headers.get('x-orva-execution-id') ?? '');
    // Let the drained workers' teardown finish outside the next timed call.
    await sleep(100);
  }
  // Execution records are written in batches: poll until each one landed.
  for (const [i, e] of executions.entries()) {
    for (let tries = 0; tries < 50; tries++) {
      const r = await api(o, 'GET', `/api/v1/executions/${e}`);
      if (r.status === 200) {
        samples[i].cold = r.json.cold_start === true || r.json.cold_start === 1;
        samples[i].serverMs = typeof r.json.duration_ms === 'number' ? r.json.duration_ms : null;
        break;
      }
      await sleep(100);
    }
  }
  const cold = samples.filter((s) => s.cold !== false);
  const ms = cold.map((s) => s.ms);
  const serverMs = cold.flatMap((s) => (s.serverMs === null ? [] : [s.serverMs]));
  return {
    samples,
    p50: pct(ms, 50),
    p90: pct(ms, 90),
    confirmedCold: samples.filter((s) => s.cold === true).length,
    serverP50: serverMs.length ? pct(serverMs, 50) : null,
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

// ---- report

interface Report {
  machine: { cpus: number; model: string; node: string; measureSeconds: number; rounds: number; poolWorkers: number; nodeFlags: string[]; wrk: string; backgroundLoad: number };
  /** Per target and concurrency: the median round. */
  load: Record<string, Record<number, WrkResult>>;
  /** Per target and concurrency: every round, in round order. */
  rounds: Record<string, Record<number, WrkResult[]>>;
  cold: Partial<Record<Runtime, ColdResult>>;
  deploy: Partial<Record<Runtime, { samples: number[]; p50: number }>>;
  targets: Array<{ target: string; measured: string; pass: boolean | null }>;
  errors: string[];
}

const f1 = (n: number | undefined) => (n === undefined ? '—' : n.toFixed(n < 10 ? 2 : 1));
/** How many times `of`'s req/s is short of `ref`'s at c: the median of each round's ratio (both measured minutes apart at most). */
function ratioOf(rep: Report, of: string, ref: string, c: number): number | null {
  const a = rep.rounds[of]?.[c];
  const b = rep.rounds[ref]?.[c];
  if (!a || !b || a.length === 0 || a.length !== b.length) return null;
  const rs = a.map((r, i) => b[i]!.rps / r.rps).sort((x, y) => x - y);
  const mid = (rs.length - 1) / 2;
  return (rs[Math.floor(mid)]! + rs[Math.ceil(mid)]!) / 2;
}
const ratio = (r: number | null) => (r === null ? '—' : `${r.toFixed(2)}×`);

function evaluate(rep: Report): void {
  const node32 = rep.load['orva node']?.[32];
  const py32 = rep.load['orva python']?.[32];
  const t = (target: string, measured: string, pass: boolean | null) => rep.targets.push({ target, measured, pass });
  t('node ≥ 15,000 req/s at c=32', node32 ? `${node32.rps} req/s` : 'not measured', node32 ? node32.rps >= 15_000 : null);
  t('node p99 ≤ 5 ms at c=32', node32 ? `${f1(node32.p99)} ms` : 'not measured', node32 ? node32.p99 <= 5 : null);
  const gap = ratioOf(rep, 'orva node', RELAY, 32);
  t('node within 2× of the relay floor at c=32', gap === null ? 'not measured' : `relay/node = ${ratio(gap)}`, gap === null ? null : gap <= 2);
  t('python ≥ 10,000 req/s at c=32', py32 ? `${py32.rps} req/s` : 'not measured', py32 ? py32.rps >= 10_000 : null);
  const cn = rep.cold.node;
  const cp = rep.cold.python;
  t('node cold start p50 ≤ 150 ms', cn ? `${f1(cn.p50)} ms` : 'not measured', cn ? cn.p50 <= 150 : null);
  t('python cold start p50 ≤ 100 ms', cp ? `${f1(cp.p50)} ms` : 'not measured', cp ? cp.p50 <= 100 : null);
}

/** CPU time per call in µs, from % of one core and calls per second. */
function perCall(pct: number, rps: number): string {
  return ((pct / 100) * 1e6 / rps).toFixed(0);
}

function markdown(rep: Report): string {
  const L: string[] = [];
  const m = rep.machine;
  L.push('# Orva invoke benchmark', '');
  L.push(`${new Date().toISOString()} · ${m.cpus} × ${m.model} · Node ${m.node} · ${m.wrk} · ${m.measureSeconds} s per point after a ${WARMUP_S} s warm-up, ${m.rounds} interleaved round${m.rounds === 1 ? '' : 's'} after ${PREWARM_S} s of unmeasured load on each target · pool ${m.poolWorkers} workers (Orva and relay) · every server runs with \`npm start\`'s node flags: ${m.nodeFlags.join(' ') || 'none'}`, '');
  L.push(`wrk runs on the same ${m.cpus} cores as the server (-t1 at c=1, -t2 above), so every figure is load generator + server sharing the machine. POST with a 16-byte JSON body; Orva calls carry the admin API key.`, '');
  L.push('## Warm invoke', '');
  L.push('Each row is the round with the median req/s; the last column lists every round\'s req/s, in order.', '');
  L.push('| target | c | req/s | p50 ms | p99 ms | max ms | errors | CPU % server / children / wrk / other | CPU µs per call server / children | req/s per round |', '|---|---:|---:|---:|---:|---:|---:|---|---|---|');
  for (const [name, points] of Object.entries(rep.load)) {
    for (const c of CONCURRENCY) {
      const r = points[c];
      if (!r) continue;
      const noisy = r.cpu !== undefined && r.cpu.other > QUIET_PCT ? ' ⚠' : '';
      L.push(`| ${name} | ${c} | ${r.rps}${noisy} | ${f1(r.p50)} | ${f1(r.p99)} | ${f1(r.max)} | ${r.errors} | ${r.cpu ? `${r.cpu.server} / ${r.cpu.children} / ${r.cpu.wrk} / ${r.cpu.other}` : ''} | ${r.cpu && r.rps > 0 ? `${perCall(r.cpu.server, r.rps)} / ${perCall(r.cpu.children, r.rps)}` : ''} | ${(rep.rounds[name]?.[c] ?? []).map((x) => x.rps).join(', ')} |`);
    }
  }
  L.push('', `CPU is % of one core (the machine has ${100 * m.cpus}): the server process, its descendants (workers, embedded nats-server), wrk, and everything else on the machine. Background load before the run: ${m.backgroundLoad} %. ⚠: other processes used more than ${QUIET_PCT} % during that point, so it reads low. CPU µs per call is the same CPU divided by the calls served: the server's figure is the cost the request thread pays per call, and on a machine this small it is what caps throughput.`, '');
  L.push('## Ratios (throughput)', '');
  L.push('How many times the reference\'s req/s the Orva node\'s is short of (1.00× = as fast): the median over the rounds of each round\'s ratio.', '');
  L.push('| c | relay / orva node | relay+bwrap / orva node | bare uWS / orva node | relay / orva python | bare uWS / orva python |', '|---:|---:|---:|---:|---:|---:|');
  for (const c of CONCURRENCY) {
    const r = (of: string, ref: string) => ratio(ratioOf(rep, of, ref, c));
    L.push(`| ${c} | ${r('orva node', RELAY)} | ${r('orva node', RELAY_BWRAP)} | ${r('orva node', BARE)} | ${r('orva python', RELAY)} | ${r('orva python', BARE)} |`);
  }
  L.push('', '## Cold start (PUT env_vars drains the pool, then one timed call)', '');
  L.push('p50/p90 over the calls the node did not record as warm; server duration_ms is the node\'s own figure for the same calls.', '');
  L.push('| runtime | samples | p50 ms | p90 ms | recorded cold_start | server duration_ms p50 |', '|---|---:|---:|---:|---:|---:|');
  for (const rt of ['node', 'python'] as const) {
    const c = rep.cold[rt];
    if (c) L.push(`| ${rt} | ${c.samples.length} | ${f1(c.p50)} | ${f1(c.p90)} | ${c.confirmedCold}/${c.samples.length} | ${f1(c.serverP50 ?? undefined)} |`);
  }
  L.push('', '## Deploy to first success (POST deploy-inline → first 200 from /fn/{id}, polled every 10 ms)', '');
  L.push('| runtime | samples ms | median ms |', '|---|---|---:|');
  for (const rt of ['node', 'python'] as const) {
    const d = rep.deploy[rt];
    if (d) L.push(`| ${rt} | ${d.samples.map((s) => s.toFixed(0)).join(', ')} | ${d.p50.toFixed(0)} |`);
  }
  L.push('', '## Targets (issue 3, 2-core machine)', '');
  L.push('| target | measured | |', '|---|---|---|');
  for (const t of rep.targets) L.push(`| ${t.target} | ${t.measured} | ${t.pass === null ? '— not measured' : t.pass ? '✅ pass' : '❌ fail'} |`);
  if (rep.errors.length) L.push('', '## Errors', '', ...rep.errors.map((e) => `- ${e.split('\n')[0]}`));
  return L.join('\n') + '\n';
}

// ---- main

async function main(): Promise<void> {
  const wrkVersion = await new Promise<string>((res) => {
    const p = spawn('wrk', ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', () => res(''));
    p.on('exit', () => res(/wrk \S+/.exec(out)?.[0] ?? 'wrk'));
  });
  if (!wrkVersion) throw new Error('wrk is not installed: apt-get install -y wrk');
  mkdirSync(RESULTS, { recursive: true });
  if (PROFILE) rmSync(join(RESULTS, 'profile'), { recursive: true, force: true });

  const rep: Report = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', node: process.version, measureSeconds: MEASURE_S, rounds: ROUNDS, poolWorkers: POOL_WORKERS, nodeFlags: NODE_FLAGS, wrk: wrkVersion, backgroundLoad: await backgroundLoad() },
    load: {},
    rounds: {},
    cold: {},
    deploy: {},
    targets: [],
    errors: [],
  };
  if (rep.machine.backgroundLoad > 20) console.error(`warning: the machine is already ${rep.machine.backgroundLoad} % busy (of ${100 * rep.machine.cpus}); figures will be low — see the 'other' CPU column`);
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      console.error(`${what} failed: ${(err as Error).message}`);
      rep.errors.push(`${what}: ${(err as Error).message}`);
    }
  };

  const servers: ChildProcess[] = [];
  const targets: Target[] = [];
  let orva: Orva | null = null;
  const coldIds: Partial<Record<Runtime, string>> = {};
  try {
    console.error('starting the servers: bare uWS, relay, relay + bwrap, orva node (embedded NATS, bwrap sandbox)');
    await attempt(BARE, async () => {
      const s = await startReference('uws-hello.ts', []);
      servers.push(s.proc);
      targets.push({ name: BARE, url: `http://127.0.0.1:${s.port}/fn/hello`, pid: s.proc.pid!, key: '' });
    });
    const relayDir = tempDir('relay');
    writeFileSync(join(relayDir, 'handler.js'), NODE_CODE);
    for (const [name, mode] of [[RELAY, 'plain'], [RELAY_BWRAP, 'bwrap']] as const) {
      await attempt(name, async () => {
        const s = await startReference('relay.ts', [String(POOL_WORKERS), relayDir, mode]);
        servers.push(s.proc);
        targets.push({ name, url: `http://127.0.0.1:${s.port}/fn/hello`, pid: s.proc.pid!, key: '' });
      });
    }
    await attempt('orva node', async () => {
      const o = await startOrva();
      orva = o;
      // Deploy-to-first-success first: the node's event loop is idle, as a user's deploy would see it.
      for (const rt of ['node', 'python'] as const) {
        await attempt(`deploy ${rt}`, async () => {
          const samples: number[] = [];
          for (let i = 0; i < DEPLOY_SAMPLES; i++) samples.push((await deployToFirstSuccess(o, rt)).ms);
          rep.deploy[rt] = { samples, p50: pct(samples, 50) };
          console.error(`  deploy→first 200 ${rt}: ${samples.map((s) => s.toFixed(0)).join(', ')} ms`);
        });
      }
      for (const rt of ['node', 'python'] as const) {
        await attempt(`warm ${rt}`, async () => {
          const { id } = await deployToFirstSuccess(o, rt);
          coldIds[rt] = id;
          targets.push({ name: `orva ${rt}`, url: `${o.url}/fn/${id}`, pid: o.proc.pid!, key: o.key });
        });
      }
    });

    const prewarmC = Math.max(...CONCURRENCY);
    console.error(`warming every target up: ${PREWARM_S} s at c=${prewarmC}, not measured`);
    for (const t of targets) {
      await attempt(`${t.name} warm-up`, async () => {
        await wrk(t.url, prewarmC, PREWARM_S, t.key);
      });
    }
    for (let round = 0; round < ROUNDS; round++) {
      console.error(`round ${round + 1} of ${ROUNDS}`);
      for (const c of CONCURRENCY) {
        // Rotate the order each round, so no target always follows the same one.
        for (let i = 0; i < targets.length; i++) {
          const t = targets[(i + round) % targets.length]!;
          await attempt(`${t.name} c=${c}`, async () => {
            const r = await loadPoint(t, c);
            ((rep.rounds[t.name] ??= {})[c] ??= []).push(r);
          });
        }
      }
    }
    for (const [name, points] of Object.entries(rep.rounds)) {
      for (const [c, runs] of Object.entries(points)) (rep.load[name] ??= {})[Number(c)] = medianRun(runs);
    }

    const o = orva as Orva | null;
    if (o) {
      for (const rt of ['node', 'python'] as const) {
        const id = coldIds[rt];
        if (!id) continue;
        await attempt(`cold ${rt}`, async () => {
          rep.cold[rt] = await coldStarts(o, id);
          console.error(`  cold ${rt}: p50 ${f1(rep.cold[rt]!.p50)} ms, p90 ${f1(rep.cold[rt]!.p90)} ms, confirmed ${rep.cold[rt]!.confirmedCold}/${COLD_SAMPLES}`);
        });
      }
    }
  } finally {
    for (const p of servers) await stop(p);
    const o = orva as Orva | null;
    if (o) {
      await stop(o.proc, 40_000);
      const warnings = o.output().trim();
      if (warnings) console.error(`orva node output (warn and above, last 2000 chars):\n${warnings.slice(-2000)}`);
    }
  }

  evaluate(rep);
  const md = markdown(rep);
  writeFileSync(join(RESULTS, 'latest.md'), md);
  writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(rep, null, 2) + '\n');
  console.log('\n' + md);
  console.log(`written: ${join(RESULTS, 'latest.md')}, ${join(RESULTS, 'latest.json')}`);
  if (PROFILE) console.log('\n' + summariseProfile(join(RESULTS, 'profile')).join('\n'));
}

/** `--mcp`: only the MCP section (mcp.ts), the tool call beside the direct call on one node. */
async function mainMcp(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const load = await backgroundLoad();
  const rep = await mcpBench({
    startOrva,
    stopOrva: (o) => stop(o.proc, 40_000),
    deployHello: async (o) => (await deployToFirstSuccess(o, 'node')).id,
    api,
    prewarm: async (t, c) => void (await wrk(t.url, c, PREWARM_S, t.key, undefined, t.request)),
    loadPoint,
    rounds: ROUNDS,
  });
  const header = `${new Date().toISOString()} · ${cpus().length} × ${cpus()[0]?.model ?? '?'} · Node ${process.version} · ${MEASURE_S} s per point after a ${WARMUP_S} s warm-up, ${ROUNDS} interleaved round${ROUNDS === 1 ? '' : 's'} · hello handler (node), POST {"name":"bench"} both ways; the MCP call uses a channel token · wrk on the same cores · background load before the run ${load} % of one core`;
  const md = mcpMarkdown(rep, header);
  writeFileSync(join(RESULTS, 'mcp-latest.md'), md);
  writeFileSync(join(RESULTS, 'mcp-latest.json'), JSON.stringify(rep, null, 2) + '\n');
  console.log('\n' + md);
}

const t0 = Date.now();
try {
  // `--at-scale [N]`: the many-functions benchmark (at-scale.ts) instead of this one.
  if (process.argv.includes('--at-scale')) await (await import('./at-scale.ts')).atScale(process.argv.slice(2), { nodeFlags: NODE_FLAGS, resultsDir: RESULTS });
  else await (process.argv.includes('--mcp') ? mainMcp() : main());
} finally {
  cleanupNow();
  console.error(`bench took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
