/** What every route needs, built once by server.ts (and by tests with their own config). */
import type { ServiceConfig } from './config.js';
import type { JobQueue } from './jobs/queue.js';
import type { Metrics } from './metrics.js';
import type { BlobStore } from './store/blobs.js';
import type { DatasetStore } from './store/datasets.js';
import type { Db } from './store/db.js';
import type { Slots } from './slots.js';
import type { ModelStore } from './store/models.js';

export interface ServiceContext {
  config: ServiceConfig;
  db: Db;
  blobs: BlobStore;
  models: ModelStore;
  datasets: DatasetStore;
  queue: JobQueue;
  metrics: Metrics;
  /** SSE streams and uploads (or imports) in progress, each capped. */
  slots: { streams: Slots; uploads: Slots };
}
