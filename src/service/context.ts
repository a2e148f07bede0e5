/**
 * What every route needs, built once by server.ts (and by tests with their own config). Each store is an interface
 * with two backends: the embedded one (SQLite, the data folder, worker threads; synchronous where it can be) and the
 * distributed one (Postgres + pg-boss, a shared blob store, worker nodes; src/service/cluster). Routes await every
 * call, so they work with both.
 */
import type { Readable } from 'node:stream';
import type { ServiceConfig } from './config.js';
import type { Work } from './jobs/limits.js';
import type { JobEvent, JobView } from './jobs/rows.js';
import type { JobState } from './jobs/types.js';
import type { Metrics } from './metrics.js';
import type { IngestedPart, UploadBudget } from './store/blobs.js';
import type { DatasetRecord } from './store/datasets.js';
import type { ModelRecord, NamedPart } from './store/models.js';
import type { Slots } from './slots.js';

export type Awaitable<T> = T | Promise<T>;

/** Content-addressed bytes (blobs/<sha256>) with a staging area for uploads. */
export interface Blobs {
  /** Streams `source` into staging, hashed and counted against `budget` ('too-large' past it; nothing kept). */
  ingest(source: Readable, budget: UploadBudget, onBytes?: (n: number) => void): Promise<IngestedPart>;
  /** Stages an existing file of this machine (an import). */
  ingestFile(path: string, open: () => Readable): Promise<IngestedPart>;
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
  /** `work`: the size of the job's inputs, for its time limit (jobs/limits.ts). */
  submit(kind: string, payload: unknown, work?: Work): Awaitable<{ job: JobView; cached: boolean }>;
  get(id: string): Awaitable<JobView | null>;
  require(id: string, kind?: string): Awaitable<JobView>;
  /** The stored result (JSON text) of a succeeded job; job-not-finished / job-failed errors otherwise. */
  resultText(id: string, kind: string): Awaitable<string>;
  counts(): Awaitable<Record<JobState, number>>;
  cancel(id: string): Promise<JobView>;
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
  /** `rel` as named in job `jobId`'s result files; null when it is not stored. */
  jobFile(jobId: string, rel: string): Promise<JobFile | null>;
  /** Throws when the catalog does not answer (/readyz). */
  ping(): Promise<void>;
  /** SSE streams and uploads (or imports) in progress, each capped. */
  slots: { streams: Slots; uploads: Slots };
}
