/**
 * MetaApplier — tails the ORVA_META stream and applies each command to the
 * local SQLite store, in stream order, exactly once.
 *
 * Contract with its parent (the node):
 *  1. Started once the store is open and JetStream is reachable; it resumes
 *     from the store's applied sequence + 1, so a restart never re-applies.
 *  2. A failure of the stream subscription crashes the actor; the runtime
 *     restarts it with backoff and it resumes where the store says.
 *  3. `waitFor(commandId)` resolves with the outcome once that command is
 *     applied here: the write path answers only after its own node saw it.
 *  4. Every applied command is emitted to `onApplied` listeners after commit,
 *     so caches and supervisors react on every node the same way.
 *  5. A watchdog restarts the subscription when the stream is known to hold
 *     more than was applied and nothing was applied for a whole period: an
 *     ordered consumer can stall silently after its nats-server restarts
 *     (seen with an embedded server killed by SIGKILL), and the library's own
 *     heartbeat check takes up to a minute. The stream head is learnt from
 *     publish acks (`noteStreamSeq`) and from a stream-info probe when idle.
 *
 * State: the consumer iterator of the current incarnation.
 * Messages received: `{type: 'start'}` (internal, (re)subscribe).
 * Events sent: `AppliedEvent` to listeners.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ApplyOutcome, MetaEnvelope } from '../protocol/meta-commands.ts';
import { STREAMS } from '../protocol/subjects.ts';
import type { Clock } from './clock.ts';
import { Actor } from './runtime.ts';

export interface AppliedEvent {
  seq: number;
  envelope: MetaEnvelope;
  outcome: ApplyOutcome;
}

/** What the applier needs of the store; the node's Store implements it. */
export interface MetaTarget {
  appliedSeq(): number;
  applyEnvelope(seq: number, env: MetaEnvelope): ApplyOutcome | null;
  /** Advance past an entry that cannot be decoded, so every node skips it alike. */
  skip(seq: number): void;
}

type Msg = { type: 'subscribe' };

/** How often the watchdog checks for progress; a stall is noticed within two periods. */
const WATCHDOG_MS = 1_000;
/** Probe the stream head after this many idle watchdog periods (a node that never writes still notices a stall). */
const PROBE_EVERY_TICKS = 5;

interface Waiter {
  resolve(outcome: ApplyOutcome): void;
  reject(err: Error): void;
  timer: unknown;
}

export class MetaApplier extends Actor<Msg> {
  private readonly js: JetStreamClient;
  private readonly target: MetaTarget;
  private readonly waiters = new Map<string, Waiter>();
  private readonly listeners: Array<(e: AppliedEvent) => void> = [];
  private stopConsumer: (() => void) | null = null;
  /** The highest stream sequence known to exist. */
  private knownHead = 0;
  private lastTickApplied = -1;
  private idleTicks = 0;
  private watchdog: unknown = null;

  constructor(opts: { js: JetStreamClient; target: MetaTarget; log: Logger; clock?: Clock }) {
    super({ name: 'meta-applier', log: opts.log, clock: opts.clock });
    this.js = opts.js;
    this.target = opts.target;
  }

  onApplied(listener: (e: AppliedEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Resolve when the command with this envelope id has been applied locally. */
  waitFor(commandId: string, timeoutMs: number): Promise<ApplyOutcome> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiters.delete(commandId);
        reject(new Error(`command ${commandId} not applied within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(commandId, { resolve, reject, timer });
    });
  }

  /** Tell the applier that the stream holds at least `seq` (from a publish ack). */
  noteStreamSeq(seq: number): void {
    if (seq > this.knownHead) this.knownHead = seq;
  }

  /** Forget a waiter whose publish failed. */
  cancelWait(commandId: string): void {
    const w = this.waiters.get(commandId);
    if (!w) return;
    this.clock.clearTimeout(w.timer);
    this.waiters.delete(commandId);
  }

  protected override preStart(): void {
    this.tell({ type: 'subscribe' });
    if (this.watchdog === null) this.scheduleWatchdog();
  }

  private scheduleWatchdog(): void {
    this.watchdog = this.clock.setTimeout(() => {
      this.watchdog = null;
      if (this.isStopped) return;
      this.checkProgress();
      this.scheduleWatchdog();
    }, WATCHDOG_MS);
  }

  private checkProgress(): void {
    const applied = this.target.appliedSeq();
    const progressed = applied !== this.lastTickApplied;
    this.lastTickApplied = applied;
    if (progressed) {
      this.idleTicks = 0;
      return;
    }
    if (this.knownHead > applied && this.stopConsumer !== null) {
      this.log.warn({ applied, streamHead: this.knownHead }, 'META consumer stalled; resubscribing');
      // Ending the iterator ends receive() with an error: the supervisor resubscribes from the store's sequence.
      this.stopConsumer();
      this.stopConsumer = null;
      return;
    }
    this.idleTicks += 1;
    if (this.idleTicks % PROBE_EVERY_TICKS === 0) {
      this.js.streams
        .get(STREAMS.meta)
        .then((st) => st.info())
        .then((info) => this.noteStreamSeq(info.state.last_seq))
        .catch(() => {});
    }
  }

  protected override onCrash(): void {
    this.stopConsumer?.();
    this.stopConsumer = null;
  }

  override stop(): void {
    super.stop();
    if (this.watchdog !== null) this.clock.clearTimeout(this.watchdog);
    this.watchdog = null;
    this.stopConsumer?.();
    this.stopConsumer = null;
    for (const [id, w] of this.waiters) {
      this.clock.clearTimeout(w.timer);
      w.reject(new Error('applier stopped'));
      this.waiters.delete(id);
    }
  }

  protected async receive(msg: Msg): Promise<void> {
    if (msg.type !== 'subscribe') return;
    const from = this.target.appliedSeq() + 1;
    const consumer = await this.js.consumers.get(STREAMS.meta, { opt_start_seq: from });
    const messages = await consumer.consume();
    this.stopConsumer = () => void messages.stop();
    this.log.info({ from }, 'tailing META stream');
    this.noteStreamSeq(from - 1);
    // The loop runs for the life of this incarnation; it ends only on stop() or a crash.
    for await (const m of messages) {
      if (this.isStopped) return;
      this.applyOne(m.seq, m.data);
    }
    if (!this.isStopped) throw new Error('META consumer ended');
  }

  private applyOne(seq: number, data: Uint8Array): void {
    let envelope: MetaEnvelope;
    try {
      envelope = JSON.parse(Buffer.from(data).toString('utf8')) as MetaEnvelope;
    } catch (err) {
      // A malformed entry cannot be applied anywhere; skipping it keeps every node identical.
      this.log.error({ seq, err }, 'skipping malformed META entry');
      this.target.skip(seq);
      return;
    }
    const outcome = this.target.applyEnvelope(seq, envelope);
    if (outcome === null) return;
    const w = this.waiters.get(envelope.id);
    if (w) {
      this.clock.clearTimeout(w.timer);
      this.waiters.delete(envelope.id);
      w.resolve(outcome);
    }
    const event: AppliedEvent = { seq, envelope, outcome };
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err, seq, type: envelope.cmd.type }, 'applied-event listener failed');
      }
    }
  }
}
