/**
 * Server-thread kinds on an API node of the distributed mode (imports: they read the node's own disk or download to
 * it, and write to the stores): the node that took the request runs the job on its event loop, as the embedded
 * queue does, with the same claim, heartbeat, progress and end as a worker's. Such a job cannot move: if its node
 * dies, the reapers fail it (`interrupted`); if the node shuts down, it fails with a message saying so.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { localFiles } from '../jobs/inputs.js';
import { storeResult } from '../jobs/results.js';
import { JobStopped, StopFlag, jobErrorOf } from '../jobs/stop.js';
import { deadline } from '../jobs/thread.js';
import { NO_INPUTS, type JobContext } from '../jobs/types.js';
import type { SharedBlobs } from '../store/shared-blobs.js';
import { CHANNELS, type PgEvents } from './events.js';
import { storeJobFiles } from './job-files.js';
import type { Claim, PgJobStore, StoredFile } from './job-store.js';
import { inTransaction, type Pool } from './pg.js';

interface Here {
  readonly claim: Claim;
  readonly stop: StopFlag;
  readonly ended: Promise<void>;
}

export class ServerJobs {
  readonly id = `${hostname()}:${process.pid}:api-${randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, Here>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: { pool: Pool; store: PgJobStore; blobs: SharedBlobs; events: PgEvents; services: unknown },
    private readonly opts: { heartbeatMs: number; inlineResultBytes: number; scratchDir: string; log: (line: string) => void },
  ) {}

  start(): void {
    this.deps.events.on(CHANNELS.cancel, (id) => this.running.get(id)?.stop.set('cancel'));
    this.timer = setInterval(() => {
      void this.deps.store.heartbeat(this.id, [...this.running.keys()]).then(
        (gone) => gone.forEach((id) => this.running.get(id)?.stop.set('cancel')),
        (e: unknown) => this.opts.log(`weightscope: heartbeat of imports failed: ${(e as Error).message}`),
      );
    }, this.opts.heartbeatMs);
    this.timer.unref();
  }

  /** Runs a just-submitted job of a server-thread kind here. */
  async run(jobId: string): Promise<void> {
    const { store } = this.deps;
    const row = await store.claimHere(jobId, this.id);
    if (!row) return;
    const kind = store.kind(row.kind);
    const claim = { worker: this.id, attempt: row.attempts };
    const stop = new StopFlag();
    const { timer, failure } = deadline(row.time_limit_ms, stop);
    const scratch = join(this.opts.scratchDir, `${jobId}-${randomUUID().slice(0, 8)}`);
    await mkdir(scratch, { recursive: true });
    let last = 0;
    const checkpoint = (): void => {
      if (stop.reason) throw new JobStopped(stop.reason);
    };
    const ctx: JobContext = {
      jobId,
      dataDir: scratch,
      ...localFiles(NO_INPUTS),
      children: [],
      inlineResultBytes: this.opts.inlineResultBytes,
      services: this.deps.services,
      progress: (done, total, message = '') => {
        checkpoint();
        const now = Date.now();
        if (now - last < 200 && done < total) return;
        last = now;
        void store.progress(jobId, claim, total > 0 ? Math.max(0, Math.min(1, done / total)) : 0, message).catch(() => undefined);
      },
      checkpoint,
      stopReason: () => stop.reason,
    };
    const ended = (async () => {
      try {
        const stored = storeResult(
          scratch,
          jobId,
          await kind.run(kind.payload.parse(JSON.parse(row.payload)), ctx),
          this.opts.inlineResultBytes,
          kind.artifacts?.bind(kind),
        );
        const files: StoredFile[] = 'dir' in stored ? await storeJobFiles(this.deps.blobs, scratch, [stored.dir]) : [];
        await inTransaction(this.deps.pool, (c) => store.finish(c, jobId, 'succeeded', { result: stored, message: 'done', files }, claim));
      } catch (e) {
        const error =
          stop.reason === 'shutdown'
            ? { code: 'interrupted', message: `the API node ${this.id} running it shut down (an import runs where it was requested)` }
            : failure(jobErrorOf(e, stop.reason));
        await store
          .finish(this.deps.pool, jobId, 'failed', { error, message: 'failed' }, claim)
          .catch((err: unknown) => this.opts.log(`weightscope: recording the end of ${jobId} failed: ${(err as Error).message}`));
      } finally {
        clearTimeout(timer);
        this.running.delete(jobId);
        await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
      }
    })();
    this.running.set(jobId, { claim, stop, ended });
    await ended;
  }

  /** Stops what runs here; each ends as failed (it cannot be handed to another node). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const left = [...this.running.values()];
    for (const h of left) h.stop.set('shutdown');
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(left.map((h) => h.ended)), new Promise<void>((r) => (t = setTimeout(r, 10_000)))]);
    clearTimeout(t);
  }
}
