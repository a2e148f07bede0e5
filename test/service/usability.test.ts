/**
 * Issue 16, "tried as a new user would": models record their ONNX graph inputs; a dataset that does not fit the
 * model is a 422 when the job is submitted (not a job that starts and fails), and GET /v1/datasets?model= marks which
 * fit; models uploaded without a name are named after their weights file; the Hessian result carries a display
 * density that reaches past the extreme Ritz values.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { defaultModelName } from '../../src/service/store/models.js';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('models, datasets and what fits', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  const ids: Record<string, string> = {};
  const raw = async (path: string, file: string): Promise<Json> =>
    (await (
      await fetch(`${s.url}${path}`, { method: 'POST', body: readFileSync(file), headers: { 'content-type': 'application/octet-stream' } })
    ).json()) as Json;
  const post = async (path: string, body: unknown): Promise<{ status: number; body: Json }> => {
    const r = await fetch(`${s.url}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return { status: r.status, body: (await r.json()) as Json };
  };
  before(async () => {
    s = await startTestServer();
    const mlp = await raw('/v1/models?name=mlp48.onnx', fixture('fmnist-hessian', 'mlp48.onnx'));
    ids.mlp = mlp.id;
    ids.images = (await raw('/v1/datasets?name=batch.safetensors', fixture('fmnist-hessian', 'batch.safetensors'))).id;
    ids.tokens = (await raw('/v1/datasets?name=lm_batch.safetensors', fixture('gpt2-tiny', 'lm_batch.safetensors'))).id;
  });
  after(() => s.cleanup());

  test('an ONNX model lists its graph inputs; a safetensors model has none', async () => {
    const m = (await (await fetch(`${s.url}/v1/models/${ids.mlp}`)).json()) as Json;
    assert.deepEqual(m.inputs, [{ name: 'input', dtype: 'float32', shape: ['batch', 1, 28, 28] }]);
    const st = await raw('/v1/models', fixture('stories260k', 'model.safetensors'));
    assert.equal(st.inputs, null);
  });

  test('a dataset that does not fit the model is a 422 naming both shapes; ?model= marks the fitting datasets', async () => {
    const bad = await post('/v1/hessians', { model: ids.mlp, dataset: ids.tokens });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.equal(bad.body.type, 'urn:weightscope:problem:shape-mismatch');
    assert.match(
      bad.body.detail,
      /lm_batch\.safetensors \(x \[\d+, \d+\] int64\) does not fit model mlp48\.onnx: .*input 'input' \[batch, 1, 28, 28\] float32/,
    );
    const conn = await post('/v1/connectivity', { models: [ids.mlp, ids.mlp], data: ids.tokens });
    assert.equal(conn.status, 422);
    const list = (await (await fetch(`${s.url}/v1/datasets?model=${ids.mlp}`)).json()) as Json;
    const fit = Object.fromEntries(list.datasets.map((d: Json) => [d.id, d.fit.ok]));
    assert.deepEqual(fit, { [ids.images]: true, [ids.tokens]: false });
    assert.equal((await fetch(`${s.url}/v1/datasets?model=${'f'.repeat(64)}`)).status, 404);
  });

  test('the Hessian result has a display density reaching past the top Ritz value (its peak is drawn whole)', async () => {
    const sub = await post('/v1/hessians', {
      model: ids.mlp,
      dataset: ids.images,
      options: { density: true, densitySteps: 20, samples: 200, batchSize: 200 },
    });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    assert.equal((await waitJob(s.url, sub.body.job.id)).state, 'succeeded');
    const r = (await (await fetch(`${s.url}/v1/hessians/${sub.body.job.id}`)).json()) as Json;
    const top = Math.max(...r.density.nodes[0]);
    const bottom = Math.min(...r.density.nodes[0]);
    const sigma = Math.sqrt(1e-5 * Math.max(1, top - bottom + 0.02));
    const grid = r.density.display.grid as number[];
    assert.ok(
      grid.at(-1)! >= top + 5 * sigma && grid[0] <= bottom - 5 * sigma,
      `display grid [${grid[0]}, ${grid.at(-1)}] around nodes [${bottom}, ${top}]`,
    );
    // The kernel has fallen to almost nothing at the display grid's ends, unlike at PyHessian's (one width out).
    const v = r.density.display.values as number[];
    assert.ok(v.at(-1)! < 1e-6 * Math.max(...v));
    assert.equal(r.density.grid.length, 10000, 'the PyHessian grid is kept as it was');
  });
});

test('a model uploaded without a name is named after its weights file', () => {
  assert.equal(defaultModelName([{ name: 'model.safetensors' }]), 'model.safetensors');
  assert.equal(defaultModelName([{ name: 'config.json' }, { name: 'model.safetensors' }]), 'model.safetensors (+1 file)');
  assert.equal(
    defaultModelName([{ name: 'tokenizer.json' }, { name: 'onnx/model.onnx' }, { name: 'config.json' }]),
    'onnx/model.onnx (+2 files)',
  );
});
