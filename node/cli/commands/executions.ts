/** `orva executions [FN]`: recent calls across the cluster. */
import { Command } from 'commander';
import { z } from 'zod';
import { executionRecord } from '../../../protocol/responses.ts';
import type { ApiClient } from '../api-client.ts';
import type { Factory } from '../factory.ts';
import { listFunctions, mustFindFunction } from '../function-ref.ts';
import type { IO } from '../io.ts';
import { emit, type OutputOptions, table, when, withExample, withOutput } from '../output.ts';

export type Execution = z.output<typeof executionRecord>;

export async function listExecutions(client: ApiClient, functionId: string | undefined, limit: number): Promise<Execution[]> {
  return (await client.json(z.looseObject({ executions: z.array(executionRecord) }), 'GET', '/api/v1/executions', { query: { function_id: functionId, limit } })).executions;
}

export function executionStatus(io: IO, e: Execution): string {
  return io.paint(e.status === 'succeeded' ? 'green' : 'red', e.status);
}

export const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: ${v}`);
  return n;
};

export function executionsCommand(f: Factory): Command {
  const cmd = new Command('executions')
    .description('recent calls, newest first')
    .argument('[function]', 'only this function (name or id)')
    .option('--limit <n>', 'how many', positiveInt, 20)
    .action(async (ref: string | undefined, opts: OutputOptions & { limit: number }) => {
      const client = f.client();
      const fn = ref ? await mustFindFunction(client, ref) : undefined;
      const rows = await listExecutions(client, fn?.id, opts.limit);
      const names = new Map((fn ? [fn] : await listFunctions(client)).map((x) => [x.id, x.name]));
      emit(f.io, opts, rows, () =>
        table(
          f.io,
          ['ID', 'FUNCTION', 'STATUS', 'HTTP', 'DURATION', 'COLD', 'NODE', 'STARTED'],
          rows.map((e) => [e.id, names.get(e.function_id) ?? e.function_id, executionStatus(f.io, e), e.http_status, `${Math.round(e.duration_ms * 10) / 10}ms`, e.cold_start ? 'yes' : '', e.node, when(f.io, e.started_at)]),
        ),
      );
    });
  return withExample(withOutput(cmd), 'orva executions', 'orva executions hello --limit 5 -o json');
}
