/**
 * A worker node (`weightscope worker`, or the workers inside `weightscope serve` on Postgres): fetches deliveries
 * from pg-boss — woken at once by NOTIFY, polling as a fallback — claims each job in the catalog, lays its inputs
 * out from the local cache, runs it in a worker thread (jobs/thread.ts, as the embedded queue does) and writes the
 * outcome, guarded by its claim. It opens no port. `concurrency` slots take heavy jobs, one more takes light ones.
 *
 * Every heartbeat it refreshes its running jobs (a job no longer its — cancelled on any node, or given up on — is
 * stopped), and, like every worker, requeues the jobs of workers silent for 4.5 heartbeats and redelivers jobs
 * whose delivery was lost. On close (SIGTERM) it fetches nothing more, lets running jobs finish for the grace
 * period, then stops the rest and hands them back to the queue without counting the attempt.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type PgBoss from 'pg-boss';
import { isWeightscopeError } from '../../errors.js';
import { missingInput } from '../jobs/inputs.js';
import { RESULT_FILE, resultTextOf } from '../jobs/results.js';
import { startJobThread, type JobThread, type ThreadOutcome } from '../jobs/thread.js';
import type { JobError, JobInputRefs, JobKind, LocalInputs } from '../jobs/types.js';
import type { BlobCache, Lease } from '../store/cache.js';
import type { SharedBlobs } from '../store/shared-blobs.js';
import { QUEUES, type Delivery, type QueueName } from './boss.js';
import type { PgDatasets, PgModels } from './catalog.js';
import { CHANNELS, type PgEvents } from './events.js';
import { fetchJobFile, storeJobFiles } from './job-files.js';
import type { Claim, FinishFields, PgJobStore, StoredFile } from './job-store.js';
import { inTransaction, SCHEMA, type Pool } from './pg.js';

export interface WorkerNodeDeps {
  pool: Pool;
  boss: PgBoss;
  store: PgJobStore;
  events: PgEvents;
  models: PgModels;
  datasets: PgDatasets;
  blobs: SharedBlobs;
  cache: BlobCache;
}

export interface WorkerNodeOptions {
  concurrency: number;
  /** Results whose JSON is longer are stored as files (WEIGHTSCOPE_INLINE_RESULT). */
  inlineResultBytes: number;
  /** Finished jobs older than this are removed with their files (WEIGHTSCOPE_RETENTION_DAYS; 0 = keep). */
  retentionDays: number;
  /** Heap of each job's thread (WEIGHTSCOPE_JOB_HEAP). */
  jobHeapBytes?: number;
  heartbeatMs: number;
  graceMs: number;
  /** Fallback poll when no NOTIFY came (default 2 s). */
  pollMs?: number;
  log: (line: string) => void;
}

type Slot = 'heavy' | 'light';

interface Running {
  readonly id: string;
  readonly kind: string;
  readonly slot: Slot;
  readonly claim: Claim;
  thread?: JobThread;
  lease?: Lease;
  scratch?: string;
  stopReason?: 'cancel';
  handedBack?: boolean;
  settling?: Promise<void>;
  lastProgress: number;
  released?: boolean;
}

/** Heartbeats a worker may miss before its jobs are given to others. */
export const STALE_HEARTBEATS = 4.5;
/** Staged uploads and unnamed blobs are swept at these ages (an upload in progress keeps its part file fresh). */
const TMP_AGE_MS = 24 * 3600_000;
const ORPHAN_AGE_MS = 3600_000;
const SWEEP_LOCK = 0x7773_7377;

const errorOf = (e: unknown): JobError =>
  isWeightscopeError(e) ? { code: e.code, message: e.message } : { code: 'internal', message: e instanceof Error ? e.message : String(e) };

export class WorkerNode {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, Running>();
  private readonly busy: Record<Slot, number> = { heavy: 0, light: 0 };
  private readonly timers: NodeJS.Timeout[] = [];
  private fetching = false;
  private again = false;
  private stopping = false;
  private idle: (() => void) | null = null;

  constructor(
    private readonly deps: WorkerNodeDeps,
    private readonly opts: WorkerNodeOptions,
  ) {}

