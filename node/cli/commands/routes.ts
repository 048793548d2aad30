/** `orva routes [ls|add|rm]`: custom URLs mapped to functions. */
import { Command } from 'commander';
import { z } from 'zod';
import { routeRecord } from '../../../protocol/responses.ts';
import type { Factory } from '../factory.ts';
import { listFunctions, mustFindFunction } from '../function-ref.ts';
import { emit, type OutputOptions, table, when, withExample, withOutput } from '../output.ts';

async function runList(f: Factory, opts: OutputOptions): Promise<void> {
  const client = f.client();
  const { routes } = await client.json(z.looseObject({ routes: z.array(routeRecord) }), 'GET', '/api/v1/routes');
  const names = new Map((await listFunctions(client)).map((fn) => [fn.id, fn.name]));
  emit(f.io, opts, routes, () =>
    table(f.io, ['PATH', 'FUNCTION', 'METHODS', 'CREATED'], routes.map((r) => [r.path, names.get(r.function_id) ?? r.function_id, r.methods, when(f.io, r.created_at)])),
  );
}

export function routesCommand(f: Factory): Command {
  const cmd = new Command('routes').alias('route').description('custom URLs that reach a function without its id').action((opts: OutputOptions) => runList(f, opts));
  withOutput(cmd).enablePositionalOptions();

  cmd.addCommand(withExample(withOutput(new Command('ls').alias('list').description('list routes').action((opts: OutputOptions) => runList(f, opts))), 'orva routes ls'));

  const add = new Command('add')
    .description('map a path (exact, or a prefix ending in /*) to a function')
    .argument('<path>', 'e.g. /webhooks/stripe or /api/users/*')
    .argument('<function>', 'name or id')
    .option('--methods <list>', '* or a comma list such as GET,POST', '*')
    .action(async (path: string, ref: string, opts: OutputOptions & { methods: string }) => {
      const client = f.client();
      const fn = await mustFindFunction(client, ref);
      const r = await client.json(routeRecord, 'POST', '/api/v1/routes', { json: { path, function_id: fn.id, methods: opts.methods } });
      emit(f.io, opts, r, () => f.io.line(`${f.io.paint('green', '✓')} ${r.path} → ${fn.name} (${r.methods})`));
    });
  cmd.addCommand(withExample(withOutput(add), 'orva routes add /webhooks/stripe stripe-hook --methods POST'));

  const rm = new Command('rm')
    .alias('delete')
    .description('remove a route')
    .argument('<path>', 'the route path')
    .action(async (path: string, opts: OutputOptions) => {
      const r = await f.client().json(z.looseObject({ path: z.string(), deleted: z.boolean() }), 'DELETE', '/api/v1/routes', { query: { path } });
      emit(f.io, opts, r, () => f.io.line(`${f.io.paint('green', '✓')} removed ${path}`));
    });
  cmd.addCommand(withExample(withOutput(rm), 'orva routes rm /webhooks/stripe'));

  return withExample(cmd, 'orva routes', 'orva routes add /hello hello');
}
