/**
 * The distributed mode's queue and catalog on a throwaway PostgreSQL (test/helpers/postgres.ts), with API and worker
 * nodes in this process: migrations under concurrent starts, deduplication across API nodes, joins, crash recovery
 * (a silent worker's job is retried, attempts are bounded, a lost delivery is sent again), handback at shutdown,
 * SSE and cancellation across nodes, and uploads read on a worker. The multi-process version (kill -9, results
 * equal to the embedded mode's) is cluster-nodes.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBoss, QUEUES, type Delivery } from '../../src/service/cluster/boss.js';
import { startClusterNode, type ClusterNode } from '../../src/service/cluster/node.js';
import { migrateSchema, openPool, SCHEMA_VERSION } from '../../src/service/cluster/pg.js';
import { loadConfig } from '../../src/service/config.js';
import { startServer, type RunningServer } from '../../src/service/server.js';
import { fixture } from '../helpers/fixtures.js';
import { requirePostgres, type PgCluster } from '../helpers/postgres.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let pgc: PgCluster | null = null;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

before(async (t) => {
  pgc = await requirePostgres(t as never);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await pgc?.stop();
});

function dir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** One deployment: a database and a shared blob folder; nodes are added to it. */
async function deployment(extra: Record<string, string> = {}) {
  const db = await pgc!.database();
  const shared = dir('weightscope-blobs-');
  const env = (more: Record<string, string> = {}): Record<string, string> => ({
    WEIGHTSCOPE_DATABASE_URL: db,
    WEIGHTSCOPE_BLOB_URL: `file://${shared}`,
    WEIGHTSCOPE_DATA: dir('weightscope-node-'),
    WEIGHTSCOPE_DEBUG_JOBS: '1',
    WEIGHTSCOPE_HEARTBEAT_SECONDS: '0.2',
    WEIGHTSCOPE_MODELS_DIR: '/nonexistent',
    HF_HUB_CACHE: '/nonexistent',
    PORT: '0',
    ...extra,
    ...more,
  });
  return {
    db,
    async api(more: Record<string, string> = {}): Promise<RunningServer> {
      const s = await startServer({ env: env(more), workers: false, log: () => undefined });
      cleanups.push(() => s.close());
      return s;
    },
    async worker(slots = 1, more: Record<string, string> = {}): Promise<ClusterNode> {
      const n = await startClusterNode(loadConfig(env(more)), { api: false, workers: slots, log: () => undefined });
      cleanups.push(() => n.close());
      return n;
    },
  };
}

