/**
 * The embedded job queue: rows in SQLite (so a restart loses nothing), each running job in its own worker thread,
 * at most `concurrency` at a time, oldest first. Results are stored as JSON text and shared between jobs with the
 * same kind and cache key. Jobs are stopped cooperatively (stop.ts): a cancelled job is marked `cancelled` at once
 * and its thread keeps its slot until it has unwound at its next progress call and exited.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { WeightscopeError } from '../../errors.js';
import { ServiceError } from '../errors.js';
import type { Db } from '../store/db.js';
import { startWorkerThread } from '../threads.js';
import { checkCaps, NO_WORK, timeLimitSeconds, type Work } from './limits.js';
import { resultTextOf, storeResult, type StoredResult } from './results.js';
import { JobStopped, StopFlag, jobErrorOf, type StopReason } from './stop.js';
import { isTerminal, type JobContext, type JobError, type JobKind, type JobState, type WorkerInput, type WorkerMessage } from './types.js';

export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  progress: number;
  message: string;
  /** URL of the result once succeeded, else null. */
  result: string | null;
  /** Requests still waiting for this job (a deduplicated job is shared); a DELETE withdraws one, the last cancels. */
  requests: number;
  error: JobError | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Last change (ms since the epoch): the SSE event id, so a reconnecting client is not sent what it has. */
  updated_at: number;
}

interface JobRow {
  id: string; kind: string; state: JobState; progress: number; message: string; payload: string;
  cache_key: string | null; result: string | null; error: string | null; attempts: number; time_limit_ms: number | null;
  result_dir: string | null;
  created_at: number; started_at: number | null; finished_at: number | null; updated_at: number;
}

export interface JobEvent {
  event: 'progress' | 'state';
  job: JobView;
}

export interface QueueObserver {
  jobFinished?(kind: string, state: JobState, seconds: number): void;
}

export interface QueueOptions {
  dataDir: string;
  concurrency: number;
  kinds: readonly JobKind[];
  /** A job interrupted by this many restarts fails instead of running again. */
  maxAttempts?: number;
  observer?: QueueObserver;
  /** Progress writes per job are spaced at least this far apart (ms). */
  progressIntervalMs?: number;
  /** Where a succeeded job's result is served (default: the job itself). */
  resultUrl?: (kind: string, id: string) => string;
  /** Results whose JSON is longer are stored as files (WEIGHTSCOPE_INLINE_RESULT); default 1 MiB. */
  inlineResultBytes?: number;
  /** Handed to server-thread kinds as `ctx.services` (the stores an import writes to). */
  services?: unknown;
  /** Caps that replace the kinds' defaults, by `kind.option` (WEIGHTSCOPE_LIMITS). */
  capOverrides?: ReadonlyMap<string, number>;
  /** Scales every job's wall-clock budget (WEIGHTSCOPE_JOB_TIME_FACTOR); default 1. */
  timeFactor?: number;
  /** Heap of each job's thread in bytes (WEIGHTSCOPE_JOB_HEAP); default: Node's own. */
  jobHeapBytes?: number;
  /** A worker still alive this long after its last message is terminated (it is idle by then). Default 5 s. */
  drainMs?: number;
  /** close() waits this long for stopped workers to unwind before terminating them. Default 10 s. */
  closeWaitMs?: number;
}

/** A running job: its stop flag, a promise that settles when it has ended (its thread exited), and where it runs. */
interface Running {
  readonly stop: StopFlag;
  readonly exited: Promise<void>;
  /** A server-thread kind (not counted against `concurrency`). */
  readonly onServer: boolean;
  /** Ends its thread at once (only after it was asked to stop and did not). */
  terminate(): Promise<unknown>;
}

