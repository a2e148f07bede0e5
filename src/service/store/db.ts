/** The service's SQLite database ($WEIGHTSCOPE_DATA/weightscope.db): models, their files, blobs and jobs. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type Db = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  sha256 TEXT PRIMARY KEY,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
  id TEXT PRIMARY KEY,          -- sha256 of the file, or of the sorted (name, sha256) list for several files
  name TEXT NOT NULL,
  format TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  tensors INTEGER NOT NULL,
  parameters INTEGER NOT NULL,
  source TEXT NOT NULL,         -- 'upload' | 'import:<path>' | 'hf:<org/name>@<rev>'
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_files (
  model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  bytes INTEGER NOT NULL,
  PRIMARY KEY (model_id, name)
);
CREATE TABLE IF NOT EXISTS datasets (
  id TEXT PRIMARY KEY,          -- sha256 of the safetensors file (its blob)
  name TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  x_shape TEXT NOT NULL,
  x_dtype TEXT NOT NULL,
  labels INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
  progress REAL NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  cache_key TEXT,
  result TEXT,                  -- JSON text of the result once succeeded
  error TEXT,                   -- JSON {code, message} once failed
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  updated_at INTEGER NOT NULL
);
-- Who is waiting for a job: a deduplicated job is shared, and cancelled only when every request has withdrawn.
CREATE TABLE IF NOT EXISTS job_requests (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  requester TEXT NOT NULL,      -- 'open' without API keys, else 'key:<sha256 prefix>'
  count INTEGER NOT NULL,
  PRIMARY KEY (job_id, requester)
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, created_at);
-- A join (e.g. a ranking) and the jobs it waits for; owned = the join queued that job itself (it is cancelled with it).
CREATE TABLE IF NOT EXISTS job_deps (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  dep_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  owned INTEGER NOT NULL,
  PRIMARY KEY (job_id, dep_id)
);
CREATE INDEX IF NOT EXISTS job_deps_by_dep ON job_deps(dep_id);
CREATE INDEX IF NOT EXISTS jobs_by_cache ON jobs(kind, cache_key, state);
`;

/** Columns added after the first release, added to older databases in place. */
function migrate(db: Db): void {
  const jobCols = new Set((db.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map((c) => c.name));
  // The job's wall-clock limit, fixed at submission from its work (jobs/limits.ts); NULL: none.
  if (!jobCols.has('time_limit_ms')) db.exec('ALTER TABLE jobs ADD COLUMN time_limit_ms INTEGER');
  // A result stored as files (jobs/results.ts): its folder relative to the data folder; NULL: inline in `result`.
  const modelCols = new Set((db.prepare('PRAGMA table_info(models)').all() as { name: string }[]).map((c) => c.name));
  // The ONNX graph's data inputs (JSON), for matching datasets to models; NULL: no graph, or stored before.
  if (!modelCols.has('inputs')) db.exec('ALTER TABLE models ADD COLUMN inputs TEXT');
  if (!jobCols.has('result_dir')) db.exec('ALTER TABLE jobs ADD COLUMN result_dir TEXT');
}

export function openDatabase(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'weightscope.db'));
  db.pragma('journal_mode = WAL');
  // WAL + NORMAL: a commit survives a killed process (kill -9); only an OS crash or power cut can lose the last
  // commits. FULL would fsync on every progress update, which stalls the event loop under load.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  migrate(db);
  return db;
}
