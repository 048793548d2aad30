import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SANDBOX_START_ATTEMPTS } from '../../actors/worker.ts';
import type { WorkerProcess } from '../../node/sandbox/driver.ts';
import type { WorkerOutput } from '../../protocol/worker-output.ts';
import { firstFrame } from '../helpers/sandbox-start.ts';

/** Starts that end as scripted: a frame, or an exit (null) with this output. */
function starts(script: Array<WorkerOutput | string>) {
  let n = 0;
  const spawn = () => {
    const step = script[n++];
    return {
      proc: { outputTail: typeof step === 'string' ? step : '' } as WorkerProcess,
      next: async () => (typeof step === 'string' ? null : step),
    };
  };
  return { spawn, count: () => n };
}

test('sandbox start - a start whose bwrap setup failed is tried again, up to the attempts the supervisor makes', async () => {
  const setupFailed = 'bwrap: loopback: Failed RTM_NEWADDR: No child processes\n';
  const ok = starts([setupFailed, { type: 'ready' }]);
  assert.deepEqual((await firstFrame(ok.spawn)).first, { type: 'ready' });
  assert.equal(ok.count(), 2);

  const never = starts(Array(SANDBOX_START_ATTEMPTS + 1).fill(setupFailed));
  assert.equal((await firstFrame(never.spawn)).first, null);
  assert.equal(never.count(), SANDBOX_START_ATTEMPTS);

  // A failure of the runtime or the handler is the test's business: no second start.
  const crashed = starts(['Segmentation fault\n', { type: 'ready' }]);
  assert.equal((await firstFrame(crashed.spawn)).first, null);
  assert.equal(crashed.count(), 1);
});