/** Server-thread jobs (imports) at once. */
const SERVER_THREAD_JOBS = 2;

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export class JobQueue {
  private readonly kinds = new Map<string, JobKind>();
  private readonly workers = new Map<string, Running>();
  private readonly listeners = new Map<string, Set<(e: JobEvent) => void>>();
  private readonly lastProgressWrite = new Map<string, number>();
  private closed = false;

  constructor(private readonly db: Db, private readonly opts: QueueOptions) {
    for (const k of opts.kinds) this.kinds.set(k.kind, k);
  }

  kind(name: string): JobKind {
    const k = this.kinds.get(name);
    if (!k) throw new WeightscopeError('invalid-input', `unknown job kind ${JSON.stringify(name)}`);
    return k;
  }

  /** After a crash: jobs left 'running' run again, or fail once they were interrupted maxAttempts times. */
  recover(): { requeued: number; failed: number } {
    const max = this.opts.maxAttempts ?? 2;
    const now = Date.now();
    const failed = this.db.prepare(
      `UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, message = 'interrupted',
       error = json_object('code', 'interrupted', 'message', 'the server stopped ' || attempts || ' times while this job ran')
       WHERE state = 'running' AND attempts >= ?`,
    ).run(now, now, max).changes;
    const requeued = this.db.prepare(
      `UPDATE jobs SET state = 'queued', progress = 0, message = 'requeued after a server restart', updated_at = ?
       WHERE state = 'running'`,
    ).run(now).changes;
    return { requeued, failed };
  }

  /** Starts running queued jobs (call once after recover()). */
  start(): void {
    this.pump();
  }

  private view(row: JobRow): JobView {
    return {
      id: row.id,
      kind: row.kind,
      state: row.state,
      progress: row.progress,
      message: row.message,
      result: row.state === 'succeeded' ? (this.opts.resultUrl?.(row.kind, row.id) ?? `/v1/jobs/${row.id}`) : null,
      requests: isTerminal(row.state) ? 0 : this.requestCount(row.id),
      error: row.error ? (JSON.parse(row.error) as JobError) : null,
      created_at: iso(row.created_at)!,
      started_at: iso(row.started_at),
      finished_at: iso(row.finished_at),
      updated_at: row.updated_at,
    };
  }

  private row(id: string): JobRow | undefined {
    return this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
  }

  get(id: string): JobView | null {
    const r = this.row(id);
    return r ? this.view(r) : null;
  }

  require(id: string, kind?: string): JobView {
    const r = this.row(id);
    if (!r || (kind && r.kind !== kind)) throw new WeightscopeError('not-found', `no ${kind ?? 'job'} with id ${JSON.stringify(id)}`);
    return this.view(r);
  }

  /** The whole result as text, read from its file if need be: for small results (a repair's, a test's). */
  async resultText(id: string, kind: string): Promise<string> {
    return resultTextOf(this.opts.dataDir, this.result(id, kind));
  }

  private requestCount(id: string): number {
    return (this.db.prepare('SELECT COALESCE(SUM(count), 0) AS n FROM job_requests WHERE job_id = ?').get(id) as { n: number }).n;
  }

  private addRequest(id: string, requester: string): void {
    this.db.prepare(
      `INSERT INTO job_requests (job_id, requester, count) VALUES (?, ?, 1)
       ON CONFLICT (job_id, requester) DO UPDATE SET count = count + 1`,
    ).run(id, requester);
  }

  /** The stored result of a succeeded job (inline text or a folder of files); job-not-finished / job-failed otherwise. */
  result(id: string, kind: string): StoredResult {
    const r = this.row(id);
    if (!r || r.kind !== kind) throw new WeightscopeError('not-found', `no ${kind} with id ${JSON.stringify(id)}`);
    if (r.state === 'succeeded' && r.result_dir !== null) return { dir: r.result_dir };
    if (r.state === 'succeeded' && r.result !== null) return { text: r.result };
    const job = this.view(r);
    if (r.state === 'failed' || r.state === 'cancelled') {
      throw new ServiceError('job-failed', `${kind} ${id} ${r.state}${job.error ? `: ${job.error.message}` : ''}`, { job });
    }
    throw new ServiceError('job-not-finished', `${kind} ${id} is ${r.state}`, { job });
  }

  /** Counts by state, for /metrics. */
  counts(): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  /**
   * Queues a job. An existing job with the same kind and cache key is returned instead when it succeeded
   * (cached = true) or is still queued/running; failed and cancelled ones are retried by a new job.
   */
  submit(kindName: string, payload: unknown, work: Work = NO_WORK, requester = 'open'): { job: JobView; cached: boolean } {
    const kind = this.kind(kindName);
    const parsed = kind.payload.safeParse(payload);
    if (!parsed.success) throw new WeightscopeError('invalid-input', `bad ${kindName} payload: ${parsed.error.message}`);
    checkCaps(kind, parsed.data, this.opts.capOverrides ?? new Map());
    const key = kind.cacheKey ? kind.cacheKey(parsed.data) : null;
    if (key !== null) {
      const prior = this.db.prepare(
        `SELECT * FROM jobs WHERE kind = ? AND cache_key = ? AND state IN ('succeeded','running','queued')
         ORDER BY CASE state WHEN 'succeeded' THEN 0 ELSE 1 END, created_at DESC LIMIT 1`,
      ).get(kindName, key) as JobRow | undefined;
      if (prior) {
        if (prior.state !== 'succeeded') this.addRequest(prior.id, requester);
        return { job: this.view(prior), cached: prior.state === 'succeeded' };
      }
    }
    const id = randomUUID();
    const now = Date.now();
    const limitMs = Math.round(1000 * timeLimitSeconds(kind, parsed.data, work, this.opts.timeFactor ?? 1));
    this.db.prepare(
      `INSERT INTO jobs (id, kind, state, progress, message, payload, cache_key, time_limit_ms, created_at, updated_at)
       VALUES (?, ?, 'queued', 0, 'queued', ?, ?, ?, ?, ?)`,
    ).run(id, kindName, JSON.stringify(parsed.data), key, limitMs, now, now);
    this.addRequest(id, requester);
    const job = this.require(id);
    queueMicrotask(() => this.pump());
    return { job, cached: false };
  }

  /**
   * Withdraws `requester`'s request for a queued or running job, and cancels the job when no request is left;
   * finished jobs are returned unchanged. A requester with no request on a job others wait for may not cancel it.
   * A running job is marked cancelled now and stops at its next progress call (its slot is freed when its thread
   * has exited).
   */
  async cancel(id: string, requester = 'open'): Promise<JobView> {
    const r = this.row(id);
    if (!r) throw new WeightscopeError('not-found', `no job with id ${JSON.stringify(id)}`);
    if (isTerminal(r.state)) return this.view(r);
    const mine = this.db.prepare('UPDATE job_requests SET count = count - 1 WHERE job_id = ? AND requester = ? AND count > 0').run(id, requester).changes;
    this.db.prepare('DELETE FROM job_requests WHERE job_id = ? AND count <= 0').run(id);
    const left = this.requestCount(id);
    if (!mine && left > 0) {
      throw new ServiceError('job-not-yours', `job ${id} was requested by others (${left} request(s)); only they can withdraw them`);
    }
    if (left > 0) return this.view(r);
    this.finish(id, 'cancelled', { message: 'cancelled by request' });
    this.workers.get(id)?.stop.set('cancel');
    return this.require(id);
  }

  /** Stops a running job for `reason` (cooperatively, as cancel does). */
  stop(id: string, reason: StopReason): void {
    this.workers.get(id)?.stop.set(reason);
  }

  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(id);
    };
  }

  private emit(id: string, event: JobEvent['event']): void {
    const set = this.listeners.get(id);
    if (!set?.size) return;
    const job = this.get(id);
    if (job) for (const fn of [...set]) fn({ event, job });
  }

  private finish(id: string, state: JobState, f: { result?: StoredResult; error?: JobError; message: string }): void {
    const now = Date.now();
    const text = f.result && 'text' in f.result ? f.result.text : null;
    const dir = f.result && 'dir' in f.result ? f.result.dir : null;
    const changed = this.db.prepare(
      `UPDATE jobs SET state = ?, result = ?, result_dir = ?, error = ?, message = ?, progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END,
       finished_at = ?, updated_at = ? WHERE id = ? AND state IN ('queued','running')`,
    ).run(state, text, dir, f.error ? JSON.stringify(f.error) : null, f.message, state, now, now, id).changes;
    this.lastProgressWrite.delete(id);
    if (!changed) return;
    const r = this.row(id);
    if (r) this.opts.observer?.jobFinished?.(r.kind, state, ((r.finished_at ?? now) - (r.started_at ?? r.created_at)) / 1000);
    this.emit(id, 'state');
  }

  /** Starts queued jobs, oldest first: worker-thread kinds up to `concurrency`, server-thread kinds (imports) up to two. */
  private pump(): void {
    if (this.closed) return;
    const here = [...this.kinds.values()].filter((k) => k.thread === 'server').map((k) => k.kind);
    const take = (onServer: boolean): JobRow | undefined => {
      const now = Date.now();
      const which = here.length === 0 ? (onServer ? 'AND 0' : '') : `AND kind ${onServer ? '' : 'NOT '}IN (${here.map(() => '?').join(',')})`;
      return this.db.prepare(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, updated_at = ?, message = 'running'
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ${which} ORDER BY created_at, rowid LIMIT 1) RETURNING *`,
      ).get(now, now, ...here) as JobRow | undefined;
    };
    const count = (onServer: boolean): number => [...this.workers.values()].filter((r) => r.onServer === onServer).length;
    for (let row; count(false) < this.opts.concurrency && (row = take(false)); ) this.run(row);
    for (let row; count(true) < SERVER_THREAD_JOBS && (row = take(true)); ) this.runHere(row, this.kind(row.kind));
  }

  /** The time limit of this attempt (from its start), and the error a job stopped by it fails with. */
  private deadline(row: JobRow, stop: StopFlag): { timer: NodeJS.Timeout | undefined; failure(error: JobError): JobError } {
    const timer = row.time_limit_ms !== null ? setTimeout(() => stop.set('time-limit'), row.time_limit_ms) : undefined;
    timer?.unref();
    return {
      timer,
      failure: (error) =>
        stop.reason === 'time-limit'
          ? { code: 'time-limit', message: `the job ran over its time limit of ${(row.time_limit_ms ?? 0) / 1000} s (scaled to its work; WEIGHTSCOPE_JOB_TIME_FACTOR multiplies it)` }
          : error,
    };
  }

  private run(row: JobRow): void {
    const id = row.id;
    const stop = new StopFlag();
    let worker: Worker;
    try {
      const input: WorkerInput = {
        jobId: id, kind: row.kind, payload: JSON.parse(row.payload) as unknown, dataDir: this.opts.dataDir, stop: stop.buffer,
        inlineLimit: this.inlineLimit,
      };
      const heapMb = this.opts.jobHeapBytes ? Math.max(32, Math.floor(this.opts.jobHeapBytes / 2 ** 20)) : undefined;
      worker = startWorkerThread(import.meta.url, 'worker', { workerData: input, ...(heapMb ? { resourceLimits: { maxOldGenerationSizeMb: heapMb } } : {}) });
    } catch (e) {
      this.finish(id, 'failed', { error: { code: 'internal', message: `cannot start a worker: ${(e as Error).message}` }, message: 'failed' });
      return;
    }
    let settled = false;
    let drain: NodeJS.Timeout | undefined;
    const { timer, failure } = this.deadline(row, stop);
    const exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        clearTimeout(drain);
        clearTimeout(timer);
        if (this.workers.get(id)?.exited === exited) this.workers.delete(id);
        // Died without a word (out of memory, process.exit): the job failed. After close() it was requeued.
        if (!settled && !this.closed) {
          this.finish(id, 'failed', { error: { code: 'internal', message: `worker exited with code ${code}` }, message: 'failed' });
        }
        settled = true;
        resolve();
        this.pump();
      });
    });
    this.workers.set(id, { stop, exited, onServer: false, terminate: () => worker.terminate() });
    this.emit(id, 'state');
    /** The job's last word is in: the thread should end by itself; if it lingers (idle by now), end it. */
    const settle = (): void => {
      settled = true;
      drain = setTimeout(() => void worker.terminate(), this.opts.drainMs ?? 5000);
      drain.unref();
    };
    worker.on('message', (m: WorkerMessage) => {
      if (settled || this.closed) return;
      if (m.type === 'progress') this.progress(id, m);
      else if (m.type === 'done') {
        this.finish(id, 'succeeded', { result: m.result, message: 'done' });
        settle();
      } else {
        this.finish(id, 'failed', { error: failure(m.error), message: 'failed' });
        settle();
      }
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (settled || this.closed) return;
      const error = e.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? { code: 'out-of-memory', message: `the job needed more than ${Math.floor((this.opts.jobHeapBytes ?? 0) / 2 ** 20)} MiB of heap (WEIGHTSCOPE_JOB_HEAP)` }
        : { code: 'internal', message: `worker crashed: ${e.message}` };
      this.finish(id, 'failed', { error: failure(error), message: 'failed' });
      settle();
    });
  }

  /** A server-thread kind (I/O-bound work on the stores, e.g. an import): run on this event loop, stopped the same way. */
  private runHere(row: JobRow, kind: JobKind): void {
    const id = row.id;
    const stop = new StopFlag();
    const { timer, failure } = this.deadline(row, stop);
    const checkpoint = (): void => {
      if (stop.reason) throw new JobStopped(stop.reason);
    };
    const ctx: JobContext = {
      jobId: id,
      dataDir: this.opts.dataDir,
      inlineResultBytes: this.inlineLimit,
      services: this.opts.services,
      progress: (done, total, message = '') => {
        checkpoint();
        this.progress(id, { done, total, message });
      },
      checkpoint,
      stopReason: () => stop.reason,
    };
    const exited = (async () => {
      try {
        const result = await kind.run(kind.payload.parse(JSON.parse(row.payload)), ctx);
        if (!this.closed) this.finish(id, 'succeeded', { result: storeResult(this.opts.dataDir, id, result, this.inlineLimit, kind.artifacts?.bind(kind)), message: 'done' });
      } catch (e) {
        if (!this.closed) this.finish(id, 'failed', { error: failure(jobErrorOf(e, stop.reason)), message: 'failed' });
      } finally {
        clearTimeout(timer);
        this.workers.delete(id);
        setImmediate(() => this.pump());
      }
    })();
    this.workers.set(id, { stop, exited, onServer: true, terminate: async () => undefined });
    this.emit(id, 'state');
  }

  private get inlineLimit(): number {
    return this.opts.inlineResultBytes ?? 2 ** 20;
  }

  private progress(id: string, m: { done: number; total: number; message: string }): void {
    const frac = m.total > 0 ? Math.max(0, Math.min(1, m.done / m.total)) : 0;
    const now = Date.now();
    const last = this.lastProgressWrite.get(id) ?? 0;
    if (now - last < (this.opts.progressIntervalMs ?? 200) && m.done < m.total) return;
    this.lastProgressWrite.set(id, now);
    this.db.prepare(`UPDATE jobs SET progress = ?, message = ?, updated_at = ? WHERE id = ? AND state = 'running'`).run(frac, m.message, now, id);
    this.emit(id, 'progress');
  }

  /**
   * Stops the workers (cooperatively, then by termination after closeWaitMs); their jobs go back to 'queued'
   * without counting the attempt (a clean stop is no crash).
   */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.workers.entries()];
    const back = this.db.prepare(`UPDATE jobs SET state = 'queued', attempts = attempts - 1, message = 'requeued at shutdown', updated_at = ? WHERE id = ? AND state = 'running'`);
    for (const [id, r] of running) {
      back.run(Date.now(), id);
      r.stop.set('shutdown');
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.opts.closeWaitMs ?? 10_000)));
    await Promise.race([Promise.all(running.map(([, r]) => r.exited)), waited]);
    clearTimeout(timer);
    await Promise.all(running.map(([, r]) => r.terminate()));
    this.workers.clear();
  }
}
