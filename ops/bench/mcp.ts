/**
 * `bench.ts --mcp`: the cost of MCP on the invoke path. One node, one hello
 * function bundled in a channel; the same call measured side by side as a
 * direct POST /fn/{id} and as an MCP `tools/call` with the channel token
 * (wrk-mcp.lua: the JSON-RPC body and the headers a Streamable HTTP client
 * sends after initialize), in interleaved rounds at c = 1 and 32. The ratio
 * reported is the median over rounds of each round's MCP p50 / direct p50
 * (target: within 1.5×).
 */
import type { Orva, Target, WrkResult } from './bench.ts';

export const MCP_CONCURRENCY = [1, 32];
const DIRECT = 'orva /fn/{id}';
const MCP = 'orva /mcp tools/call';

/** What bench.ts lends this section: its node, deploy, request and load helpers. */
export interface McpBenchDeps {
  startOrva(): Promise<Orva>;
  stopOrva(o: Orva): Promise<void>;
  /** A deployed hello function answering 200; returns its id. */
  deployHello(o: Orva): Promise<string>;
  api(o: Orva, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  prewarm(t: Target, c: number): Promise<void>;
  loadPoint(t: Target, c: number): Promise<WrkResult>;
  rounds: number;
}

export interface McpReport {
  rounds: Record<string, Record<number, WrkResult[]>>;
  load: Record<string, Record<number, WrkResult>>;
  /** Per concurrency: each round's MCP p50 / direct p50, and their median. */
  ratios: Record<number, { perRound: number[]; median: number }>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

export async function mcpBench(d: McpBenchDeps): Promise<McpReport> {
  const o = await d.startOrva();
  try {
    const fnId = await d.deployHello(o);
    const ch = await d.api(o, 'POST', '/api/v1/channels', { name: 'bench', function_ids: [fnId] });
    if (ch.status !== 201) throw new Error(`create channel: ${ch.status} ${JSON.stringify(ch.json)}`);
    const tool = (await d.api(o, 'GET', `/api/v1/channels/${ch.json.id}`)).json.functions[0].tool_name as string;
    // The direct call's body, as the tool call's: wrk-post.lua posts {"name":"bench"}.
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { method: 'POST', body: { type: 'json', json: { name: 'bench' } } } } });
    const check = await fetch(`${o.url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ch.json.token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-06-18' },
      body,
    });
    const answer = (await check.json()) as { result?: { isError?: boolean; structuredContent?: { status_code?: number } } };
    // wrk counts only HTTP statuses: a tool error would pass as a 200, so the call is checked once here.
    if (answer.result?.isError || answer.result?.structuredContent?.status_code !== 200) throw new Error(`MCP tools/call does not answer 200: ${JSON.stringify(answer)}`);
    const pid = o.proc.pid!;
    const targets: Target[] = [
      { name: DIRECT, url: `${o.url}/fn/${fnId}`, pid, key: o.key },
      { name: MCP, url: `${o.url}/mcp`, pid, key: ch.json.token, request: { script: 'wrk-mcp.lua', env: { ORVA_BENCH_BODY: body } } },
    ];
    console.error(`mcp: warming up /fn and /mcp at c=${Math.max(...MCP_CONCURRENCY)}, not measured`);
    for (const t of targets) await d.prewarm(t, Math.max(...MCP_CONCURRENCY));
    const rep: McpReport = { rounds: {}, load: {}, ratios: {} };
    for (let round = 0; round < d.rounds; round++) {
      console.error(`mcp round ${round + 1} of ${d.rounds}`);
      for (const c of MCP_CONCURRENCY) {
        for (let i = 0; i < targets.length; i++) {
          const t = targets[(i + round) % targets.length]!;
          ((rep.rounds[t.name] ??= {})[c] ??= []).push(await d.loadPoint(t, c));
        }
      }
    }
    for (const c of MCP_CONCURRENCY) {
      const perRound = rep.rounds[MCP]![c]!.map((m, i) => m.p50 / rep.rounds[DIRECT]![c]![i]!.p50);
      rep.ratios[c] = { perRound, median: median(perRound) };
      for (const name of [DIRECT, MCP]) {
        const runs = rep.rounds[name]![c]!;
        (rep.load[name] ??= {})[c] = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor((runs.length - 1) / 2)]!;
      }
    }
    return rep;
  } finally {
    await d.stopOrva(o);
  }
}

const f2 = (n: number) => n.toFixed(n < 10 ? 2 : 1);

export function mcpMarkdown(rep: McpReport, header: string): string {
  const L = ['# Orva MCP benchmark: tools/call against the direct call', '', header, ''];
  L.push('| target | c | req/s | p50 ms | p99 ms | errors | CPU % server / children / wrk / other | p50 per round |', '|---|---:|---:|---:|---:|---:|---|---|');
  for (const c of MCP_CONCURRENCY) {
    for (const name of [DIRECT, MCP]) {
      const r = rep.load[name]?.[c];
      if (!r) continue;
      L.push(`| ${name} | ${c} | ${r.rps} | ${f2(r.p50)} | ${f2(r.p99)} | ${r.errors} | ${r.cpu ? `${r.cpu.server} / ${r.cpu.children} / ${r.cpu.wrk} / ${r.cpu.other}` : ''} | ${(rep.rounds[name]?.[c] ?? []).map((x) => f2(x.p50)).join(', ')} |`);
    }
  }
  L.push('');
  for (const c of MCP_CONCURRENCY) {
    const q = rep.ratios[c];
    if (q) L.push(`- c=${c}: MCP p50 / direct p50 = ${q.median.toFixed(2)}× (median of rounds: ${q.perRound.map((x) => x.toFixed(2)).join(', ')}); target ≤ 1.5×: ${q.median <= 1.5 ? 'met' : 'not met'}`);
  }
  return `${L.join('\n')}\n`;
}
