/**
 * Starting a sandbox the way the node's supervisor does: bwrap's own setup
 * fails now and then before the runtime runs (seen: "bwrap: loopback:
 * Failed RTM_NEWADDR"), and such a start is tried again, up to
 * SANDBOX_START_ATTEMPTS. Tests that start workers through the driver use
 * this, so that flake cannot fail them.
 */
import { SANDBOX_START_ATTEMPTS } from '../../actors/worker.ts';
import type { WorkerProcess } from '../../node/sandbox/driver.ts';
import type { WorkerOutput } from '../../protocol/worker-output.ts';

interface Started {
  readonly proc: WorkerProcess;
  /** The next frame; null or a rejection once the worker is gone. */
  next(): Promise<WorkerOutput | null>;
}

type Frame<W extends Started> = Awaited<ReturnType<W['next']>>;

/** A worker from `spawn` and its first frame (as its `next` gives it: null or a rejection if it exited without one). */
export async function firstFrame<W extends Started>(spawn: () => W): Promise<{ w: W; first: Frame<W> }> {
  for (let attempt = 1; ; attempt++) {
    const w = spawn();
    const again = () => attempt < SANDBOX_START_ATTEMPTS && /^bwrap: /m.test(w.proc.outputTail);
    let first: Frame<W>;
    try {
      first = (await w.next()) as Frame<W>;
    } catch (err) {
      if (again()) continue;
      throw err;
    }
    if (first === null && again()) continue;
    return { w, first };
  }
}
