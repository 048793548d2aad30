/**
 * Deploy throughput: how many dependency-free handlers one node builds and
 * activates per second.
 *
 *   node --import tsx ops/bench/deploy-rate.ts [--count 200] [--senders 32] [--retry-ms 100] [--timeout-s 300] [--profile]
 *
 * Starts a node as `npm start` does (own data dir, embedded NATS, the start
 * script's node flags), creates `count` functions (not timed), then fires one
 * deploy-inline per function from `senders` concurrent clients and waits until
 * every deployment has finished. A deploy refused with 503 BUILD_QUEUE_FULL is
 * retried `retry-ms` (default 100) later — a client that honoured
 * Retry-After (10 s) would measure its own sleep; the refusals are counted. The rate is count / (the last
 * deployment's finished_at − the first request), both from this machine's
 * clock. Each build's log carries a timestamp per phase, so the median time
 * spent queued and in each phase is printed too: where the time goes.
 * --profile writes a V8 CPU profile of the node and prints its top functions.
 *
 * Bounded: at most 2,000 functions and the timeout (default 300 s); the node
 * and everything it started are killed at the end or on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from './free-port.ts';
import { summariseProfile } from './profile.ts';
import { descendants } from './proc.ts';
import { startScriptFlags } from './node-flags.ts';
import { boundedInt } from './args.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    senders: { type: 'string', default: '32' },
    'retry-ms': { type: 'string', default: '100' },
    'timeout-s': { type: 'string', default: '300' },
    profile: { type: 'boolean', default: false },
  },
});
const COUNT = boundedInt('count', args.count, 1, 2000);
const SENDERS = boundedInt('senders', args.senders, 1, 256);
const RETRY_MS = boundedInt('retry-ms', args['retry-ms'], 1, 10_000);
const TIMEOUT_MS = boundedInt('timeout-s', args['timeout-s'], 10, 3600) * 1000;
const CODE = "exports.handler = async () => ({ hello: 'world' });\n";
const PHASES = ['installing', 'verifying', 'packing', 'storing', 'activating'] as const;


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


let node: ChildProcess | null = null;
const dataDir = mkdtempSync(join(tmpdir(), 'orva-deploy-rate-'));
const profileDir = join(dataDir, 'profile');

function cleanup(): void {
  // The node leads its own process group: this reaches nats-server and sandboxes too.
  if (node?.pid) {
    try {
      process.kill(-node.pid, 'SIGKILL');
    } catch {}
  }
  rmSync(dataDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

interface Api {
  url: string;
  key: string;
}

async function api(o: Api, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${o.url}${path}`, {
    method,
    headers: { 'x-orva-api-key': o.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function startNode(): Promise<Api> {
  const port = await freePort();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ORVA_DATA_DIR: join(dataDir, 'node'), ORVA_HOST: '127.0.0.1', ORVA_PORT: String(port), ORVA_LOG_LEVEL: 'warn', ...pick(process.env, /^ORVA_BUILD_/) };
  const prof = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  node = spawn(process.execPath, [...startScriptFlags(), ...prof, '--import', 'tsx', join(ROOT, 'node/main.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  node.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  node.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; ; await sleep(100)) {
    if (node.exitCode !== null) throw new Error(`node exited ${node.exitCode}:\n${out.slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`node not ready in 60 s:\n${out.slice(-4000)}`);
    try {
      if ((await fetch(`${url}/api/v1/system/health`)).ok) break;
    } catch {}
  }
  return { url, key: readFileSync(join(dataDir, 'node', 'admin.key'), 'utf8').trim() };
}

/** The ORVA_BUILD_* settings of this shell passed on to the node (e.g. ORVA_BUILD_CONCURRENCY=1 for a before/after). */
function pick(env: NodeJS.ProcessEnv, re: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => re.test(e[0]) && e[1] !== undefined));
}

/** CPU ticks (1/100 s) of a process and of its reaped children: utime + stime + cutime + cstime. */
function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}


/**
 * CPU seconds the node has used, split into its own process and everything below it (nats-server, sandboxes,
 * tar): what a deploy costs the machine, whatever else runs on it.
 */
function nodeCpu(pid: number): { node: number; below: number } {
  const below = descendants(pid).reduce((sum, d) => sum + ticksOf(d), 0);
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const stat = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const own = Number(stat[11]) + Number(stat[12]);
  const reaped = Number(stat[13]) + Number(stat[14]);
  return { node: own / 100, below: (below + reaped) / 100 };
}

/** Run `work` over `items` with at most `n` in flight. */
async function eachLimited<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** The active deployment of every function, following the list's pages. */
async function activeDeployments(o: Api): Promise<Set<string>> {
  const out = new Set<string>();
  for (let cursor: string | null | undefined = undefined; cursor !== null; ) {
    const page: { functions: any[]; next_cursor?: string | null } = (await api(o, 'GET', `/api/v1/functions${cursor ? `?cursor=${cursor}` : ''}`)).json;
    for (const f of page.functions) out.add(f.active_deployment_id);
    cursor = page.next_cursor ?? null;
  }
  return out;
}

const median = (xs: number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!);
const p = (xs: number[], q: number) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!);

