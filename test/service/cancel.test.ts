/**
 * Issue 16 finding 0: cancelling a running job must stop it between onnxruntime runs, mark it `cancelled`, and
 * leave the server and every other job alive. The server is a separate process (a native abort would otherwise
 * take the test runner with it); every job kind is cancelled mid-run, several times, and then a job of each
 * onnxruntime kind still completes.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { post, runningWithProgress, spawnServer, tempDataDir, waitJob, type Json } from './helpers.js';

test('cancelling running jobs of every kind, repeatedly: each ends cancelled, the server lives, later jobs succeed', {
  timeout: 300_000,
}, async () => {
  const data = tempDataDir();
  const { child, url } = await spawnServer({ WEIGHTSCOPE_DATA: data.dir, WEIGHTSCOPE_JOB_CONCURRENCY: '1', WEIGHTSCOPE_THREADS: '1' });
  let exit: string | null = null;
  child.once('exit', (code, signal) => (exit = `exit ${code} ${signal}`));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const ids: Record<string, string> = {};
    for (const [key, dir, file] of [
      ['a', 'fmnist-backdoor', 'model_a.onnx'],
      ['b', 'fmnist-backdoor', 'model_b.onnx'],
      ['gpt2', 'gpt2-tiny', 'model.safetensors'],
      ['stories', 'stories260k', 'model.safetensors'],
    ]) {
      const r = await post(url, `/v1/models?name=${file}`, readFileSync(fixture(dir, file)), true);
      assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
      ids[key] = r.body.id;
    }
    const ds = await post(
      url,
      '/v1/datasets?name=clean.safetensors',
      readFileSync(fixture('fmnist-backdoor', 'clean_subset.safetensors')),
      true,
    );
    ids.data = ds.body.id;
    const long = (seed: number): Record<string, [string, Json]> => ({
      analysis: ['/v1/analyses', { model: ids.gpt2, fits: ['etpl'], options: { plVariant: seed % 2 ? 'kdd' : 'ww', minEvals: 1 + seed } }],
      ranking: ['/v1/rankings', { models: [ids.gpt2, ids.stories], metric: 'etpl_beta', options: { minEvals: 1 + seed } }],
      hessian: [
        '/v1/hessians',
        {
          model: ids.a,
          dataset: ids.data,
          options: { topK: 3, maxIter: 100, tol: 1e-12, trace: true, traceMaxIter: 100, traceTol: 1e-12, seed },
        },
      ],
      comparison: ['/v1/comparisons', { models: [ids.a, ids.b], dataset: ids.data, options: { batchSize: 8 + seed } }],
      connectivity: [
        '/v1/connectivity',
        { models: [ids.a, ids.b], data: ids.data, options: { epochs: 200, samplesPerEpoch: 512, batchSize: 32, seed } },
      ],
      repair: [
        '/v1/repairs',
        { models: [ids.a, ids.b], data: ids.data, options: { epochs: 200, samplesPerEpoch: 512, batchSize: 32, seed, baseline: false } },
      ],
    });
    const outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [kind, [path, body]] of Object.entries(long(round))) {
        const sub = await post(url, path, body);
        assert.equal(sub.status, 202, `${kind}: ${JSON.stringify(sub.body)}`);
        const id = sub.body.job.id as string;
        const seen = await runningWithProgress(url, id);
        const del = await fetch(`${url}/v1/jobs/${id}`, { method: 'DELETE' }).catch(async (e: Error) => {
          await new Promise((r) => setTimeout(r, 200));
          throw new Error(`${kind} round ${round}: DELETE failed (${e.message}); server: ${exit ?? 'alive'}\n${stderr.slice(-1500)}`);
        });
        assert.equal(del.status, 200, `${kind} round ${round}: DELETE answered ${del.status} (${exit ?? 'alive'}) ${stderr.slice(-2000)}`);
        const answer = ((await del.json()) as Json).state as string;
        const end = await waitJob(url, id, {}, 120_000);
        outcomes.push(`${kind}:${seen.state}->${answer}->${end.state}`);
        // A job that finished before the DELETE arrived stays succeeded; one that was running is cancelled for good.
        if (answer !== 'succeeded') assert.equal(end.state, 'cancelled', `${kind} round ${round}: ${JSON.stringify(end)}`);
        assert.equal(exit, null, `the server died cancelling ${kind} (round ${round}): ${exit}\n${stderr.slice(-2000)}`);
        assert.equal((await fetch(`${url}/healthz`)).status, 200);
      }
    }
    assert.ok(outcomes.filter((o) => o.endsWith('->cancelled')).length >= 12, outcomes.join(' '));
    // The queue still runs jobs of each onnxruntime kind to the end.
    const quick = [
      ['/v1/connectivity', { models: [ids.a, ids.b], data: ids.data, options: { epochs: 0, ts: [0, 1] } }],
      ['/v1/hessians', { model: ids.a, dataset: ids.data, options: { topK: 1, maxIter: 5, samples: 64 } }],
    ] as const;
    for (const [path, body] of quick) {
      const sub = await post(url, path, body);
      const end = await waitJob(url, sub.body.job.id, {}, 120_000);
      assert.equal(end.state, 'succeeded', `${path}: ${JSON.stringify(end.error)}`);
    }
    assert.equal(exit, null);
  } finally {
    child.kill('SIGKILL');
    data.cleanup();
  }
});
