/**
 * `orva logs FN [--follow]`: the function's recent calls with what each
 * printed; --follow then waits on the /api/v1/events stream (it takes the API
 * key header, not only the dashboard's cookie) for new calls and prints them
 * as they come.
 */
import { Command } from 'commander';
import { executionLogs, executionRecord } from '../../../protocol/responses.ts';
import type { ApiClient } from '../api-client.ts';
import type { Factory } from '../factory.ts';
import { mustFindFunction } from '../function-ref.ts';
import { isJson, type OutputOptions, withExample, withOutput } from '../output.ts';
import { type Execution, executionStatus, listExecutions, positiveInt } from './executions.ts';

export interface LogsOptions extends OutputOptions {
  follow?: boolean;
  limit: number;
}

async function withLogs(client: ApiClient, e: Execution) {
  const l = await client.json(executionLogs, 'GET', `/api/v1/executions/${e.id}/logs`);
  return { ...e, logs: l.logs, logs_dropped: l.logs_dropped };
}

function print(f: Factory, opts: LogsOptions, e: Execution & { logs: string; logs_dropped: boolean }): void {
  if (isJson(opts)) {
    // One object per line while following: a stream a script can read line by line.
    f.io.line(JSON.stringify(e));
    return;
  }
  f.io.line(f.io.paint('dim', `${e.started_at} ${e.id} `) + `${executionStatus(f.io, e)} ${e.http_status} ${Math.round(e.duration_ms * 10) / 10}ms${e.cold_start ? ' cold' : ''}`);
  const text = e.logs_dropped ? '(logs dropped by the log budget)' : e.logs.trimEnd();
  if (text) f.io.line(text.split('\n').map((l) => `  ${l}`).join('\n'));
}

export async function runLogs(f: Factory, ref: string, opts: LogsOptions): Promise<void> {
  const client = f.client();
  const fn = await mustFindFunction(client, ref);
  const seen = new Set<string>();
  // Subscribed before listing (the node sends a metrics frame as soon as it has subscribed us), so
  // that a call between the two is neither lost nor, thanks to `seen`, printed twice.
  const abort = new AbortController();
  const stream = opts.follow ? client.events('/api/v1/events', abort.signal) : null;
  const first = stream ? await stream.next() : null;
  const recent = (await listExecutions(client, fn.id, opts.limit)).reverse();
  const history = await Promise.all(recent.map((e) => withLogs(client, e)));
  if (isJson(opts) && !opts.follow) {
    f.io.line(JSON.stringify(history, null, 2));
    return;
  }
  for (const e of history) {
    seen.add(e.id);
    print(f, opts, e);
  }
  if (!stream || !first) return;
  // On stderr even with -o json: stdout carries only the records.
  f.io.err(f.io.paintErr('dim', `following ${fn.name} (Ctrl-C to stop)`));
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    let next = first;
    while (!next.done) {
      const frame = next.value;
      if (frame.event === 'execution') {
        const e = executionRecord.parse(JSON.parse(frame.data));
        if (e.function_id === fn.id && !seen.has(e.id)) {
          seen.add(e.id);
          print(f, opts, await withLogs(client, e));
        }
      }
      next = await stream.next();
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function logsCommand(f: Factory): Command {
  const cmd = new Command('logs')
    .description("a function's recent calls and what each printed; --follow streams new ones")
    .argument('<function>', 'name or id')
    .option('-f, --follow', 'keep printing new calls as they happen')
    .option('--limit <n>', 'how many past calls', positiveInt, 20)
    .action((ref: string, opts: LogsOptions) => runLogs(f, ref, opts));
  return withExample(withOutput(cmd), 'orva logs hello', 'orva logs hello --follow', 'orva logs hello -f -o json   # one JSON object per line');
}
