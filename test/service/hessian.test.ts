/** The Hessian and comparison API: datasets stored like models, jobs with progress, results matching the references. */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { type Json, post, startTestServer, waitJob } from './helpers.js';

const ref = JSON.parse(readFileSync(fixture('fmnist-hessian', 'reference.json'), 'utf8')).mlp48 as {
  top_eigenvalues: number[];
  trace_exact: number;
  loss: number;
};

describe('Hessian API', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s.cleanup();
  });

  test('datasets: 201 then 200 for the same bytes; a file without x is a 4xx problem', async () => {
    const bytes = readFileSync(fixture('fmnist-hessian', 'batch.safetensors'));
    const a = await post(s.url, '/v1/datasets?name=batch.safetensors', bytes, true);
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.body.samples, 1000);
    assert.deepEqual(a.body.x_shape, [1000, 1, 28, 28]);
    assert.equal(a.body.labels, true);
    const b = await post(s.url, '/v1/datasets', bytes, true);
    assert.equal(b.status, 200);
    assert.equal(b.body.id, a.body.id);
    const list = (await (await fetch(`${s.url}/v1/datasets`)).json()) as Json;
    assert.equal(list.datasets.length, 1);
    const bad = await post(s.url, '/v1/datasets', readFileSync(fixture('fmnist-hessian', 'mlp48.safetensors')), true);
    assert.ok(bad.status >= 400 && bad.status < 500, JSON.stringify(bad.body));
    assert.match(bad.body.detail ?? bad.body.title, /no tensor 'x'/);
    assert.ok(!JSON.stringify(bad.body).includes(s.dataDir), 'no server paths in errors');
  });

  test('hessian job on mlp48: Lanczos top-2 and trace match the reference; cached on resubmission; comparison', async () => {
    const model = await post(s.url, '/v1/models', readFileSync(fixture('fmnist-hessian', 'mlp48.onnx')), true);
    assert.ok(model.status === 201 || model.status === 200, JSON.stringify(model.body));
    const ds = await post(s.url, '/v1/datasets', readFileSync(fixture('fmnist-hessian', 'batch.safetensors')), true);
    const req = {
      model: model.body.id,
      dataset: ds.body.id,
      options: { topK: 2, lanczos: true, tol: 1e-6, trace: true, batchSize: 1000, seed: 5 },
    };
    const sub = await post(s.url, '/v1/hessians', req);
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const job = await waitJob(s.url, sub.body.job.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.result, `/v1/hessians/${sub.body.job.id}`);
    const r = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    r.top_eigenvalues.forEach((v: number, i: number) =>
      assert.ok(Math.abs(v - ref.top_eigenvalues[i]) < 1e-4 * ref.top_eigenvalues[i], `λ${i + 1} ${v}`),
    );
    assert.ok(Math.abs(r.trace.mean - ref.trace_exact) < 3 * r.trace.stderr);
    assert.ok(Math.abs(r.loss - ref.loss) < 1e-5);
    const again = await post(s.url, '/v1/hessians', req);
    assert.equal(again.status, 200);
    assert.equal(again.body.job.id, sub.body.job.id);

    const bad = await post(s.url, '/v1/hessians', { ...req, options: { topK: -1 } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const unknown = await post(s.url, '/v1/hessians', { ...req, dataset: 'nope' });
    assert.equal(unknown.status, 404);

    const cmp = await post(s.url, '/v1/comparisons', {
      models: [model.body.id, model.body.id],
      dataset: ds.body.id,
      options: { samples: 100 },
    });
    assert.equal(cmp.status, 202, JSON.stringify(cmp.body));
    const cj = await waitJob(s.url, cmp.body.job.id);
    assert.equal(cj.state, 'succeeded', JSON.stringify(cj.error));
    const c = (await (await fetch(`${s.url}${cj.result}`)).json()) as Json;
    assert.ok(Math.abs(c.cka - 1) < 1e-12);
    assert.equal(c.l2_distance, 0);
  });
});
