/**
 * The node's metrics: a prom-client registry of its own (never the global
 * one, so two nodes in one process or a test never share counters), fed by
 * the EventBus, plus recent-window latency percentiles for the dashboard.
 * Pool gauges and the META lag are read at scrape time, not kept up to date.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolEvent } from '../actors/function-supervisor.ts';
import type { ExecutionRow, ExecutionStatus } from './executions/execution-log.ts';
import type { Services } from './services.ts';

const STATUSES: readonly ExecutionStatus[] = ['succeeded', 'failed', 'timeout', 'crashed', 'rejected'];

/** From a warm sub-millisecond call up to the longest timeouts. */
const DURATION_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The percentile window: what "recent" means on the dashboard. */
const WINDOW_MS = 60_000;
/** Samples kept per function and overall; past this the window holds only the newest calls. */
const FUNCTION_SAMPLES = 1024;
const NODE_SAMPLES = 8192;
const FLUSH_MS = 1_000;
const PENDING_MAX = 256;

export interface LatencySummary {
  window_s: number;
  samples: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

type PoolStats = { idle: number; busy: number; starting: number; waiting: number };
type Scaled = Extract<PoolEvent, { type: 'scaled' }>;

export interface FunctionMetrics {
  invocations: Record<ExecutionStatus, number>;
  cold_starts: number;
  /** Idle workers of this function stopped to make memory room for another's call. */
  evictions: number;
  latency_ms: LatencySummary;
  /** Null when this node has no pool for the function yet. */
  pool: PoolStats | null;
  /** The autoscaler's latest decision; null before its first. */
  autoscaler: { desired: number; live: number; panic: boolean; concurrency: number } | null;
}

/** metrics.json and the SSE `metrics` event. */
export interface MetricsSnapshot {
  node: string;
  at: string;
  uptime_s: number;
  invocations: { total: number; by_status: Record<ExecutionStatus, number> };
  cold_starts: number;
  /** Idle workers evicted for memory (the `evicted` pool events), all functions together. */
  evictions: number;
  latency_ms: LatencySummary;
  functions: Record<string, FunctionMetrics>;
  builds: { succeeded: number; failed: number };
  pool_events: Record<string, number>;
  /** Null fields when the stream could not be asked (NATS unreachable). */
  meta: { applied_seq: number; stream_last_seq: number | null; lag: number | null };
  process: { rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number; external_bytes: number; cpu_user_s: number; cpu_system_s: number; cpu_percent: number };
}

/**
 * Durations of recent calls in a fixed ring: recording one is two array
 * stores, and the percentiles are computed only when someone asks.
 */
export class LatencyWindow {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private next = 0;
  private size = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  push(ms: number, atMs: number): void {
    this.values[this.next] = ms;
    this.times[this.next] = atMs;
    this.next = (this.next + 1) % this.values.length;
    if (this.size < this.values.length) this.size++;
  }

  /** Nearest-rank percentiles of the samples taken in the last `windowMs`. */
  summary(nowMs: number, windowMs: number): LatencySummary {
    const recent: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.times[i] >= nowMs - windowMs) recent.push(this.values[i]);
    const sorted = Float64Array.from(recent).sort();
    const rank = (p: number) => (sorted.length === 0 ? null : Math.round(sorted[Math.ceil(p * sorted.length) - 1] * 1000) / 1000);
    return { window_s: windowMs / 1000, samples: sorted.length, p50: rank(0.5), p95: rank(0.95), p99: rank(0.99) };
  }
}

export class NodeMetrics {
  private readonly registry = new Registry();
  private readonly invocations: Counter<'function' | 'status'>;
  private readonly duration: Histogram<'function'>;
  private readonly coldStarts: Counter<'function'>;
  private readonly builds: Counter<'result'>;
  private readonly poolEvents: Counter<'type'>;
  private readonly evictions: Counter<'function'>;
  private readonly overall = new LatencyWindow(NODE_SAMPLES);
  private readonly windows = new Map<string, LatencyWindow>();
  private readonly scaled = new Map<string, Scaled>();
  /** Functions with an eviction series (a min_warm function can have one without any call, so no window). */
  private readonly evictedFunctions = new Set<string>();
  /**
   * Records taken since the last flush: the invoke path only pushes a
   * reference; they are counted every FLUSH_MS (so a window sample is at
   * most that late), when someone reads the metrics, or once PENDING_MAX
   * have piled up (a few hundred: counting more at once stalls the request
   * loop long enough to show in invoke p99).
   */
  private pending: ExecutionRow[] = [];
  private cpuMark = { at: performance.now(), usage: process.cpuUsage() };

