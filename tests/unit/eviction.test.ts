import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EvictionCandidate } from '../../actors/function-supervisor.ts';
import { chooseVictims, type Claim, Evictor } from '../../node/sandbox/eviction.ts';
import { MemoryBudget } from '../../node/sandbox/memory-budget.ts';
import { OrvaError } from '../../protocol/errors.ts';

const MiB = 2 ** 20;
/** What a 64 MB function's worker reserves (1.5 x). */
const W = 96 * MiB;

/** A node of idle workers holding real reservations; an evicted one exits when the test says so. */
function node(limitWorkers: number) {
  const budget = new MemoryBudget({ totalBytes: limitWorkers * W, fraction: 1 });
  const idle = new Map<string, EvictionCandidate>();
  const evicted: string[] = [];
  const exits = new Map<string, () => void>();
  let name = 0;
  /** An idle worker of `functionId` last used at `lastUsedMs`. */
  const worker = (functionId: string, lastUsedMs: number, keptWarm = false) => {
    const id = `${functionId}#${++name}`;
    const release = budget.reserve(W);
    idle.set(id, {
      functionId, bytes: W, lastUsedMs, keptWarm,
      evict: (_for, gone) => {
        idle.delete(id);
        evicted.push(id);
        // As the driver does: the reservation comes back on exit, then the exit listeners run.
        exits.set(id, () => {
          release();
          gone();
        });
      },
    });
    return id;
  };
  const evictor = new Evictor({ budget, candidates: (exclude) => [...idle.values()].filter((c) => c.functionId !== exclude) });
  /** Claim a worker for `functionId`; the returned record says what happened to it. */
  const claim = (functionId: string, evict = true, bytes = W) => {
    const out = { started: false, refused: null as OrvaError | null };
    const c: Claim = {
      functionId, bytes, evict,
      // As a spawn does: the driver reserves in the same turn.
      start: () => {
        out.started = true;
        budget.reserve(bytes);
      },
      refuse: (err) => (out.refused = err),
    };
    evictor.admit(c);
    return out;
  };
  const exit = (id: string) => exits.get(id)!();
  return { budget, worker, claim, exit, evicted };
}

const v = (lastUsedMs: number, keptWarm = false, bytes = W) => ({ bytes, lastUsedMs, keptWarm });

test('victim choice - least recently used first, min_warm-held workers only after every other, just enough bytes', () => {
  const [old, mid, recent, warmOld] = [v(10), v(20), v(30), v(5, true)];
  assert.deepEqual(chooseVictims([recent, warmOld, old, mid], W), [old]);
  assert.deepEqual(chooseVictims([recent, warmOld, old, mid], 2 * W), [old, mid]);
  assert.deepEqual(chooseVictims([recent, warmOld, old, mid], 3.5 * W), [old, mid, recent, warmOld]);
  assert.deepEqual(chooseVictims([v(1, false, 2 * W), v(2)], W), [v(1, false, 2 * W)], 'one large victim is enough');
});

test('victim choice - nothing when all candidates together cannot free the bytes needed', () => {
  assert.equal(chooseVictims([v(1), v(2)], 3 * W), null);
  assert.equal(chooseVictims([], 1), null);
});

test('evictor - a claim that fits starts at once and evicts nothing', () => {
  const n = node(2);
  n.worker('a', 1);
  const b = n.claim('b');
  assert.equal(b.started, true);
  assert.deepEqual(n.evicted, []);
});

test('evictor - on a full budget the least recently used idle worker is evicted, and the claim starts only once it has exited', () => {
  const n = node(2);
  const a = n.worker('a', 1);
  n.worker('b', 2);
  const c = n.claim('c');
  assert.deepEqual(n.evicted, [a]);
  assert.equal(c.started, false, 'the victim still holds its reservation');
  n.exit(a);
  assert.equal(c.started, true);
  assert.equal(n.budget.reservedBytes, 2 * W);
});

test('evictor - two concurrent claims never count on the same victim, and a third finds nothing left to evict', () => {
  const n = node(2);
  const a = n.worker('a', 1);
  const b = n.worker('b', 2);
  const c = n.claim('c');
  const d = n.claim('d');
  assert.deepEqual(n.evicted, [a, b]);
  const e = n.claim('e');
  assert.equal(e.refused?.code, 'MEMORY_EXHAUSTED', 'both idle workers are already promised');
  n.exit(b);
  n.exit(a);
  assert.equal(c.started && d.started, true);
  assert.equal(n.budget.reservedBytes, 2 * W);
});

test('evictor - a claim never evicts workers of its own function', () => {
  const n = node(1);
  n.worker('a', 1);
  assert.equal(n.claim('a').refused?.code, 'MEMORY_EXHAUSTED');
  assert.deepEqual(n.evicted, []);
});

test('evictor - a warm-up evicts nothing and takes no room a waiting claim counts on', () => {
  const n = node(2);
  const a = n.worker('a', 1);
  n.worker('b', 2);
  assert.equal(n.claim('w', false).refused?.code, 'MEMORY_EXHAUSTED');
  assert.deepEqual(n.evicted, []);
  const c = n.claim('c');
  n.exit(a);
  assert.equal(c.started, true);
  // a's pool would warm up again now: there is no room, and it may not evict c's new worker.
  assert.equal(n.claim('a', false).refused?.code, 'MEMORY_EXHAUSTED');
  assert.deepEqual(n.evicted, [a]);
});

test('evictor - room taken from outside while a claim waits (a build) makes it evict again once its victims are gone', () => {
  const n = node(3);
  const a = n.worker('a', 1);
  const b = n.worker('b', 2);
  // One worker's room is free and a is evicted for the second.
  const c = n.claim('c', true, 2 * W);
  assert.deepEqual(n.evicted, [a]);
  n.budget.reserve(W); // a build's verify sandbox, say, reserving outside the pools
  n.exit(a);
  assert.equal(c.started, false, 'the free room it counted on was taken');
  assert.deepEqual(n.evicted, [a, b], 'so it evicted the next one');
  n.exit(b);
  assert.equal(c.started, true);
});

test('evictor - a claim that evicting every idle worker could not fit is refused without evicting anything', () => {
  const n = node(3);
  n.worker('a', 1);
  n.claim('b'); // busy: not evictable
  const c = n.claim('c', true, 3 * W);
  assert.equal(c.refused?.code, 'MEMORY_EXHAUSTED');
  assert.match(c.refused!.message, /not enough idle workers/);
  assert.deepEqual(n.evicted, []);
});
