/**
 * What every route needs, built once by server.ts (and by tests with their own config). Each store is an interface
 * with two backends: the embedded one (SQLite, the data folder, worker threads; synchronous where it can be) and the
 * distributed one (Postgres + pg-boss, a shared blob store, worker nodes; src/service/cluster). Routes await every
 * call, so they work with both.
 */
import type { Readable } from 'node:stream';
import type { ServiceConfig } from './config.js';
import type { Work } from './jobs/limits.js';
import type { StoredResult } from './jobs/results.js';
import type { JobEvent, JobView } from './jobs/rows.js';
import type { JobState } from './jobs/types.js';
import type { Metrics } from './metrics.js';
import type { IngestedPart, IngestHooks, UploadBudget } from './store/blobs.js';
import type { DatasetRecord } from './store/datasets.js';
import type { ModelRecord, NamedPart } from './store/models.js';
import type { Slots } from './slots.js';

export type Awaitable<T> = T | Promise<T>;

/** Content-addressed bytes (blobs/<sha256>) with a staging area for uploads. */
export interface Blobs {
  /** Streams `source` into staging, hashed and counted against `budget` ('too-large' past it; nothing kept). */
  ingest(source: Readable, budget: UploadBudget, onBytes?: (n: number) => void, hooks?: IngestHooks): Promise<IngestedPart>;
  /** Stages a copy of a file of this machine (an import; never a link to it). */
  ingestFile(path: string, onBytes?: (n: number) => void, hooks?: IngestHooks): Promise<IngestedPart>;
  /** Makes a staged part the blob named by its sha256 (dropping it when that blob exists already). */
  commit(part: IngestedPart): Promise<unknown>;
  discard(parts: readonly IngestedPart[]): Promise<void>;
  has(sha256: string): Awaitable<boolean>;
}

export interface ModelCatalog {
  get(id: string): Awaitable<ModelRecord | null>;
  require(id: string): Awaitable<ModelRecord>;
  list(): Awaitable<ModelRecord[]>;
  /** Validates and stores staged parts as one model; created=false when the same content is stored. */
  add(parts: readonly NamedPart[], source: string, displayName?: string): Promise<{ model: ModelRecord; created: boolean }>;
  delete(id: string): Promise<void>;
}

export interface DatasetCatalog {
  get(id: string): Awaitable<DatasetRecord | null>;
  require(id: string): Awaitable<DatasetRecord>;
  list(): Awaitable<DatasetRecord[]>;
  add(part: IngestedPart, name: string | null): Promise<{ dataset: DatasetRecord; created: boolean }>;
}

/** The job queue as routes see it: submit, look up, cancel, follow. */
export interface Jobs {
  /**
   * `work`: the size of the job's inputs, for its time limit (jobs/limits.ts); `requester`: who asks ('open', or
   * the API key's tag), recorded so a shared job is cancelled only when all who asked have withdrawn.
   */
  submit(kind: string, payload: unknown, work?: Work, requester?: string): Awaitable<{ job: JobView; cached: boolean }>;
  get(id: string): Awaitable<JobView | null>;
  require(id: string, kind?: string): Awaitable<JobView>;
  /** Where a succeeded job's result is: inline, or files (read them with ServiceContext.jobFile); errors otherwise. */
  result(id: string, kind: string): Awaitable<StoredResult>;
  /** The whole result as text (read from its file if need be): for small results. */
  resultText(id: string, kind: string): Awaitable<string>;
  counts(): Awaitable<Record<JobState, number>>;
  /** Withdraws `requester`'s request; the last one cancels (job-not-yours for a requester with none). */
  cancel(id: string, requester?: string): Promise<JobView>;
  /** Events of one job (on this node, whichever node runs it). */
  subscribe(id: string, fn: (e: JobEvent) => void): () => void;
}

/** A file a succeeded job named in its result's `files` (a repair's model), ready to stream. */
export interface JobFile {
  size: number;
  open(): Promise<Readable>;
}

export interface ServiceContext {
  config: ServiceConfig;
  blobs: Blobs;
  models: ModelCatalog;
  datasets: DatasetCatalog;
  queue: Jobs;
  metrics: Metrics;
  /**
   * A file of job `jobId`, by its path relative to the data folder: a file result (`results/<id>/…`) or one its
   * result names (a repair's model); null when it is not stored.
   */
  jobFile(jobId: string, rel: string): Promise<JobFile | null>;
  /** Throws when the catalog does not answer (/readyz). */
  ping(): Promise<void>;
  /** SSE streams and uploads (or imports) in progress, each capped. */
  slots: { streams: Slots; uploads: Slots };
}
