/** Builds the service from the environment and listens. `weightscope serve` and `npm start` call startServer(). */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, normalize, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WeightscopeError } from '../errors.js';
import { createApp } from './app.js';
import { isLoopback } from './auth.js';
import { loadConfig, type ServiceConfig } from './config.js';
import type { JobFile, ServiceContext } from './context.js';
import { JOB_KINDS } from './jobs/kinds/index.js';
import { parseLimitOverrides } from './jobs/limits.js';
import { JobQueue } from './jobs/queue.js';
import { resultUrl } from './routes/index.js';
import { Metrics } from './metrics.js';
import { BlobStore } from './store/blobs.js';
import { DatasetStore } from './store/datasets.js';
import { openDatabase, type Db } from './store/db.js';
import { localInputs } from './store/local-inputs.js';
import { isolatedInspector } from './store/inspect.js';
import { requestSlots } from './slots.js';
import { ModelStore } from './store/models.js';
import { lockDataDir } from './store/lock.js';
import { dropOldJobs } from './store/retention.js';

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  context: ServiceContext;
  /** Stops accepting, stops job workers (their jobs go back to the queue), closes the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  config?: Partial<ServiceConfig>;
  log?: (line: string) => void;
  /** false = an API node only (`serve --no-workers`; distributed mode). */
  workers?: boolean;
}

/** The embedded backend's context: SQLite, the data folder, this process's worker threads. */
export interface EmbeddedContext extends ServiceContext {
  db: Db;
  blobs: BlobStore;
  models: ModelStore;
  datasets: DatasetStore;
  queue: JobQueue;
}

export function buildContext(config: ServiceConfig): EmbeddedContext {
  const capOverrides = parseLimitOverrides(config.limits, JOB_KINDS);
  const db = openDatabase(config.dataDir);
  const blobs = new BlobStore(config.dataDir);
  blobs.clearTmp();

  const inspector = isolatedInspector(config.inspect);
  const models = new ModelStore(db, blobs, config.dataDir, inspector.checkpoint);
  const kinds = JOB_KINDS.filter((k) => config.debugJobs || k.kind !== 'sleep');
  let queue: JobQueue | undefined;
  const metrics = new Metrics(() => queue!.counts());
  queue = new JobQueue(db, {
    dataDir: config.dataDir,
    concurrency: config.concurrency,
    kinds,
    observer: { jobFinished: (kind, state, s) => metrics.jobFinished(kind, state, s) },
    resultUrl,
    maxAttempts: config.jobAttempts,
    resolve: (refs) => localInputs({ models, datasets, blobs }, refs),
    capOverrides,
    timeFactor: config.jobTimeFactor,
    jobHeapBytes: config.jobHeapBytes,
    inlineResultBytes: config.inlineResultBytes,
    services: { config, blobs, models },
  });
  const datasets = new DatasetStore(db, blobs, config.dataDir, inspector.dataset);
  return {
    config,
    db,
    blobs,
    models,
    datasets,
    queue,
    metrics,
    jobFile: (_jobId, rel) => dataDirFile(config.dataDir, rel),
    ping: async () => void db.prepare('SELECT 1').get(),
    slots: requestSlots(config),
  };
}

/** A file a job wrote under the data folder (never outside it). */
async function dataDirFile(dataDir: string, rel: string): Promise<JobFile | null> {
  const root = normalize(dataDir + sep);
  const file = normalize(join(dataDir, rel));
  if (!file.startsWith(root)) return null;
  const st = await stat(file).catch(() => null);
  return st?.isFile() ? { size: st.size, open: async () => createReadStream(file) } : null;
}

/** What a crash or time left behind: files without rows, and finished jobs past their retention. */
async function sweep(ctx: EmbeddedContext, log: (line: string) => void): Promise<void> {
  const models = await ctx.models.sweep();
  await ctx.datasets.sweep();
  const blobs = await ctx.blobs.sweep(ctx.db);
  const jobs = await dropOldJobs(ctx.db, ctx.config.dataDir, ctx.config.retentionDays);
  if (models || blobs) log(`weightscope: removed ${models} model folder(s) and ${blobs} blob(s) left by an interrupted upload`);
  if (jobs) log(`weightscope: removed ${jobs} finished job(s) older than ${ctx.config.retentionDays} days (WEIGHTSCOPE_RETENTION_DAYS)`);
}

/**
 * The embedded backend, started: the data folder locked (one server per folder), leftovers swept, interrupted jobs
 * recovered, the queue running.
 */
async function startEmbedded(config: ServiceConfig, log: (line: string) => void): Promise<Backend> {
  const lock = lockDataDir(config.dataDir);
  let ctx: EmbeddedContext;
  try {
    ctx = buildContext(config);
  } catch (e) {
    lock.release();
    throw e;
  }
  await sweep(ctx, log);
  const retention = setInterval(
    () =>
      void dropOldJobs(ctx.db, config.dataDir, config.retentionDays).catch((e: unknown) =>
        log(`weightscope: retention sweep failed: ${String(e)}`),
      ),
    3_600_000,
  );
  retention.unref();
  const recovered = ctx.queue.recover();
  if (recovered.requeued || recovered.failed) {
    log(`weightscope: after a restart, ${recovered.requeued} interrupted job(s) requeued, ${recovered.failed} failed`);
  }
  ctx.queue.start();
  return {
    context: ctx,
    describe: `data in ${config.dataDir}`,
    close: async () => {
      clearInterval(retention);
      await ctx.queue.close();
      ctx.db.close();
      lock.release();
    },
  };
}

interface Backend {
  context: ServiceContext;
  describe: string;
  close(): Promise<void>;
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const config = { ...loadConfig(opts.env ?? process.env), ...(opts.config ?? {}) };
  const open = config.apiKeys.length === 0 && !isLoopback(config.host);
  if (open && !config.allowOpen) {
    throw new WeightscopeError(
      'invalid-input',
      `refusing to listen on ${config.host} without WEIGHTSCOPE_API_KEYS: anyone who can reach it could upload and compute; set keys, or WEIGHTSCOPE_ALLOW_OPEN=1 to accept that`,
    );
  }
  let backend: Backend;
  if (config.cluster.databaseUrl) {
    const { startClusterNode } = await import('./cluster/node.js');
    const node = await startClusterNode(config, { api: true, workers: opts.workers === false ? 0 : config.concurrency, log });
    backend = { context: node.context!, describe: node.describe, close: node.close };
  } else {
    if (opts.workers === false) {
      throw new WeightscopeError(
        'invalid-input',
        'serve --no-workers needs WEIGHTSCOPE_DATABASE_URL (postgres://…): the embedded mode runs its jobs in the server process',
      );
    }
    backend = await startEmbedded(config, log);
  }
  const ctx = backend.context;
  if (open) {
    log(`weightscope: WARNING: listening on ${config.host} without WEIGHTSCOPE_API_KEYS: anyone who can reach it can upload and compute`);
  }
  const app = createApp(ctx);
  // A request must be sent within requestTimeout (408 after); headers within 20 s; a socket idle for 2 min is
  // closed (SSE streams ping every 15 s). The checks run every second so short limits are kept.
  const server = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(20_000, config.requestTimeoutMs),
      connectionsCheckingInterval: 1000,
      keepAliveTimeout: 5000,
    },
    app,
  );
  server.timeout = 120_000;
  server.maxConnections = config.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (e: unknown) => {
    // Port taken, say: nothing may keep running (queue threads, database connections).
    await backend.close();
    throw e;
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log(`weightscope: serving ${url} (${backend.describe})`);
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    server,
    context: ctx,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await backend.close();
      })()),
  };
}
