/** The connectivity and repair API on fmnist-backdoor: jobs, results, the repaired model's files (CI-sized runs). */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { fixture } from '../helpers/fixtures.js';
import { type Json, post, startTestServer, waitJob } from './helpers.js';

const F = (f: string) => fixture('fmnist-backdoor', f);

describe('connectivity and repair API', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  const ids: Record<string, string> = {};
  before(async () => {
    s = await startTestServer();
    for (const m of ['model_a', 'model_b']) {
      const r = await post(s.url, `/v1/models?name=${m}.onnx`, readFileSync(F(`${m}.onnx`)), true);
      assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
      ids[m] = r.body.id;
    }
    for (const d of ['clean_subset', 'test_clean', 'test_triggered']) {
      const r = await post(s.url, `/v1/datasets?name=${d}.safetensors`, readFileSync(F(`${d}.safetensors`)), true);
      assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
      ids[d] = r.body.id;
    }
  });
  after(async () => {
    await s.cleanup();
  });

  test('POST /v1/connectivity (no training): the straight line at t = 0.5 has the reference clean accuracy and ASR', async () => {
    const sub = await post(s.url, '/v1/connectivity', {
      models: [ids.model_a, ids.model_b],
      data: ids.clean_subset,
      evalData: [ids.test_clean],
      triggered: ids.test_triggered,
      options: { epochs: 0, ts: [0, 0.5, 1] },
    });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const job = await waitJob(s.url, sub.body.job.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.result, `/v1/connectivity/${sub.body.job.id}`);
    const r = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    const mid = r.along.find((p: Json) => p.t === 0.5);
    assert.equal(mid.sets.eval.accuracy, 0.3605);
    assert.equal(mid.sets.triggered.accuracy, 0.6025);
    assert.deepEqual(r.models, [ids.model_a, ids.model_b]);
    assert.ok(!JSON.stringify(r).includes(s.dataDir), 'no server paths in results');
    const bad = await post(s.url, '/v1/connectivity', {
      models: [ids.model_a, ids.model_b],
      data: ids.clean_subset,
      options: { bends: 1 },
    });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    const missing = await post(s.url, '/v1/connectivity', { models: [ids.model_a, ids.model_b], data: 'nope' });
    assert.equal(missing.status, 404);
  });

  test('POST /v1/repairs (2 epochs × 256 samples, polish 1 × 128): report, then the model as ONNX (runs in onnxruntime) and safetensors', async () => {
    const body = {
      models: [ids.model_a, ids.model_b],
      data: ids.clean_subset,
      triggered: ids.test_triggered,
      options: {
        epochs: 2,
        samplesPerEpoch: 256,
        batchSize: 64,
        ts: [0, 0.5, 1],
        baseline: false,
        l2: 0.03,
        polishEpochs: 1,
        polishSamplesPerEpoch: 128,
      },
    };
    const sub = await post(s.url, '/v1/repairs', body);
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    // Progress names its phase: each phase restarts "epoch 1/N", which alone reads as going backwards.
    const events = await (await fetch(`${s.url}/v1/jobs/${sub.body.job.id}/events`)).text();
    const messages = [...events.matchAll(/event: progress\ndata: (.*)\n/g)].map((m) => (JSON.parse(m[1]) as Json).message as string);
    assert.ok(messages.length > 0, events.slice(0, 500));
    for (const m of messages) assert.match(m, /^(curve training|evaluation along t|(polishing|refit) t = [\d.]+|fine-tuning [\w ()]+): /);
    const job = await waitJob(s.url, sub.body.job.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    const rep = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.equal(rep.choice.t, 0.5);
    assert.equal(rep.data.heldOut, 600);
    assert.ok(!JSON.stringify(rep).includes(s.dataDir), 'no server paths in results');
    const onnxRes = await fetch(`${s.url}/v1/repairs/${sub.body.job.id}/model?format=onnx`);
    assert.equal(onnxRes.status, 200);
    const bytes = new Uint8Array(await onnxRes.arrayBuffer());
    const session = await ort.InferenceSession.create(bytes);
    const x = new Float32Array(2 * 784);
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [2, 1, 28, 28]) });
    assert.deepEqual(out[session.outputNames[0]].dims, [2, 10]);
    const st = await fetch(`${s.url}/v1/repairs/${sub.body.job.id}/model?format=safetensors`);
    assert.equal(st.status, 200);
    const head = new Uint8Array(await st.arrayBuffer());
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(head.subarray(8, 8 + n))) as Json;
    assert.deepEqual(header['fc1.weight'].shape, [64, 784]);
    assert.equal(header.__metadata__.t, '0.5');
    const badFormat = await fetch(`${s.url}/v1/repairs/${sub.body.job.id}/model?format=pt`);
    assert.equal(badFormat.status, 400);
    // The same request again: answered from the cache.
    const again = await post(s.url, '/v1/repairs', body);
    assert.equal(again.status, 200, 'cached');
    assert.equal(again.body.job.id, sub.body.job.id);
  });
});
