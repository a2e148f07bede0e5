/**
 * The distributed catalog's Postgres: one pool per process, the `weightscope` schema (the same tables as the
 * embedded SQLite store, times in ms since the epoch) and its migrations. Migrations run in one transaction under a
 * transaction-scoped advisory lock, so any number of nodes may start at once: the first applies them, the others
 * wait, then find nothing to do.
 */
import pg from 'pg';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

/** Our tables live in their own schema, beside pg-boss's (`pgboss`). */
export const SCHEMA = 'weightscope';

/** int8 (bigint) as a JS number: byte counts and ms timestamps stay far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export function openPool(url: string, max = 8): Pool {
  const pool = new pg.Pool({ connectionString: url, max, types, application_name: 'weightscope' });
  // An idle client's connection dropping (database restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** A dedicated connection (LISTEN needs one that stays open). */
export function openClient(url: string): pg.Client {
  return new pg.Client({ connectionString: url, types, application_name: 'weightscope-listen' });
}

/** Runs fn in a transaction on one pooled connection. */
export async function inTransaction<T>(pool: Pool, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/** Schema versions in order; each runs once, in the migration transaction. Append, never edit. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE ${SCHEMA}.blobs (
    sha256 TEXT PRIMARY KEY,
    bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE ${SCHEMA}.models (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    tensors INTEGER NOT NULL,
    parameters BIGINT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE ${SCHEMA}.model_files (
    model_id TEXT NOT NULL REFERENCES ${SCHEMA}.models(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES ${SCHEMA}.blobs(sha256),
    bytes BIGINT NOT NULL,
    PRIMARY KEY (model_id, name)
  );
  CREATE INDEX model_files_by_blob ON ${SCHEMA}.model_files(sha256);
  CREATE TABLE ${SCHEMA}.datasets (
    id TEXT PRIMARY KEY REFERENCES ${SCHEMA}.blobs(sha256),
    name TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    samples INTEGER NOT NULL,
    x_shape TEXT NOT NULL,
    x_dtype TEXT NOT NULL,
    labels INTEGER NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE ${SCHEMA}.jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    cache_key TEXT,
    result TEXT,
    result_dir TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    time_limit_ms BIGINT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    updated_at BIGINT NOT NULL,
    boss_id UUID,
    worker TEXT,
    heartbeat_at BIGINT
  );
  CREATE INDEX jobs_by_cache ON ${SCHEMA}.jobs(kind, cache_key, state);
  -- Two API nodes submitting the same work at once get one job: the second insert conflicts and finds the first.
  CREATE UNIQUE INDEX jobs_one_live_per_key ON ${SCHEMA}.jobs(kind, cache_key) WHERE cache_key IS NOT NULL AND state IN ('queued','running');
  CREATE INDEX jobs_running ON ${SCHEMA}.jobs(heartbeat_at) WHERE state = 'running';
  CREATE INDEX jobs_by_state ON ${SCHEMA}.jobs(state, created_at);
  CREATE TABLE ${SCHEMA}.job_deps (
    job_id TEXT NOT NULL REFERENCES ${SCHEMA}.jobs(id) ON DELETE CASCADE,
    dep_id TEXT NOT NULL REFERENCES ${SCHEMA}.jobs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    owned BOOLEAN NOT NULL,
    PRIMARY KEY (job_id, dep_id)
  );
  CREATE INDEX job_deps_by_dep ON ${SCHEMA}.job_deps(dep_id);
  -- Who waits for a job: a shared job is cancelled only when every request has withdrawn.
  CREATE TABLE ${SCHEMA}.job_requests (
    job_id TEXT NOT NULL REFERENCES ${SCHEMA}.jobs(id) ON DELETE CASCADE,
    requester TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (job_id, requester)
  );
  -- Files a succeeded job named in its result (a repair's model), stored as blobs.
  CREATE TABLE ${SCHEMA}.job_files (
    job_id TEXT NOT NULL REFERENCES ${SCHEMA}.jobs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES ${SCHEMA}.blobs(sha256),
    bytes BIGINT NOT NULL,
    PRIMARY KEY (job_id, name)
  );
  CREATE INDEX job_files_by_blob ON ${SCHEMA}.job_files(sha256);
  `,
  // 2: a model's ONNX data inputs (JSON), for matching datasets to models (store/fit.ts); NULL: no graph.
  `ALTER TABLE ${SCHEMA}.models ADD COLUMN inputs TEXT;`,
];

/** The newest schema version: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** A fixed key for pg_advisory_xact_lock: "weightscope migrate". */
const MIGRATION_LOCK = 0x7773_6d69;

/** Brings the schema to the newest version; returns how many migrations this call applied. */
export async function migrateSchema(pool: Pool): Promise<number> {
  return inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await c.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.version (version INTEGER NOT NULL)`);
    const { rows } = await c.query<{ version: number }>(`SELECT version FROM ${SCHEMA}.version`);
    const at = rows[0]?.version ?? 0;
    if (at > MIGRATIONS.length)
      throw new Error(`the database schema is version ${at}, newer than this weightscope (${MIGRATIONS.length}): upgrade this node`);
    for (let v = at; v < MIGRATIONS.length; v++) await c.query(MIGRATIONS[v]);
    if (rows.length === 0) await c.query(`INSERT INTO ${SCHEMA}.version (version) VALUES ($1)`, [MIGRATIONS.length]);
    else await c.query(`UPDATE ${SCHEMA}.version SET version = $1`, [MIGRATIONS.length]);
    return MIGRATIONS.length - at;
  });
}
