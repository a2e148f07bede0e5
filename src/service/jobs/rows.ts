/**
 * What both queues (embedded SQLite, Postgres) store per job and how a row is shown: one row shape (times in ms
 * since the epoch), one view, and the join's progress while its children run.
 */
import { WeightscopeError } from '../../errors.js';
import { ServiceError } from '../errors.js';
import type { StoredResult } from './results.js';
import type { JobError, JobState } from './types.js';

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

export interface JobRow {
  id: string;
  kind: string;
  state: JobState;
  progress: number;
  message: string;
  payload: string;
  cache_key: string | null;
  result: string | null;
  error: string | null;
  attempts: number;
  /** The wall-clock limit of one attempt, fixed at submission from the job's work (limits.ts); null: none. */
  time_limit_ms: number | null;
  /** A result stored as files (results.ts): its folder, relative to the data folder; null: inline in `result`. */
  result_dir: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface JobEvent {
  event: 'progress' | 'state';
  job: JobView;
}

export interface QueueObserver {
  jobFinished?(kind: string, state: JobState, seconds: number): void;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export function viewOf(row: JobRow, requests: number, resultUrl?: (kind: string, id: string) => string): JobView {
  return {
    id: row.id,
    kind: row.kind,
    state: row.state,
    progress: row.progress,
    message: row.message,
    result: row.state === 'succeeded' ? (resultUrl?.(row.kind, row.id) ?? `/v1/jobs/${row.id}`) : null,
    requests,
    error: row.error ? (JSON.parse(row.error) as JobError) : null,
    created_at: iso(row.created_at)!,
    started_at: iso(row.started_at),
    finished_at: iso(row.finished_at),
    updated_at: row.updated_at,
  };
}

/** The stored result of a succeeded job (inline or files); not-found, job-not-finished or job-failed otherwise. */
export function storedResultOf(r: JobRow | undefined, id: string, kind: string, view: () => JobView): StoredResult {
  if (!r || r.kind !== kind) throw new WeightscopeError('not-found', `no ${kind} with id ${JSON.stringify(id)}`);
  if (r.state === 'succeeded' && r.result_dir !== null) return { dir: r.result_dir };
  if (r.state === 'succeeded' && r.result !== null) return { text: r.result };
  const job = view();
  if (r.state === 'failed' || r.state === 'cancelled') {
    throw new ServiceError('job-failed', `${kind} ${id} ${r.state}${job.error ? `: ${job.error.message}` : ''}`, { job });
  }
  throw new ServiceError('job-not-finished', `${kind} ${id} is ${r.state}`, { job });
}

/** Who follows which job (SSE streams, waiting requests) in this process. */
export class JobListeners {
  private readonly byJob = new Map<string, Set<(e: JobEvent) => void>>();

  add(id: string, fn: (e: JobEvent) => void): () => void {
    let set = this.byJob.get(id);
    if (!set) this.byJob.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.byJob.delete(id);
    };
  }

  has(id: string): boolean {
    return this.byJob.has(id);
  }

  ids(): string[] {
    return [...this.byJob.keys()];
  }

  /** Calls each listener of the job (a copy of the set: a listener may unsubscribe). */
  emit(id: string, e: JobEvent): void {
    for (const fn of [...(this.byJob.get(id) ?? [])]) fn(e);
  }
}

/** Share of a join's progress that its children make; the join's own run (reading their results) is the rest. */
export const CHILDREN_SHARE = 0.95;

/**
 * A join waiting for its children: `running` once any child has started (so a ranking whose analyses run shows as
 * running), its progress the mean of the children's, its message how many are done.
 */
export function joinProgress(children: readonly { state: JobState; progress: number }[]): {
  started: boolean;
  progress: number;
  message: string;
} {
  const done = children.filter((c) => c.state !== 'queued' && c.state !== 'running').length;
  const started = children.some((c) => c.state !== 'queued');
  const mean = children.length
    ? children.reduce((a, c) => a + (c.state === 'queued' || c.state === 'running' ? c.progress : 1), 0) / children.length
    : 1;
  return { started, progress: CHILDREN_SHARE * mean, message: `${done}/${children.length} child jobs done` };
}
