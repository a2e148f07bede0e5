/**
 * The science jobs stop where they report progress (between onnxruntime runs): collapse per forward batch,
 * flatness per run of perturbed copies and per Hv product of its trace, taxonomy per Hv product and curve-training
 * step. Cancelled mid-run in a separate server process (as test/service/cancel.test.ts does for the other kinds),
 * each ends `cancelled`, the server lives and a later job succeeds; over its time budget a job fails with
 * `time-limit`; and the budgets grow with the work.
 */
import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { JOB_KINDS } from '../../src/service/jobs/kinds/index.js';
import { BASE_SECONDS, timeLimitSeconds } from '../../src/service/jobs/limits.js';
import { fixture } from '../helpers/fixtures.js';
import { post, runningWithProgress, spawnServer, startTestServer, tempDataDir, waitJob, type Json } from './helpers.js';

async function store(url: string, files: Record<string, string>): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const [key, file] of Object.entries(files)) {
    const name = file.split('/').pop()!;
    const r = await post(url, `/v1/${name.endsWith('.safetensors') ? 'datasets' : 'models'}?name=${name}`, readFileSync(file), true);
    assert.ok(r.status === 201 || r.status === 200, `${key}: ${JSON.stringify(r.body)}`);
    ids[key] = r.body.id;
  }
  return ids;
}

const FILES = {
  m1: fixture('surface-mlp', 'm1.onnx'),
  m2: fixture('surface-mlp', 'm2.onnx'),
  m3: fixture('surface-mlp', 'm3.onnx'),
  train: fixture('surface-mlp', 'clean_subset.safetensors'),
};

test('cancelling running collapse, flatness and taxonomy jobs: each ends cancelled, the server lives, a later job succeeds', {
  timeout: 300_000,
}, async () => {
  const data = tempDataDir();
  const { child, url } = await spawnServer({ WEIGHTSCOPE_DATA: data.dir, WEIGHTSCOPE_JOB_CONCURRENCY: '1', WEIGHTSCOPE_THREADS: '1' });
  let exit: string | null = null;
  child.once('exit', (code, signal) => (exit = `exit ${code} ${signal}`));
  try {
    const ids = await store(url, FILES);
    // Each long computation, cancelled in the stage named: the stages that reported no progress before included.
    const taxonomy = {
      models: [ids.m1, ids.m2, ids.m3],
      data: ids.train,
      options: { epochs: 200, hessianMaxIter: 10_000, hessianTol: 1e-12 },
    };
    const long: [string, Json, RegExp][] = [
      ['/v1/collapses', { model: ids.m1, dataset: ids.train, options: { batchSize: 1 } }, /forward/],
      ['/v1/flatness', { model: ids.m1, dataset: ids.train, options: { draws: 20_000, drawsPerRun: 1, trace: 'none' } }, /local entropy/],
      ['/v1/flatness', { model: ids.m1, dataset: ids.train, options: { draws: 2, trace: 'exact' } }, /Hessian trace/],
      ['/v1/taxonomies', taxonomy, /Hessian of .*: /],
      ['/v1/taxonomies', { ...taxonomy, options: { ...taxonomy.options, hessianMaxIter: 5, traceMaxIter: 5 } }, /curve .*: /],
    ];
    for (const [path, body, stage] of long) {
      const sub = await post(url, path, body);
      assert.equal(sub.status, 202, `${path}: ${JSON.stringify(sub.body)}`);
      const seen = await runningWithProgress(url, sub.body.job.id, stage);
      assert.equal(seen.state, 'running', `${path}: ${JSON.stringify(seen)}`);
      const del = await fetch(`${url}/v1/jobs/${sub.body.job.id}`, { method: 'DELETE' });
      assert.equal(del.status, 200);
      const end = await waitJob(url, sub.body.job.id, {}, 120_000);
      assert.equal(end.state, 'cancelled', `${path} (${seen.message}): ${JSON.stringify(end)}`);
      assert.equal(exit, null, `the server died cancelling ${path}`);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
    }
    const quick = await post(url, '/v1/collapses', { model: ids.m2, dataset: ids.train, options: { samples: 200 } });
    const end = await waitJob(url, quick.body.job.id, {}, 120_000);
    assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
  } finally {
    child.kill('SIGKILL');
    data.cleanup();
  }
});

describe('time limits of the science jobs', () => {
  test('a flatness job over its budget fails with time-limit', { timeout: 120_000 }, async () => {
    // (300 s + its flops) × 1e-5 ≈ 3 ms: far less than reading the model takes, on any machine (at 1e-3 the 0.3 s
    // budget was met once on a quiet machine).
    const s = await startTestServer({ WEIGHTSCOPE_JOB_TIME_FACTOR: '0.00001' });
    try {
      const ids = await store(s.url, { m1: FILES.m1, train: FILES.train });
      const sub = await post(s.url, '/v1/flatness', { model: ids.m1, dataset: ids.train, options: { draws: 500, trace: 'none' } });
      assert.equal(sub.status, 202, JSON.stringify(sub.body));
      const end = await waitJob(s.url, sub.body.job.id, {}, 100_000);
      assert.equal(end.state, 'failed');
      assert.equal(end.error?.code, 'time-limit', JSON.stringify(end.error));
    } finally {
      await s.cleanup();
    }
  });

  test('budgets grow with parameters, samples, draws, γ values, models and epochs', () => {
    const kind = (k: string) => JOB_KINDS.find((x) => x.kind === k)!;
    const small = { bytes: 1e5, parameters: 4e4, samples: 1000 };
    const big = { bytes: 1e8, parameters: 4e7, samples: 1000 };
    // Seconds beyond the fixed slack every job gets.
    const t = (k: string, payload: Json, work = small) => timeLimitSeconds(kind(k), payload, work, 1) - BASE_SECONDS;
    assert.ok(t('collapse', { options: {} }, big) > 100 * t('collapse', { options: {} }));
    assert.ok(t('collapse', { options: {} }) < 300, 'a small collapse gets minutes');
    const fl = (o: Json, w = small) => t('flatness', { options: { gamma: [1e3, 1e4, 1e5], draws: 1000, ...o } }, w);
    assert.ok(fl({ draws: 10_000 }) > 5 * fl({}));
    assert.ok(fl({ gamma: [1e3] }) < fl({}));
    assert.ok(fl({ trace: 'exact' }) > fl({ trace: 'hutchinson' }));
    const tx = (n: number, o: Json) =>
      t('taxonomy', { models: Array.from({ length: n }), options: { epochs: 50, ...o } }, { ...small, parameters: n * 4e4 });
    assert.ok(tx(6, {}) > 1.5 * tx(3, {}));
    assert.ok(tx(3, { epochs: 500 }) > 5 * tx(3, {}));
    assert.ok(tx(6, { pairs: 'all' }) > tx(6, {}));
  });
});
