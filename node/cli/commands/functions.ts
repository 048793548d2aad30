/** `orva functions ls|get|create|update|rm`: the function records. */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { functionRecord } from '../../../protocol/responses.ts';
import { FUNCTION_STATUSES } from '../../../protocol/schemas.ts';
import { UsageError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { type FunctionRecord, listFunctions, mustFindFunction } from '../function-ref.ts';
import type { IO } from '../io.ts';
import { emit, fields, type OutputOptions, table, when, withExample, withOutput } from '../output.ts';

export function statusColour(io: IO, status: string): string {
  const c = status === 'active' || status === 'succeeded' ? 'green' : status === 'error' || status === 'failed' ? 'red' : 'yellow';
  return io.paint(c, status);
}

export function showFunction(f: Factory, fn: FunctionRecord): void {
  fields(f.io, [
    ['name', fn.name],
    ['id', fn.id],
    ['description', fn.description],
    ['status', statusColour(f.io, fn.status)],
    ['runtime', fn.runtime],
    ['entrypoint', fn.entrypoint],
    ['memory', `${fn.memory_mb} MB, ${fn.cpus} cpu`],
    ['timeout', `${fn.timeout_ms} ms`],
    ['network', fn.network_mode],
    ['auth', fn.auth_mode],
    ['env', Object.keys(fn.env_vars).join(', ')],
    ['version', fn.code_hash ? `${fn.version} (${fn.code_hash.slice(0, 12)})` : 'not deployed'],
    ['url', `${f.client().baseUrl}/fn/${fn.id}`],
    ['updated', when(f.io, fn.updated_at)],
  ]);
}

/** `KEY=VALUE` pairs into an object; a bare KEY= sets the empty string. */
function envPairs(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs) return undefined;
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env ${p}: give KEY=VALUE`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`not a number: ${v}`);
  return n;
};

interface SpecOptions {
  description?: string;
  entrypoint?: string;
  memory?: number;
  cpus?: number;
  timeout?: number;
  env?: string[];
  network?: string;
  auth?: string;
}

function specFields(o: SpecOptions): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    description: o.description,
    entrypoint: o.entrypoint,
    memory_mb: o.memory,
    cpus: o.cpus,
    timeout_ms: o.timeout,
    env_vars: envPairs(o.env),
    network_mode: o.network,
    auth_mode: o.auth,
  };
  for (const k of Object.keys(spec)) if (spec[k] === undefined) delete spec[k];
  return spec;
}

function specOptions(cmd: Command): Command {
  return cmd
    .option('--description <text>', 'what it does (also its MCP tool description in channels)')
    .option('--entrypoint <file>', 'handler file inside the version (default handler.js / handler.py)')
    .option('--memory <mb>', 'memory limit in MB', int)
    .option('--cpus <n>', 'CPU limit', int)
    .option('--timeout <ms>', 'call timeout in ms', int)
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable; replaces the whole set on update)', collect)
    .addOption(new Option('--network <mode>', 'network access').choices(['none', 'egress']))
    .addOption(new Option('--auth <mode>', 'who may call it').choices(['platform_key', 'none', 'signed']));
}

export function functionsCommand(f: Factory): Command {
  const cmd = new Command('functions').alias('fn').description('list, show, create, change and delete functions');

  const ls = new Command('ls')
    .alias('list')
    .description('list functions')
    .addOption(new Option('--status <status>', 'only this status').choices([...FUNCTION_STATUSES]))
    .addOption(new Option('--runtime <runtime>', 'only this runtime').choices(['node', 'python']))
    .action(async (opts: OutputOptions & { status?: string; runtime?: string }) => {
      const fns = await listFunctions(f.client(), { status: opts.status, runtime: opts.runtime });
      emit(f.io, opts, fns, () =>
        table(
          f.io,
          ['NAME', 'STATUS', 'RUNTIME', 'VERSION', 'ID', 'UPDATED'],
          fns.map((x) => [x.name, statusColour(f.io, x.status), x.runtime, x.code_hash ? x.code_hash.slice(0, 12) : '', x.id, when(f.io, x.updated_at)]),
        ),
      );
    });
  cmd.addCommand(withExample(withOutput(ls), 'orva functions ls', 'orva functions ls --status active -o json'));

  const get = new Command('get')
    .description('show one function')
    .argument('<function>', 'name or id')
    .action(async (ref: string, opts: OutputOptions) => {
      const fn = await mustFindFunction(f.client(), ref);
      emit(f.io, opts, fn, () => showFunction(f, fn));
    });
  cmd.addCommand(withExample(withOutput(get), 'orva functions get hello'));

  const create = specOptions(
    new Command('create')
      .description('create a function record (deploy code with `orva deploy`)')
      .argument('<name>', 'a lower-case slug')
      .addOption(new Option('--runtime <runtime>', 'node or python').choices(['node', 'python']).makeOptionMandatory()),
  ).action(async (name: string, opts: OutputOptions & SpecOptions & { runtime: string }) => {
    const fn = await f.client().json(functionRecord, 'POST', '/api/v1/functions', { json: { name, runtime: opts.runtime, ...specFields(opts) } });
    emit(f.io, opts, fn, () => f.io.line(`${f.io.paint('green', '✓')} created ${fn.name} (${fn.id})`));
  });
  cmd.addCommand(withExample(withOutput(create), 'orva functions create hello --runtime node --memory 256 -e GREETING=hi'));

  const update = specOptions(
    new Command('update')
      .description('change a function (only the fields given)')
      .argument('<function>', 'name or id')
      .option('--name <name>', 'rename it')
      .addOption(new Option('--status <status>', 'inactive stops serving it').choices(['active', 'inactive'])),
  ).action(async (ref: string, opts: OutputOptions & SpecOptions & { name?: string; status?: string }) => {
    const client = f.client();
    const current = await mustFindFunction(client, ref);
    const patch = { ...specFields(opts), ...(opts.name ? { name: opts.name } : {}), ...(opts.status ? { status: opts.status } : {}) };
    if (Object.keys(patch).length === 0) throw new UsageError('nothing to change', 'give at least one option, e.g. --memory 256');
    const fn = await client.json(functionRecord, 'PUT', `/api/v1/functions/${current.id}`, { json: patch });
    emit(f.io, opts, fn, () => f.io.line(`${f.io.paint('green', '✓')} updated ${fn.name}`));
  });
  cmd.addCommand(withExample(withOutput(update), 'orva functions update hello --timeout 5000', 'orva functions update hello --status inactive'));

  const rm = new Command('rm')
    .alias('delete')
    .description('delete a function and all its versions (irreversible)')
    .argument('<function>', 'name or id')
    .action(async (ref: string, opts: OutputOptions) => {
      const client = f.client();
      const fn = await mustFindFunction(client, ref);
      const r = await client.json(z.looseObject({ id: z.string(), deleted: z.boolean() }), 'DELETE', `/api/v1/functions/${fn.id}`);
      emit(f.io, opts, { ...r, name: fn.name }, () => f.io.line(`${f.io.paint('green', '✓')} deleted ${fn.name}`));
    });
  cmd.addCommand(withExample(withOutput(rm), 'orva functions rm hello'));

  return withExample(cmd, 'orva functions ls', 'orva functions get hello -o json');
}
