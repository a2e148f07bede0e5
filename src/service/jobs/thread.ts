/**
 * One job in its own worker thread, for both queues (the embedded one and a worker node's): it reports progress,
 * then exactly one outcome (a result, an error, or the thread's death), and ends on its own. Stopping is
 * cooperative (stop.ts); a thread still alive `drainMs` after its last word is idle and is terminated.
 */
import type { Worker } from 'node:worker_threads';
import { startWorkerThread } from '../threads.js';
import { StopFlag } from './stop.js';
import type { StoredResult } from './results.js';
import type { JobError, WorkerInput, WorkerMessage } from './types.js';

export type ThreadOutcome = { type: 'done'; result: StoredResult } | { type: 'error'; error: JobError };

/** The time limit of one attempt (from its start), and the error a job stopped by it fails with. */
export function deadline(
  timeLimitMs: number | null | undefined,
  stop: StopFlag,
): { timer: NodeJS.Timeout | undefined; failure(error: JobError): JobError } {
  const timer = timeLimitMs != null ? setTimeout(() => stop.set('time-limit'), timeLimitMs) : undefined;
  timer?.unref();
  return {
    timer,
    failure: (error) =>
      stop.reason === 'time-limit'
        ? {
            code: 'time-limit',
            message: `the job ran over its time limit of ${(timeLimitMs ?? 0) / 1000} s (scaled to its work; WEIGHTSCOPE_JOB_TIME_FACTOR multiplies it)`,
          }
        : error,
  };
}

export interface ThreadHandlers {
  progress(done: number, total: number, message: string): void;
  /** The job's one outcome; not called when the thread dies without a word (see exited). */
  outcome(o: ThreadOutcome): void;
  /** The thread has exited; `silent` = it never reported an outcome (out of memory, process.exit, terminate()). */
  exited(code: number, silent: boolean): void;
}

export interface JobThread {
  readonly worker: Worker;
  readonly stop: StopFlag;
  /** Settles when the thread has exited. */
  readonly exited: Promise<void>;
  /** After this, no handler is called again (the queue is closing and settles the job itself). */
  mute(): void;
}

export interface ThreadOptions {
  /** A thread still alive this long after its last word is terminated (it is idle by then). Default 5 s. */
  drainMs?: number;
  /** Heap of the thread (WEIGHTSCOPE_JOB_HEAP); over it the job fails with code out-of-memory. */
  heapBytes?: number;
  /** The job's wall-clock limit for this attempt; past it the job is stopped like a cancel and fails with time-limit. */
  timeLimitMs?: number | null;
}

export function startJobThread(input: Omit<WorkerInput, 'stop'>, h: ThreadHandlers, opts: ThreadOptions = {}): JobThread {
  const stop = new StopFlag();
  const workerData: WorkerInput = { ...input, stop: stop.buffer };
  const heapMb = opts.heapBytes ? Math.max(32, Math.floor(opts.heapBytes / 2 ** 20)) : undefined;
  const worker = startWorkerThread(import.meta.url, 'worker', {
    workerData,
    ...(heapMb ? { resourceLimits: { maxOldGenerationSizeMb: heapMb } } : {}),
  });
  let settled = false;
  let muted = false;
  let drain: NodeJS.Timeout | undefined;
  const { timer: limit, failure } = deadline(opts.timeLimitMs, stop);
  /** The job's last word is in: the thread should end by itself; if it lingers (idle by now), end it. */
  const settle = (o: ThreadOutcome): void => {
    settled = true;
    drain = setTimeout(() => void worker.terminate(), opts.drainMs ?? 5000);
    drain.unref();
    if (!muted) h.outcome(o);
  };
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      clearTimeout(drain);
      clearTimeout(limit);
      const silent = !settled;
      settled = true;
      resolve();
      if (!muted) h.exited(code, silent);
    });
  });
  worker.on('message', (m: WorkerMessage) => {
    if (settled || muted) return;
    if (m.type === 'progress') h.progress(m.done, m.total, m.message);
    else if (m.type === 'done') settle({ type: 'done', result: m.result });
    else settle({ type: 'error', error: failure(m.error) });
  });
  worker.on('error', (e: Error & { code?: string }) => {
    if (settled || muted) return;
    const error =
      e.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? { code: 'out-of-memory', message: `the job needed more than ${heapMb ?? 0} MiB of heap (WEIGHTSCOPE_JOB_HEAP)` }
        : { code: 'internal', message: `worker crashed: ${e.message}` };
    settle({ type: 'error', error: failure(error) });
  });
  return { worker, stop, exited, mute: () => void (muted = true) };
}
