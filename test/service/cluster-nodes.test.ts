/**
 * The distributed mode as a team runs it, on one machine: two API processes (`serve --no-workers`) and two worker
 * processes (`worker`, separate caches) on loopback, one throwaway PostgreSQL, one shared blob folder. Uploads via
 * one API node, analysis and ranking via the other, results equal to the embedded mode's; SSE and cancellation
 * across nodes; `kill -9` of a worker mid-analysis (the other finishes the job) and of an API node mid-upload
 * (nothing half-written).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpoint } from '../../bench/checkpoint-writer.js';
import { gpt2Tensors } from '../../bench/gpt2-small.js';
import { openPool, type Pool } from '../../src/service/cluster/pg.js';
import { fixture } from '../helpers/fixtures.js';
import { requirePostgres, type PgCluster } from '../helpers/postgres.js';
import { spawnCli, startTestServer, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let pgc: PgCluster | null = null;
let pool: Pool;
const dirs: string[] = [];
const procs: ChildProcess[] = [];
let shared = '';
let apis: string[] = [];
const workers: { child: ChildProcess; pid: number }[] = [];
let baseEnv: Record<string, string> = {};

const tmp = (p: string): string => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};

async function startApi(): Promise<{ child: ChildProcess; url: string }> {
  const { child, match } = await spawnCli(
    ['serve', '--no-workers'],
    { ...baseEnv, WEIGHTSCOPE_DATA: tmp('weightscope-api-'), PORT: '0', HOST: '127.0.0.1' },
    /serving (http:\/\/\S+)/,
  );
  procs.push(child);
  return { child, url: match[1] };
}

async function startWorker(): Promise<{ child: ChildProcess; pid: number }> {
  const { child } = await spawnCli(
    ['worker', '--concurrency', '1'],
    { ...baseEnv, WEIGHTSCOPE_DATA: tmp('weightscope-worker-') },
    /worker \S+ running/,
  );
  procs.push(child);
  return { child, pid: child.pid! };
}

before(async (t) => {
  pgc = await requirePostgres(t as never);
  if (!pgc) return;
  const db = await pgc.database();
  pool = openPool(db, 2);
  shared = tmp('weightscope-shared-');
  baseEnv = {
    WEIGHTSCOPE_DATABASE_URL: db,
    WEIGHTSCOPE_BLOB_URL: `file://${shared}`,
    WEIGHTSCOPE_DEBUG_JOBS: '1',
    WEIGHTSCOPE_HEARTBEAT_SECONDS: '0.5',
    WEIGHTSCOPE_THREADS: '1',
    WEIGHTSCOPE_MODELS_DIR: '/nonexistent',
    HF_HUB_CACHE: '/nonexistent',
  };
  const started = await Promise.all([startApi(), startApi(), startWorker(), startWorker()]);
  apis = [started[0].url, started[1].url];
  workers.push(started[2] as { child: ChildProcess; pid: number }, started[3] as { child: ChildProcess; pid: number });
});

after(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await pool?.end();
  await pgc?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function post(base: string, path: string, body: unknown): Promise<Json> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const j = (await r.json()) as Json;
  assert.ok(r.status === 200 || r.status === 202, `${path}: ${r.status} ${JSON.stringify(j)}`);
  return j.job as Json;
}
const upload = async (base: string, file: string, name: string): Promise<Json> => {
  const r = await fetch(`${base}/v1/models?name=${name}`, { method: 'POST', body: readFileSync(file) });
  const j = (await r.json()) as Json;
  assert.ok(r.status === 201 || r.status === 200, JSON.stringify(j));
  return j;
};
const result = async (base: string, url: string): Promise<Json> => (await (await fetch(`${base}${url}`)).json()) as Json;
/** Reports carry their run time; the rest must match exactly. */
// `work` is this run's timing and cache use (rates, seconds per stage, layers served from the node's layer cache).
const withoutTimes = (r: Json): Json => JSON.parse(JSON.stringify(r, (k, v) => (k === 'seconds' || k === 'work' ? undefined : v))) as Json;

test("upload via one API node, analyse and rank via the other: the embedded mode's results", async (t) => {
  if (!pgc) return t.skip('no PostgreSQL');
  const [a, b] = apis;
  const files = [fixture('stories260k', 'model.safetensors'), fixture('gpt2-tiny', 'model.safetensors')];
  const ids = [];
  for (const f of files) ids.push((await upload(a, f, 'model.safetensors')).id as string);
  const analysis = await post(b, '/v1/analyses', { model: ids[1], fits: ['pl'] });
  const ranking = await post(b, '/v1/rankings', { models: ids, metric: 'alpha' });
  const [ea, er] = [await waitJob(a, analysis.id), await waitJob(a, ranking.id)];
  assert.equal(ea.state, 'succeeded', JSON.stringify(ea.error));
  assert.equal(er.state, 'succeeded', JSON.stringify(er.error));
  // The ranking's analyses ran as jobs of their own, on both workers.
  const kids = (
    await pool.query(`SELECT c.worker FROM weightscope.job_deps d JOIN weightscope.jobs c ON c.id = d.dep_id WHERE d.job_id = $1`, [
      ranking.id,
    ])
  ).rows;
  assert.equal(kids.length, 2);

  const embedded = await startTestServer({ WEIGHTSCOPE_THREADS: '1' });
  t.after(() => embedded.cleanup());
  for (const f of files) await upload(embedded.url, f, 'model.safetensors');
  const ea2 = await waitJob(embedded.url, (await post(embedded.url, '/v1/analyses', { model: ids[1], fits: ['pl'] })).id);
  const er2 = await waitJob(embedded.url, (await post(embedded.url, '/v1/rankings', { models: ids, metric: 'alpha' })).id);
  assert.deepEqual(withoutTimes(await result(a, ea.result!)), withoutTimes(await result(embedded.url, ea2.result!)));
  assert.deepEqual(await result(b, er.result!), await result(embedded.url, er2.result!));
});

