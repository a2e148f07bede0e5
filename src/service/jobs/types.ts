/**
 * A job kind = one file in ./kinds: its payload schema, its cache key and `run`, which executes in a worker thread
 * (never on the server's event loop). Adding a kind: write the file, list it in kinds/index.ts, and give it an HTTP
 * resource with jobResource() in routes/ (docs/service.md, "Adding a job kind").
 * The interface has no dependency on the queue, so the same kinds can later run in BullMQ worker processes.
 */
import type { z } from 'zod';
import type { KindLimits } from './limits.js';
import type { StoredResult } from './results.js';
import type { StopReason } from './stop.js';

export interface JobContext {
  readonly jobId: string;
  /** $WEIGHTSCOPE_DATA, e.g. to read other cached results from weightscope.db. */
  readonly dataDir: string;
  /** Results whose JSON is longer are stored as files (jobs/results.ts), e.g. analyses a ranking adds to the cache. */
  readonly inlineResultBytes: number;
  /**
   * Reports progress; throttled by the queue before it reaches the database and SSE clients. It is also where a
   * cancelled or timed-out job stops: it throws JobStopped, so call it between steps, never inside one.
   */
  progress(done: number, total: number, message?: string): void;
  /** Throws JobStopped when the job was cancelled or ran out of time (for loops that report no progress). */
  checkpoint(): void;
  /** Why the job is being stopped, or null: for code that must not throw where it checks (stream handlers). */
  stopReason(): StopReason | null;
  /** For server-thread kinds only: the server's stores (what QueueOptions.services holds). */
  readonly services?: unknown;
}

export interface JobKind<P = unknown, R = unknown> {
  readonly kind: string;
  readonly payload: z.ZodType<P>;
  /** A content hash of everything the result depends on: equal keys share one result. Absent: never cached. */
  cacheKey?(payload: P): string;
  /**
   * Named views of a large result, computed in the job's thread and stored beside it when the result is stored as
   * a file (jobs/results.ts): e.g. the report without eigenvalues, one layer's ESD. A string is stored as is.
   */
  artifacts?(result: R): Record<string, unknown>;
  /**
   * 'server': runs on the server's event loop instead of a worker thread — for I/O-bound work that writes to the
   * stores (imports). Such jobs do not take one of the `concurrency` slots. Default: a worker thread.
   */
  readonly thread?: 'server';
  /** Caps on `payload.options` and the wall-clock budget for the work (limits.ts); absent: BASE_SECONDS, no caps. */
  readonly limits?: KindLimits<P>;
  /** Runs in a worker thread; the result must be JSON-serialisable. */
  run(payload: P, ctx: JobContext): Promise<R>;
}

export function defineJobKind<P, R>(kind: JobKind<P, R>): JobKind<P, R> {
  return kind;
}

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const isTerminal = (s: JobState): boolean => s === 'succeeded' || s === 'failed' || s === 'cancelled';

export interface JobError {
  code: string;
  message: string;
}

/** Messages from a job worker to the queue. */
export type WorkerMessage =
  | { type: 'progress'; done: number; total: number; message: string }
  | { type: 'done'; result: StoredResult }
  | { type: 'error'; error: JobError };

export interface WorkerInput {
  jobId: string;
  kind: string;
  payload: unknown;
  dataDir: string;
  /** The StopFlag's memory, shared with the queue. */
  stop: SharedArrayBuffer;
  /** Results whose JSON is longer are stored as files (bytes). */
  inlineLimit: number;
}
