/**
 * `weightscope migrate --to postgres://…`: an embedded data folder (models, a dataset, finished and unfinished jobs,
 * a repair's files) moved into Postgres and a separate `file://` blob store, then served by distributed nodes as it
 * was: same models, same results, the unfinished job runs, the repaired model downloads byte for byte. A second run
 * adds nothing; bad command lines get one line and a non-zero exit.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { startClusterNode } from '../../src/service/cluster/node.js';
import { loadConfig } from '../../src/service/config.js';
import { startServer } from '../../src/service/server.js';
import { fixture } from '../helpers/fixtures.js';
import { requirePostgres } from '../helpers/postgres.js';
import { REPO, startTestServer, tempDataDir, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `weightscope migrate …` as a user runs it. */
function migrate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'migrate', ...args],
      { cwd: REPO },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const postJson = async (base: string, path: string, body: unknown): Promise<Json> =>
  (await (
    await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  ).json()) as Json;

test('migrate --to: an embedded catalog and its blobs served by distributed nodes as before; a second run adds nothing', async (t) => {
  const pgc = await requirePostgres(t);
  if (!pgc) return;
  // Undone last first (nodes before the database they use).
  const undo: (() => unknown)[] = [() => pgc.stop()];
  t.after(async () => {
    for (const u of undo.reverse()) await u();
  });
  const store = mkdtempSync(join(tmpdir(), 'weightscope-store-'));
  undo.push(() => rmSync(store, { recursive: true, force: true }));

  // The embedded mode: a model, a dataset, an analysis, a job still queued when it stops.
  const data = tempDataDir();
  undo.push(() => data.cleanup());
  const embedded = await startTestServer({ WEIGHTSCOPE_DEBUG_JOBS: '1' }, data.dir);
  const model = (await (
    await fetch(`${embedded.url}/v1/models`, { method: 'POST', body: readFileSync(fixture('stories260k', 'model.safetensors')) })
  ).json()) as Json;
  const ds = (await (
    await fetch(`${embedded.url}/v1/datasets?name=clean.safetensors`, {
      method: 'POST',
      body: readFileSync(fixture('fmnist-backdoor', 'clean_subset.safetensors')),
    })
  ).json()) as Json;
  const analysis = (await postJson(embedded.url, '/v1/analyses', { model: model.id, fits: ['pl'] })).job;
  assert.equal((await waitJob(embedded.url, analysis.id)).state, 'succeeded');
  const report = await (await fetch(`${embedded.url}/v1/analyses/${analysis.id}`)).text();
  const blocker = (await postJson(embedded.url, '/v1/debug/jobs', { steps: 1000, ms: 50, cache: false })).job;
  const queued = (await postJson(embedded.url, '/v1/debug/jobs', { steps: 2, ms: 1, value: 77 })).job;
  await embedded.close();
  // A finished repair, as the repair kind leaves it: a result naming files under the data folder.
  const repairId = '00000000-0000-4000-8000-000000000001';
  mkdirSync(join(data.dir, 'repairs', repairId), { recursive: true });
  const onnx = Buffer.from('pretend this is the repaired model.onnx');
  writeFileSync(join(data.dir, 'repairs', repairId, 'model.onnx'), onnx);
  const { default: Database } = await import('better-sqlite3');
  const sqlite = new Database(join(data.dir, 'weightscope.db'));
  sqlite
    .prepare(
      `INSERT INTO jobs (id, kind, state, progress, message, payload, result, created_at, updated_at, finished_at) VALUES (?, 'repair', 'succeeded', 1, 'done', '{}', ?, ?, ?, ?)`,
    )
    .run(
      repairId,
      JSON.stringify({ files: { onnx: `repairs/${repairId}/model.onnx`, safetensors: `repairs/${repairId}/model.safetensors` } }),
      // Finished now: a job from 1970 is past retention, and the nodes' start-up sweep may take it before the checks.
      Date.now(),
      Date.now(),
      Date.now(),
    );
  sqlite.close();

  const db = await pgc.database();
  const out = await migrate(['--to', db, '--blobs', `file://${store}`, '--data', data.dir]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /migrated 1 model\(s\), 1 dataset\(s\), 4 job\(s\) \(2 queued again\); 2 blob\(s\)/);
  const again = await migrate(['--to', db, '--blobs', `file://${store}`, '--data', data.dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /migrated 0 model\(s\), 0 dataset\(s\), 0 job\(s\) \(0 queued again\); 0 blob\(s\)/);

  // Distributed nodes on what was migrated (a fresh data folder: nothing is read from the old one).
  const env = {
    WEIGHTSCOPE_DATABASE_URL: db,
    WEIGHTSCOPE_BLOB_URL: `file://${store}`,
    WEIGHTSCOPE_DATA: mkdtempSync(join(tmpdir(), 'weightscope-node-')),
    WEIGHTSCOPE_DEBUG_JOBS: '1',
    PORT: '0',
  };
  undo.push(() => rmSync(env.WEIGHTSCOPE_DATA, { recursive: true, force: true }));
  const api = await startServer({ env, workers: false, log: () => undefined });
  undo.push(() => api.close());
  const worker = await startClusterNode(loadConfig(env), { api: false, workers: 1, log: () => undefined });
  undo.push(() => worker.close());
  assert.deepEqual(((await (await fetch(`${api.url}/v1/models`)).json()) as Json).models, [model]);
  assert.deepEqual((await (await fetch(`${api.url}/v1/datasets/${ds.id}`)).json()) as Json, ds);
  assert.equal(await (await fetch(`${api.url}/v1/analyses/${analysis.id}`)).text(), report);
  assert.equal((await waitJob(api.url, queued.id)).state, 'succeeded', 'the job that had not run, ran');
  await fetch(`${api.url}/v1/jobs/${blocker.id}`, { method: 'DELETE' });
  const file = await fetch(`${api.url}/v1/repairs/${repairId}/model?format=onnx`);
  assert.equal(file.status, 200);
  assert.ok(Buffer.from(await file.arrayBuffer()).equals(onnx));
  assert.equal(
    (await fetch(`${api.url}/v1/repairs/${repairId}/model?format=safetensors`)).status,
    404,
    'a file the repair did not leave is not invented',
  );
  // The migrated blobs are readable by a worker: a new analysis of the model runs.
  const fresh = (await postJson(api.url, '/v1/analyses', { model: model.id, fits: ['pl'], options: { minEvals: 11 } })).job;
  assert.equal((await waitJob(api.url, fresh.id)).state, 'succeeded');
});

test('migrate: bad command lines and a folder without a catalog get one line and a non-zero exit', async () => {
  const usage = await migrate([]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--to postgres:\/\/… is required/);
  const bad = await migrate(['--to', 'mysql://x']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /WEIGHTSCOPE_DATABASE_URL: a postgres:\/\/… URL/);
  const empty = mkdtempSync(join(tmpdir(), 'weightscope-empty-'));
  try {
    const none = await migrate(['--to', 'postgres://127.0.0.1:1/x', '--data', empty]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no embedded catalog at/);
    assert.equal(none.stderr.trim().split('\n').length, 1);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
