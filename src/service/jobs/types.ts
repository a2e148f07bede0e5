/**
 * A job kind = one file in ./kinds: its payload schema, its cache key and `run`, which executes in a worker thread
 * (never on the server's event loop). Adding a kind: write the file, list it in kinds/index.ts, and give it an HTTP
 * resource with jobResource() in routes/ (docs/service.md, "Adding a job kind").
 * The interface has no dependency on the queue: the same kinds run in the embedded queue's threads and on worker
 * nodes (src/service/cluster).
 */
import type { z } from 'zod';
import type { KindLimits, Work } from './limits.js';
import type { StoredResult } from './results.js';
import type { StopReason } from './stop.js';

export interface JobContext {
  readonly jobId: string;
  /**
   * Where a job writes files it names in its result (`files`): $WEIGHTSCOPE_DATA in the embedded mode; a scratch
   * folder on a worker node, whose named files are copied into the blob store when the job succeeds.
   */
  readonly dataDir: string;
  /** What the readers open for a stored model (its one file, or its folder) on this machine. */
  model(id: string): string;
  /** The ONNX file of a stored model on this machine (invalid-input when it has none). */
  onnx(id: string): string;
  /** The safetensors file of a stored dataset on this machine. */
  dataset(id: string): string;
  /** A blob (by sha256) on this machine, e.g. an upload being read. */
  blob(sha256: string): string;
  /** A join's children (see JobKind.children), in the order children() listed them, once all are finished. */
  readonly children: readonly ChildOutcome[];
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
  /** The stored models and datasets the job reads, by id: made available on the worker's machine before run(). */
  inputs?(payload: P): JobInputRefs;
  /**
   * A join: these jobs are submitted with it (each deduplicated by its cache key like any submission) and run
   * first, on any worker; run() follows once every one has finished, with their outcomes in ctx.children.
   */
  children?(payload: P): readonly ChildJob[];
  /** Quick work (reading an upload, a join's own run): worker nodes give it a slot of its own, so it never waits behind hours of analyses. */
  readonly light?: boolean;
  /** Files the job wrote under ctx.dataDir that its result names (relative paths): a worker node stores them as blobs. */
  outputs?(result: R): readonly string[];
  /** Runs in a worker thread; the result must be JSON-serialisable. */
  run(payload: P, ctx: JobContext): Promise<R>;
}

export interface JobInputRefs {
  models?: readonly string[];
  datasets?: readonly string[];
  blobs?: readonly string[];
}

export interface ChildJob {
  kind: string;
  payload: unknown;
  /** The size of the child's inputs, for its time limit. */
  work?: Work;
}

export interface ChildOutcome {
  id: string;
  kind: string;
  state: JobState;
  /** Where its result is when succeeded (inline, or files under the job's data folder: read with resultTextOf). */
  result: StoredResult | null;
  error: JobError | null;
}

/** A stored model on the machine that runs the job: its folder and the names of its files there. */
export interface LocalModel {
  dir: string;
  format: string;
  files: string[];
}

/** Where the inputs of one job are on this machine (resolved by the queue before the job's thread starts). */
export interface LocalInputs {
  models: Record<string, LocalModel>;
  /** Each dataset's folder (its file is layout.ts's DATASET_FILE). */
  datasets: Record<string, string>;
  blobs: Record<string, string>;
}

export const NO_INPUTS: LocalInputs = { models: {}, datasets: {}, blobs: {} };

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
  inputs: LocalInputs;
  children: ChildOutcome[];
  /** The StopFlag's memory, shared with the queue. */
  stop: SharedArrayBuffer;
  /** Results whose JSON is longer are stored as files (bytes). */
  inlineLimit: number;
}
