/**
 * Summary of a `node --cpu-prof` directory: top self-time functions and
 * files of the main thread. Used by `bench.ts --profile`; also by hand:
 *
 *   node --import tsx ops/bench/profile.ts <dir>
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * Top functions of the main-thread profile by self time, by file, and the
 * project's own functions by inclusive time (their callees counted in, each
 * sample once per function) — as % of the busy (non-idle) samples.
 */
export function summariseProfile(dir: string, top = 30): string[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {}
  if (files.length === 0) return ['(no CPU profile written)'];
  // tsx's loader thread writes a profile too; the main thread's is the big one.
  const file = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const byNode = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const urlOf = (n: ProfileNode) => n.callFrame.url.replace(`file://${ROOT}/`, '').replace(/^.*node_modules\//, '');
  // tsx's transform loses line numbers (everything is line 1), so the name and file identify a function.
  const keyOf = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}${urlOf(n) ? ` ${urlOf(n)}` : ''}`;
  const fns = new Map<string, number>();
  const urls = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const s of prof.samples) {
    const leaf = byNode.get(s)!;
    if (leaf.callFrame.functionName === '(idle)') continue;
    busy++;
    fns.set(keyOf(leaf), (fns.get(keyOf(leaf)) ?? 0) + 1);
    const u = urlOf(leaf) || '(native / V8)';
    urls.set(u, (urls.get(u) ?? 0) + 1);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byNode.get(id)!;
      if (/^(node|actors|protocol)\//.test(urlOf(n))) seen.add(keyOf(n));
    }
    for (const k of seen) inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
  }
  const lines = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, c]) => `  ${((c / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
  return [
    `CPU profile ${file}: ${busy} busy of ${prof.samples.length} samples. Top self time by function:`,
    ...lines(fns, top),
    'self time by file:',
    ...lines(urls, 15),
    'inclusive time of the project\'s functions:',
    ...lines(inclusive, top),
  ];
}

if (process.argv[1] === import.meta.filename) console.log(summariseProfile(resolve(process.argv[2] ?? '.')).join('\n'));
