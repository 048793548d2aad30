/**
 * Any node answers GET /executions for the whole cluster: each node serves
 * its own records on one NATS subject, and a query gathers one answer per
 * live member (bounded wait). A node alone answers from its own file without
 * a network hop.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { subjects } from '../../protocol/subjects.ts';
import type { Membership } from '../membership.ts';
import type { ExecutionLog, ExecutionLogs, ExecutionRecord } from './execution-log.ts';

/** `before`: a page's cursor, the id the rows must sort below (ids are unique cluster-wide, so one cursor pages every node). */
type Query = { op: 'list'; function_id?: string; limit: number; before?: string } | { op: 'get'; id: string } | { op: 'logs'; id: string };
type Answer = { rows: ExecutionRecord[] } | { row: ExecutionRecord | null } | { logs: ExecutionLogs | null };

/** The most rows one node answers a list with: the API's largest page and the one row that says another follows. */
const LIST_MAX = 1001;

/** How long a query waits for the members' answers before going with what it has. */
const GATHER_MS = 2_000;

export class ClusterExecutions {
  private sub: Subscription | null = null;

  constructor(
    private readonly local: ExecutionLog,
    private readonly nc: NatsConnection,
    private readonly members: Membership,
    private readonly log: Logger,
  ) {}

  serve(): void {
    this.sub = this.nc.subscribe(subjects.executionsQuery(), {
      callback: (err, msg) => {
        if (err) return;
        void this.answer(msg.json<Query>()).then(
          (a) => msg.respond(JSON.stringify(a)),
          (e) => this.log.warn({ err: e }, 'execution query failed'),
        );
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  /**
   * A page of the cluster's newest records below `before`. Every node answers
   * its own newest `limit + 1` below it; the merge of those holds the
   * cluster's, and the row past the page says whether another follows.
   */
  async page(filter: { function_id?: string; limit: number; before?: string }): Promise<{ rows: ExecutionRecord[]; more: boolean }> {
    const { before } = filter;
    const answers = await this.gather({ op: 'list', ...filter, limit: filter.limit + 1 });
    const rows = answers
      .flatMap((a) => ('rows' in a ? a.rows : []))
      // A node running an older version ignores `before`: its rows above the cursor belong to earlier pages.
      .filter((r) => before === undefined || r.id < before)
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return { rows: rows.slice(0, filter.limit), more: rows.length > filter.limit };
  }

  async get(id: string): Promise<ExecutionRecord | undefined> {
    const local = await this.local.get(id);
    if (local) return local;
    for (const a of await this.gather({ op: 'get', id }, true)) if ('row' in a && a.row) return a.row;
    return undefined;
  }

  async logs(id: string): Promise<ExecutionLogs | undefined> {
    const local = await this.local.logs(id);
    if (local !== undefined) return local;
    for (const a of await this.gather({ op: 'logs', id }, true)) if ('logs' in a && a.logs !== null) return a.logs;
    return undefined;
  }

  private async answer(q: Query): Promise<Answer> {
    switch (q.op) {
      case 'list':
        return { rows: await this.local.list({ function_id: q.function_id, limit: Math.min(q.limit, LIST_MAX), before: q.before }) };
      case 'get':
        return { row: (await this.local.get(q.id)) ?? null };
      case 'logs':
        return { logs: (await this.local.logs(q.id)) ?? null };
    }
  }

  /** Every member's answer (this node's own included); alone, only the local one. */
  private async gather(q: Query, peersOnly = false): Promise<Answer[]> {
    const expected = this.members.members().length;
    if (expected <= 1) return peersOnly ? [] : [await this.answer(q)];
    const answers: Answer[] = [];
    try {
      const replies = await this.nc.requestMany(subjects.executionsQuery(), JSON.stringify(q), { strategy: 'count', maxMessages: expected, maxWait: GATHER_MS });
      for await (const m of replies) answers.push(m.json<Answer>());
    } catch (err) {
      this.log.warn({ err }, 'cluster execution query incomplete');
    }
    return answers;
  }
}
