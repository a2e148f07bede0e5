/**
 * The embedded job queue: rows in SQLite (so a restart loses nothing), each running job in its own worker thread,
 * at most `concurrency` at a time, oldest first. Results are stored as JSON text (or, when large, as files:
 * results.ts) and shared between jobs with the same kind and cache key; every request for a shared job is recorded,
 * and a DELETE withdraws one (the last cancels). Jobs are stopped cooperatively (stop.ts): a cancelled job is marked
 * `cancelled` at once and its thread keeps its slot until it has unwound at its next progress call and exited.
 *
 * Joins (kinds with children(), e.g. a ranking): the children are queued with the join (rows in job_deps); the join
 * waits — `running` with attempts = 0 and no thread once a child has started — and runs when all have finished.
 * Server-thread kinds (imports) run on this event loop, outside the `concurrency` slots.
 *
 * Over 400 lines because it is one state machine (submit, start, progress, finish, cancel, joins, restart recovery):
 * its transitions share the slot accounting and are checked against each other.
 */
import { randomUUID } from 'node:crypto';
import { WeightscopeError } from '../../errors.js';
import { ServiceError } from '../errors.js';
import type { Db } from '../store/db.js';
import { localFiles } from './inputs.js';
import { checkCaps, NO_WORK, timeLimitSeconds, type Work } from './limits.js';
import { resultTextOf, storeResult, type StoredResult } from './results.js';
import {
  JobListeners,
  joinProgress,
  storedResultOf,
  viewOf,
  type JobEvent,
  type JobRow,
  type JobView,
  type QueueObserver,
} from './rows.js';
import { JobStopped, StopFlag, jobErrorOf, type StopReason } from './stop.js';
import { deadline, startJobThread } from './thread.js';
import {
  isTerminal,
  NO_INPUTS,
  type ChildOutcome,
  type JobContext,
  type JobError,
  type JobInputRefs,
  type JobKind,
  type JobState,
  type LocalInputs,
} from './types.js';

export type { JobEvent, JobView, QueueObserver } from './rows.js';

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
  /** Where a job's stored models and datasets are on this machine (not-found when one was deleted). */
  resolve?: (refs: JobInputRefs) => LocalInputs;
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
  /** No more reports from it (the queue is closing and settles the job itself). */
  mute(): void;
}

/** Server-thread jobs (imports) at once. */
const SERVER_THREAD_JOBS = 2;

const LIVE = `('queued','running')`;