test('SSE on the API node that did not start the job; cancellation from either node', async (t) => {
  if (!pgc) return t.skip('no PostgreSQL');
  const [a, b] = apis;
  const j = await post(a, '/v1/debug/jobs', { steps: 10, ms: 100, value: 1, cache: false });
  const text = await (await fetch(`${b}/v1/jobs/${j.id}/events`)).text();
  const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  assert.ok(events.filter((e) => e === 'progress').length >= 2, events.join(','));
  assert.equal(events.at(-1), 'end');
  assert.match(text, /"state":"succeeded"/);
  for (const [submit, cancel] of [
    [a, b],
    [b, a],
  ]) {
    const long = await post(submit, '/v1/debug/jobs', { steps: 400, ms: 25, value: 2, cache: false });
    for (let i = 0; i < 600; i++) {
      const s = await result(submit, `/v1/jobs/${long.id}`);
      if (s.state === 'running' && s.progress > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const del = await fetch(`${cancel}/v1/jobs/${long.id}`, { method: 'DELETE' });
    assert.equal(((await del.json()) as Json).state, 'cancelled');
    // The worker stopped it and is free again: a new job runs to the end.
    const next = await post(cancel, '/v1/debug/jobs', { steps: 1, ms: 1, value: 3, cache: false });
    assert.equal((await waitJob(submit, next.id)).state, 'succeeded');
    const row = (await pool.query(`SELECT progress FROM weightscope.jobs WHERE id = $1`, [long.id])).rows[0];
    assert.ok(row.progress < 1, 'the cancelled job did not run to its end');
  }
});

test('kill -9 of a worker mid-analysis: the other worker finishes the job', async (t) => {
  if (!pgc) return t.skip('no PostgreSQL');
  const [a, b] = apis;
  const file = join(tmp('weightscope-ckpt-'), 'model.safetensors');
  await writeCheckpoint(file, gpt2Tensors({ d: 512, layers: 2, vocab: 4096, context: 512 }), 17);
  const model = await upload(a, file, 'model.safetensors');
  const job = await post(b, '/v1/analyses', { model: model.id, fits: ['etpl'] });
  let row: Json = {};
  for (let i = 0; i < 1200; i++) {
    row = (await pool.query(`SELECT state, progress, worker, attempts FROM weightscope.jobs WHERE id = $1`, [job.id])).rows[0];
    if (row.state === 'running' && row.progress > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(row.state, 'running', JSON.stringify(row));
  const victim = workers.find((w) => row.worker.includes(`:${w.pid}:`));
  assert.ok(victim, `the job runs on ${row.worker}, one of ours`);
  victim.child.kill('SIGKILL');
  const end = await waitJob(a, job.id, {}, 240_000);
  assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
  const finished = (await pool.query(`SELECT worker, attempts FROM weightscope.jobs WHERE id = $1`, [job.id])).rows[0];
  assert.notEqual(finished.worker, row.worker, 'the other worker finished it');
  assert.equal(finished.attempts, 2);
  const report = await result(b, end.result!);
  assert.equal(report.layers.length, 10);
  workers.splice(workers.indexOf(victim), 1);
});

test('kill -9 of an API node mid-upload: no blob, no row', async (t) => {
  if (!pgc) return t.skip('no PostgreSQL');
  const victim = await startApi();
  const before = readdirSync(join(shared, 'blobs')).sort();
  const models = (await result(apis[0], '/v1/models')).models.length;
  // 64 MiB announced, sent in 1 MiB chunks; the node dies after 8. The stream ends at 64 whatever happens, and the
  // request is aborted after a minute, so a client that never notices the dead socket cannot fill the test's memory.
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === 64) {
        controller.close();
        return;
      }
      if (sent === 8) {
        victim.child.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 500));
      }
      sent++;
      controller.enqueue(new Uint8Array(2 ** 20).fill(sent));
      await new Promise((r) => setTimeout(r, 20));
    },
  });
  const res = await fetch(`${victim.url}/v1/models?name=model.safetensors`, {
    method: 'POST',
    body,
    duplex: 'half',
    headers: { 'content-length': String(64 * 2 ** 20) },
    signal: AbortSignal.timeout(60_000),
  } as RequestInit).catch((e: Error) => e);
  assert.ok(res instanceof Error, 'the upload cannot have succeeded');
  assert.ok(sent >= 8 && sent < 64);
  assert.deepEqual(readdirSync(join(shared, 'blobs')).sort(), before, 'no blob appeared');
  assert.equal((await result(apis[0], '/v1/models')).models.length, models, 'no model row appeared');
  // What it had staged is garbage the sweep removes; nothing names it.
  assert.ok(readdirSync(join(shared, 'tmp')).length <= 1);
});
