/** `orva pool get|set FN`: a function's autoscaler settings. */
import { Command } from 'commander';
import { poolConfigRecord } from '../../../protocol/responses.ts';
import { UsageError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { mustFindFunction } from '../function-ref.ts';
import { emit, fields, type OutputOptions, withExample, withOutput } from '../output.ts';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`not an integer: ${v}`);
  return n;
};
const bool = (v: string) => {
  if (v !== 'true' && v !== 'false') throw new UsageError(`give true or false, not ${v}`);
  return v === 'true';
};

type PoolConfig = ReturnType<typeof poolConfigRecord.parse>;

function show(f: Factory, name: string, c: PoolConfig): void {
  fields(f.io, [
    ['function', name],
    ['min_warm', c.min_warm],
    ['max_warm', c.max_warm],
    ['idle_ttl_seconds', c.idle_ttl_seconds],
    ['target_concurrency', c.target_concurrency],
    ['scale_to_zero', c.scale_to_zero],
  ]);
}

export function poolCommand(f: Factory): Command {
  const cmd = new Command('pool').description("a function's warm pool and autoscaler settings (per node)");

  const get = new Command('get')
    .description('show the settings')
    .argument('<function>', 'name or id')
    .action(async (ref: string, opts: OutputOptions) => {
      const client = f.client();
      const fn = await mustFindFunction(client, ref);
      const c = await client.json(poolConfigRecord, 'GET', '/api/v1/pool/config', { query: { function_id: fn.id } });
      emit(f.io, opts, c, () => show(f, fn.name, c));
    });
  cmd.addCommand(withExample(withOutput(get), 'orva pool get hello'));

  const set = new Command('set')
    .description('change the settings given; the others keep their value')
    .argument('<function>', 'name or id')
    .option('--min-warm <n>', 'workers kept warm on each node', int)
    .option('--max-warm <n>', 'most workers on each node', int)
    .option('--idle-ttl <seconds>', 'idle seconds before a worker is stopped', int)
    .option('--target-concurrency <n>', 'calls per worker the autoscaler aims at', int)
    .option('--scale-to-zero <bool>', 'true or false', bool)
    .action(async (ref: string, opts: OutputOptions & { minWarm?: number; maxWarm?: number; idleTtl?: number; targetConcurrency?: number; scaleToZero?: boolean }) => {
      const client = f.client();
      const fn = await mustFindFunction(client, ref);
      const patch = {
        min_warm: opts.minWarm,
        max_warm: opts.maxWarm,
        idle_ttl_seconds: opts.idleTtl,
        target_concurrency: opts.targetConcurrency,
        scale_to_zero: opts.scaleToZero,
      };
      if (Object.values(patch).every((v) => v === undefined)) throw new UsageError('nothing to change', 'e.g. --min-warm 2');
      const c = await client.json(poolConfigRecord, 'PUT', '/api/v1/pool/config', { json: { function_id: fn.id, ...patch } });
      emit(f.io, opts, c, () => show(f, fn.name, c));
    });
  cmd.addCommand(withExample(withOutput(set), 'orva pool set hello --min-warm 2 --max-warm 16'));

  return withExample(cmd, 'orva pool get hello');
}
