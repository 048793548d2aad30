/**
 * A small actor runtime: a bounded mailbox processed one message at a time,
 * tell/ask, and supervision that restarts a failed actor with exponential
 * backoff. Actor logic lives in subclasses and never sees the scheduling.
 */
import type { Logger } from 'pino';
import { type Clock, systemClock } from './clock.ts';

export class MailboxFullError extends Error {
  constructor(actor: string) {
    super(`mailbox of ${actor} is full`);
    this.name = 'MailboxFullError';
  }
}

export interface ActorOptions {
  name: string;
  log: Logger;
  clock?: Clock;
  /** Bounded so that a stuck actor pushes back instead of growing without limit. Default 10,000. */
  mailboxSize?: number;
  /**
   * Restart backoff: first delay, doubled per consecutive failure up to max.
   * Defaults 100 ms .. 10 s. The count of consecutive failures resets after a
   * message is handled without a throw, or when the crashed incarnation had
   * been up for at least `max` (an actor whose receive never returns, like a
   * stream tail, handles no "message" to reset it).
   */
  backoffMs?: { initial: number; max: number };
}

/** A message that carries its own reply channel, used by ask(). */
export interface Reply<R> {
  resolve(value: R): void;
  reject(err: unknown): void;
}

export abstract class Actor<M> {
  readonly name: string;
  protected readonly log: Logger;
  protected readonly clock: Clock;
  private readonly queue: M[] = [];
  private readonly capacity: number;
  private readonly backoff: { initial: number; max: number };
  private running = false;
  private failures = 0;
  private restartTimer: unknown = null;
  private stopped = false;
  private incarnationStartedAt = 0;

  constructor(opts: ActorOptions) {
    this.name = opts.name;
    this.log = opts.log.child({ actor: opts.name });
    this.clock = opts.clock ?? systemClock;
    this.capacity = opts.mailboxSize ?? 10_000;
    this.backoff = opts.backoffMs ?? { initial: 100, max: 10_000 };
  }

  /** Handle one message; a throw is a crash that the supervision below handles. */
  protected abstract receive(msg: M): void | Promise<void>;

  /** Called on (re)start; a throw here is a crash too. */
  protected preStart(): void | Promise<void> {}

  /** Called when the actor crashed, before the restart; drop per-incarnation state here. */
  protected onCrash(_err: unknown): void {}

  start(): void {
    this.stopped = false;
    void this.run(true);
  }

  stop(): void {
    this.stopped = true;
    if (this.restartTimer !== null) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Enqueue a message; throws MailboxFullError when the mailbox is full. */
  tell(msg: M): void {
    if (this.queue.length >= this.capacity) throw new MailboxFullError(this.name);
    this.queue.push(msg);
    if (!this.running && !this.stopped && this.restartTimer === null) void this.run(false);
  }

  /** Send a message built around a reply channel and await the answer. */
  ask<R>(build: (reply: Reply<R>) => M): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      try {
        this.tell(build({ resolve, reject }));
      } catch (err) {
        reject(err);
      }
    });
  }

  private async run(starting: boolean): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (starting) {
        this.incarnationStartedAt = this.clock.now();
        await this.preStart();
      }
      while (this.queue.length > 0 && !this.stopped) {
        const msg = this.queue.shift() as M;
        await this.receive(msg);
        // Reset only on real progress: a restart that finds an empty mailbox proves nothing.
        this.failures = 0;
      }
      this.running = false;
    } catch (err) {
      this.running = false;
      this.crashed(err);
    }
  }

  private crashed(err: unknown): void {
    if (this.stopped) return;
    if (this.clock.now() - this.incarnationStartedAt >= this.backoff.max) this.failures = 0;
    this.failures += 1;
    const delay = Math.min(this.backoff.max, this.backoff.initial * 2 ** (this.failures - 1));
    this.log.error({ err, failures: this.failures, restartInMs: delay }, 'actor crashed; restarting');
    try {
      this.onCrash(err);
    } catch (e) {
      this.log.error({ err: e }, 'onCrash failed');
    }
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) void this.run(true);
    }, delay);
  }
}
