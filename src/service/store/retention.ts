/**
 * Retention: finished jobs (succeeded, failed, cancelled) older than the configured days are removed with their
 * files (a repair's exported model, a result stored beside the database). Queued and running jobs are never touched.
 */
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './db.js';

/** Folders under the data folder named by job id (their files go with the job). */
export const JOB_FILE_DIRS = ['repairs', 'results'] as const;

export async function dropOldJobs(db: Db, dataDir: string, days: number, now = Date.now()): Promise<number> {
  if (days <= 0) return 0;
  const cutoff = now - days * 86_400_000;
  // Never a finished child a live join still waits to read (a ranking reusing an old cached analysis).
  const old = `state IN ('succeeded','failed','cancelled') AND COALESCE(finished_at, updated_at) < ?
    AND id NOT IN (SELECT d.dep_id FROM job_deps d JOIN jobs p ON p.id = d.job_id WHERE p.state IN ('queued','running'))`;
  const ids = db.transaction(() => {
    const rows = db.prepare(`SELECT id FROM jobs WHERE ${old}`).all(cutoff) as { id: string }[];
    db.prepare(`DELETE FROM jobs WHERE ${old}`).run(cutoff);
    return rows.map((r) => r.id);
  })();
  await removeJobFiles(dataDir, (id) => !ids.includes(id) && jobExists(db, id));
  return ids.length;
}

const jobExists = (db: Db, id: string): boolean =>
  db.prepare('SELECT 1 FROM jobs WHERE id = ?').get(id.replace(/\.json$/, '')) !== undefined;

/** Removes each job-named entry of JOB_FILE_DIRS for which `keep` is false (dropped jobs, and files of no job). */
async function removeJobFiles(dataDir: string, keep: (name: string) => boolean): Promise<void> {
  for (const dir of JOB_FILE_DIRS) {
    const d = join(dataDir, dir);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) if (!keep(name)) await rm(join(d, name), { recursive: true, force: true });
  }
}