  constructor(private readonly s: Pick<Services, 'config' | 'clock' | 'events' | 'pools' | 'meta' | 'store' | 'registry' | 'log'>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.invocations = new Counter({ name: 'orva_invocations_total', help: 'Function invocations by outcome', labelNames: ['function', 'status'], registers });
    this.duration = new Histogram({ name: 'orva_invoke_duration_seconds', help: 'Invocation duration as the node measured it', labelNames: ['function'], buckets: DURATION_BUCKETS_S, registers });
    this.coldStarts = new Counter({ name: 'orva_cold_starts_total', help: 'Invocations that waited for a sandbox to start', labelNames: ['function'], registers });
    // Counted on the node that built, so a cluster's sum counts each build once (every node applies every finish).
    this.builds = new Counter({ name: 'orva_builds_total', help: 'Builds run on this node by result', labelNames: ['result'], registers });
    this.poolEvents = new Counter({ name: 'orva_pool_events_total', help: 'Pool supervisor events by type', labelNames: ['type'], registers });
    this.evictions = new Counter({ name: 'orva_worker_evictions_total', help: "Idle workers stopped to make memory room for another function's call, by the evicted function", labelNames: ['function'], registers });
    const pools = this.s.pools;
    new Gauge({
      name: 'orva_pool_workers',
      help: 'Sandboxed workers by function and state',
      labelNames: ['function', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [fn, st] of Object.entries(pools.stats())) {
          this.set({ function: fn, state: 'idle' }, st.idle);
          this.set({ function: fn, state: 'busy' }, st.busy);
          this.set({ function: fn, state: 'starting' }, st.starting);
        }
      },
    });
    new Gauge({
      name: 'orva_pool_waiting_calls',
      help: 'Calls queued for a worker, by function',
      labelNames: ['function'],
      registers,
      collect() {
        this.reset();
        for (const [fn, st] of Object.entries(pools.stats())) this.set({ function: fn }, st.waiting);
      },
    });
    const scaled = this.scaled;
    new Gauge({
      name: 'orva_autoscaler_desired_workers',
      help: "The autoscaler's latest desired worker count, by function",
      labelNames: ['function'],
      registers,
      collect() {
        this.reset();
        for (const [fn, e] of scaled) this.set({ function: fn }, e.desired);
      },
    });
    new Gauge({
      name: 'orva_autoscaler_panic',
      help: '1 while the autoscaler scales on its short panic window, by function',
      labelNames: ['function'],
      registers,
      collect() {
        this.reset();
        for (const [fn, e] of scaled) this.set({ function: fn }, e.panic ? 1 : 0);
      },
    });
    const metaLag = () => this.metaLag();
    new Gauge({
      name: 'orva_meta_apply_lag_commands',
      help: 'META commands in the stream this node has not applied yet',
      registers,
      async collect() {
        this.reset();
        const { lag } = await metaLag();
        if (lag !== null) this.set(lag);
      },
    });