  start(): void {
    const { events } = this.deps;
    events.on(CHANNELS.work, () => this.poke());
    events.on(CHANNELS.cancel, (id) => this.stopJob(id));
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      const t = setInterval(() => void fn().catch((e: unknown) => this.opts.log(`weightscope worker: ${(e as Error).message}`)), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.pollMs ?? 2000, async () => this.poke());
    every(this.opts.heartbeatMs, () => this.tick());
    every(3600_000, () => this.sweep());
    const first = setTimeout(() => void this.sweep().catch(() => undefined), 30_000);
    first.unref();
    this.timers.push(first);
    this.poke();
  }

  get runningJobs(): string[] {
    return [...this.running.keys()];
  }

  private capacity(slot: Slot): number {
    return slot === 'heavy' ? this.opts.concurrency : 1;
  }

  /** Fetches deliveries for free slots; calls while a fetch is running make it go round once more. */
  poke(): void {
    if (this.fetching) {
      this.again = true;
      return;
    }
    if (this.stopping) return;
    this.fetching = true;
    void (async () => {
      try {
        do {
          this.again = false;
          for (const [slot, queue] of [
            ['heavy', QUEUES.heavy],
            ['light', QUEUES.light],
          ] as const) {
            const free = this.capacity(slot) - this.busy[slot];
            if (free <= 0 || this.stopping) continue;
            const got = await this.deps.boss.fetch<Delivery>(queue, { batchSize: free });
            for (const d of got) {
              this.busy[slot]++;
              void this.take(slot, queue, d);
            }
          }
        } while (this.again && !this.stopping);
      } catch (e) {
        this.opts.log(`weightscope worker: fetching jobs failed: ${(e as Error).message}`);
      } finally {
        this.fetching = false;
      }
    })();
  }

  private async take(slot: Slot, queue: QueueName, d: PgBoss.Job<Delivery>): Promise<void> {
    let row;
    try {
      row = await this.deps.store.claim(d.data.job, d.id, this.id);
    } catch (e) {
      this.opts.log(`weightscope worker: claiming job ${d.data.job} failed: ${(e as Error).message}`);
    }
    if (!row) {
      // Cancelled, finished, or running elsewhere since this delivery was sent.
      await this.deps.boss.complete(queue, d.id).catch(() => undefined);
      this.busy[slot]--;
      this.poke();
      return;
    }
    const r: Running = { id: row.id, kind: row.kind, slot, claim: { worker: this.id, attempt: row.attempts }, lastProgress: 0 };
    this.running.set(row.id, r);
    try {
      const kind = this.deps.store.kind(row.kind);
      const payload = JSON.parse(row.payload) as unknown;
      const parsed = kind.payload.parse(payload);
      const { inputs, lease } = await this.resolve(kind.inputs?.(parsed));
      r.lease = lease;
      const children = kind.children ? await this.deps.store.children(row.id) : [];
      r.scratch = await this.deps.cache.scratch(row.id);
      // A child's large result is files: the join reads them under its data folder, as on an embedded server.
      for (const c of children) {
        if (c.result && 'dir' in c.result)
          await fetchJobFile(this.deps.store, this.deps.blobs, c.id, join(c.result.dir, RESULT_FILE), r.scratch);
      }
      const thread = startJobThread(
        { jobId: row.id, kind: row.kind, payload, dataDir: r.scratch, inputs, children, inlineLimit: this.opts.inlineResultBytes },
        {
          progress: (done, total, message) => this.progress(r, done, total, message),
          outcome: (o) => void (r.settling = this.settle(r, kind, o)),
          exited: (code, silent) => void this.exited(r, code, silent),
        },
        { heapBytes: this.opts.jobHeapBytes, timeLimitMs: row.time_limit_ms },
      );
      r.thread = thread;
      if (r.stopReason) thread.stop.set(r.stopReason);
    } catch (e) {
      await this.finish(r, 'failed', { error: errorOf(e), message: 'failed' });
      await this.release(r);
    }
  }

