/**
 * The one output contract of every command: `-o json` prints the data as
 * JSON on stdout and nothing else (progress and notes go to stderr); without
 * it, human tables. Piped tables drop their header and print RFC 3339 times;
 * on a terminal times are relative ("3m ago") and the header is bold.
 */
import { type Command, Option } from 'commander';
import type { IO } from './io.ts';

export interface OutputOptions {
  output?: 'json' | 'table';
}

export function withOutput(cmd: Command): Command {
  return cmd.addOption(new Option('-o, --output <format>', 'json for scripts, table for people').choices(['json', 'table']));
}

/** The help text's example: every command has one (tests/cli/help.test.ts checks it). */
export function withExample(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

export function isJson(opts: OutputOptions): boolean {
  return opts.output === 'json';
}

export function printJson(io: IO, data: unknown): void {
  io.line(JSON.stringify(data, null, 2));
}

/** `data` as JSON, or `human()` for people. */
export function emit(io: IO, opts: OutputOptions, data: unknown, human: () => void): void {
  if (isJson(opts)) printJson(io, data);
  else human();
}

export function table(io: IO, headers: string[], rows: Array<Array<string | number | null | undefined>>): void {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  if (!io.stdoutTTY) {
    // Tab-separated, no header: what `cut` and `awk` want.
    for (const r of cells) io.line(r.join('\t'));
    return;
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  io.line(io.paint('bold', fmt(headers)));
  for (const r of cells) io.line(fmt(r));
  if (rows.length === 0) io.line(io.paint('dim', '(none)'));
}

/** Key/value lines for one record. */
export function fields(io: IO, entries: Array<[string, string | number | boolean | null | undefined]>): void {
  const w = Math.max(...entries.map(([k]) => k.length));
  for (const [k, v] of entries) io.line(`${io.paint('dim', `${k}:`.padEnd(w + 1))} ${v === null || v === undefined || v === '' ? '-' : String(v)}`);
}

export function when(io: IO, iso: string | null | undefined, nowMs = Date.now()): string {
  if (!iso) return '-';
  if (!io.stdoutTTY) return iso;
  const s = Math.round((nowMs - Date.parse(iso)) / 1000);
  if (s < 0) return `in ${human(-s)}`;
  return `${human(s)} ago`;
}

function human(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
