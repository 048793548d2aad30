import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Clock } from '../../actors/clock.ts';
import { Actor, MailboxFullError, type Reply } from '../../actors/runtime.ts';

const silent = pino({ level: 'silent' });

/** A clock whose timers fire only when the test advances it. */
class FakeClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  /** Delays of the pending timers, relative to now. */
  pending(): number[] {
    return this.timers.map((x) => x.at - this.t);
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const x of due) x.fn();
  }
}

// Let queued microtasks and already-resolved promises run.
const settle = () => new Promise((r) => setImmediate(r));

type Msg = { kind: 'push'; v: number } | { kind: 'slow'; v: number; gate: Promise<void> } | { kind: 'boom' } | { kind: 'get'; reply: Reply<number[]> } | { kind: 'fail-ask'; reply: Reply<number> };

/** Records what it receives; `boom` throws; `slow` waits on a gate, so the mailbox fills. */
class Recorder extends Actor<Msg> {
  seen: number[] = [];
  starts = 0;
  crashes: unknown[] = [];
  protected override preStart(): void {
    this.starts += 1;
  }
  protected override onCrash(err: unknown): void {
    this.crashes.push(err);
  }
  protected async receive(msg: Msg): Promise<void> {
    if (msg.kind === 'push') this.seen.push(msg.v);
    else if (msg.kind === 'slow') {
      await msg.gate;
      this.seen.push(msg.v);
    } else if (msg.kind === 'boom') throw new Error('boom');
    else if (msg.kind === 'get') msg.reply.resolve([...this.seen]);
    else msg.reply.reject(new Error('refused'));
  }
}

test('runtime - messages are received one at a time in mailbox order', async () => {
  const a = new Recorder({ name: 'order', log: silent });
  a.start();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  a.tell({ kind: 'slow', v: 0, gate });
  for (let i = 1; i <= 50; i++) a.tell({ kind: 'push', v: i });
  await settle();
  assert.deepEqual(a.seen, [], 'a later message overtook a slow one');
  open();
  const seen = await a.ask<number[]>((reply) => ({ kind: 'get', reply }));
  assert.deepEqual(seen, Array.from({ length: 51 }, (_, i) => i));
  a.stop();
});

test('runtime - ask resolves with the reply and rejects with the actor’s error', async () => {
  const a = new Recorder({ name: 'ask', log: silent });
  a.start();
  a.tell({ kind: 'push', v: 7 });
  assert.deepEqual(await a.ask<number[]>((reply) => ({ kind: 'get', reply })), [7]);
  await assert.rejects(a.ask<number>((reply) => ({ kind: 'fail-ask', reply })), /refused/);
  a.stop();
});

test('runtime - a full mailbox throws MailboxFullError on tell and rejects ask', async () => {
  const a = new Recorder({ name: 'bounded', log: silent, mailboxSize: 3 });
  a.start();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  a.tell({ kind: 'slow', v: 0, gate });
  await settle();
  // The slow message is being processed; three more fill the mailbox.
  for (let i = 1; i <= 3; i++) a.tell({ kind: 'push', v: i });
  assert.throws(() => a.tell({ kind: 'push', v: 4 }), MailboxFullError);
  await assert.rejects(a.ask<number[]>((reply) => ({ kind: 'get', reply })), MailboxFullError);
  open();
  await settle();
  assert.deepEqual(await a.ask<number[]>((reply) => ({ kind: 'get', reply })), [0, 1, 2, 3]);
  a.stop();
});

test('runtime - a throwing receive restarts the actor with doubling backoff on the injected clock, capped', async () => {
  const clock = new FakeClock();
  const a = new Recorder({ name: 'crashy', log: silent, clock, backoffMs: { initial: 100, max: 350 } });
  a.start();
  await settle();
  assert.equal(a.starts, 1);
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    a.tell({ kind: 'boom' });
    await settle();
    assert.equal(a.crashes.length, i + 1);
    const pending = clock.pending();
    assert.equal(pending.length, 1, 'one restart timer');
    delays.push(pending[0]);
    clock.advance(pending[0] - 1);
    await settle();
    assert.equal(a.starts, i + 1, 'restarted before its backoff elapsed');
    clock.advance(1);
    await settle();
    assert.equal(a.starts, i + 2, 'not restarted after its backoff');
  }
  assert.deepEqual(delays, [100, 200, 350, 350]);
  a.stop();
});

test('runtime - messages told while a restart is pending wait for it, then run in order', async () => {
  const clock = new FakeClock();
  const a = new Recorder({ name: 'waiting', log: silent, clock });
  a.start();
  a.tell({ kind: 'boom' });
  await settle();
  for (let i = 0; i < 3; i++) a.tell({ kind: 'push', v: i });
  await settle();
  assert.deepEqual(a.seen, [], 'a message ran before the restart');
  clock.advance(100);
  await settle();
  assert.deepEqual(a.seen, [0, 1, 2]);
  a.stop();
});

test('runtime - an incarnation that stayed up for the max backoff restarts after the initial delay again', async () => {
  const clock = new FakeClock();
  const a = new Recorder({ name: 'long-lived', log: silent, clock, backoffMs: { initial: 100, max: 1_000 } });
  a.start();
  a.tell({ kind: 'boom' });
  await settle();
  clock.advance(100);
  await settle();
  a.tell({ kind: 'boom' });
  await settle();
  assert.deepEqual(clock.pending(), [200]);
  clock.advance(200);
  await settle();
  clock.advance(5_000);
  a.tell({ kind: 'boom' });
  await settle();
  assert.deepEqual(clock.pending(), [100]);
  a.stop();
});

test('runtime - a successful run resets the backoff', async () => {
  const clock = new FakeClock();
  const a = new Recorder({ name: 'reset', log: silent, clock, backoffMs: { initial: 100, max: 10_000 } });
  a.start();
  a.tell({ kind: 'boom' });
  await settle();
  assert.deepEqual(clock.pending(), [100]);
  clock.advance(100);
  await settle();
  a.tell({ kind: 'boom' });
  await settle();
  assert.deepEqual(clock.pending(), [200]);
  clock.advance(200);
  await settle();
  a.tell({ kind: 'push', v: 1 });
  await settle();
  a.tell({ kind: 'boom' });
  await settle();
  assert.deepEqual(clock.pending(), [100], 'the backoff did not reset after a good message');
  a.stop();
});

test('runtime - stop cancels a pending restart and drops later messages', async () => {
  const clock = new FakeClock();
  const a = new Recorder({ name: 'stopper', log: silent, clock });
  a.start();
  a.tell({ kind: 'boom' });
  await settle();
  assert.equal(clock.pending().length, 1);
  a.stop();
  assert.equal(clock.pending().length, 0, 'restart timer survived stop');
  a.tell({ kind: 'push', v: 1 });
  clock.advance(60_000);
  await settle();
  assert.deepEqual(a.seen, []);
  assert.equal(a.starts, 1);
  assert.ok(a.isStopped);
});
