/** `orva channels ls|get|create|update|set-functions|rotate|rm`: bundles of functions exposed at /mcp under one token. */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { channelCreated, channelDetail, channelRecord, channelToken } from '../../../protocol/responses.ts';
import type { ApiClient } from '../api-client.ts';
import { CliError, UsageError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { mustFindFunction } from '../function-ref.ts';
import { emit, fields, type OutputOptions, table, when, withExample, withOutput } from '../output.ts';

type Channel = z.output<typeof channelRecord>;
type Detail = z.output<typeof channelDetail>;

const collect = (v: string, prev: string[] = []) => [...prev, v];

async function listChannels(client: ApiClient): Promise<Channel[]> {
  return (await client.json(z.looseObject({ channels: z.array(channelRecord) }), 'GET', '/api/v1/channels')).channels;
}

/** Channels too are named by name or id. */
async function mustFindChannel(client: ApiClient, ref: string): Promise<Channel> {
  const ch = (await listChannels(client)).find((c) => c.id === ref || c.name === ref);
  if (!ch) throw new CliError(`no channel named or with id ${ref}`, 'list them with `orva channels ls`');
  return ch;
}

async function functionIds(client: ApiClient, refs: string[] | undefined): Promise<string[]> {
  if (!refs || refs.length === 0) throw new UsageError('give at least one --function NAME');
  return Promise.all(refs.map(async (r) => (await mustFindFunction(client, r)).id));
}

function showDetail(f: Factory, c: Detail): void {
  fields(f.io, [
    ['name', c.name],
    ['id', c.id],
    ['description', c.description],
    ['token prefix', c.prefix],
    ['expires', when(f.io, c.expires_at)],
    ['last used', when(f.io, c.last_used_at)],
  ]);
  f.io.line();
  table(f.io, ['FUNCTION', 'TOOL', 'DESCRIPTION OVERRIDE'], c.functions.map((fn) => [fn.name, fn.tool_name, fn.description]));
}

/** The token is the one thing to keep: on stdout alone, the warning on stderr. */
function showToken(f: Factory, token: string): void {
  f.io.line(token);
  f.io.err(`${f.io.paintErr('yellow', '!')} save this token now: it cannot be shown again. Use it at /mcp as Authorization: Bearer <token>`);
}

export function channelsCommand(f: Factory): Command {
  const cmd = new Command('channels').alias('channel').description('bundles of functions that an MCP client reaches at /mcp with one token');

  const ls = new Command('ls')
    .alias('list')
    .description('list channels')
    .action(async (opts: OutputOptions) => {
      const channels = await listChannels(f.client());
      emit(f.io, opts, channels, () =>
        table(f.io, ['NAME', 'FUNCTIONS', 'PREFIX', 'LAST USED', 'EXPIRES', 'ID'], channels.map((c) => [c.name, c.function_count, c.prefix, when(f.io, c.last_used_at), when(f.io, c.expires_at), c.id])),
      );
    });
  cmd.addCommand(withExample(withOutput(ls), 'orva channels ls'));

  const get = new Command('get')
    .description('a channel and its functions')
    .argument('<channel>', 'name or id')
    .action(async (ref: string, opts: OutputOptions) => {
      const client = f.client();
      const c = await client.json(channelDetail, 'GET', `/api/v1/channels/${(await mustFindChannel(client, ref)).id}`);
      emit(f.io, opts, c, () => showDetail(f, c));
    });
  cmd.addCommand(withExample(withOutput(get), 'orva channels get support-bot'));

  const create = new Command('create')
    .description('create a channel; its token is printed once')
    .argument('<name>', 'channel name')
    .option('-f, --function <function>', 'a function to bundle (repeatable; name or id)', collect)
    .option('--description <text>', 'what the channel is for')
    .option('--expires-in-days <n>', 'expiry', (v) => Number(v))
    .action(async (name: string, opts: OutputOptions & { function?: string[]; description?: string; expiresInDays?: number }) => {
      const client = f.client();
      const c = await client.json(channelCreated, 'POST', '/api/v1/channels', {
        json: { name, description: opts.description, function_ids: await functionIds(client, opts.function), expires_in_days: opts.expiresInDays },
      });
      emit(f.io, opts, c, () => showToken(f, c.token));
    });
  cmd.addCommand(withExample(withOutput(create), 'orva channels create support-bot -f lookup-order -f refund --expires-in-days 30'));

  const update = new Command('update')
    .description('rename, describe, or change the expiry')
    .argument('<channel>', 'name or id')
    .option('--name <name>', 'new name')
    .option('--description <text>', 'new description')
    .addOption(new Option('--expires-at <iso>', 'RFC 3339 expiry, or "never"'))
    .action(async (ref: string, opts: OutputOptions & { name?: string; description?: string; expiresAt?: string }) => {
      const client = f.client();
      const patch: Record<string, unknown> = {};
      if (opts.name !== undefined) patch.name = opts.name;
      if (opts.description !== undefined) patch.description = opts.description;
      if (opts.expiresAt !== undefined) patch.expires_at = opts.expiresAt === 'never' ? null : opts.expiresAt;
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change', 'e.g. --name new-name');
      const c = await client.json(channelDetail, 'PATCH', `/api/v1/channels/${(await mustFindChannel(client, ref)).id}`, { json: patch });
      emit(f.io, opts, c, () => f.io.line(`${f.io.paint('green', '✓')} updated ${c.name}`));
    });
  cmd.addCommand(withExample(withOutput(update), 'orva channels update support-bot --expires-at never'));

  const setFunctions = new Command('set-functions')
    .description("replace the channel's function set")
    .argument('<channel>', 'name or id')
    .option('-f, --function <function>', 'a function to bundle (repeatable; name or id)', collect)
    .action(async (ref: string, opts: OutputOptions & { function?: string[] }) => {
      const client = f.client();
      const id = (await mustFindChannel(client, ref)).id;
      const c = await client.json(channelDetail, 'PUT', `/api/v1/channels/${id}/functions`, { json: { function_ids: await functionIds(client, opts.function) } });
      emit(f.io, opts, c, () => f.io.line(`${f.io.paint('green', '✓')} ${c.name} now bundles ${c.functions.map((x) => x.name).join(', ')}`));
    });
  cmd.addCommand(withExample(withOutput(setFunctions), 'orva channels set-functions support-bot -f lookup-order'));

  const rotate = new Command('rotate')
    .description('issue a new token; the old one stops working at once')
    .argument('<channel>', 'name or id')
    .action(async (ref: string, opts: OutputOptions) => {
      const client = f.client();
      const t = await client.json(channelToken, 'POST', `/api/v1/channels/${(await mustFindChannel(client, ref)).id}/rotate`);
      emit(f.io, opts, t, () => showToken(f, t.token));
    });
  cmd.addCommand(withExample(withOutput(rotate), 'orva channels rotate support-bot'));

  const rm = new Command('rm')
    .alias('delete')
    .description('delete a channel')
    .argument('<channel>', 'name or id')
    .action(async (ref: string, opts: OutputOptions) => {
      const client = f.client();
      const ch = await mustFindChannel(client, ref);
      const r = await client.json(z.looseObject({ id: z.string(), deleted: z.boolean() }), 'DELETE', `/api/v1/channels/${ch.id}`);
      emit(f.io, opts, r, () => f.io.line(`${f.io.paint('green', '✓')} deleted ${ch.name}`));
    });
  cmd.addCommand(withExample(withOutput(rm), 'orva channels rm support-bot'));

  return withExample(cmd, 'orva channels ls', 'orva channels create bot -f hello');
}