export class JobQueue {
  private readonly kinds = new Map<string, JobKind>();
  private readonly workers = new Map<string, Running>();
  private readonly listeners = new JobListeners();
  private readonly lastProgressWrite = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly opts: QueueOptions,
  ) {
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
    const failed = this.db
      .prepare(
        `UPDATE jobs SET state = 'failed', finished_at = ?, updated_at = ?, message = 'interrupted',
       error = json_object('code', 'interrupted', 'message', 'the server stopped ' || attempts || ' times while this job ran')
       WHERE state = 'running' AND attempts >= ?`,
      )
      .run(now, now, max).changes;
    const requeued = this.db
      .prepare(
        `UPDATE jobs SET state = 'queued', progress = 0, message = 'requeued after a server restart', updated_at = ?
       WHERE state = 'running'`,
      )
      .run(now).changes;
    return { requeued, failed };
  }

  /** Starts running queued jobs (call once after recover()). */
  start(): void {
    this.pump();
  }

  private view(row: JobRow): JobView {
    return viewOf(row, isTerminal(row.state) ? 0 : this.requestCount(row.id), this.opts.resultUrl);
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

  /** The stored result of a succeeded job (inline text or a folder of files); job-not-finished / job-failed otherwise. */
  result(id: string, kind: string): StoredResult {
    const r = this.row(id);
    return storedResultOf(r, id, kind, () => this.view(r!));
  }

  /** The whole result as text, read from its file if need be: for small results (a repair's, a test's). */
  async resultText(id: string, kind: string): Promise<string> {
    return resultTextOf(this.opts.dataDir, this.result(id, kind));
  }

  private requestCount(id: string): number {
    return (this.db.prepare('SELECT COALESCE(SUM(count), 0) AS n FROM job_requests WHERE job_id = ?').get(id) as { n: number }).n;
  }

  private addRequest(id: string, requester: string): void {
    this.db
      .prepare(
        `INSERT INTO job_requests (job_id, requester, count) VALUES (?, ?, 1)
       ON CONFLICT (job_id, requester) DO UPDATE SET count = count + 1`,
      )
      .run(id, requester);
  }

  /** Counts by state, for /metrics. */
  counts(): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const r of this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[])
      out[r.state] = r.n;
    return out;
  }

  /**
   * Queues a job. An existing job with the same kind and cache key is returned instead when it succeeded
   * (cached = true) or is still queued/running (the request is recorded); failed and cancelled ones are retried by a
   * new job. A join's children are queued (or found) in the same transaction.
   */
  submit(kindName: string, payload: unknown, work: Work = NO_WORK, requester = 'open'): { job: JobView; cached: boolean } {
    const out = this.db.transaction(() => {
      const r = this.insert(kindName, payload, work);
      if (r.row.state !== 'succeeded') this.addRequest(r.row.id, requester);
      return r;
    })();
    queueMicrotask(() => this.pump());
    return { job: this.view(out.row), cached: out.cached };
  }

  /** created = a new row (not an existing job with the same cache key). */
  private insert(kindName: string, payload: unknown, work: Work): { row: JobRow; cached: boolean; created: boolean } {
    const kind = this.kind(kindName);
    const parsed = kind.payload.safeParse(payload);
    if (!parsed.success) throw new WeightscopeError('invalid-input', `bad ${kindName} payload: ${parsed.error.message}`);
    checkCaps(kind, parsed.data, this.opts.capOverrides ?? new Map());
    const key = kind.cacheKey ? kind.cacheKey(parsed.data) : null;
    if (key !== null) {
      const prior = this.db
        .prepare(
          `SELECT * FROM jobs WHERE kind = ? AND cache_key = ? AND state IN ('succeeded','running','queued')
         ORDER BY CASE state WHEN 'succeeded' THEN 0 ELSE 1 END, created_at DESC LIMIT 1`,
        )
        .get(kindName, key) as JobRow | undefined;
      if (prior) return { row: prior, cached: prior.state === 'succeeded', created: false };
    }
    const id = randomUUID();
    const now = Date.now();
    const limitMs = Math.round(1000 * timeLimitSeconds(kind, parsed.data, work, this.opts.timeFactor ?? 1));
    this.db
      .prepare(
        `INSERT INTO jobs (id, kind, state, progress, message, payload, cache_key, time_limit_ms, created_at, updated_at)
       VALUES (?, ?, 'queued', 0, 'queued', ?, ?, ?, ?, ?)`,
      )
      .run(id, kindName, JSON.stringify(parsed.data), key, limitMs, now, now);
    const children = kind.children?.(parsed.data) ?? [];
    const dep = this.db.prepare('INSERT INTO job_deps (job_id, dep_id, position, owned) VALUES (?, ?, ?, ?)');
    children.forEach((c, i) => {
      const child = this.insert(c.kind, c.payload, c.work ?? NO_WORK);
      dep.run(id, child.row.id, i, child.created ? 1 : 0);
    });
    if (children.length) this.updateJoin(id);
    return { row: this.row(id)!, cached: false, created: true };
  }

  /** A waiting join's state, progress and message from its children's; false once it is not waiting. */
  private updateJoin(id: string): boolean {
    const kids = this.db
      .prepare('SELECT c.state, c.progress FROM job_deps d JOIN jobs c ON c.id = d.dep_id WHERE d.job_id = ?')
      .all(id) as { state: JobState; progress: number }[];
    const j = joinProgress(kids);
    const now = Date.now();
    return (
      this.db
        .prepare(
          `UPDATE jobs SET state = CASE WHEN ? THEN 'running' ELSE state END, started_at = CASE WHEN ? THEN COALESCE(started_at, ?) ELSE started_at END,
       progress = ?, message = ?, updated_at = ? WHERE id = ? AND (state = 'queued' OR (state = 'running' AND attempts = 0))`,
        )
        .run(j.started ? 1 : 0, j.started ? 1 : 0, now, j.progress, j.message, now, id).changes > 0
    );
  }

  /** A child started, progressed or finished: its waiting joins follow (and run once all their children have). */
  private childChanged(id: string): void {
    const parents = this.db.prepare('SELECT job_id FROM job_deps WHERE dep_id = ?').all(id) as { job_id: string }[];
    for (const p of parents) if (this.updateJoin(p.job_id)) this.emit(p.job_id, 'progress');
  }

  /**
   * Withdraws `requester`'s request for a queued or running job, and cancels the job when no request is left;
   * finished jobs are returned unchanged. A requester with no request on a job others wait for may not cancel it.
   * A running job is marked cancelled now and stops at its next progress call (its slot is freed when its thread
   * has exited). A join's children that it queued itself, and that no request and no other live join wait for, are
   * cancelled with it.
   */
  async cancel(id: string, requester = 'open'): Promise<JobView> {
    const r = this.row(id);
    if (!r) throw new WeightscopeError('not-found', `no job with id ${JSON.stringify(id)}`);
    if (isTerminal(r.state)) return this.view(r);
    const mine = this.db
      .prepare('UPDATE job_requests SET count = count - 1 WHERE job_id = ? AND requester = ? AND count > 0')
      .run(id, requester).changes;
    this.db.prepare('DELETE FROM job_requests WHERE job_id = ? AND count <= 0').run(id);
    const left = this.requestCount(id);
    if (!mine && left > 0) {
      throw new ServiceError('job-not-yours', `job ${id} was requested by others (${left} request(s)); only they can withdraw them`);
    }
    if (left > 0) return this.view(r);
    this.cancelNow(id);
    return this.require(id);
  }

  private cancelNow(id: string): void {
    this.finish(id, 'cancelled', { message: 'cancelled by request' });
    this.workers.get(id)?.stop.set('cancel');
    const orphans = this.db
      .prepare(
        `SELECT d.dep_id FROM job_deps d JOIN jobs c ON c.id = d.dep_id WHERE d.job_id = ? AND d.owned = 1 AND c.state IN ${LIVE}
       AND NOT EXISTS (SELECT 1 FROM job_requests q WHERE q.job_id = d.dep_id AND q.count > 0)
       AND NOT EXISTS (SELECT 1 FROM job_deps o JOIN jobs p ON p.id = o.job_id WHERE o.dep_id = d.dep_id AND o.job_id <> ? AND p.state IN ${LIVE})`,
      )
      .all(id, id) as { dep_id: string }[];
    for (const o of orphans) this.cancelNow(o.dep_id);
  }

  /** Stops a running job for `reason` (cooperatively, as cancel does). */
  stop(id: string, reason: StopReason): void {
    this.workers.get(id)?.stop.set(reason);
  }

  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    return this.listeners.add(id, fn);
  }

  private emit(id: string, event: JobEvent['event']): void {
    if (!this.listeners.has(id)) return;
    const job = this.get(id);
    if (job) this.listeners.emit(id, { event, job });
  }

  private finish(id: string, state: JobState, f: { result?: StoredResult; error?: JobError; message: string }): void {
    const now = Date.now();
    const text = f.result && 'text' in f.result ? f.result.text : null;
    const dir = f.result && 'dir' in f.result ? f.result.dir : null;
    const changed = this.db
      .prepare(
        `UPDATE jobs SET state = ?, result = ?, result_dir = ?, error = ?, message = ?, progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END,
       finished_at = ?, updated_at = ? WHERE id = ? AND state IN ('queued','running')`,
      )
      .run(state, text, dir, f.error ? JSON.stringify(f.error) : null, f.message, state, now, now, id).changes;
    this.lastProgressWrite.delete(id);
    if (!changed) return;
    const r = this.row(id);
    if (r) this.opts.observer?.jobFinished?.(r.kind, state, ((r.finished_at ?? now) - (r.started_at ?? r.created_at)) / 1000);
    this.emit(id, 'state');
    this.childChanged(id);
    queueMicrotask(() => this.pump());
  }

  /**
   * Starts jobs, oldest first: worker-thread kinds up to `concurrency`, server-thread kinds (imports) up to two.
   * Startable: queued jobs, and waiting joins (running, attempts = 0), whose children have all finished.
   */
  private pump(): void {
    if (this.closed) return;
    const here = [...this.kinds.values()].filter((k) => k.thread === 'server').map((k) => k.kind);
    const take = (onServer: boolean): JobRow | undefined => {
      const now = Date.now();
      const which =
        here.length === 0 ? (onServer ? 'AND 0' : '') : `AND kind ${onServer ? '' : 'NOT '}IN (${here.map(() => '?').join(',')})`;
      return this.db
        .prepare(
          `UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?, message = 'running',
         started_at = CASE WHEN state = 'running' THEN started_at ELSE ? END
         WHERE id = (SELECT id FROM jobs j WHERE (state = 'queued' OR (state = 'running' AND attempts = 0)) ${which}
           AND NOT EXISTS (SELECT 1 FROM job_deps d JOIN jobs c ON c.id = d.dep_id WHERE d.job_id = j.id AND c.state IN ${LIVE})
           ORDER BY created_at, rowid LIMIT 1) RETURNING *`,
        )
        .get(now, now, ...here) as JobRow | undefined;
    };
    const count = (onServer: boolean): number => [...this.workers.values()].filter((r) => r.onServer === onServer).length;
    for (let row; count(false) < this.opts.concurrency && (row = take(false)); ) this.run(row);
    for (let row; count(true) < SERVER_THREAD_JOBS && (row = take(true)); ) this.runHere(row, this.kind(row.kind));
  }

  private children(id: string): ChildOutcome[] {
    const rows = this.db
      .prepare(
        'SELECT c.id, c.kind, c.state, c.result, c.result_dir, c.error FROM job_deps d JOIN jobs c ON c.id = d.dep_id WHERE d.job_id = ? ORDER BY d.position',
      )
      .all(id) as { id: string; kind: string; state: JobState; result: string | null; result_dir: string | null; error: string | null }[];
    return rows.map((c) => ({
      id: c.id,
      kind: c.kind,
      state: c.state,
      result: c.result_dir !== null ? { dir: c.result_dir } : c.result !== null ? { text: c.result } : null,
      error: c.error ? (JSON.parse(c.error) as JobError) : null,
    }));
  }

  private run(row: JobRow): void {
    const id = row.id;
    let thread: ReturnType<typeof startJobThread>;
    try {
      const payload = JSON.parse(row.payload) as unknown;
      const kind = this.kind(row.kind);
      const refs = kind.inputs?.(kind.payload.parse(payload));
      const inputs = refs && this.opts.resolve ? this.opts.resolve(refs) : NO_INPUTS;
      thread = startJobThread(
        {
          jobId: id,
          kind: row.kind,
          payload,
          dataDir: this.opts.dataDir,
          inputs,
          children: kind.children ? this.children(id) : [],
          inlineLimit: this.inlineLimit,
        },
        {
          progress: (done, total, message) => this.progress(id, done, total, message),
          outcome: (o) => {
            if (o.type === 'done') this.finish(id, 'succeeded', { result: o.result, message: 'done' });
            else this.finish(id, 'failed', { error: o.error, message: 'failed' });
          },
          exited: (code, silent) => {
            if (this.workers.get(id)?.exited === thread.exited) this.workers.delete(id);
            // Died without a word (out of memory, process.exit): the job failed.
            if (silent)
              this.finish(id, 'failed', { error: { code: 'internal', message: `worker exited with code ${code}` }, message: 'failed' });
            this.pump();
          },
        },
        { drainMs: this.opts.drainMs, heapBytes: this.opts.jobHeapBytes, timeLimitMs: row.time_limit_ms },
      );
    } catch (e) {
      const error =
        e instanceof WeightscopeError
          ? { code: e.code, message: e.message }
          : { code: 'internal', message: `cannot start a worker: ${(e as Error).message}` };
      this.finish(id, 'failed', { error, message: 'failed' });
      return;
    }
    this.workers.set(id, {
      stop: thread.stop,
      exited: thread.exited,
      onServer: false,
      terminate: () => thread.worker.terminate(),
      mute: thread.mute,
    });
    this.emit(id, 'state');
    this.childChanged(id);
  }

  /** A server-thread kind (I/O-bound work on the stores, e.g. an import): run on this event loop, stopped the same way. */
  private runHere(row: JobRow, kind: JobKind): void {
    const id = row.id;
    const stop = new StopFlag();
    const { timer, failure } = deadline(row.time_limit_ms, stop);
    let muted = false;
    const checkpoint = (): void => {
      if (stop.reason) throw new JobStopped(stop.reason);
    };
    const ctx: JobContext = {
      jobId: id,
      dataDir: this.opts.dataDir,
      ...localFiles(NO_INPUTS),
      children: [],
      inlineResultBytes: this.inlineLimit,
      services: this.opts.services,
      progress: (done, total, message = '') => {
        checkpoint();
        this.progress(id, done, total, message);
      },
      checkpoint,
      stopReason: () => stop.reason,
    };
    const exited = (async () => {
      try {
        const result = await kind.run(kind.payload.parse(JSON.parse(row.payload)), ctx);
        if (!muted)
          this.finish(id, 'succeeded', {
            result: storeResult(this.opts.dataDir, id, result, this.inlineLimit, kind.artifacts?.bind(kind)),
            message: 'done',
          });
      } catch (e) {
        if (!muted) this.finish(id, 'failed', { error: failure(jobErrorOf(e, stop.reason)), message: 'failed' });
      } finally {
        clearTimeout(timer);
        this.workers.delete(id);
        setImmediate(() => this.pump());
      }
    })();
    this.workers.set(id, { stop, exited, onServer: true, terminate: async () => undefined, mute: () => void (muted = true) });
    this.emit(id, 'state');
  }

  private get inlineLimit(): number {
    return this.opts.inlineResultBytes ?? 2 ** 20;
  }

  private progress(id: string, done: number, total: number, message: string): void {
    const frac = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
    const now = Date.now();
    const last = this.lastProgressWrite.get(id) ?? 0;
    if (now - last < (this.opts.progressIntervalMs ?? 200) && done < total) return;
    this.lastProgressWrite.set(id, now);
    this.db
      .prepare(`UPDATE jobs SET progress = ?, message = ?, updated_at = ? WHERE id = ? AND state = 'running'`)
      .run(frac, message, now, id);
    this.emit(id, 'progress');
    this.childChanged(id);
  }

  /**
   * Stops the workers (cooperatively, then by termination after closeWaitMs); their jobs go back to 'queued'
   * without counting the attempt (a clean stop is no crash).
   */
  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.workers.entries()];
    const back = this.db.prepare(
      `UPDATE jobs SET state = 'queued', attempts = attempts - 1, message = 'requeued at shutdown', updated_at = ? WHERE id = ? AND state = 'running'`,
    );
    for (const [id, r] of running) {
      r.mute();
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
