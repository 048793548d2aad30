/**
 * `orva deploy DIR|FILE`: make the function when it does not exist, upload
 * the code (a folder as a tarball, a single file inline), then follow the
 * build's event stream with a spinner and its log until it ends.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { deploymentAccepted, deploymentLogs, deploymentRecord, functionRecord } from '../../../protocol/responses.ts';
import { RUNTIMES, type Runtime } from '../../../protocol/schemas.ts';
import type { ApiClient } from '../api-client.ts';
import { CliError, SilentExit, UsageError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { findFunction, type FunctionRecord } from '../function-ref.ts';
import { emit, isJson, type OutputOptions, withExample, withOutput } from '../output.ts';
import { listFiles, tarGz } from '../tarball.ts';

export interface DeployOptions extends OutputOptions {
  name?: string;
  runtime?: Runtime;
  entrypoint?: string;
}

type Deployment = z.output<typeof deploymentRecord>;

const LOG_TAIL_LINES = 30;

/** A folder's or file's name as a function name: a lower-case slug. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64) || 'fn';
}

interface Plan {
  name: string;
  runtime: Runtime;
  entrypoint: string;
  /** A folder to pack, or one file to send inline. */
  dir?: string;
  file?: string;
}

/** What to deploy, from the path and options: runtime by manifest or extension, name by folder or file. */
function plan(path: string, opts: DeployOptions): Plan {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new UsageError(`no such file or folder: ${path}`);
  const runtimeOfExt = (p: string): Runtime | undefined =>
    (Object.keys(RUNTIMES) as Runtime[]).find((r) => (RUNTIMES[r].extensions as readonly string[]).includes(extname(p)));
  if (statSync(abs).isFile()) {
    const runtime = opts.runtime ?? runtimeOfExt(abs);
    if (!runtime) throw new UsageError(`cannot tell the runtime of ${path}`, 'give --runtime node|python');
    return { name: opts.name ?? slug(basename(abs, extname(abs))), runtime, entrypoint: opts.entrypoint ?? RUNTIMES[runtime].defaultEntrypoint, file: abs };
  }
  let runtime = opts.runtime;
  if (!runtime) {
    if (existsSync(join(abs, 'package.json')) || existsSync(join(abs, 'handler.js'))) runtime = 'node';
    else if (existsSync(join(abs, 'requirements.txt')) || existsSync(join(abs, 'handler.py'))) runtime = 'python';
    else throw new UsageError(`cannot tell the runtime of ${path}: no package.json, requirements.txt, handler.js or handler.py`, 'give --runtime node|python');
  }
  let name = opts.name;
  if (!name && runtime === 'node' && existsSync(join(abs, 'package.json'))) {
    try {
      const pkgName = (JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8')) as { name?: string }).name;
      if (pkgName) name = slug(pkgName.replace(/^@[^/]+\//, ''));
    } catch {}
  }
  const entrypoint = opts.entrypoint ?? RUNTIMES[runtime].defaultEntrypoint;
  if (!existsSync(join(abs, entrypoint))) throw new UsageError(`${path} has no ${entrypoint}`, 'give --entrypoint FILE');
  return { name: name ?? slug(basename(abs)), runtime, entrypoint, dir: abs };
}

async function ensureFunction(f: Factory, client: ApiClient, p: Plan, explicitEntrypoint: boolean): Promise<{ fn: FunctionRecord; created: boolean }> {
  const existing = await findFunction(client, p.name);
  if (!existing) {
    const fn = await client.json(functionRecord, 'POST', '/api/v1/functions', { json: { name: p.name, runtime: p.runtime, entrypoint: p.entrypoint } });
    return { fn, created: true };
  }
  if (existing.runtime !== p.runtime) throw new CliError(`function ${existing.name} runs ${existing.runtime}, not ${p.runtime}`, 'deploy under another --name, or give --runtime');
  if (explicitEntrypoint && existing.entrypoint !== p.entrypoint) {
    const fn = await client.json(functionRecord, 'PUT', `/api/v1/functions/${existing.id}`, { json: { entrypoint: p.entrypoint } });
    f.io.err(`entrypoint of ${fn.name} changed to ${fn.entrypoint}`);
    return { fn, created: false };
  }
  return { fn: existing, created: false };
}

/** Follow the build's stream to its end; the log is printed as it grows, above the spinner. */
async function followBuild(f: Factory, client: ApiClient, deploymentId: string, quiet: boolean): Promise<{ deployment: Deployment; logs: string }> {
  const spinner = quiet ? null : f.io.spinner('queued');
  let printed = 0;
  let last: Deployment | undefined;
  const fetchLogs = async () => (await client.json(deploymentLogs, 'GET', `/api/v1/deployments/${deploymentId}/logs`)).logs;
  const printNew = (logs: string) => {
    if (logs.length > printed) spinner?.log(logs.slice(printed));
    printed = Math.max(printed, logs.length);
  };
  try {
    for await (const frame of client.events(`/api/v1/deployments/${deploymentId}/stream`)) {
      if (frame.event !== 'deployment') continue;
      last = deploymentRecord.parse(JSON.parse(frame.data));
      spinner?.update(`${last.status}${last.phase && last.phase !== last.status ? `: ${last.phase}` : ''}`);
      if (!quiet) printNew(await fetchLogs());
    }
  } catch (err) {
    spinner?.stop();
    throw err;
  }
  // The stream closes at the terminal state; read the record once more in case the connection dropped before it.
  const deployment = last && (last.status === 'succeeded' || last.status === 'failed') ? last : await client.json(deploymentRecord, 'GET', `/api/v1/deployments/${deploymentId}`);
  if (deployment.status !== 'succeeded' && deployment.status !== 'failed') {
    spinner?.stop();
    throw new CliError(`the build stream ended while the deployment was ${deployment.status}`, `follow it with: curl …/api/v1/deployments/${deploymentId}`);
  }
  const logs = await fetchLogs();
  if (!quiet) printNew(logs);
  spinner?.stop();
  return { deployment, logs };
}

export async function runDeploy(f: Factory, path: string, opts: DeployOptions): Promise<void> {
  const client = f.client();
  const p = plan(path, opts);
  const started = Date.now();
  const { fn, created } = await ensureFunction(f, client, p, opts.entrypoint !== undefined);
  if (created && !isJson(opts)) f.io.err(`created function ${fn.name} (${fn.runtime})`);
  let accepted: z.output<typeof deploymentAccepted>;
  if (p.file) {
    accepted = await client.json(deploymentAccepted, 'POST', `/api/v1/functions/${fn.id}/deploy-inline`, { json: { code: readFileSync(p.file, 'utf8'), filename: fn.entrypoint } });
  } else {
    const files = listFiles(p.dir!);
    if (!isJson(opts)) f.io.err(`packing ${files.length} file${files.length === 1 ? '' : 's'} from ${path}`);
    accepted = await client.json(deploymentAccepted, 'POST', `/api/v1/functions/${fn.id}/deploy`, {
      body: tarGz(p.dir!, files),
      headers: { 'content-type': 'application/gzip' },
    });
  }
  const { deployment, logs } = await followBuild(f, client, accepted.id, isJson(opts));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (deployment.status === 'failed') {
    if (isJson(opts)) f.io.line(JSON.stringify({ function: fn, deployment, logs_tail: tail(logs) }, null, 2));
    f.io.err(f.io.paintErr('red', `✗ build of ${fn.name} failed after ${seconds}s: ${deployment.error ?? 'see the log'}`));
    f.io.err(`--- last ${LOG_TAIL_LINES} lines of the build log (deployment ${deployment.id}) ---`);
    f.io.err(tail(logs) || '(empty)');
    throw new SilentExit(1);
  }
  const current = await client.json(functionRecord, 'GET', `/api/v1/functions/${fn.id}`);
  emit(f.io, opts, { function: current, deployment }, () => {
    f.io.line(`${f.io.paint('green', '✓')} deployed ${fn.name} in ${seconds}s (version ${deployment.code_hash?.slice(0, 12)}, deployment ${deployment.id})`);
    f.io.line(`  invoke: orva invoke ${fn.name}   or   curl -H 'X-Orva-API-Key: …' ${client.baseUrl}/fn/${fn.id}`);
  });
}

function tail(logs: string): string {
  return logs.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

export function deployCommand(f: Factory): Command {
  const cmd = new Command('deploy')
    .description('deploy a folder (package.json / requirements.txt installed) or one handler file; creates the function when needed')
    .argument('[path]', 'a folder or a handler file', '.')
    .option('--name <name>', 'function name (default: package.json name, else the folder or file name)')
    .addOption(new Option('--runtime <runtime>', 'node or python (default: from the manifest or extension)').choices(['node', 'python']))
    .option('--entrypoint <file>', 'handler file in the folder (default handler.js / handler.py)')
    .action((path: string, opts: DeployOptions) => runDeploy(f, path, opts));
  return withExample(withOutput(cmd), 'orva deploy ./hello', 'orva deploy handler.py --name resize', 'orva deploy . -o json | jq .deployment.code_hash');
}
