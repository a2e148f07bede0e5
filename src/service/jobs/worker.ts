/** Worker-thread entry: runs one job of one kind and reports progress, result or error to the queue. */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { isWeightscopeError } from '../../errors.js';
import { findJobKind } from './kinds/index.js';
import { localFiles } from './inputs.js';
import { storeResult } from './results.js';
import { JobStopped, StopFlag, jobErrorOf } from './stop.js';
import type { WorkerInput, WorkerMessage } from './types.js';

const port = parentPort;
if (!port) throw new Error('jobs/worker must run in a worker thread');
const input = workerData as WorkerInput;
const post = (m: WorkerMessage): void => port.postMessage(m);
const stop = new StopFlag(input.stop);
const checkpoint = (): void => {
  const reason = stop.reason;
  if (reason) throw new JobStopped(reason);
};

/**
 * Linux nice values are per thread and inherited by threads this one starts (the eigenvalue pool), so lowering
 * this thread's priority keeps the HTTP thread responsive when jobs fill every core. Best effort elsewhere.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    /* not Linux, or not permitted */
  }
}
lowerPriority();

async function main(): Promise<void> {
  const kind = findJobKind(input.kind);
  if (!kind) throw new Error(`unknown job kind ${input.kind}`);
  const payload = kind.payload.parse(input.payload);
  const result = await kind.run(payload, {
    jobId: input.jobId,
    dataDir: input.dataDir,
    ...localFiles(input.inputs),
    children: input.children,
    inlineResultBytes: input.inlineLimit,
    progress: (done, total, message = '') => {
      checkpoint();
      post({ type: 'progress', done, total, message });
    },
    checkpoint,
    stopReason: () => stop.reason,
  });
  // Serialised (and, when large, written to files) here, so the server thread only stores a string or a path.
  post({ type: 'done', result: storeResult(input.dataDir, input.jobId, result, input.inlineLimit, kind.artifacts?.bind(kind)) });
}

// After its last message the thread ends on its own once nothing is pending (no timers, no runs in flight), so a
// job that threw while other runs were still going is not torn down under them.
main().catch((e: unknown) => {
  const reason = stop.reason;
  if (!reason && !isWeightscopeError(e) && !(e instanceof JobStopped)) console.error('[weightscope job worker]', e);
  post({ type: 'error', error: jobErrorOf(e, reason) });
});
