/**
 * The distributed queue as routes see it (context.ts's Jobs): the store's reads and writes, and events of any job,
 * wherever it runs, from Postgres NOTIFY — so SSE works on every API node and a DELETE on any node stops the job.
 */
import { WeightscopeError } from '../../errors.js';
import type { Jobs } from '../context.js';
import { ServiceError } from '../errors.js';
import { join } from 'node:path';
import type { Work } from '../jobs/limits.js';
import { RESULT_FILE, type StoredResult } from '../jobs/results.js';
import type { SharedBlobs } from '../store/shared-blobs.js';
import { JobListeners, type JobEvent, type JobView } from '../jobs/rows.js';
import { isTerminal, type JobState } from '../jobs/types.js';
import { CHANNELS, type PgEvents } from './events.js';
import { jobFileText } from './job-files.js';
import type { PgJobStore } from './job-store.js';
import type { ServerJobs } from './server-jobs.js';

export class PgJobs implements Jobs {
  private readonly listeners = new JobListeners();

  constructor(
    private readonly store: PgJobStore,
    private readonly blobs: SharedBlobs,
    events: PgEvents,
    /** Where this node runs server-thread kinds it accepted (API nodes). */
    private readonly here?: ServerJobs,
  ) {
    events.on(CHANNELS.job, (payload) => {
      const [event, id] = payload.split(':');
      if (this.listeners.has(id)) void this.emit(id, event === 'state' ? 'state' : 'progress');
    });
  }

  /** After a lost LISTEN connection: what subscribers may have missed. */
  resync(): void {
    for (const id of this.listeners.ids()) void this.emit(id, 'state');
  }

  private async emit(id: string, event: JobEvent['event']): Promise<void> {
    const job = await this.get(id).catch(() => null);
    if (job) this.listeners.emit(id, { event, job });
  }

  async submit(kind: string, payload: unknown, work?: Work, requester?: string): Promise<{ job: JobView; cached: boolean }> {
    const { job, cached, created } = await this.store.submit(kind, payload, work, requester);
    if (created && this.store.serverKinds.includes(kind)) {
      if (!this.here) throw new Error(`${kind} jobs run on the API node that accepts them; this node runs none`);
      void this.here.run(job.id);
    }
    return { job, cached };
  }

  result(id: string, kind: string): Promise<StoredResult> {
    return this.store.result(id, kind);
  }

  async get(id: string): Promise<JobView | null> {
    const r = await this.store.row(id);
    return r ? this.store.view(r) : null;
  }

  async require(id: string, kind?: string): Promise<JobView> {
    const r = await this.store.row(id);
    if (!r || (kind && r.kind !== kind)) throw new WeightscopeError('not-found', `no ${kind ?? 'job'} with id ${JSON.stringify(id)}`);
    return this.store.view(r);
  }

  async resultText(id: string, kind: string): Promise<string> {
    const stored = await this.store.result(id, kind);
    return 'text' in stored ? stored.text : jobFileText(this.store, this.blobs, id, join(stored.dir, RESULT_FILE));
  }

  counts(): Promise<Record<JobState, number>> {
    return this.store.counts();
  }

  cancel(id: string, requester?: string): Promise<JobView> {
    return this.store.cancel(id, requester);
  }

  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    return this.listeners.add(id, fn);
  }

  /** Submits a job and waits for its end (the result text), e.g. the inspection of an upload. */
  async run(kind: string, payload: unknown, timeoutMs: number): Promise<{ job: JobView; result: string | null }> {
    const { job } = await this.submit(kind, payload);
    const end = await new Promise<JobView>((resolve, reject) => {
      let done = false;
      const finish = (j: JobView | null, err?: Error): void => {
        if (done || (j && !isTerminal(j.state))) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        off();
        if (err) reject(err);
        else resolve(j!);
      };
      const off = this.subscribe(job.id, (e) => finish(e.job));
      const timer = setTimeout(
        () =>
          finish(
            null,
            new ServiceError(
              'busy',
              `no worker finished ${kind} job ${job.id} within ${Math.round(timeoutMs / 1000)} s: are worker nodes running?`,
              { job: job.id },
            ),
          ),
        timeoutMs,
      );
      // A missed notification costs at most one poll.
      const poll = setInterval(
        () =>
          void this.get(job.id).then(
            (j) => finish(j),
            () => undefined,
          ),
        2000,
      );
      void this.get(job.id).then(
        (j) => finish(j),
        () => undefined,
      );
    });
    return { job: end, result: end.state === 'succeeded' ? await this.resultText(end.id, kind) : null };
  }
}
