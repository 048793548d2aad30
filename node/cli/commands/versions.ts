/** `orva rollback FN [--to]` and `orva diff FN [--from --to]`: a function's versions. */
import { Command } from 'commander';
import { z } from 'zod';
import { deploymentRecord, diffAnswer } from '../../../protocol/responses.ts';
import type { ApiClient } from '../api-client.ts';
import { CliError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { type FunctionRecord, mustFindFunction } from '../function-ref.ts';
import type { IO } from '../io.ts';
import { emit, isJson, type OutputOptions, printJson, withExample, withOutput } from '../output.ts';

type Deployment = z.output<typeof deploymentRecord>;

async function succeeded(client: ApiClient, fn: FunctionRecord): Promise<Deployment[]> {
  const { deployments } = await client.json(z.looseObject({ deployments: z.array(deploymentRecord) }), 'GET', `/api/v1/functions/${fn.id}/deployments`, { query: { limit: 1000 } });
  return deployments.filter((d) => d.status === 'succeeded' && d.pruned_at === null);
}

/** The version before the active one: the newest succeeded deployment of another code hash. */
async function previousVersion(client: ApiClient, fn: FunctionRecord): Promise<Deployment> {
  const prev = (await succeeded(client, fn)).find((d) => d.code_hash !== fn.code_hash && d.code_hash !== null);
  if (!prev) throw new CliError(`function ${fn.name} has no earlier version to go back to`, 'see its deployments with `orva functions get` and `--to DEPLOYMENT_ID`');
  return prev;
}

export async function runRollback(f: Factory, ref: string, opts: OutputOptions & { to?: string }): Promise<void> {
  const client = f.client();
  const fn = await mustFindFunction(client, ref);
  const target = opts.to ?? (await previousVersion(client, fn)).id;
  const dep = await client.json(deploymentRecord, 'POST', `/api/v1/functions/${fn.id}/rollback`, { json: /^[0-9a-f]{64}$/.test(target) ? { code_hash: target } : { deployment_id: target } });
  emit(f.io, opts, dep, () => f.io.line(`${f.io.paint('green', '✓')} ${fn.name} rolled back to version ${dep.code_hash?.slice(0, 12)} (deployment ${dep.parent_deployment_id})`));
}

/** git-style colours: file headers bold, hunks cyan, + green, - red. */
function colourDiff(io: IO, text: string): string {
  return text
    .split('\n')
    .map((l) => {
      if (l.startsWith('diff --git') || l.startsWith('--- ') || l.startsWith('+++ ')) return io.paint('bold', l);
      if (l.startsWith('@@')) return io.paint('cyan', l);
      if (l.startsWith('+')) return io.paint('green', l);
      if (l.startsWith('-')) return io.paint('red', l);
      return l;
    })
    .join('\n');
}

export async function runDiff(f: Factory, ref: string, opts: OutputOptions & { from?: string; to?: string }): Promise<void> {
  const client = f.client();
  const fn = await mustFindFunction(client, ref);
  let to = opts.to;
  let from = opts.from;
  if (!to) {
    if (!fn.active_deployment_id) throw new CliError(`function ${fn.name} has no active version`, 'deploy it first');
    to = fn.active_deployment_id;
  }
  if (!from) {
    const versions = await succeeded(client, fn);
    const toHash = versions.find((d) => d.id === to)?.code_hash;
    const older = versions.filter((d) => d.id < to! && d.code_hash !== toHash);
    if (older.length === 0) throw new CliError(`no version of ${fn.name} before ${to} to compare with`, 'give --from DEPLOYMENT_ID');
    from = older[0].id;
  }
  const query = { from, to, format: isJson(opts) ? 'json' : 'unified' };
  if (isJson(opts)) {
    printJson(f.io, await client.json(diffAnswer, 'GET', `/api/v1/functions/${fn.id}/diff`, { query }));
    return;
  }
  const text = await client.text('GET', `/api/v1/functions/${fn.id}/diff`, { query });
  if (text === '') f.io.err(`no differences between ${from} and ${to}`);
  else f.io.out(colourDiff(f.io, text.endsWith('\n') ? text : `${text}\n`));
}

export function rollbackCommand(f: Factory): Command {
  const cmd = new Command('rollback')
    .description('activate an earlier version (default: the one before the active one)')
    .argument('<function>', 'name or id')
    .option('--to <deployment>', 'a deployment id or code hash of a succeeded deployment')
    .action((ref: string, opts: OutputOptions & { to?: string }) => runRollback(f, ref, opts));
  return withExample(withOutput(cmd), 'orva rollback hello', 'orva rollback hello --to 019df210-1234-7000-8000-deadbeef0001');
}

export function diffCommand(f: Factory): Command {
  const cmd = new Command('diff')
    .description('unified diff of handler and manifest between two deployments (default: the previous version → the active one)')
    .argument('<function>', 'name or id')
    .option('--from <deployment>', 'older deployment id')
    .option('--to <deployment>', 'newer deployment id (default: the active one)')
    .action((ref: string, opts: OutputOptions & { from?: string; to?: string }) => runDiff(f, ref, opts));
  return withExample(withOutput(cmd), 'orva diff hello', 'orva diff hello --from 019d… --to 019e… | less -R');
}