async function main(): Promise<void> {
  const o = await startNode();
  const tc = performance.now();
  const fns: string[] = [];
  await eachLimited(Array.from({ length: COUNT }, (_, i) => i), 16, async (i) => {
    const r = await api(o, 'POST', '/api/v1/functions', { name: `rate-${i}`, runtime: 'node' });
    if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    fns.push(r.json.id);
  });
  const createMs = performance.now() - tc;

  const deployments = new Map<string, string>();
  let refused = 0;
  const cpu0 = nodeCpu(node!.pid!);
  const t0 = Date.now();
  const deadline = t0 + TIMEOUT_MS;
  await eachLimited(fns, SENDERS, async (fn) => {
    for (;;) {
      const r = await api(o, 'POST', `/api/v1/functions/${fn}/deploy-inline`, { code: CODE });
      if (r.status === 202) return void deployments.set(r.json.id, fn);
      if (r.status !== 503 || r.json?.error?.code !== 'BUILD_QUEUE_FULL' || Date.now() > deadline) throw new Error(`deploy-inline: ${r.status} ${JSON.stringify(r.json)}`);
      refused += 1;
      await sleep(RETRY_MS);
    }
  });
  const acceptedMs = Date.now() - t0;

  // Until every deployment has finished: one cheap list per poll finds the activated ones; failures are found by asking for the rest now and then.
  const finished = new Map<string, any>();
  for (let round = 0; finished.size < deployments.size; round++) {
    if (Date.now() > deadline) throw new Error(`${deployments.size - finished.size} deployments unfinished after ${TIMEOUT_MS / 1000} s`);
    // Four polls a second: the end time comes from finished_at, so polling faster only takes CPU from the builds.
    await sleep(250);
    const active = await activeDeployments(o);
    const open = [...deployments.keys()].filter((d) => !finished.has(d));
    const check = round % 8 === 7 ? open : open.filter((d) => active.has(d));
    await eachLimited(check, 8, async (d) => {
      const r = await api(o, 'GET', `/api/v1/deployments/${d}/logs`);
      if (r.json.status === 'succeeded' || r.json.status === 'failed') finished.set(d, { ...(await api(o, 'GET', `/api/v1/deployments/${d}`)).json, logs: r.json.logs });
    });
  }

  const cpu1 = nodeCpu(node!.pid!);
  // A deploy that passed the queue check while the queue filled up is recorded, then failed with "build queue full": META writes for nothing.
  let raced = 0;
  await eachLimited(fns, 8, async (fn) => {
    const list = (await api(o, 'GET', `/api/v1/functions/${fn}/deployments?limit=1000`)).json.deployments as any[];
    raced += list.filter((d) => d.error === 'build queue full').length;
  });

  const rows = [...finished.values()];
  const failed = rows.filter((r) => r.status !== 'succeeded');
  const lastFinish = Math.max(...rows.map((r) => Date.parse(r.finished_at)));
  const seconds = (lastFinish - t0) / 1000;
  const phaseMs: Record<string, number[]> = { queued: [] };
  for (const ph of PHASES) phaseMs[ph] = [];
  const total: number[] = [];
  for (const r of rows) {
    const at = new Map<string, number>();
    for (const m of (r.logs as string).matchAll(/^\[([^\]]+)\] (\w+)$/gm)) at.set(m[2]!, Date.parse(m[1]!));
    const marks = [Date.parse(r.created_at), ...PHASES.map((ph) => at.get(ph) ?? NaN), Date.parse(r.finished_at)];
    ['queued', ...PHASES].forEach((name, i) => {
      const d = marks[i + 1]! - marks[i]!;
      if (Number.isFinite(d)) phaseMs[name]!.push(d);
    });
    total.push(Date.parse(r.finished_at) - Date.parse(r.created_at));
  }
  console.log(`functions created: ${COUNT} in ${(createMs / 1000).toFixed(1)} s (${(COUNT / (createMs / 1000)).toFixed(1)}/s)`);
  console.log(`deploys: ${COUNT} (${failed.length} failed) from the first request to the last finished in ${seconds.toFixed(2)} s: ${(COUNT / seconds).toFixed(1)} deploys/s`);
  console.log(`all accepted (202) after ${(acceptedMs / 1000).toFixed(2)} s; BUILD_QUEUE_FULL refusals retried: ${refused}, of them recorded as failed deployments: ${raced}`);
  const perDeploy = (x: number) => `${((x / COUNT) * 1000).toFixed(1)} ms`;
  console.log(`CPU per deploy (polling included): node process ${perDeploy(cpu1.node - cpu0.node)}, below it (sandboxes, nats-server, tar) ${perDeploy(cpu1.below - cpu0.below)}`);
  console.log(`per deployment, created → finished: median ${median(total)} ms, p90 ${p(total, 0.9)} ms`);
  console.log('median ms per step (queued = created → installing; activating = activating → finished):');
  for (const [name, xs] of Object.entries(phaseMs)) console.log(`  ${name.padEnd(10)} ${String(median(xs)).padStart(6)}   p90 ${p(xs, 0.9)}`);
  if (failed.length > 0) console.log(`first failure: ${failed[0].error}`);

  node!.kill('SIGTERM');
  await new Promise((r) => node!.once('exit', r));
  if (args.profile) for (const line of summariseProfile(profileDir, 25)) console.log(line);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(cleanup);