  /** The job's models, datasets and blobs, fetched into the cache (held until the job ends) and laid out. */
  private async resolve(refs: JobInputRefs | undefined): Promise<{ inputs: LocalInputs; lease?: Lease }> {
    const inputs: LocalInputs = { models: {}, datasets: {}, blobs: {} };
    if (!refs) return { inputs };
    const { cache, models, datasets } = this.deps;
    const files = new Map<string, { format: string; files: { name: string; sha256: string }[] }>();
    for (const id of refs.models ?? []) {
      const m = await models.files(id);
      if (!m) throw missingInput('model', id);
      files.set(id, m);
    }
    for (const id of refs.datasets ?? []) if (!(await datasets.get(id))) throw missingInput('dataset', id);
    const shas = [...[...files.values()].flatMap((m) => m.files.map((f) => f.sha256)), ...(refs.datasets ?? []), ...(refs.blobs ?? [])];
    const lease = await cache.lease(shas);
    try {
      for (const [id, m] of files)
        inputs.models[id] = { dir: await cache.model(id, m.files), format: m.format, files: m.files.map((f) => f.name) };
      for (const id of refs.datasets ?? []) inputs.datasets[id] = await cache.dataset(id);
      for (const sha of refs.blobs ?? []) inputs.blobs[sha] = cache.blobPath(sha);
    } catch (e) {
      await lease.release();
      throw e;
    }
    return { inputs, lease };
  }

  private progress(r: Running, done: number, total: number, message: string): void {
    const now = Date.now();
    if (now - r.lastProgress < 200 && done < total) return;
    r.lastProgress = now;
    const frac = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
    void this.deps.store
      .progress(r.id, r.claim, frac, message)
      .catch((e: unknown) => this.opts.log(`weightscope worker: progress of ${r.id}: ${(e as Error).message}`));
  }

  private async settle(r: Running, kind: JobKind, o: ThreadOutcome): Promise<void> {
    if (o.type === 'error') {
      await this.finish(r, 'failed', { error: o.error, message: 'failed' });
      return;
    }
    let files: StoredFile[] = [];
    try {
      // A large result is a folder of files (results.ts), named like the files the kind says it wrote.
      if ('dir' in o.result) files = await storeJobFiles(this.deps.blobs, r.scratch!, [o.result.dir]);
      if (kind.outputs)
        files.push(
          ...(await storeJobFiles(this.deps.blobs, r.scratch!, kind.outputs(JSON.parse(await resultTextOf(r.scratch!, o.result))))),
        );
    } catch (e) {
      await this.finish(r, 'failed', {
        error: { code: 'internal', message: `storing the job's files failed: ${(e as Error).message}` },
        message: 'failed',
      });
      return;
    }
    // The files become visible with the job's successful end, in one transaction.
    await this.finish(r, 'succeeded', { result: o.result, message: 'done', files });
  }

  private async finish(r: Running, state: 'succeeded' | 'failed', f: FinishFields): Promise<void> {
    try {
      const { pool, store } = this.deps;
      // With files, their rows and the job's end in one transaction; without, one statement does it.
      if (f.files?.length) await inTransaction(pool, (c) => store.finish(c, r.id, state, f, r.claim));
      else await store.finish(pool, r.id, state, f, r.claim);
    } catch (e) {
      // The database is unreachable: the heartbeat stops too, and the job is run again elsewhere.
      this.opts.log(`weightscope worker: recording the end of job ${r.id} failed: ${(e as Error).message}`);
    }
  }

  private async exited(r: Running, code: number, silent: boolean): Promise<void> {
    await r.settling;
    if (silent && !r.handedBack)
      await this.finish(r, 'failed', { error: { code: 'internal', message: `worker thread exited with code ${code}` }, message: 'failed' });
    await this.release(r);
  }

  private async release(r: Running): Promise<void> {
    if (r.released) return;
    r.released = true;
    this.running.delete(r.id);
    this.busy[r.slot]--;
    await r.lease?.release();
    if (r.scratch) await rm(r.scratch, { recursive: true, force: true }).catch(() => undefined);
    if (this.running.size === 0) this.idle?.();
    this.poke();
  }

  private stopJob(id: string): void {
    const r = this.running.get(id);
    if (!r) return;
    r.stopReason = 'cancel';
    r.thread?.stop.set('cancel');
  }

