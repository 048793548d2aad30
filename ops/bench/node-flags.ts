/** The node flags `npm start` gives the node (package.json), so every bench measures what users run. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function startScriptFlags(): string[] {
  const script: string = JSON.parse(readFileSync(join(resolve(import.meta.dirname, '../..'), 'package.json'), 'utf8')).scripts.start;
  const m = /\bnode ((?:--\S+ )*)--import tsx node\/main\.ts/.exec(script);
  if (!m) throw new Error(`cannot read the node's flags from the start script: ${script}`);
  return m[1]!.split(' ').filter(Boolean);
}