async function post(base: string, path: string, body: unknown): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: r.status, body: (await r.json()) as Json };
}
const job = async (base: string, id: string): Promise<Json> => (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as Json;
async function until(base: string, id: string, ok: (j: Json) => boolean, ms = 60_000): Promise<Json> {
  const t0 = Date.now();
  for (;;) {
    const j = await job(base, id);
    if (ok(j)) return j;
    if (Date.now() - t0 > ms) throw new Error(`job ${id}: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const terminal = (j: Json): boolean => ['succeeded', 'failed', 'cancelled'].includes(j.state);

describe('distributed mode (Postgres + pg-boss), nodes in one process', { skip: false }, () => {
  test('schema migrations: nodes starting at once apply them exactly once (advisory locks)', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    const db = await pgc.database();
    const pools = Array.from({ length: 4 }, () => openPool(db, 2));
    try {
      const applied = await Promise.all(pools.map((p) => migrateSchema(p)));
      // One node applies every migration of a fresh database; the others find it done.
      assert.deepEqual(applied.sort(), [0, 0, 0, SCHEMA_VERSION]);
      const bosses = await Promise.all(pools.slice(0, 3).map((p) => startBoss(p, { supervise: false, onError: () => undefined })));
      await Promise.all(bosses.map((b) => b.stop({ graceful: false, close: false, wait: true })));
      const { rows } = await pools[0].query('SELECT version FROM weightscope.version');
      assert.deepEqual(rows, [{ version: SCHEMA_VERSION }]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test('two API nodes submitting the same work at once get one job; a worker runs it; SSE from the other node', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    const d = await deployment();
    const [a, b] = [await d.api(), await d.api()];
    const body = { steps: 8, ms: 40, value: 7 };
    const subs = await Promise.all(Array.from({ length: 8 }, (_, i) => post(i % 2 ? b.url : a.url, '/v1/debug/jobs', body)));
    const ids = new Set(subs.map((s) => s.body.job.id));
    assert.equal(ids.size, 1, `one job for one piece of work: ${[...ids].join(', ')}`);
    const id = [...ids][0] as string;
    // SSE on node B while node A's submission runs on the worker.
    const events: string[] = [];
    const sse = (async () => {
      const r = await fetch(`${b.url}/v1/jobs/${id}/events`);
      const text = await r.text();
      for (const m of text.matchAll(/^event: (\w+)$/gm)) events.push(m[1]);
      return text;
    })();
    await new Promise((r) => setTimeout(r, 300));
    await d.worker(1);
    const text = await sse;
    assert.equal(events.at(-1), 'end', text);
    assert.ok(events.includes('progress'), `progress events seen on the other node: ${events.join(',')}`);
    const end = await job(a.url, id);
    assert.equal(end.state, 'succeeded');
    const again = await post(b.url, '/v1/debug/jobs', body);
    assert.equal(again.status, 200, 'a finished job with the same inputs is served from the cache');
    assert.equal(again.body.job.id, id);
  });

  test('a join fans out: children run on both workers at once, the join shows their progress, then adds their values', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    const d = await deployment();
    const a = await d.api();
    await d.worker(1);
    await d.worker(1);
    const sub = await post(a.url, '/v1/debug/jobs', {
      steps: 2,
      ms: 1,
      value: 1,
      children: [
        { steps: 20, ms: 50, value: 10 },
        { steps: 20, ms: 50, value: 100 },
      ],
    });
    assert.equal(sub.status, 202);
    const seen = await until(a.url, sub.body.job.id, (j) => (j.state === 'running' && j.progress > 0) || terminal(j));
    assert.equal(seen.state, 'running', 'a join whose children run is running');
    const end = await until(a.url, sub.body.job.id, terminal);
    assert.equal(end.state, 'succeeded', JSON.stringify(end));
    const pool = openPool(d.db, 1);
    try {
      const kids = (
        await pool.query(
          `SELECT c.worker, c.started_at, c.finished_at, c.result FROM weightscope.job_deps d JOIN weightscope.jobs c ON c.id = d.dep_id WHERE d.job_id = $1 ORDER BY d.position`,
          [sub.body.job.id],
        )
      ).rows;
      assert.equal(kids.length, 2);
      assert.notEqual(kids[0].worker, kids[1].worker, 'the two children ran on different workers');
      assert.ok(kids[0].started_at < kids[1].finished_at && kids[1].started_at < kids[0].finished_at, 'and at the same time');
      const join = (await pool.query(`SELECT result FROM weightscope.jobs WHERE id = $1`, [sub.body.job.id])).rows[0];
      assert.deepEqual(JSON.parse(join.result), { value: 111, children: ['succeeded', 'succeeded'] });
    } finally {
      await pool.end();
    }
  });

  test('cancelling a join from another node cancels the children it queued, not one another job shares', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    const d = await deployment();
    const [a, b] = [await d.api(), await d.api()];
    await d.worker(2);
    const shared = { steps: 200, ms: 20, value: 5 };
    const other = await post(a.url, '/v1/debug/jobs', shared);
    const sub = await post(a.url, '/v1/debug/jobs', { value: 0, children: [shared, { steps: 200, ms: 20, value: 6 }] });
    await until(a.url, sub.body.job.id, (j) => j.state === 'running' && j.progress > 0);
    const del = await fetch(`${b.url}/v1/jobs/${sub.body.job.id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(((await del.json()) as Json).state, 'cancelled');
    const pool = openPool(d.db, 1);
    try {
      const kids = (
        await pool.query(
          `SELECT c.id, c.state FROM weightscope.job_deps d JOIN weightscope.jobs c ON c.id = d.dep_id WHERE d.job_id = $1 ORDER BY d.position`,
          [sub.body.job.id],
        )
      ).rows;
      assert.equal(kids[0].id, other.body.job.id, 'the first child is the job submitted before (deduplicated)');
      assert.notEqual(kids[0].state, 'cancelled', 'a child another client asked for keeps running');
      assert.equal((await until(a.url, kids[1].id, terminal)).state, 'cancelled', "the join's own child is cancelled");
    } finally {
      await pool.end();
    }
    // The cancelled child's slot is freed: a new job runs.
    const next = await post(b.url, '/v1/debug/jobs', { steps: 1, ms: 1, value: 9 });
    assert.equal((await until(a.url, next.body.job.id, terminal)).state, 'succeeded');
    await fetch(`${a.url}/v1/jobs/${other.body.job.id}`, { method: 'DELETE' });
  });

  test('a silent worker: its job runs again on another within 4.5 heartbeats; after WEIGHTSCOPE_JOB_ATTEMPTS it fails', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    for (const attempts of [2, 1]) {
      const d = await deployment({ WEIGHTSCOPE_JOB_ATTEMPTS: String(attempts) });
      const a = await d.api();
      const sub = await post(a.url, '/v1/debug/jobs', { steps: 2, ms: 10, value: attempts });
      // A "worker" that takes the delivery, claims the job and then says nothing more (kill -9, frozen VM).
      const pool = openPool(d.db, 2);
      try {
        const boss = await startBoss(pool, { supervise: false, onError: () => undefined });
        const [delivery] = await boss.fetch<Delivery>(QUEUES.heavy);
        assert.equal(delivery.data.job, sub.body.job.id);
        await pool.query(
          `UPDATE weightscope.jobs SET state = 'running', attempts = 1, worker = 'ghost', heartbeat_at = $2, boss_id = $3 WHERE id = $1`,
          [sub.body.job.id, Date.now(), delivery.id],
        );
        await boss.stop({ graceful: false, close: false, wait: true });
        const t0 = Date.now();
        await d.worker(1);
        const end = await until(a.url, sub.body.job.id, terminal, 20_000);
        const waited = Date.now() - t0;
        const row = (await pool.query(`SELECT attempts, worker FROM weightscope.jobs WHERE id = $1`, [sub.body.job.id])).rows[0];
        if (attempts === 2) {
          assert.equal(end.state, 'succeeded', JSON.stringify(end));
          assert.equal(row.attempts, 2);
          assert.notEqual(row.worker, 'ghost');
        } else {
          assert.equal(end.state, 'failed');
          assert.equal(end.error.code, 'interrupted');
          assert.match(end.error.message, /ghost stopped answering/);
        }
        // 4.5 heartbeats of 0.2 s and one reaper period, plus starting the worker node (threads under tsx, a loaded
        // machine): a sanity bound, not a timing test.
        assert.ok(waited < 15_000, `took ${waited} ms`);
      } finally {
        await pool.end();
      }
    }
  });

  test('a delivery fetched by a worker that died before claiming its job is sent again', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    const d = await deployment();
    const a = await d.api();
    const sub = await post(a.url, '/v1/debug/jobs', { steps: 1, ms: 1, value: 3 });
    const pool = openPool(d.db, 2);
    try {
      const boss = await startBoss(pool, { supervise: false, onError: () => undefined });
      assert.equal((await boss.fetch<Delivery>(QUEUES.heavy)).length, 1);
      await boss.stop({ graceful: false, close: false, wait: true });
    } finally {
      await pool.end();
    }
    await d.worker(1);
    assert.equal((await until(a.url, sub.body.job.id, terminal, 20_000)).state, 'succeeded');
  });

  test('close (SIGTERM): a worker lets a job finish within the grace period, hands back a longer one uncounted', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    const d = await deployment({ WEIGHTSCOPE_SHUTDOWN_GRACE: '1' });
    const a = await d.api();
    const w1 = await d.worker(2);
    const short = await post(a.url, '/v1/debug/jobs', { steps: 5, ms: 100, value: 1 });
    const long = await post(a.url, '/v1/debug/jobs', { steps: 300, ms: 20, value: 2 });
    for (const s of [short, long]) await until(a.url, s.body.job.id, (j) => j.state === 'running' && j.progress > 0);
    await w1.close();
    assert.equal((await job(a.url, short.body.job.id)).state, 'succeeded', 'finished within the grace period');
    const back = await job(a.url, long.body.job.id);
    assert.equal(back.state, 'queued');
    assert.match(back.message, /handed back/);
    await d.worker(1);
    assert.equal((await until(a.url, long.body.job.id, terminal)).state, 'succeeded');
    const pool = openPool(d.db, 1);
    try {
      assert.equal(
        (await pool.query(`SELECT attempts FROM weightscope.jobs WHERE id = $1`, [long.body.job.id])).rows[0].attempts,
        1,
        'the handback did not count',
      );
    } finally {
      await pool.end();
    }
  });

  test('uploads: stored by one API node, read on a worker, served by the other; bad files leave no row', async (t) => {
    if (!pgc) return t.skip('no PostgreSQL');
    const d = await deployment();
    const [a, b] = [await d.api(), await d.api()];
    const w = await d.worker(1);
    const bytes = readFileSync(fixture('stories260k', 'model.safetensors'));
    const up = await fetch(`${a.url}/v1/models`, { method: 'POST', body: bytes });
    const model = (await up.json()) as Json;
    assert.equal(up.status, 201, JSON.stringify(model));
    assert.equal(model.format, 'safetensors');
    assert.ok(model.tensors > 0 && model.parameters > 0);
    assert.deepEqual(((await (await fetch(`${b.url}/v1/models/${model.id}`)).json()) as Json).files, model.files);
    const dup = await fetch(`${b.url}/v1/models`, { method: 'POST', body: bytes });
    assert.equal(dup.status, 200, 'the same bytes through the other node: the same model');
    // Truncated: the same problem as the embedded mode's, and nothing a client can see.
    const bad = await fetch(`${b.url}/v1/models?name=model.safetensors`, { method: 'POST', body: bytes.subarray(0, 5000) });
    assert.equal(bad.status, 422);
    assert.match(((await bad.json()) as Json).type, /corrupt-file/);
    assert.equal(((await (await fetch(`${a.url}/v1/models`)).json()) as Json).models.length, 1);
    const ds = await fetch(`${a.url}/v1/datasets?name=clean.safetensors`, {
      method: 'POST',
      body: readFileSync(fixture('fmnist-backdoor', 'clean_subset.safetensors')),
    });
    assert.equal(ds.status, 201);
    const dsBody = (await ds.json()) as Json;
    assert.ok(dsBody.samples > 0);
    // An analysis of the upload on the worker, read back through either node.
    const an = await post(b.url, '/v1/analyses', { model: model.id, fits: ['pl'] });
    const end = await until(a.url, an.body.job.id, terminal, 120_000);
    assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
    const report = (await (await fetch(`${a.url}${end.result}`)).json()) as Json;
    assert.equal(report.model.source, model.id);
    assert.ok(report.layers.length > 0);
    // Delete: gone for both nodes; its blob is no longer named by any row.
    assert.equal((await fetch(`${b.url}/v1/models/${model.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${a.url}/v1/models/${model.id}`)).status, 404);
    // The sweep (hourly, of blobs an hour old; here of all) removes what no row names: the deleted model's bytes and
    // the truncated upload's. The dataset stays.
    const swept = await w.worker!.sweep({ tmpMs: 0, orphanMs: 0 });
    assert.equal(swept.orphans, 2);
    const left: string[] = [];
    for await (const blob of w.blobs.list()) left.push(blob.sha256);
    assert.deepEqual(left, [dsBody.id]);
  });
});
