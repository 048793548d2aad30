/** `orva status`: is the server up, which versions, what it runs. */
import { Command } from 'commander';
import { z } from 'zod';
import { runtimeList } from '../../../protocol/responses.ts';
import { CLI_VERSION } from '../version.ts';
import type { Factory } from '../factory.ts';
import { listFunctions } from '../function-ref.ts';
import { emit, fields, type OutputOptions, withExample, withOutput } from '../output.ts';

export async function runStatus(f: Factory, opts: OutputOptions): Promise<void> {
  const client = f.client();
  const health = await client.json(z.looseObject({ status: z.string() }), 'GET', '/api/v1/system/health');
  const doc = await client.json(z.looseObject({ info: z.looseObject({ version: z.string() }) }), 'GET', '/api/v1/openapi.json');
  const { runtimes } = await client.json(runtimeList, 'GET', '/api/v1/runtimes');
  const functions = await listFunctions(client);
  const data = {
    url: client.baseUrl,
    health: health.status,
    server_version: doc.info.version,
    cli_version: CLI_VERSION,
    runtimes: runtimes.map((r) => ({ id: r.id, version: r.version })),
    functions: { total: functions.length, active: functions.filter((x) => x.status === 'active').length },
  };
  emit(f.io, opts, data, () =>
    fields(f.io, [
      ['server', data.url],
      ['health', data.health === 'ok' ? f.io.paint('green', 'ok') : f.io.paint('red', data.health)],
      ['version', `server ${data.server_version}, cli ${data.cli_version}`],
      ['runtimes', data.runtimes.map((r) => `${r.id} ${r.version ?? '(missing)'}`).join(', ')],
      ['functions', `${data.functions.total} (${data.functions.active} active)`],
    ]),
  );
}

export function statusCommand(f: Factory): Command {
  const cmd = new Command('status').description('server health, versions and runtimes').action((opts: OutputOptions) => runStatus(f, opts));
  return withExample(withOutput(cmd), 'orva status', 'orva status -o json | jq .health');
}
