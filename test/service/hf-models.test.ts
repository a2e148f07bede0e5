/**
 * Hugging Face folders as stored models (issue 12, item 6): uploaded as several files, a folder's Hessian job runs its
 * config.json graph and equals the library on the same folder; the fit check knows the folder's input (token ids for
 * GPT-2); the science kinds that read ONNX only say so; a repair of two ViT folders downloads as a ZIP of the repaired
 * folder that the library reopens to exactly the job's reported clean accuracy.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';
import { loadModelData } from '../../src/data/model-data.js';
import { hessianOnFiles } from '../../src/landscape/hessian/files.js';
import { modelForward } from '../../src/model-io/engine.js';
import { openModel } from '../../src/model-io/open.js';
import { fixture } from '../helpers/fixtures.js';
import { type Json, post, postFolder, startTestServer, waitJob } from './helpers.js';

const GPT2 = fixture('gpt2-tiny');
const VIT = fixture('vit-fmnist-backdoor');
const D = (f: string) => fixture('fmnist-backdoor', f);
const lmRef = JSON.parse(readFileSync(join(GPT2, 'lm_reference.json'), 'utf8')) as { top_eigenvalues: number[] };

describe('Hugging Face folders in the service', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s.cleanup();
  });

  test('gpt2-tiny folder: its inputs are token ids, the Hessian job runs the config.json graph and equals the library', {
    timeout: 300_000,
  }, async (t) => {
    const m = await postFolder(s.url, GPT2, ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'], 'gpt2-tiny');
    assert.equal(m.status, 201, JSON.stringify(m.body));
    assert.deepEqual(m.body.inputs, [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 'sequence'] }]);
    const ds = await post(s.url, '/v1/datasets?name=lm_batch.safetensors', readFileSync(join(GPT2, 'lm_batch.safetensors')), true);
    assert.equal(ds.status, 201, JSON.stringify(ds.body));

    // Images do not fit a language model: refused at submission, naming the input.
    const images = await post(
      s.url,
      '/v1/datasets?name=batch.safetensors',
      readFileSync(fixture('fmnist-hessian', 'batch.safetensors')),
      true,
    );
    const misfit = await post(s.url, '/v1/hessians', { model: m.body.id, dataset: images.body.id });
    assert.equal(misfit.status, 422, JSON.stringify(misfit.body));
    assert.match(misfit.body.detail, /input 'input_ids'/);
    // The science kinds read ONNX graphs only: a clear 400 instead of a job that fails.
    const flat = await post(s.url, '/v1/flatness', { model: m.body.id, dataset: ds.body.id });
    assert.equal(flat.status, 400, JSON.stringify(flat.body));
    assert.match(flat.body.detail, /ONNX models only.*Hugging Face folder/);

    const options = { topK: 1, lanczos: true, maxIter: 40, tol: 1e-5, batchSize: 8, seed: 3 };
    const sub = await post(s.url, '/v1/hessians', { model: m.body.id, dataset: ds.body.id, options });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const job = await waitJob(s.url, sub.body.job.id, {}, 240_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    const r = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.equal(r.route, 'config.json');
    assert.equal(r.architecture, 'GPT2LMHeadModel');
    const lib = await hessianOnFiles(GPT2, { data: join(GPT2, 'lm_batch.safetensors') }, options);
    t.diagnostic(`λ1 job ${r.top_eigenvalues[0]} library ${lib.top_eigenvalues![0]} reference ${lmRef.top_eigenvalues[0]}`);
    assert.equal(r.top_eigenvalues[0], lib.top_eigenvalues![0]);
    assert.equal(r.loss, lib.loss);
    assert.ok(
      Math.abs(r.top_eigenvalues[0] - lmRef.top_eigenvalues[0]) < 1e-3 * lmRef.top_eigenvalues[0],
      `λ1 ${r.top_eigenvalues[0]} vs ${lmRef.top_eigenvalues[0]}`,
    );

    // Weights without config.json: no graph for any data-driven job.
    const bare = await post(s.url, '/v1/models', readFileSync(join(GPT2, 'model.safetensors')), true);
    const refused = await post(s.url, '/v1/hessians', { model: bare.body.id, dataset: ds.body.id });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(refused.body.detail, /neither an ONNX graph nor a Hugging Face folder's config.json/);
  });

  test('repair of two ViT folders: the result names the route; the ZIP download reopens to the reported clean accuracy', {
    timeout: 600_000,
  }, async (t) => {
    const files = ['config.json', 'model.safetensors', 'preprocessor_config.json'];
    const [a, b] = [
      await postFolder(s.url, join(VIT, 'model_a'), files, 'vit a'),
      await postFolder(s.url, join(VIT, 'model_b'), files, 'vit b'),
    ];
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.deepEqual(a.body.inputs, [{ name: 'pixel_values', dtype: 'float32', shape: ['batch', 1, 28, 28] }]);
    const ds: Record<string, string> = {};
    for (const f of ['clean_subset', 'test_clean', 'test_triggered'])
      ds[f] = (await post(s.url, `/v1/datasets?name=${f}.safetensors`, readFileSync(D(`${f}.safetensors`)), true)).body.id;
    const options = { epochs: 1, samplesPerEpoch: 256, polishEpochs: 0, ts: [0, 0.5, 1], baseline: false, l2: 0.03, cleanseSteps: 20 };
    const sub = await post(s.url, '/v1/repairs', {
      models: [a.body.id, b.body.id],
      data: ds.clean_subset,
      evalData: ds.test_clean,
      triggered: ds.test_triggered,
      options,
    });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const job = await waitJob(s.url, sub.body.job.id, {}, 540_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    const r = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.equal(r.modelFormat, 'hf');
    // The transformer recipe reversed both endpoints' triggers (20 steps: a short run; the report carries them).
    assert.equal(r.options.unlearn, 0.2);
    assert.deepEqual(
      r.cleanse.endpoints.map((e: Json) => [e.endpoint, e.l1.length]),
      [
        ['A', 10],
        ['B', 10],
      ],
    );
    assert.deepEqual(
      r.routes.map((x: Json) => `${x.route} ${x.architecture}`),
      ['config.json ViTForImageClassification', 'config.json ViTForImageClassification'],
    );
    assert.deepEqual(Object.keys(r.files).sort(), ['config.json', 'model.safetensors', 'preprocessor_config.json']);

    const id = sub.body.job.id as string;
    const z = await fetch(`${s.url}/v1/repairs/${id}/model`);
    assert.equal(z.status, 200);
    assert.equal(z.headers.get('content-type'), 'application/zip');
    assert.equal(z.headers.get('content-disposition'), `attachment; filename="repaired-${id.slice(0, 8)}.zip"`);
    const entries = unzipSync(new Uint8Array(await z.arrayBuffer()));
    const top = `repaired-${id.slice(0, 8)}`;
    assert.deepEqual(Object.keys(entries).sort(), files.map((f) => `${top}/${f}`).sort());
    assert.deepEqual(entries[`${top}/config.json`], new Uint8Array(readFileSync(join(VIT, 'model_a', 'config.json'))));
    const single = await fetch(`${s.url}/v1/repairs/${id}/model?format=safetensors`);
    assert.deepEqual(new Uint8Array(await single.arrayBuffer()), entries[`${top}/model.safetensors`]);
    const onnx = await fetch(`${s.url}/v1/repairs/${id}/model?format=onnx`);
    assert.equal(onnx.status, 404);
    assert.match(((await onnx.json()) as Json).detail, /Hugging Face folder: download it with format=zip/);

    const dir = await mkdtemp(join(tmpdir(), 'ws-hf-zip-'));
    try {
      for (const [name, data] of Object.entries(entries)) {
        await mkdir(dirname(join(dir, name)), { recursive: true });
        await writeFile(join(dir, name), data);
      }
      const m = await openModel(join(dir, top));
      assert.equal(m.route, 'config.json');
      const { forward, values } = await modelForward(m);
      const clean = await forward.evaluate(values, await loadModelData(m, { data: D('test_clean.safetensors') }), {
        batchSize: 500,
        loss: 'classification',
      });
      t.diagnostic(
        `repaired (t = ${r.choice.t}): reported clean accuracy ${r.repaired.heldOut.accuracy}, reopened from the zip ${clean.accuracy}`,
      );
      assert.equal(clean.accuracy, r.repaired.heldOut.accuracy);
      assert.ok(Math.abs(clean.loss - r.repaired.heldOut.loss) <= 1e-6 * Math.abs(r.repaired.heldOut.loss));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
