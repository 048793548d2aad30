/** `orva keys [ls|create|rm]`: API keys (admin). The plaintext of a new key is shown once. */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { apiKeyCreated, apiKeyRecord } from '../../../protocol/responses.ts';
import { PERMISSIONS } from '../../../protocol/permissions.ts';
import type { Factory } from '../factory.ts';
import { emit, type OutputOptions, table, when, withExample, withOutput } from '../output.ts';
import { positiveInt } from './executions.ts';

async function runList(f: Factory, opts: OutputOptions): Promise<void> {
  const { keys } = await f.client().json(z.looseObject({ keys: z.array(apiKeyRecord) }), 'GET', '/api/v1/keys');
  emit(f.io, opts, keys, () =>
    table(f.io, ['NAME', 'PREFIX', 'PERMISSIONS', 'LAST USED', 'EXPIRES', 'ID'], keys.map((k) => [k.name, k.prefix, k.permissions.join(','), when(f.io, k.last_used_at), when(f.io, k.expires_at), k.id])),
  );
}

export function keysCommand(f: Factory): Command {
  const cmd = new Command('keys').alias('key').description('API keys (needs admin)').action((opts: OutputOptions) => runList(f, opts));
  withOutput(cmd).enablePositionalOptions();
  cmd.addCommand(withExample(withOutput(new Command('ls').alias('list').description('list keys (never their plaintext)').action((opts: OutputOptions) => runList(f, opts))), 'orva keys ls'));

  const create = new Command('create')
    .description('issue a key; its plaintext is printed once')
    .argument('<name>', 'what it is for, e.g. ci-deployer')
    .addOption(new Option('--permissions <list>', `comma list of ${PERMISSIONS.join(', ')} (default all)`))
    .option('--expires-in-days <n>', 'expiry', positiveInt)
    .action(async (name: string, opts: OutputOptions & { permissions?: string; expiresInDays?: number }) => {
      const k = await f.client().json(apiKeyCreated, 'POST', '/api/v1/keys', {
        json: { name, permissions: opts.permissions?.split(',').map((p) => p.trim()), expires_in_days: opts.expiresInDays },
      });
      emit(f.io, opts, k, () => {
        f.io.line(k.key);
        f.io.err(`${f.io.paintErr('yellow', '!')} save this key now: it cannot be shown again (${k.permissions.join(', ')})`);
      });
    });
  cmd.addCommand(withExample(withOutput(create), 'orva keys create ci-deployer --permissions read,write --expires-in-days 90'));

  const rm = new Command('rm')
    .alias('revoke')
    .description('revoke a key')
    .argument('<id>', 'key id')
    .action(async (id: string, opts: OutputOptions) => {
      const r = await f.client().json(z.looseObject({ id: z.string(), revoked: z.boolean() }), 'DELETE', `/api/v1/keys/${encodeURIComponent(id)}`);
      emit(f.io, opts, r, () => f.io.line(`${f.io.paint('green', '✓')} revoked ${id}`));
    });
  cmd.addCommand(withExample(withOutput(rm), 'orva keys rm 019df200-7b00-7e00-9c00-aab1cd2e3f40'));

  return withExample(cmd, 'orva keys', 'orva keys create ci --permissions invoke');
}
