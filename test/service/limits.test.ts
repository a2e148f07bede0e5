/**
 * Issue 16 finding 2: job parameters have server-side caps (configurable with WEIGHTSCOPE_LIMITS) answered with a
 * 422 naming the cap; every job has a wall-clock limit that scales with its work (WEIGHTSCOPE_JOB_TIME_FACTOR) and a
 * heap limit (WEIGHTSCOPE_JOB_HEAP); a job over either fails with a reason, and the server and other jobs go on.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { JOB_KINDS } from '../../src/service/jobs/kinds/index.js';
import { timeLimitSeconds } from '../../src/service/jobs/limits.js';
import { fixture } from '../helpers/fixtures.js';
import { type Json, post, startTestServer, waitJob } from './helpers.js';

function assertLimit(r: { status: number; body: Json }, option: string, cap: number): void {
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.type, 'urn:weightscope:problem:limit-exceeded');
  assert.match(r.body.detail, new RegExp(`${option}.*over this server's limit of ${cap}.*WEIGHTSCOPE_LIMITS`));
}

describe('parameter caps', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  const ids: Record<string, string> = {};
  before(async () => {
    s = await startTestServer({ WEIGHTSCOPE_LIMITS: 'hessian.maxIter=500' });
    ids.model = (await post(s.url, '/v1/models?name=mlp48.onnx', readFileSync(fixture('fmnist-hessian', 'mlp48.onnx')), true)).body.id;
    ids.st = (await post(s.url, '/v1/models', readFileSync(fixture('stories260k', 'model.safetensors')), true)).body.id;
    ids.data = (await post(s.url, '/v1/datasets', readFileSync(fixture('fmnist-hessian', 'batch.safetensors')), true)).body.id;
  });
  after(() => s.cleanup());

  test('absurd Hessian, curve and analysis parameters are a 422 naming the cap; the configured cap applies', async () => {
    assertLimit(
      await post(s.url, '/v1/hessians', { model: ids.model, dataset: ids.data, options: { maxIter: 1_000_000_000 } }),
      'maxIter',
      500,
    );
    assertLimit(
      await post(s.url, '/v1/hessians', { model: ids.model, dataset: ids.data, options: { density: true, densityBins: 1e9 } }),
      'densityBins',
      100_000,
    );
    assertLimit(
      await post(s.url, '/v1/hessians', { model: ids.model, dataset: ids.data, options: { batchSize: 1e9 } }),
      'batchSize',
      65_536,
    );
    assertLimit(
      await post(s.url, '/v1/connectivity', { models: [ids.model, ids.model], data: ids.data, options: { samplesPerEpoch: 1e12 } }),
      'samplesPerEpoch',
      10_000_000,
    );
    assertLimit(await post(s.url, '/v1/analyses', { model: ids.st, options: { workers: 256 } }), 'workers', 16);
    // At the caps a request is accepted.
    const ok = await post(s.url, '/v1/hessians', {
      model: ids.model,
      dataset: ids.data,
      options: { maxIter: 500, topK: 1, samples: 10, tol: 1 },
    });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal((await waitJob(s.url, ok.body.job.id)).state, 'succeeded');
  });
});

test('a bad WEIGHTSCOPE_LIMITS entry stops the server from starting, naming it', async () => {
  await assert.rejects(startTestServer({ WEIGHTSCOPE_LIMITS: 'hessian.nope=5' }), /WEIGHTSCOPE_LIMITS.*hessian\.nope/);
  await assert.rejects(startTestServer({ WEIGHTSCOPE_LIMITS: 'hessian.maxIter=-1' }), /WEIGHTSCOPE_LIMITS/);
});

test('time limits scale with the work: a 70B-sized analysis gets hours, a tiny one minutes', () => {
  const analysis = JOB_KINDS.find((k) => k.kind === 'analysis')!;
  const tiny = timeLimitSeconds(analysis, { options: {} }, { bytes: 1e6, parameters: 5e5, samples: 0 }, 1);
  const llama70b = timeLimitSeconds(analysis, { options: {} }, { bytes: 140e9, parameters: 70e9, samples: 0 }, 1);
  assert.ok(tiny <= 600, `tiny: ${tiny} s`);
  assert.ok(llama70b >= 10 * 3600, `70B: ${llama70b} s`);
  assert.equal(timeLimitSeconds(analysis, { options: {} }, { bytes: 140e9, parameters: 70e9, samples: 0 }, 2), 2 * llama70b);
  const hessian = JOB_KINDS.find((k) => k.kind === 'hessian')!;
  const small = timeLimitSeconds(hessian, { options: { topK: 1, maxIter: 100 } }, { bytes: 0, parameters: 4e4, samples: 1000 }, 1);
  const more = timeLimitSeconds(hessian, { options: { topK: 1, maxIter: 100 } }, { bytes: 0, parameters: 4e7, samples: 1000 }, 1);
  assert.ok(more > small * 100, `${small} → ${more}`);
});

test('a repair budget counts trigger reversal when the recipe may run it (unlearn unset or > 0), not with unlearn 0', () => {
  const repair = JOB_KINDS.find((k) => k.kind === 'repair')!;
  const work = { bytes: 0, parameters: 4e5, samples: 3000 };
  const budget = (options: Record<string, unknown>) => timeLimitSeconds(repair, { options }, work, 1);
  const off = budget({ unlearn: 0 });
  // 2 endpoints × 10 classes + 2 restarts × 3 checked points, 300 steps of 128 samples, 8 flop per parameter per sample.
  const reversal = ((2 * 10 + 2 * 3) * 300 * 128 * 8 * (work.parameters / 2)) / 2e8;
  assert.ok(Math.abs(budget({}) - off - reversal) < 1e-6 * off, `${budget({})} vs ${off} + ${reversal}`);
  assert.equal(budget({ unlearn: 0.5 }), budget({}));
  assert.ok(budget({ cleanseSteps: 3000 }) > budget({}) + 9 * reversal * 0.99);
});

describe('time and heap limits of running jobs', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    s = await startTestServer({
      WEIGHTSCOPE_DEBUG_JOBS: '1',
      WEIGHTSCOPE_JOB_TIME_FACTOR: '0.5',
      WEIGHTSCOPE_JOB_HEAP: '96MiB',
      WEIGHTSCOPE_JOB_CONCURRENCY: '2',
    });
  });
  after(() => s.cleanup());

  test('a job over its time limit fails with code time-limit naming the factor; a job within it succeeds', async () => {
    // A 10 s job with a budget of 4 s, halved by the factor: stopped after 2 s.
    const slow = await post(s.url, '/v1/debug/jobs', { steps: 100, ms: 100, budget: 4, cache: false });
    const quick = await post(s.url, '/v1/debug/jobs', { steps: 1, ms: 1, cache: false });
    const end = await waitJob(s.url, slow.body.job.id, {}, 60_000);
    assert.equal(end.state, 'failed');
    assert.equal(end.error!.code, 'time-limit');
    assert.match(end.error!.message, /time limit of 2 s .*WEIGHTSCOPE_JOB_TIME_FACTOR/);
    assert.equal((await waitJob(s.url, quick.body.job.id)).state, 'succeeded');
  });

  test('a job over WEIGHTSCOPE_JOB_HEAP fails with code out-of-memory; the server lives on', async () => {
    const hog = await post(s.url, '/v1/debug/jobs', { steps: 1, ms: 1, allocateMb: 1024, cache: false });
    const end = await waitJob(s.url, hog.body.job.id, {}, 60_000);
    assert.equal(end.state, 'failed', JSON.stringify(end));
    assert.equal(end.error!.code, 'out-of-memory');
    assert.match(end.error!.message, /96 MiB.*WEIGHTSCOPE_JOB_HEAP/);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const after1 = await post(s.url, '/v1/debug/jobs', { steps: 1, ms: 1, value: 5, cache: false });
    assert.equal((await waitJob(s.url, after1.body.job.id)).state, 'succeeded');
  });
});