  /** Heartbeat, then the chores every worker shares: requeue jobs of silent workers, redeliver lost deliveries. */
  private async tick(): Promise<void> {
    const { store } = this.deps;
    for (const id of await store.heartbeat(this.id, this.runningJobs)) this.stopJob(id);
    if (this.stopping) return;
    const stale = Date.now() - STALE_HEARTBEATS * this.opts.heartbeatMs;
    const reaped = await store.reap(stale);
    if (reaped.requeued.length || reaped.failed.length) {
      this.opts.log(
        `weightscope worker: silent workers' jobs: ${reaped.requeued.length} requeued, ${reaped.failed.length} failed (attempts used up)`,
      );
    }
    const again = await store.redeliver(stale);
    if (again.length) this.opts.log(`weightscope worker: ${again.length} job(s) without a live delivery redelivered`);
    if (reaped.requeued.length || again.length) this.poke();
  }

  /**
   * Removes finished jobs past their retention, abandoned staged uploads, and blobs no row names (one node at a time;
   * a job's files go with the job, their blobs with the next sweep).
   */
  async sweep(ages = { tmpMs: TMP_AGE_MS, orphanMs: ORPHAN_AGE_MS }): Promise<{ jobs: number; tmp: number; orphans: number }> {
    const { pool, blobs } = this.deps;
    const c = await pool.connect();
    try {
      const got = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SWEEP_LOCK])).rows[0].ok;
      if (!got) return { jobs: 0, tmp: 0, orphans: 0 };
      try {
        let jobs = 0;
        if (this.opts.retentionDays > 0) {
          jobs =
            (
              await c.query(
                `DELETE FROM ${SCHEMA}.jobs WHERE state IN ('succeeded','failed','cancelled') AND COALESCE(finished_at, updated_at) < $1
             AND id NOT IN (SELECT d.dep_id FROM ${SCHEMA}.job_deps d JOIN ${SCHEMA}.jobs p ON p.id = d.job_id WHERE p.state IN ('queued','running'))`,
                [Date.now() - this.opts.retentionDays * 86_400_000],
              )
            ).rowCount ?? 0;
          // Blob rows only job files named (a repair's model, a large result) are dropped with them.
          await c.query(
            `DELETE FROM ${SCHEMA}.blobs b WHERE NOT EXISTS (SELECT 1 FROM ${SCHEMA}.model_files f WHERE f.sha256 = b.sha256)
             AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.datasets d WHERE d.id = b.sha256) AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.job_files j WHERE j.sha256 = b.sha256)`,
          );
        }
        const tmp = await blobs.sweepTmp(ages.tmpMs);
        const old: string[] = [];
        for await (const b of blobs.list()) if (Date.now() - b.modified >= ages.orphanMs) old.push(b.sha256);
        let orphans = 0;
        for (let i = 0; i < old.length; i += 1000) {
          const batch = old.slice(i, i + 1000);
          const named = new Set(
            (await c.query<{ sha256: string }>(`SELECT sha256 FROM ${SCHEMA}.blobs WHERE sha256 = ANY($1)`, [batch])).rows.map(
              (r) => r.sha256,
            ),
          );
          for (const sha of batch) {
            if (named.has(sha)) continue;
            await blobs.delete(sha);
            orphans++;
          }
        }
        return { jobs, tmp, orphans };
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [SWEEP_LOCK]);
      }
    } finally {
      c.release();
    }
  }

  /** Stops fetching; running jobs get graceMs to finish, then are stopped and handed back. */
  async close(): Promise<void> {
    this.stopping = true;
    if (this.running.size) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.opts.graceMs);
        this.idle = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const left = [...this.running.values()];
    for (const r of left) {
      r.handedBack = true;
      r.thread?.mute();
      r.thread?.stop.set('shutdown');
      await this.deps.store
        .handBack(r.id, r.claim)
        .catch((e: unknown) => this.opts.log(`weightscope worker: handing back ${r.id} failed: ${(e as Error).message}`));
    }
    const exits = left.map((r) => r.thread?.exited ?? Promise.resolve());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(exits), new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
    await Promise.all(left.map((r) => r.thread?.worker.terminate()));
    for (const r of left) await this.release(r);
    for (const t of this.timers) clearInterval(t);
  }
}
