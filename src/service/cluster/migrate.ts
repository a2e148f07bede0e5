/**
 * `weightscope migrate --to postgres://…`: an embedded data folder (SQLite catalog, content-addressed blobs) moved
 * into the distributed stores. Blobs are copied into the shared store (skipped when already there, e.g. when the
 * store is the same folder) and checked against their sha256; rows are copied as they are (INSERT … ON CONFLICT DO
 * NOTHING, so a second run finishes an interrupted one); jobs that had not finished are queued again and get
 * deliveries. Files that finished repairs wrote become blobs their jobs name. Run it with the embedded server
 * stopped.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { JOB_KINDS } from '../jobs/kinds/index.js';
import type { SharedBlobs } from '../store/shared-blobs.js';
import { startBoss } from './boss.js';
import { resultTextOf } from '../jobs/results.js';
import { storeJobFiles } from './job-files.js';
import { PgJobStore } from './job-store.js';
import { inTransaction, migrateSchema, openPool, SCHEMA } from './pg.js';

export interface MigrationReport {
  blobs: number;
  copiedBytes: number;
  models: number;
  datasets: number;
  jobs: number;
  requeued: number;
}

type Row = Record<string, unknown>;

const COLUMNS = {
  blobs: ['sha256', 'bytes', 'created_at'],
  models: ['id', 'name', 'format', 'bytes', 'tensors', 'parameters', 'source', 'created_at', 'inputs'],
  model_files: ['model_id', 'name', 'sha256', 'bytes'],
  datasets: ['id', 'name', 'bytes', 'samples', 'x_shape', 'x_dtype', 'labels', 'created_at'],
  jobs: [
    'id',
    'kind',
    'state',
    'progress',
    'message',
    'payload',
    'cache_key',
    'result',
    'result_dir',
    'error',
    'attempts',
    'time_limit_ms',
    'created_at',
    'started_at',
    'finished_at',
    'updated_at',
  ],
  job_deps: ['job_id', 'dep_id', 'position', 'owned'],
  job_requests: ['job_id', 'requester', 'count'],
} as const;

export async function migrateEmbedded(
  opts: { dataDir: string; databaseUrl: string; blobs: SharedBlobs; maxAttempts: number },
  log: (line: string) => void,
): Promise<MigrationReport> {
  const file = join(opts.dataDir, 'weightscope.db');
  if (!existsSync(file)) throw new WeightscopeError('not-found', `no embedded catalog at ${file} (set WEIGHTSCOPE_DATA or --data)`);
  const sqlite = new Database(file, { readonly: true, fileMustExist: true });
  const pool = openPool(opts.databaseUrl, 4);
  const report: MigrationReport = { blobs: 0, copiedBytes: 0, models: 0, datasets: 0, jobs: 0, requeued: 0 };
  try {
    await migrateSchema(pool);
    const all = (table: keyof typeof COLUMNS): Row[] => {
      const exists = sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table);
      // SELECT *: a catalog from an older release lacks later columns (they migrate as NULL).
      return exists ? (sqlite.prepare(`SELECT * FROM ${table}`).all() as Row[]) : [];
    };
    const blobs = all('blobs');
    for (const b of blobs) {
      const sha = String(b.sha256);
      if (await opts.blobs.has(sha)) continue;
      const path = join(opts.dataDir, 'blobs', sha);
      if (!existsSync(path))
        throw new WeightscopeError('not-found', `blob ${sha} is in the catalog but not in ${join(opts.dataDir, 'blobs')}`);
      const part = await opts.blobs.ingestFile(path);
      if (part.sha256 !== sha) {
        await opts.blobs.discard([part]);
        throw new WeightscopeError('corrupt-file', `blob ${sha} has different content (sha256 ${part.sha256}); nothing of it was copied`);
      }
      await opts.blobs.commit(part);
      report.copiedBytes += part.bytes;
      report.blobs++;
    }
    // Files of finished jobs — a large result's folder, the files a result names (a repair's model) — become
    // blobs, recorded as the job's files under the same relative paths.
    const jobs = all('jobs');
    const jobFiles: { job: string; name: string; sha256: string; bytes: number }[] = [];
    for (const j of jobs) {
      if (j.state !== 'succeeded') continue;
      const rels: string[] = typeof j.result_dir === 'string' ? [j.result_dir] : [];
      const text =
        typeof j.result_dir === 'string'
          ? await resultTextOf(opts.dataDir, { dir: j.result_dir }).catch(() => '')
          : typeof j.result === 'string'
            ? j.result
            : '';
      if (text.includes('"files"')) rels.push(...Object.values((JSON.parse(text) as { files?: Record<string, string> }).files ?? {}));
      for (const f of await storeJobFiles(
        opts.blobs,
        opts.dataDir,
        rels.filter((rel) => existsSync(join(opts.dataDir, rel))),
      ))
        jobFiles.push({ job: String(j.id), ...f });
    }
    await inTransaction(pool, async (c) => {
      const insert = async (
        table: keyof typeof COLUMNS,
        rows: Row[],
        map: (r: Row) => unknown[] = (r) => COLUMNS[table].map((k) => r[k] ?? null),
      ): Promise<number> => {
        const cols = COLUMNS[table];
        let n = 0;
        for (const r of rows) {
          const res = await c.query(
            `INSERT INTO ${SCHEMA}.${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`,
            map(r),
          );
          n += res.rowCount ?? 0;
        }
        return n;
      };
      await insert('blobs', blobs);
      report.models = await insert('models', all('models'));
      await insert('model_files', all('model_files'));
      report.datasets = await insert('datasets', all('datasets'));
      // A job that was running when the embedded server stopped runs again here.
      report.jobs = await insert('jobs', jobs, (r) =>
        COLUMNS.jobs.map((k) => (k === 'state' && r.state === 'running' ? 'queued' : (r[k] ?? null))),
      );
      await insert('job_deps', all('job_deps'), (r) => [r.job_id, r.dep_id, r.position, r.owned === 1]);
      await insert('job_requests', all('job_requests'));
      for (const f of jobFiles) {
        await c.query(`INSERT INTO ${SCHEMA}.blobs (sha256, bytes, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
          f.sha256,
          f.bytes,
          Date.now(),
        ]);
        await c.query(`INSERT INTO ${SCHEMA}.job_files (job_id, name, sha256, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
          f.job,
          f.name,
          f.sha256,
          f.bytes,
        ]);
      }
    });
    // Unfinished jobs have no delivery yet: the same sweep that recovers lost deliveries sends them.
    const boss = await startBoss(pool, { supervise: false, onError: (e) => log(`weightscope: pg-boss: ${e.message}`) });
    try {
      const store = new PgJobStore(pool, boss, JOB_KINDS, { maxAttempts: opts.maxAttempts });
      report.requeued = (await store.redeliver(Date.now() + 1)).length;
    } finally {
      await boss.stop({ graceful: false, close: false, wait: true });
    }
    return report;
  } finally {
    sqlite.close();
    await pool.end();
  }
}
