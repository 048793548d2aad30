/**
 * `orva secrets ls|set|rm FN`: a function's secrets. A value is read from
 * stdin or a hidden prompt, never from an argument, so it stays out of the
 * shell history and the process list.
 */
import { Command } from 'commander';
import { z } from 'zod';
import { secretRecord } from '../../../protocol/responses.ts';
import { UsageError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { mustFindFunction } from '../function-ref.ts';
import { emit, type OutputOptions, table, when, withExample, withOutput } from '../output.ts';

export function secretsCommand(f: Factory): Command {
  const cmd = new Command('secrets').alias('secret').description("a function's secrets (values are write-only)");

  const ls = new Command('ls')
    .alias('list')
    .description('secret names of a function')
    .argument('<function>', 'name or id')
    .action(async (ref: string, opts: OutputOptions) => {
      const client = f.client();
      const fn = await mustFindFunction(client, ref);
      const { secrets } = await client.json(z.looseObject({ secrets: z.array(secretRecord) }), 'GET', `/api/v1/functions/${fn.id}/secrets`);
      emit(f.io, opts, secrets, () => table(f.io, ['KEY', 'UPDATED'], secrets.map((s) => [s.key, when(f.io, s.updated_at)])));
    });
  cmd.addCommand(withExample(withOutput(ls), 'orva secrets ls hello'));

  const set = new Command('set')
    .description('set a secret; the value comes from stdin or a hidden prompt; the pool refreshes')
    .argument('<function>', 'name or id')
    .argument('<key>', 'an environment variable name')
    .action(async (ref: string, key: string, opts: OutputOptions) => {
      const client = f.client();
      const fn = await mustFindFunction(client, ref);
      const value = await f.io.secretInput(`value of ${key}: `);
      if (value === '' && f.io.stdinTTY) throw new UsageError('empty value', 'type the value, or pipe it: printf %s "$V" | orva secrets set FN KEY');
      const s = await client.json(secretRecord, 'POST', `/api/v1/functions/${fn.id}/secrets`, { json: { key, value } });
      emit(f.io, opts, s, () => f.io.line(`${f.io.paint('green', '✓')} ${key} set on ${fn.name}`));
    });
  cmd.addCommand(withExample(withOutput(set), 'orva secrets set hello STRIPE_KEY        # prompts', 'printf %s "$STRIPE_KEY" | orva secrets set hello STRIPE_KEY'));

  const rm = new Command('rm')
    .alias('delete')
    .description('remove a secret; the pool refreshes')
    .argument('<function>', 'name or id')
    .argument('<key>', 'secret name')
    .action(async (ref: string, key: string, opts: OutputOptions) => {
      const client = f.client();
      const fn = await mustFindFunction(client, ref);
      const r = await client.json(z.looseObject({ key: z.string(), deleted: z.boolean() }), 'DELETE', `/api/v1/functions/${fn.id}/secrets/${encodeURIComponent(key)}`);
      emit(f.io, opts, r, () => f.io.line(`${f.io.paint('green', '✓')} ${key} removed from ${fn.name}`));
    });
  cmd.addCommand(withExample(withOutput(rm), 'orva secrets rm hello STRIPE_KEY'));

  return withExample(cmd, 'orva secrets ls hello');
}