    s.events.on((e) => {
      if (e.type === 'execution') {
        const n = this.pending.push(e.row);
        if (n === 1) setTimeout(() => this.flush(), FLUSH_MS).unref();
        else if (n >= PENDING_MAX) this.flush();
      } else if (e.type === 'pool') {
        this.poolEvents.inc({ type: e.event.type });
        if (e.event.type === 'scaled') this.scaled.set(e.event.functionId, e.event);
        else if (e.event.type === 'evicted') {
          this.evictions.inc({ function: e.event.functionId });
          this.evictedFunctions.add(e.event.functionId);
        }
      } else if (e.type === 'deployment') {
        const { status, node } = e.deployment;
        if ((status === 'succeeded' || status === 'failed') && node === s.config.nodeId) this.builds.inc({ result: status });
      }
    });
  }

  /** Prometheus text exposition; `contentType` goes with it. */
  async prometheus(): Promise<string> {
    this.flush();
    this.forgetDeletedFunctions();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async snapshot(): Promise<MetricsSnapshot> {
    this.flush();
    this.forgetDeletedFunctions();
    const now = this.s.clock.now();
    const [calls, colds, evictions, builds, poolEvents, meta] = await Promise.all([this.invocations.get(), this.coldStarts.get(), this.evictions.get(), this.builds.get(), this.poolEvents.get(), this.metaLag()]);
    const pools = this.s.pools.stats();
    const functions: Record<string, FunctionMetrics> = {};
    const fnOf = (id: string) =>
      (functions[id] ??= {
        invocations: zeroStatuses(),
        cold_starts: 0,
        evictions: 0,
        latency_ms: (this.windows.get(id) ?? EMPTY_WINDOW).summary(now, WINDOW_MS),
        pool: pools[id] ?? null,
        autoscaler: autoscalerJson(this.scaled.get(id)),
      });
    const byStatus = zeroStatuses();
    for (const v of calls.values) {
      fnOf(String(v.labels.function)).invocations[v.labels.status as ExecutionStatus] += v.value;
      byStatus[v.labels.status as ExecutionStatus] += v.value;
    }
    let coldStarts = 0;
    for (const v of colds.values) {
      fnOf(String(v.labels.function)).cold_starts += v.value;
      coldStarts += v.value;
    }
    let evicted = 0;
    for (const v of evictions.values) {
      fnOf(String(v.labels.function)).evictions += v.value;
      evicted += v.value;
    }
    for (const id of [...Object.keys(pools), ...this.scaled.keys()]) fnOf(id);
    const count = <L extends string>(m: { values: Array<{ labels: Partial<Record<L, string | number>>; value: number }> }, label: L) =>
      Object.fromEntries(m.values.map((v) => [String(v.labels[label]), v.value]));
    return {
      node: this.s.config.nodeId,
      at: new Date(now).toISOString(),
      uptime_s: Math.round(process.uptime() * 10) / 10,
      invocations: { total: STATUSES.reduce((n, st) => n + byStatus[st], 0), by_status: byStatus },
      cold_starts: coldStarts,
      evictions: evicted,
      latency_ms: this.overall.summary(now, WINDOW_MS),
      functions,
      builds: { succeeded: 0, failed: 0, ...count(builds, 'result') },
      pool_events: count(poolEvents, 'type'),
      meta,
      process: this.processStats(),
    };
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const records = this.pending;
    this.pending = [];
    const now = this.s.clock.now();
    // Counters move once per label set and batch: prom-client hashes the labels on every call.
    const counts = new Map<string, { fn: string; status: ExecutionStatus; n: number; cold: number }>();
    for (const r of records) {
      const key = `${r.function_id}\0${r.status}`;
      let c = counts.get(key);
      if (!c) counts.set(key, (c = { fn: r.function_id, status: r.status, n: 0, cold: 0 }));
      c.n++;
      if (r.cold_start) c.cold++;
      this.duration.observe({ function: r.function_id }, r.duration_ms / 1000);
      let w = this.windows.get(r.function_id);
      if (!w) this.windows.set(r.function_id, (w = new LatencyWindow(FUNCTION_SAMPLES)));
      w.push(r.duration_ms, now);
      this.overall.push(r.duration_ms, now);
    }
    for (const c of counts.values()) {
      this.invocations.inc({ function: c.fn, status: c.status }, c.n);
      if (c.cold > 0) this.coldStarts.inc({ function: c.fn }, c.cold);
    }
  }

  /** Drop the series of deleted functions, so their label values do not pile up in every scrape. */
  private forgetDeletedFunctions(): void {
    for (const id of this.scaled.keys()) if (!this.s.registry.get(id)) this.scaled.delete(id);
    for (const id of this.evictedFunctions) {
      if (this.s.registry.get(id)) continue;
      this.evictedFunctions.delete(id);
      this.evictions.remove({ function: id });
    }
    for (const id of this.windows.keys()) {
      if (this.s.registry.get(id)) continue;
      this.windows.delete(id);
      for (const status of STATUSES) this.invocations.remove({ function: id, status });
      this.duration.remove({ function: id });
      this.coldStarts.remove({ function: id });
    }
  }

  private async metaLag(): Promise<MetricsSnapshot['meta']> {
    const applied = this.s.store.appliedSeq();
    try {
      const last = await this.s.meta.streamLastSeq();
      return { applied_seq: applied, stream_last_seq: last, lag: Math.max(0, last - applied) };
    } catch (err) {
      this.s.log.warn({ err }, 'META stream info failed; lag unknown');
      return { applied_seq: applied, stream_last_seq: null, lag: null };
    }
  }

  /** CPU percent is over the time since the previous snapshot (one core = 100). */
  private processStats(): MetricsSnapshot['process'] {
    const mem = process.memoryUsage();
    const at = performance.now();
    const usage = process.cpuUsage();
    const spentUs = usage.user - this.cpuMark.usage.user + usage.system - this.cpuMark.usage.system;
    const elapsedMs = at - this.cpuMark.at;
    this.cpuMark = { at, usage };
    return {
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      heap_total_bytes: mem.heapTotal,
      external_bytes: mem.external,
      cpu_user_s: usage.user / 1e6,
      cpu_system_s: usage.system / 1e6,
      cpu_percent: elapsedMs > 0 ? Math.round((spentUs / 10 / elapsedMs) * 10) / 10 : 0,
    };
  }
}

const EMPTY_WINDOW = new LatencyWindow(1);

function autoscalerJson(e: Scaled | undefined): FunctionMetrics['autoscaler'] {
  return e ? { desired: e.desired, live: e.live, panic: e.panic, concurrency: e.concurrency } : null;
}

function zeroStatuses(): Record<ExecutionStatus, number> {
  return { succeeded: 0, failed: 0, timeout: 0, crashed: 0, rejected: 0 };
}
