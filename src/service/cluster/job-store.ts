/**
 * The distributed queue's state machine on Postgres: `weightscope.jobs` rows (the single source of truth) and their
 * pg-boss deliveries (boss.ts), changed only in transactions that also send the matching NOTIFY (events.ts). The
 * same rules as the embedded queue (jobs/queue.ts): deduplication by cache key, joins waiting for their children,
 * shared jobs and their requests, cancellation of a join's own children. Added for many nodes: a running job belongs
 * to one worker and one attempt (`worker`, `attempts`), and every write of a worker is guarded by both, so a worker
 * that was given up on can never overwrite what its successor did. Server-thread kinds (imports: they read the API
 * node's own disk) get no delivery: the API node that took the request runs them (server-jobs.ts).
 *
 * Over 400 lines because it is one state machine: every transition (submit, claim, progress, finish, cancel,
 * reap, hand back) must be read beside the others to see that the worker/attempt guards hold.
 */
import { randomUUID } from 'node:crypto';
import type PgBoss from 'pg-boss';
import { WeightscopeError } from '../../errors.js';
import { ServiceError } from '../errors.js';
import { checkCaps, NO_WORK, timeLimitSeconds, type Work } from '../jobs/limits.js';
import type { StoredResult } from '../jobs/results.js';
import { joinProgress, storedResultOf, viewOf, type JobRow, type JobView } from '../jobs/rows.js';
import { isTerminal, type ChildOutcome, type JobError, type JobKind, type JobState } from '../jobs/types.js';
import { BOSS_SCHEMA, onClient, QUEUES, type Delivery, type QueueName } from './boss.js';
import { CHANNELS, notify } from './events.js';
import { inTransaction, SCHEMA, type Client, type Pool } from './pg.js';

const J = `${SCHEMA}.jobs`;
const D = `${SCHEMA}.job_deps`;
const R = `${SCHEMA}.job_requests`;
const LIVE = `('queued','running')`;
/** A waiting join, or a queued job: what a delivery may start. */
const STARTABLE = `(state = 'queued' OR (state = 'running' AND attempts = 0))`;
const NO_LIVE_DEPS = `NOT EXISTS (SELECT 1 FROM ${D} d JOIN ${J} c ON c.id = d.dep_id WHERE d.job_id = j.id AND c.state IN ${LIVE})`;

export interface ClusterRow extends JobRow {
  boss_id: string | null;
  worker: string | null;
  heartbeat_at: number | null;
  /** Requests waiting for it (only on rows read with row()). */
  requests?: number;
}

/** Who may write a running job: its worker, in this attempt. */
export interface Claim {
  worker: string;
  attempt: number;
}

export interface StoredFile {
  name: string;
  sha256: string;
  bytes: number;
}

export interface FinishFields {
  result?: StoredResult;
  error?: JobError;
  message: string;
  /** Files the job wrote, already in the blob store. */
  files?: readonly StoredFile[];
}

type Q = Pick<Client, 'query'>;

export class PgJobStore {
  private readonly kinds = new Map<string, JobKind>();

  constructor(
    private readonly pool: Pool,
    private readonly boss: PgBoss,
    kinds: readonly JobKind[],
    private readonly opts: {
      maxAttempts: number;
      resultUrl?: (kind: string, id: string) => string;
      /** WEIGHTSCOPE_LIMITS, WEIGHTSCOPE_JOB_TIME_FACTOR (limits.ts), as the embedded queue applies them. */
      capOverrides?: ReadonlyMap<string, number>;
      timeFactor?: number;
    },
  ) {
    for (const k of kinds) this.kinds.set(k.kind, k);
  }

  kind(name: string): JobKind {
    const k = this.kinds.get(name);
    if (!k) throw new WeightscopeError('invalid-input', `unknown job kind ${JSON.stringify(name)}`);
    return k;
  }

  queueOf(kind: string): QueueName {
    return this.kinds.get(kind)?.light ? QUEUES.light : QUEUES.heavy;
  }

  /** Kinds the API node that took the request runs itself (server-thread kinds). */
  get serverKinds(): string[] {
    return [...this.kinds.values()].filter((k) => k.thread === 'server').map((k) => k.kind);
  }

  view(row: ClusterRow): JobView {
    return viewOf(row, isTerminal(row.state) ? 0 : (row.requests ?? 0), this.opts.resultUrl);
  }

