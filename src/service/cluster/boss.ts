/**
 * pg-boss delivers jobs to worker nodes: each catalog job (the `weightscope.jobs` row, the single source of truth)
 * gets one pg-boss job `{ job: <id> }` in one of two queues. Workers fetch with FOR UPDATE SKIP LOCKED, so two never
 * get the same delivery. The singleton key is the catalog id on a `short` queue: at most one queued delivery per
 * job, whoever sends it (submission, a join becoming ready, a retry after a dead worker, a handback at shutdown).
 *
 * pg-boss 10 has no heartbeats and caps expiry at 24 h, below what a 70B analysis may need. So pg-boss's expiry is
 * only a backstop (23 h, no pg-boss retries), and a dead worker is found by the catalog's own heartbeats
 * (worker.ts): its job is requeued with a fresh delivery within 4.5 heartbeat intervals, at most
 * WEIGHTSCOPE_JOB_ATTEMPTS times. pg-boss archives finished deliveries after an hour and deletes them after 7 days;
 * the catalog keeps the jobs.
 */
import PgBoss from 'pg-boss';
import type { Client, Pool } from './pg.js';

/** `heavy`: analyses, Hessians, repairs… (one per slot); `light`: quick jobs (reading an upload, a join's ranking). */
export const QUEUES = { heavy: 'weightscope-jobs', light: 'weightscope-light' } as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const BOSS_SCHEMA = 'pgboss';

export interface Delivery {
  job: string;
}

/** pg-boss on our pool (its own statements, and ours in a transaction through `db`). */
export async function startBoss(pool: Pool, opts: { supervise: boolean; onError: (e: Error) => void }): Promise<PgBoss> {
  const boss = new PgBoss({
    db: { executeSql: (text: string, values?: unknown[]) => pool.query(text, values as unknown[]) },
    schema: BOSS_SCHEMA,
    // No cron here; maintenance (expiry, archiving) runs on every node, serialised by pg-boss's advisory lock.
    schedule: false,
    supervise: opts.supervise,
    archiveCompletedAfterSeconds: 3600,
    deleteAfterDays: 7,
  });
  boss.on('error', opts.onError);
  // pg-boss creates its schema under its own advisory lock, yet two nodes starting at once on an empty database
  // still collide on CREATE SCHEMA (seen with 10.4.2: a duplicate-key error the second start does not tolerate).
  // So nodes start pg-boss one at a time, under a session lock of ours held on a separate connection.
  const lock = await pool.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [BOSS_START_LOCK]);
    await boss.start();
    for (const name of Object.values(QUEUES)) {
      await boss.createQueue(name, { name, policy: 'short', retryLimit: 0, expireInHours: 23, retentionDays: 14 });
    }
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [BOSS_START_LOCK]).catch(() => undefined);
    lock.release();
  }
  return boss;
}

/** "weightscope pg-boss start" (the pool needs 2 connections: this lock's and pg-boss's). */
const BOSS_START_LOCK = 0x7773_6273;

/** pg-boss statements inside one of our transactions. */
export const onClient = (
  c: Pick<Client, 'query'>,
): { db: { executeSql: (text: string, values: unknown[]) => Promise<{ rows: unknown[] }> } } => ({
  db: { executeSql: (text, values) => c.query(text, values) },
});
