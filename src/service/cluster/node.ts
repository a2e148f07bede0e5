/**
 * One process of a distributed deployment (WEIGHTSCOPE_DATABASE_URL set): an API node (`serve --no-workers`), a
 * worker node (`worker`), or both (`serve`). Any number of each may start at once against one Postgres: schema
 * migrations are serialised by advisory locks (ours in pg.ts, pg-boss's own), and nothing else is node-local but the
 * worker's cache. The data folder takes no lock in this mode; several processes may share it.
 */
import { JOB_KINDS } from '../jobs/kinds/index.js';
import { parseLimitOverrides } from '../jobs/limits.js';
import { join } from 'node:path';
import type { ServiceContext } from '../context.js';
import type { ServiceConfig } from '../config.js';
import { Metrics } from '../metrics.js';
import { resultUrl } from '../routes/index.js';
import { requestSlots } from '../slots.js';
import { BlobCache } from '../store/cache.js';
import { openSharedBlobs, type SharedBlobs } from '../store/shared-blobs.js';
import { startBoss } from './boss.js';
import { errorOfJob, PgDatasets, PgModels } from './catalog.js';
import { PgEvents } from './events.js';
import { PgJobStore } from './job-store.js';
import { jobFile } from './job-files.js';
import { PgJobs } from './jobs.js';
import { ServerJobs } from './server-jobs.js';
import { migrateSchema, openPool, type Pool } from './pg.js';
import { WorkerNode } from './worker.js';

export interface ClusterNode {
  /** Present on API nodes. */
  context: ServiceContext | null;
  worker: WorkerNode | null;
  pool: Pool;
  blobs: SharedBlobs;
  describe: string;
  close(): Promise<void>;
}

export interface NodeRoles {
  api: boolean;
  /** Heavy job slots of this node's worker; 0 = no worker. */
  workers: number;
  log: (line: string) => void;
}

export async function startClusterNode(config: ServiceConfig, roles: NodeRoles): Promise<ClusterNode> {
  const url = config.cluster.databaseUrl;
  if (!url) throw new Error('startClusterNode needs WEIGHTSCOPE_DATABASE_URL');
  const pool = openPool(url, roles.api ? 10 : 6);
  const closers: (() => Promise<unknown>)[] = [() => pool.end()];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    await migrateSchema(pool);
    const boss = await startBoss(pool, { supervise: true, onError: (e) => roles.log(`weightscope: pg-boss: ${e.message}`) });
    closers.push(() => boss.stop({ graceful: false, close: false, wait: true }));
    const { blobs, describe } = openSharedBlobs(config.cluster.blobUrl ?? undefined, config.dataDir);
    const kinds = JOB_KINDS.filter((k) => config.debugJobs || k.kind !== 'sleep');
    const store = new PgJobStore(pool, boss, kinds, {
      maxAttempts: config.jobAttempts,
      resultUrl,
      capOverrides: parseLimitOverrides(config.limits, kinds),
      timeFactor: config.jobTimeFactor,
    });
    let jobs: PgJobs | null = null;
    const events = new PgEvents(url, roles.log, () => jobs?.resync());
    await events.start();
    closers.push(() => events.close());
    const inspect = async (payload: unknown): Promise<unknown> => {
      const { job, result } = await jobs!.run('inspect', payload, Math.max(600_000, 5 * config.inspect.timeoutMs));
      if (job.state !== 'succeeded' || result === null)
        throw errorOfJob(job.error ?? { code: job.state, message: `inspection ${job.state}` });
      return JSON.parse(result) as unknown;
    };
    const models = new PgModels(pool, blobs, inspect, config.inspect);
    const datasets = new PgDatasets(pool, blobs, inspect, config.inspect);
    // API nodes run the imports they accept (server-thread kinds), with the stores an import writes to.
    let here: ServerJobs | undefined;
    if (roles.api) {
      here = new ServerJobs(
        { pool, store, blobs, events, services: { config, blobs, models } },
        {
          heartbeatMs: config.cluster.heartbeatMs,
          inlineResultBytes: config.inlineResultBytes,
          scratchDir: join(config.dataDir, 'scratch', 'imports'),
          log: roles.log,
        },
      );
      here.start();
      const h = here;
      closers.push(() => h.close());
    }
    jobs = new PgJobs(store, blobs, events, here);
    let worker: WorkerNode | null = null;
    if (roles.workers > 0) {
      const cache = await BlobCache.open(config.cluster.cacheDir, config.cluster.cacheBytes, blobs);
      closers.push(() => cache.close());
      worker = new WorkerNode(
        { pool, boss, store, events, models, datasets, blobs, cache },
        {
          concurrency: roles.workers,
          jobHeapBytes: config.jobHeapBytes,
          inlineResultBytes: config.inlineResultBytes,
          retentionDays: config.retentionDays,
          heartbeatMs: config.cluster.heartbeatMs,
          graceMs: config.cluster.shutdownGraceMs,
          log: roles.log,
        },
      );
      worker.start();
      const w = worker;
      closers.push(() => w.close());
    }
    const context: ServiceContext | null = roles.api
      ? {
          config,
          blobs,
          models,
          datasets,
          queue: jobs,
          metrics: new Metrics(() => jobs.counts()),
          jobFile: (id: string, rel: string) => jobFile(store, blobs, id, rel),
          ping: async () => void (await pool.query('SELECT 1')),
          slots: requestSlots(config),
        }
      : null;
    return { context, worker, pool, blobs, describe: `Postgres catalog and queue, blobs in ${describe}`, close };
  } catch (e) {
    await close();
    throw e;
  }
}
