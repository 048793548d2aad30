/**
 * Live streams: GET /api/v1/events (the dashboard's feed of metrics,
 * executions, deployments and evictions) and GET /api/v1/deployments/:id/stream (one
 * build's progress). Both are fed by the EventBus; neither ever slows it: a
 * client that falls behind is dropped by its sink and resumes with
 * Last-Event-ID.
 */
import { randomBytes } from 'node:crypto';
import type { Route } from '../http/api.ts';
import type { StreamSink } from '../http/context.ts';
import { openSse, SSE_HEADERS, sseEvent } from '../http/sse.ts';
import type { Services } from '../services.ts';
import { type DeploymentRow, deploymentJson } from '../store/rows.ts';
import { mustGetDeployment } from './lookups.ts';

/** Events a reconnecting client can catch up on: a few seconds of a busy node, minutes of a quiet one. */
const REPLAY_EVENTS = 256;
const METRICS_EVERY_MS = 5_000;

type FeedEventName = 'metrics' | 'execution' | 'deployment' | 'pool';

interface Kept {
  seq: number;
  event: FeedEventName;
  data: unknown;
}

/**
 * The /events fan-out. Ids are `<boot>-<seq>`: monotonic on this node, and a
 * Last-Event-ID from an earlier boot or another node (a random boot tag, so
 * two nodes started in the same millisecond still differ) gets the whole
 * replay buffer. Events are framed and written once per tick, off the
 * publisher's turn: a burst of invocations costs each client one write.
 */
class EventFeed {
  private readonly boot = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly ring: Array<Kept | undefined> = new Array(REPLAY_EVENTS);
  private readonly clients = new Set<StreamSink>();
  private pending: Kept[] = [];

  get listening(): boolean {
    return this.clients.size > 0;
  }

  /** Metrics snapshots are not kept: a replayed stale snapshot would only mislead. */
  publish(event: FeedEventName, data: unknown, keep: boolean): void {
    const e = { seq: ++this.seq, event, data };
    if (keep) this.ring[e.seq % REPLAY_EVENTS] = e;
    if (this.clients.size > 0 && this.pending.push(e) === 1) setImmediate(() => this.flush());
  }

  /** Replay what `lastEventId` missed, then follow. */
  subscribe(sink: StreamSink, lastEventId: string | undefined): void {
    // Deliver everything already published first, so the replay below neither repeats nor skips it.
    this.flush();
    if (lastEventId !== undefined) {
      const [boot, seq] = lastEventId.split('-');
      const after = boot === this.boot && /^\d+$/.test(seq ?? '') ? Number(seq) : 0;
      let replay = '';
      for (let s = Math.max(after + 1, this.seq - REPLAY_EVENTS + 1); s <= this.seq; s++) {
        const e = this.ring[s % REPLAY_EVENTS];
        if (e?.seq === s) replay += this.frame(e);
      }
      if (replay !== '' && !sink.write(replay)) return;
    }
    this.clients.add(sink);
    sink.onClose(() => this.clients.delete(sink));
  }

  /** A frame for one client only, numbered in the shared sequence so its Last-Event-ID stays monotonic. */
  sendTo(sink: StreamSink, event: FeedEventName, data: unknown): void {
    this.flush();
    sink.write(this.frame({ seq: ++this.seq, event, data }));
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending.map((e) => this.frame(e)).join('');
    this.pending = [];
    for (const c of this.clients) if (!c.write(chunk)) this.clients.delete(c);
  }

  private frame(e: Kept): string {
    return sseEvent(e.event, JSON.stringify(e.data), `${this.boot}-${e.seq}`);
  }
}

const TERMINAL = new Set(['succeeded', 'failed']);

/** A deployment stream event id: it names the state, so a reconnect can tell whether the terminal one was seen. */
const deploymentEventId = (d: DeploymentRow) => `${d.status}.${d.phase}.${d.updated_at}`;

export function eventRoutes(s: Services): Route[] {
  const { metrics } = s;
  const feed = new EventFeed();
  // Execution rows carry no logs, so the replay buffer never pins function output (which can be
  // large); it stays behind its own /logs endpoint.
  s.events.on((e) => {
    if (e.type === 'execution') feed.publish('execution', e.row, true);
    else if (e.type === 'deployment') feed.publish('deployment', deploymentJson(e.deployment), true);
    // Each eviction is worth a line on the dashboard; the other pool events are many and only counted (metrics).
    else if (e.type === 'pool' && e.event.type === 'evicted') feed.publish('pool', e.event, true);
  });

  let snapshotting = false;
  const timer = setInterval(() => {
    if (!feed.listening || snapshotting) return;
    snapshotting = true;
    metrics
      .snapshot()
      .then((snap) => feed.publish('metrics', snap, false))
      .catch((err) => s.log.warn({ err }, 'metrics snapshot for /events failed'))
      .finally(() => (snapshotting = false));
  }, METRICS_EVERY_MS);
  timer.unref();

  return [
    {
      method: 'GET',
      path: '/api/v1/events',
      access: 'read',
      handler: (ctx) => ({
        headers: SSE_HEADERS,
        stream: (sink) => {
          openSse(sink);
          feed.subscribe(sink, ctx.headers['last-event-id']);
          // The dashboard fills at once instead of waiting for the next tick.
          metrics.snapshot().then(
            (snap) => feed.sendTo(sink, 'metrics', snap),
            (err) => s.log.warn({ err }, 'metrics snapshot for /events failed'),
          );
        },
      }),
    },
    {
      method: 'GET',
      path: '/api/v1/deployments/:id/stream',
      access: 'read',
      handler: (ctx) => {
        const id = ctx.params.id;
        const known = mustGetDeployment(s.store, id);
        // EventSource reconnects whenever a stream ends; 204 is the standard way to make it stop once it has seen the end.
        if (TERMINAL.has(known.status) && ctx.headers['last-event-id'] === deploymentEventId(known)) return { status: 204 };
        return {
          headers: SSE_HEADERS,
          stream: (sink) => {
            const send = (d: DeploymentRow) => {
              sink.write(sseEvent('deployment', JSON.stringify(deploymentJson(d)), deploymentEventId(d)));
              if (TERMINAL.has(d.status)) sink.end();
            };
            openSse(sink);
            // Read again here, subscribed in the same turn: a change since the handler ran is neither lost nor doubled.
            send(s.store.deployment(id) ?? known);
            if (sink.closed) return;
            const off = s.events.on((e) => {
              if (e.type === 'deployment' && e.deployment.id === id) send(e.deployment);
            });
            sink.onClose(off);
          },
        };
      },
    },
  ];
}
