/** `orva invoke FN`: call a function and print its answer; the exit code says whether it was a success. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { SilentExit, UsageError } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { mustFindFunction } from '../function-ref.ts';
import { isJson, type OutputOptions, printJson, withExample, withOutput } from '../output.ts';

export interface InvokeOptions extends OutputOptions {
  method?: string;
  path?: string;
  header?: string[];
  data?: string;
  include?: boolean;
}

/** `--data`: text as given, `@file` a file's bytes, `-` stdin (curl's convention). */
async function bodyOf(f: Factory, data: string | undefined): Promise<Uint8Array | undefined> {
  if (data === undefined) return undefined;
  if (data === '-') return f.io.readStdin();
  if (data.startsWith('@')) {
    try {
      return readFileSync(data.slice(1));
    } catch (err) {
      throw new UsageError(`cannot read ${data.slice(1)}: ${(err as Error).message}`);
    }
  }
  return Buffer.from(data, 'utf8');
}

export async function runInvoke(f: Factory, ref: string, opts: InvokeOptions): Promise<void> {
  const client = f.client();
  const fn = await mustFindFunction(client, ref);
  const headers: Record<string, string> = {};
  for (const h of opts.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header ${h}: give Name: value`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const body = await bodyOf(f, opts.data);
  const method = (opts.method ?? (body === undefined ? 'GET' : 'POST')).toUpperCase();
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) throw new UsageError(`a ${method} call cannot carry --data`, 'give --method POST');
  const path = opts.path ? (opts.path.startsWith('/') ? opts.path : `/${opts.path}`) : '';
  const res = await client.request(method, `/fn/${fn.id}${path}`, { body, headers, allowError: true });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const executionId = res.headers.get('x-orva-execution-id');
  if (isJson(opts)) {
    const text = Buffer.from(bytes).toString('utf8');
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    printJson(f.io, { status: res.status, headers: Object.fromEntries(res.headers), execution_id: executionId, body: parsed });
  } else {
    if (opts.include) {
      f.io.out(`${f.io.paint('bold', `HTTP ${res.status} ${res.statusText}`)}\n`);
      for (const [k, v] of res.headers) f.io.out(`${f.io.paint('cyan', k)}: ${v}\n`);
      f.io.out('\n');
    }
    f.io.writeBytes(bytes);
    if (f.io.stdoutTTY && bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) f.io.out('\n');
  }
  if (res.status >= 400) {
    f.io.err(f.io.paintErr('red', `HTTP ${res.status}${executionId ? ` (execution ${executionId}; its output: orva logs ${fn.name})` : ''}`));
    throw new SilentExit(1);
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function invokeCommand(f: Factory): Command {
  const cmd = new Command('invoke')
    .alias('call')
    .description("call a function; prints its answer's body, exits 1 when the status is 400 or more")
    .argument('<function>', 'name or id')
    .option('-X, --method <method>', 'HTTP method (default POST with --data, else GET)')
    .option('--path <path>', 'path after /fn/{id}, passed to the handler', '')
    .option('-H, --header <header>', "request header 'Name: value' (repeatable)", collect)
    .option('-d, --data <data>', 'request body: text, @file, or - for stdin')
    .option('-i, --include', 'print the status line and headers before the body')
    .action((ref: string, opts: InvokeOptions) => runInvoke(f, ref, opts));
  return withExample(withOutput(cmd), 'orva invoke hello', `echo '{"name":"ada"}' | orva invoke hello -d - -H 'Content-Type: application/json'`, 'orva invoke hello --path /users/7 -X DELETE -i');
}