  async row(id: string, q: Q = this.pool): Promise<ClusterRow | undefined> {
    return (
      await q.query<ClusterRow>(
        `SELECT j.*, (SELECT COALESCE(SUM(count), 0)::int FROM ${R} r WHERE r.job_id = j.id) AS requests FROM ${J} j WHERE id = $1`,
        [id],
      )
    ).rows[0];
  }

  /** Where a succeeded job's result is (inline, or files named `<dir>/…` among its job files). */
  async result(id: string, kind: string): Promise<StoredResult> {
    const r = await this.row(id);
    return storedResultOf(r, id, kind, () => this.view(r!));
  }

  async counts(): Promise<Record<JobState, number>> {
    const out: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const r of (await this.pool.query<{ state: JobState; n: number }>(`SELECT state, COUNT(*)::int AS n FROM ${J} GROUP BY state`))
      .rows)
      out[r.state] = r.n;
    return out;
  }

  // ---- submission

  /** created: a new job (for a server-thread kind, the caller runs it). */
  async submit(
    kindName: string,
    payload: unknown,
    work: Work = NO_WORK,
    requester = 'open',
  ): Promise<{ job: JobView; cached: boolean; created: boolean }> {
    return inTransaction(this.pool, async (c) => {
      const out = await this.insert(c, kindName, payload, work);
      if (out.row.state !== 'succeeded') {
        await c.query(
          `INSERT INTO ${R} (job_id, requester, count) VALUES ($1, $2, 1) ON CONFLICT (job_id, requester) DO UPDATE SET count = ${R}.count + 1`,
          [out.row.id, requester],
        );
      }
      return { job: this.view((await this.row(out.row.id, c))!), cached: out.cached, created: out.created };
    });
  }

  private async insert(
    c: Client,
    kindName: string,
    payload: unknown,
    work: Work,
  ): Promise<{ row: ClusterRow; cached: boolean; created: boolean }> {
    const kind = this.kind(kindName);
    const parsed = kind.payload.safeParse(payload);
    if (!parsed.success) throw new WeightscopeError('invalid-input', `bad ${kindName} payload: ${parsed.error.message}`);
    checkCaps(kind, parsed.data, this.opts.capOverrides ?? new Map());
    const key = kind.cacheKey ? kind.cacheKey(parsed.data) : null;
    const prior = async (): Promise<ClusterRow | undefined> =>
      key === null
        ? undefined
        : (
            await c.query<ClusterRow>(
              `SELECT * FROM ${J} WHERE kind = $1 AND cache_key = $2 AND state IN ('succeeded','running','queued')
             ORDER BY CASE state WHEN 'succeeded' THEN 0 ELSE 1 END, created_at DESC LIMIT 1`,
              [kindName, key],
            )
          ).rows[0];
    const found = await prior();
    if (found) return { row: found, cached: found.state === 'succeeded', created: false };
    const id = randomUUID();
    const now = Date.now();
    // Another node inserting the same work at this moment: its row wins and this one is not written.
    const limitMs = Math.round(1000 * timeLimitSeconds(kind, parsed.data, work, this.opts.timeFactor ?? 1));
    const children = kind.children?.(parsed.data) ?? [];
    // A job without children is delivered at once (its delivery's id chosen here and written with the row), unless
    // the API node runs it itself.
    const bossId = children.length || kind.thread === 'server' ? null : randomUUID();
    // The workers' wake-up rides on the insert (NOTIFY is delivered at commit, after the delivery exists too).
    const ins = await c.query<ClusterRow>(
      `WITH ins AS (INSERT INTO ${J} (id, kind, state, progress, message, payload, cache_key, time_limit_ms, boss_id, created_at, updated_at)
         VALUES ($1, $2, 'queued', 0, 'queued', $3, $4, $6, $7, $5, $5)
         ON CONFLICT (kind, cache_key) WHERE cache_key IS NOT NULL AND state IN ('queued','running') DO NOTHING RETURNING *),
       n AS (SELECT pg_notify('${CHANNELS.work}', $8) FROM ins WHERE $7::uuid IS NOT NULL)
       SELECT ins.*, (SELECT count(*) FROM n) AS notified FROM ins`,
      [id, kindName, JSON.stringify(parsed.data), key, now, limitMs, bossId, this.queueOf(kindName)],
    );
    if (ins.rows.length === 0) {
      const other = await prior();
      if (!other) throw new Error(`job ${kindName}/${key}: conflicting insert, but no live job found`);
      return { row: other, cached: other.state === 'succeeded', created: false };
    }
    for (let i = 0; i < children.length; i++) {
      const child = await this.insert(c, children[i].kind, children[i].payload, children[i].work ?? NO_WORK);
      await c.query(`INSERT INTO ${D} (job_id, dep_id, position, owned) VALUES ($1, $2, $3, $4)`, [id, child.row.id, i, child.created]);
    }
    if (!children.length) {
      if (bossId) await this.send(c, ins.rows[0], bossId, false);
      return { row: ins.rows[0], cached: false, created: true };
    }
    await this.updateJoin(c, id);
    return { row: (await this.row(id, c))!, cached: false, created: true };
  }

  /** Sends the job's delivery (one queued delivery per job: the singleton key is its id), and wakes the workers. */
  private async deliver(c: Client, row: { id: string; kind: string }): Promise<void> {
    const bossId = randomUUID();
    if (await this.send(c, row, bossId)) await c.query(`UPDATE ${J} SET boss_id = $2 WHERE id = $1`, [row.id, bossId]);
  }

  /** false: a queued delivery of this job exists already (its singleton key). `wake`: NOTIFY the workers. */
  private async send(c: Client, row: { id: string; kind: string }, bossId: string, wake = true): Promise<boolean> {
    const queue = this.queueOf(row.kind);
    const sent = await this.boss.send(queue, { job: row.id } satisfies Delivery, {
      ...onClient(c),
      id: bossId,
      singletonKey: row.id,
      retryLimit: 0,
      expireInHours: 23,
    });
    if (wake) await notify(c, CHANNELS.work, queue);
    return sent !== null;
  }

  /**
   * One statement: `update` (an UPDATE … RETURNING * of jobs), the NOTIFY of its event, and whether joins wait for
   * the job (then they must follow, in a transaction).
   */
  private async change(
    q: Q,
    update: string,
    params: unknown[],
    event: 'state' | 'progress',
  ): Promise<(ClusterRow & { has_parents: boolean }) | undefined> {
    const r = await q.query<ClusterRow & { has_parents: boolean }>(
      `WITH u AS (${update}), n AS (SELECT pg_notify('${CHANNELS.job}', '${event}:' || id) FROM u)
       SELECT u.*, (SELECT count(*) FROM n) AS notified, EXISTS (SELECT 1 FROM ${D} d WHERE d.dep_id = u.id) AS has_parents FROM u`,
      params,
    );
    return r.rows[0];
  }

  /** The joins waiting for `id` follow it; in `c`'s transaction, or in one of their own. */
  private async parentsFollow(c: Client | Pool, id: string): Promise<void> {
    if ('release' in c) await this.childChanged(c, id);
    else await inTransaction(this.pool, (t) => this.childChanged(t, id));
  }

  // ---- joins

  /** A waiting join follows its children; once all have finished it is delivered to a worker. */
  private async updateJoin(c: Client, id: string): Promise<void> {
    const kids = (
      await c.query<{ state: JobState; progress: number }>(
        `SELECT c.state, c.progress FROM ${D} d JOIN ${J} c ON c.id = d.dep_id WHERE d.job_id = $1`,
        [id],
      )
    ).rows;
    const j = joinProgress(kids);
    const now = Date.now();
    const r = await c.query<ClusterRow>(
      `UPDATE ${J} SET state = CASE WHEN $2 THEN 'running' ELSE state END,
       started_at = CASE WHEN $2 THEN COALESCE(started_at, $3) ELSE started_at END, progress = $4, message = $5, updated_at = $3
       WHERE id = $1 AND ${STARTABLE} RETURNING *`,
      [id, j.started, now, j.progress, j.message],
    );
    if (!r.rows.length) return;
    await notify(c, CHANNELS.job, `progress:${id}`);
    if (kids.every((k) => isTerminal(k.state))) await this.deliver(c, r.rows[0]);
  }

  /** A child started, progressed or finished: its waiting joins follow (the join row locked: one sees the last child). */
  private async childChanged(c: Client, id: string): Promise<void> {
    const parents = (await c.query<{ job_id: string }>(`SELECT job_id FROM ${D} WHERE dep_id = $1 ORDER BY job_id`, [id])).rows;
    for (const p of parents) {
      await c.query(`SELECT 1 FROM ${J} WHERE id = $1 FOR UPDATE`, [p.job_id]);
      await this.updateJoin(c, p.job_id);
    }
  }

  async children(id: string): Promise<ChildOutcome[]> {
    const rows = (
      await this.pool.query<{
        id: string;
        kind: string;
        state: JobState;
        result: string | null;
        result_dir: string | null;
        error: string | null;
      }>(
        `SELECT c.id, c.kind, c.state, c.result, c.result_dir, c.error FROM ${D} d JOIN ${J} c ON c.id = d.dep_id WHERE d.job_id = $1 ORDER BY d.position`,
        [id],
      )
    ).rows;
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      state: r.state,
      result: r.result_dir !== null ? { dir: r.result_dir } : r.result !== null ? { text: r.result } : null,
      error: r.error ? (JSON.parse(r.error) as JobError) : null,
    }));
  }

  // ---- state changes

  /**
   * Ends a queued or running job (guarded by its claim when a worker reports); its delivery is settled, its joins
   * follow. Returns false when the job had already ended or belongs to another attempt.
   */
  async finish(c: Client | Pool, id: string, state: JobState, f: FinishFields, claim?: Claim): Promise<boolean> {
    const now = Date.now();
    const text = f.result && 'text' in f.result ? f.result.text : null;
    const dir = f.result && 'dir' in f.result ? f.result.dir : null;
    const params: unknown[] = [id, state, text, f.error ? JSON.stringify(f.error) : null, f.message, now, dir];
    let guard = '';
    if (claim) {
      params.push(claim.worker, claim.attempt);
      guard = ` AND state = 'running' AND worker = $8 AND attempts = $9`;
    }
    const row = await this.change(
      c,
      `UPDATE ${J} SET state = $2, result = $3, result_dir = $7, error = $4, message = $5, progress = CASE WHEN $2 = 'succeeded' THEN 1 ELSE progress END,
       finished_at = $6, updated_at = $6, heartbeat_at = NULL WHERE id = $1 AND state IN ${LIVE}${guard} RETURNING *`,
      params,
      'state',
    );
    if (!row) return false;
    for (const file of f.files ?? []) {
      await c.query(`INSERT INTO ${SCHEMA}.blobs (sha256, bytes, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
        file.sha256,
        file.bytes,
        now,
      ]);
      await c.query(`INSERT INTO ${SCHEMA}.job_files (job_id, name, sha256, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
        id,
        file.name,
        file.sha256,
        file.bytes,
      ]);
    }
    // The delivery is settled by the same connection; outside a transaction, a crash right here leaves it active
    // until pg-boss's expiry, which harms nothing: the job row is final.
    if (row.boss_id) {
      const q = this.queueOf(row.kind);
      const opts = onClient(c);
      if (state === 'succeeded') await this.boss.complete(q, row.boss_id, {}, opts);
      else if (state === 'cancelled') await this.boss.cancel(q, row.boss_id, opts);
      else await this.boss.fail(q, row.boss_id, f.error ?? {}, opts);
    }
    if (state === 'cancelled') await notify(c, CHANNELS.cancel, id);
    // A join that misses this (a crash between the statements) is delivered by redeliver() once it looks stale.
    if (row.has_parents) await this.parentsFollow(c, id);
    return true;
  }

  /** A worker takes a delivered job: the row becomes its, for this attempt (undefined: not startable any more). */
  async claim(id: string, bossId: string, worker: string): Promise<ClusterRow | undefined> {
    const now = Date.now();
    const row = await this.change(
      this.pool,
      `UPDATE ${J} j SET state = 'running', attempts = attempts + 1, worker = $2, heartbeat_at = $3, boss_id = $4, updated_at = $3,
       message = 'running', started_at = CASE WHEN state = 'running' THEN started_at ELSE $3 END
       WHERE id = $1 AND ${STARTABLE} AND ${NO_LIVE_DEPS} RETURNING *`,
      [id, worker, now, bossId],
      'state',
    );
    if (row?.has_parents) await this.parentsFollow(this.pool, id);
    return row;
  }

  /** The API node that took a server-thread kind's request runs it: the queued row becomes its. */
  async claimHere(id: string, worker: string): Promise<ClusterRow | undefined> {
    const now = Date.now();
    return this.change(
      this.pool,
      `UPDATE ${J} SET state = 'running', attempts = attempts + 1, worker = $2, heartbeat_at = $3, updated_at = $3, message = 'running', started_at = $3
       WHERE id = $1 AND state = 'queued' RETURNING *`,
      [id, worker, now],
      'state',
    );
  }

  async progress(id: string, claim: Claim, fraction: number, message: string): Promise<void> {
    const row = await this.change(
      this.pool,
      `UPDATE ${J} SET progress = $2, message = $3, updated_at = $4 WHERE id = $1 AND state = 'running' AND worker = $5 AND attempts = $6 RETURNING *`,
      [id, fraction, message, Date.now(), claim.worker, claim.attempt],
      'progress',
    );
    if (row?.has_parents) await this.parentsFollow(this.pool, id);
  }

  /** Refreshes this worker's running jobs; returns the ids that are no longer its (cancelled, or given up on). */
  async heartbeat(worker: string, ids: readonly string[]): Promise<string[]> {
    if (!ids.length) return [];
    const r = await this.pool.query<{ id: string }>(
      `UPDATE ${J} SET heartbeat_at = $3 WHERE id = ANY($1) AND state = 'running' AND worker = $2 RETURNING id`,
      [ids, worker, Date.now()],
    );
    const alive = new Set(r.rows.map((x) => x.id));
    return ids.filter((id) => !alive.has(id));
  }

  /** Puts a job back in the queue with a fresh delivery (its old one settled). */
  private async requeue(c: Client, row: ClusterRow, message: string, uncount: boolean): Promise<void> {
    await c.query(
      `UPDATE ${J} SET state = 'queued', worker = NULL, heartbeat_at = NULL, progress = 0, message = $2, updated_at = $3, attempts = attempts - $4 WHERE id = $1`,
      [row.id, message, Date.now(), uncount ? 1 : 0],
    );
    if (row.boss_id) await this.boss.complete(this.queueOf(row.kind), row.boss_id, {}, onClient(c));
    await this.deliver(c, row);
    await notify(c, CHANNELS.job, `state:${row.id}`);
  }

  /** A clean shutdown: the job goes back to the queue without counting the attempt. */
  async handBack(id: string, claim: Claim): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const row = (
        await c.query<ClusterRow>(`SELECT * FROM ${J} WHERE id = $1 AND state = 'running' AND worker = $2 AND attempts = $3 FOR UPDATE`, [
          id,
          claim.worker,
          claim.attempt,
        ])
      ).rows[0];
      if (!row) return false;
      await this.requeue(c, row, `handed back by ${claim.worker} at shutdown`, true);
      return true;
    });
  }

  /**
   * Running jobs whose worker has been silent since `staleBefore` (killed, frozen, cut off): run again on another
   * worker, or failed after maxAttempts. Any node may reap; SKIP LOCKED keeps two from reaping the same job.
   */
  async reap(staleBefore: number): Promise<{ requeued: string[]; failed: string[] }> {
    return inTransaction(this.pool, async (c) => {
      // Also a server-thread kind still queued: its API node died between storing the row and starting it.
      const rows = (
        await c.query<ClusterRow>(
          `SELECT * FROM ${J} WHERE (state = 'running' AND attempts > 0 AND heartbeat_at < $1) OR (state = 'queued' AND kind = ANY($2) AND updated_at < $1)
         ORDER BY updated_at LIMIT 100 FOR UPDATE SKIP LOCKED`,
          [staleBefore, this.serverKinds],
        )
      ).rows;
      const out = { requeued: [] as string[], failed: [] as string[] };
      for (const row of rows) {
        const why = `worker ${row.worker} stopped answering`;
        // A server-thread kind read the API node's own files: it cannot run anywhere else.
        if (row.attempts >= this.opts.maxAttempts || this.serverKinds.includes(row.kind)) {
          await this.finish(c, row.id, 'failed', {
            error: { code: 'interrupted', message: `${why}; the job was interrupted ${row.attempts} times` },
            message: 'interrupted',
          });
          out.failed.push(row.id);
        } else {
          await this.requeue(c, row, `requeued: ${why}`, false);
          out.requeued.push(row.id);
        }
      }
      return out;
    });
  }

  /**
   * Startable jobs without a live delivery for `olderThan` (a worker died between fetching a delivery and claiming
   * its job, or a delivery was lost): delivered again.
   */
  async redeliver(olderThan: number): Promise<string[]> {
    return inTransaction(this.pool, async (c) => {
      const rows = (
        await c.query<ClusterRow>(
          `SELECT j.* FROM ${J} j WHERE ${STARTABLE} AND j.updated_at < $1 AND ${NO_LIVE_DEPS} AND NOT j.kind = ANY($4)
         AND NOT EXISTS (SELECT 1 FROM ${BOSS_SCHEMA}.job b WHERE b.id = j.boss_id AND b.name IN ($2, $3)
           AND (b.state IN ('created','retry') OR (b.state = 'active' AND b.started_on > to_timestamp($1 / 1000.0))))
         LIMIT 100 FOR UPDATE SKIP LOCKED`,
          [olderThan, QUEUES.heavy, QUEUES.light, this.serverKinds],
        )
      ).rows;
      for (const row of rows) {
        if (row.boss_id) await this.boss.fail(this.queueOf(row.kind), row.boss_id, { message: 'delivery lost' }, onClient(c));
        await c.query(`UPDATE ${J} SET updated_at = $2 WHERE id = $1`, [row.id, Date.now()]);
        await this.deliver(c, row);
      }
      return rows.map((r) => r.id);
    });
  }

  /**
   * Withdraws `requester`'s request for a queued or running job (from any node), and cancels the job when no request
   * is left (job-not-yours for a requester who has none while others wait). A join's own children that no request
   * and no other live join wait for are cancelled with it.
   */
  async cancel(id: string, requester = 'open'): Promise<JobView> {
    const orphans = await inTransaction(this.pool, async (c) => {
      const row = (await c.query<ClusterRow>(`SELECT * FROM ${J} WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!row) throw new WeightscopeError('not-found', `no job with id ${JSON.stringify(id)}`);
      if (isTerminal(row.state)) return [];
      const mine = (await c.query(`UPDATE ${R} SET count = count - 1 WHERE job_id = $1 AND requester = $2 AND count > 0`, [id, requester]))
        .rowCount;
      await c.query(`DELETE FROM ${R} WHERE job_id = $1 AND count <= 0`, [id]);
      const left = (await c.query<{ n: number }>(`SELECT COALESCE(SUM(count), 0)::int AS n FROM ${R} WHERE job_id = $1`, [id])).rows[0].n;
      if (!mine && left > 0) {
        throw new ServiceError('job-not-yours', `job ${id} was requested by others (${left} request(s)); only they can withdraw them`);
      }
      if (left > 0) return [];
      return this.cancelNow(c, id);
    });
    // Each child in its own transaction: child before join is the lock order everywhere else.
    for (const o of orphans)
      await inTransaction(this.pool, async (c) => {
        for (const more of await this.cancelNow(c, o)) orphans.push(more);
      });
    const row = await this.row(id);
    if (!row) throw new WeightscopeError('not-found', `no job with id ${JSON.stringify(id)}`);
    return this.view(row);
  }

  /** Cancels the job now; returns its own children that nothing else waits for (to cancel next). */
  private async cancelNow(c: Client, id: string): Promise<string[]> {
    if (!(await this.finish(c, id, 'cancelled', { message: 'cancelled by request' }))) return [];
    return (
      await c.query<{ dep_id: string }>(
        `SELECT d.dep_id FROM ${D} d JOIN ${J} c ON c.id = d.dep_id WHERE d.job_id = $1 AND d.owned AND c.state IN ${LIVE}
       AND NOT EXISTS (SELECT 1 FROM ${R} q WHERE q.job_id = d.dep_id AND q.count > 0)
       AND NOT EXISTS (SELECT 1 FROM ${D} o JOIN ${J} p ON p.id = o.job_id WHERE o.dep_id = d.dep_id AND o.job_id <> $1 AND p.state IN ${LIVE})`,
        [id],
      )
    ).rows.map((r) => r.dep_id);
  }

  /** `rel` as a job stored it (a file result `results/<id>/…`, a repair's model). */
  async file(jobId: string, rel: string): Promise<StoredFile | null> {
    return (
      (
        await this.pool.query<StoredFile>(`SELECT name, sha256, bytes FROM ${SCHEMA}.job_files WHERE job_id = $1 AND name = $2`, [
          jobId,
          rel,
        ])
      ).rows[0] ?? null
    );
  }
}
