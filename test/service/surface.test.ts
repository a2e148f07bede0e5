/**
 * Issue 15's API: POST /v1/surfaces (the grid equals the library's on the same options; the untrained surface is the
 * bilinear interpolation, its exported best point included), POST /v1/attacks (equal to attackModel), the repair
 * job's report-only `targets` (attack success before and after equal to the library's) and its trade-off curve;
 * bad requests, caps and cancellation. CI-sized runs on surface-mlp and fmnist-injected.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connectSurface } from '../../src/landscape/connectivity/connect-surface.js';
import { repair } from '../../src/landscape/repair/repair.js';
import { attackModel } from '../../src/landscape/robustness/attack-model.js';
import { fixture } from '../helpers/fixtures.js';
import { type Json, post, runningWithProgress, startTestServer, waitJob } from './helpers.js';
import { parseSafetensorsHeader } from '../../src/io/safetensors.js';

const S = (f: string) => fixture('surface-mlp', f);
const I = (f: string) => fixture('fmnist-injected', f);
const REF = JSON.parse(readFileSync(S('reference.json'), 'utf8')) as {
  corner_test_loss: number[];
  bilinear_center: { test_acc: number; test_loss: number };
  models: Record<string, { test_acc: number }>;
};

/** The F32 tensors of a safetensors file's bytes, by name. */
function readSafetensorsBytes(bytes: Uint8Array): Map<string, Float32Array> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const h = parseSafetensorsHeader('download', bytes.subarray(8, 8 + n), bytes.byteLength);
  const out = new Map<string, Float32Array>();
  for (const t of h.tensors) {
    if (t.info.dtype !== 'F32') continue;
    const b = bytes.slice(h.dataStart + t.begin, h.dataStart + t.end);
    out.set(t.info.name, new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4));
  }
  return out;
}

describe('surfaces, attacks and error-injection repair API', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  const ids: Record<string, string> = {};
  const upload = async (path: string, name: string, file: string) => {
    const r = await post(s.url, `${path}?name=${name}`, readFileSync(file), true);
    assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const run = async (path: string, body: unknown): Promise<{ id: string; r: Json }> => {
    const sub = await post(s.url, path, body);
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const job = await waitJob(s.url, sub.body.job.id, {}, 240_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.result, `${path}/${sub.body.job.id}`);
    const r = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.ok(!JSON.stringify(r).includes(s.dataDir), 'no server paths in results');
    return { id: sub.body.job.id, r };
  };
  before(async () => {
    s = await startTestServer();
    for (const m of ['m1', 'm2', 'm3', 'm4']) ids[m] = await upload('/v1/models', `${m}.onnx`, S(`${m}.onnx`));
    ids.clean = await upload('/v1/datasets', 'clean.safetensors', S('clean_subset.safetensors'));
    ids.test = await upload('/v1/datasets', 'test.safetensors', S('test.safetensors'));
    for (const m of ['model_a', 'model_b']) ids[`inj_${m}`] = await upload('/v1/models', `inj_${m}.onnx`, I(`${m}.onnx`));
    ids.injClean = await upload('/v1/datasets', 'inj_clean.safetensors', I('clean_subset.safetensors'));
    ids.injTargets = await upload('/v1/datasets', 'injected.safetensors', I('injected.safetensors'));
  });
  after(async () => {
    await s.cleanup();
  });

  test('untrained surface (epochs 0): corners = the models, centre = the bilinear centre, the exported best point = the bilinear combination of the corners', async () => {
    const options = { epochs: 0, grid: 5, ensemble: 2 };
    const { id, r } = await run('/v1/surfaces', {
      models: ['m1', 'm2', 'm3', 'm4'].map((m) => ids[m]),
      data: ids.clean,
      test: ids.test,
      options,
    });
    assert.deepEqual([r.patch.kind, r.grid.length, r.gridSet, r.dataset, r.testData], ['tensor', 25, 'test', ids.clean, ids.test]);
    r.corners.forEach((c: Json, k: number) => {
      assert.equal(c.accuracy, REF.models[`m${k + 1}`].test_acc, `corner M${k + 1} accuracy`);
      assert.ok(Math.abs(c.loss - REF.corner_test_loss[k]) < 1e-5, `corner M${k + 1} loss ${c.loss}`);
    });
    assert.equal(r.center.accuracy, REF.bilinear_center.test_acc);
    assert.ok(Math.abs(r.center.loss - REF.bilinear_center.test_loss) < 1e-5, `centre loss ${r.center.loss}`);
    // The exported model is w(u, v) of the bilinear surface: (1−u)(1−v)·M1 + u(1−v)·M2 + (1−u)v·M3 + uv·M4.
    const { u, v } = r.best;
    assert.ok(!(u % 1 === 0 && v % 1 === 0), 'the best point is not a corner');
    const res = await fetch(`${s.url}/v1/surfaces/${id}/model?format=safetensors`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', /surface-best\.safetensors/);
    const best = readSafetensorsBytes(new Uint8Array(await res.arrayBuffer()));
    const corners = [1, 2, 3, 4].map((k) => readSafetensorsBytes(readFileSync(S(`m${k}.safetensors`))));
    const w = [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v];
    let worst = 0;
    let checked = 0;
    for (const [name, t] of best) {
      const cs = corners.map((c) => c.get(name));
      if (cs.some((c) => !c)) continue;
      for (let i = 0; i < t.length; i++)
        worst = Math.max(worst, Math.abs(t[i] - w.reduce((acc, wk, k) => acc + wk * (cs[k] as Float32Array)[i], 0)));
      checked++;
    }
    assert.ok(checked >= 4, `${checked} tensors compared`);
    assert.ok(worst < 1e-6, `max |best − bilinear| = ${worst}`);
    assert.equal((await fetch(`${s.url}/v1/surfaces/${id}/model?format=onnx`)).status, 200);
  });

  test("trained surface (1 epoch × 512 samples, 3 × 3 grid): the job's grid, centre, barrier and ensembles equal the library's on the same options", async () => {
    const options = { epochs: 1, samplesPerEpoch: 512, batchSize: 64, grid: 3, ensemble: 3, seed: 5 };
    const models = ['m1', 'm2', 'm3'];
    const { r } = await run('/v1/surfaces', { models: models.map((m) => ids[m]), data: ids.clean, test: ids.test, options });
    const { result: lib } = await connectSurface(
      { models: models.map((m) => S(`${m}.onnx`)), data: S('clean_subset.safetensors'), test: S('test.safetensors') },
      options,
    );
    assert.equal(r.patch.kind, 'triangle');
    assert.equal(r.training.steps, 8);
    assert.equal(r.grid.length, lib.grid.length);
    for (const [i, g] of (r.grid as Json[]).entries()) {
      const l = lib.grid[i];
      assert.deepEqual([g.u, g.v, g.accuracy], [l.u, l.v, l.accuracy], `grid point ${i}`);
      assert.ok(Math.abs(g.loss - l.loss) <= 1e-6 * Math.max(1, l.loss), `grid loss at (${g.u}, ${g.v}): ${g.loss} vs ${l.loss}`);
    }
    assert.deepEqual(
      [r.center.u, r.center.v, r.center.accuracy, r.best.u, r.best.v],
      [lib.center.u, lib.center.v, lib.center.accuracy, lib.best.u, lib.best.v],
    );
    assert.ok(Math.abs(r.barrier.loss - lib.barrier.loss) < 1e-6, `barrier ${r.barrier.loss} vs ${lib.barrier.loss}`);
    assert.deepEqual(
      [r.ensemble.surface.accuracy, r.ensemble.corners.accuracy],
      [lib.ensemble.surface.accuracy, lib.ensemble.corners.accuracy],
    );
  });

  test('POST /v1/attacks: the job equals attackModel on the same model, data and options', async () => {
    const options = { eps: 0.1, steps: 3, samples: 300, hessianSamples: 50, hessianMaxIter: 8, seed: 3 };
    const { r } = await run('/v1/attacks', { model: ids.m1, dataset: ids.test, options });
    const lib = await attackModel({ model: S('m1.onnx'), data: S('test.safetensors') }, options);
    assert.equal(r.samples, 300);
    assert.deepEqual([r.clean.accuracy, r.adversarial.accuracy], [lib.clean.accuracy, lib.adversarial.accuracy]);
    assert.ok(
      r.adversarial.accuracy < r.clean.accuracy - 0.2,
      `PGD at ε = 0.1 costs accuracy: ${r.clean.accuracy} → ${r.adversarial.accuracy}`,
    );
    for (const k of ['clean', 'adversarial'] as const)
      assert.ok(Math.abs(r[k].loss - lib[k].loss) <= 1e-6 * lib[k].loss, `${k} loss ${r[k].loss} vs ${lib[k].loss}`);
    assert.ok(
      Math.abs(r.inputHessian.topEigenvalue - (lib.inputHessian?.topEigenvalue ?? NaN)) <=
        1e-5 * Math.abs(lib.inputHessian?.topEigenvalue ?? 1),
      `λmax ${r.inputHessian.topEigenvalue} vs ${lib.inputHessian?.topEigenvalue}`,
    );
  });

  test("repair with error-injection targets: attack success before/after and the trade-off over t equal the library's; the targets never change the model", async () => {
    const options = {
      epochs: 2,
      samplesPerEpoch: 512,
      batchSize: 64,
      ts: [0, 0.5, 1],
      baseline: false,
      polishEpochs: 1,
      polishSamplesPerEpoch: 256,
      polishTries: 1,
    };
    const models = [ids.inj_model_a, ids.inj_model_b];
    const { id, r } = await run('/v1/repairs', { models, data: ids.injClean, targets: ids.injTargets, options });
    const lib = await repair(
      { modelA: I('model_a.onnx'), modelB: I('model_b.onnx'), data: I('clean_subset.safetensors'), targets: I('injected.safetensors') },
      options,
    );
    const rep = lib.report;
    assert.equal(r.targets, ids.injTargets);
    assert.equal(r.data.targets, 10);
    assert.deepEqual(
      r.endpoints.map((e: Json) => e.targets.accuracy),
      [1, 1],
      'both tampered models: every target gets the wrong label',
    );
    assert.deepEqual(
      r.endpoints.map((e: Json) => e.targets.accuracy),
      rep.endpoints.map((e) => e.targets?.accuracy),
    );
    assert.equal(r.repaired.targets.accuracy, rep.repaired.targets?.accuracy, 'attack success after repair');
    assert.equal(r.repaired.targetsTrue.accuracy, rep.repaired.targetsTrue?.accuracy);
    assert.equal(r.choice.t, rep.choice.t);
    assert.ok(Math.abs(r.repaired.heldOut.accuracy - rep.repaired.heldOut.accuracy) < 1e-12);
    assert.deepEqual(
      r.tradeoff.map((p: Json) => p.t),
      [0, 0.5, 1],
    );
    for (const [i, p] of (r.tradeoff as Json[]).entries()) {
      const l = rep.tradeoff[i];
      assert.deepEqual(
        [p.curve.heldOut.accuracy, p.curve.targets.accuracy, p.polished?.targets.accuracy ?? null],
        [l.curve.heldOut.accuracy, l.curve.targets?.accuracy, l.polished?.targets?.accuracy ?? null],
        `trade-off at t = ${p.t}`,
      );
    }
    // Report-only: the same job without targets writes the same model.
    const { id: plain } = await run('/v1/repairs', { models, data: ids.injClean, options });
    const bytes = async (job: string) =>
      Buffer.from(await (await fetch(`${s.url}/v1/repairs/${job}/model?format=safetensors`)).arrayBuffer());
    assert.ok((await bytes(id)).equals(await bytes(plain)), 'the repaired model is byte-identical with and without targets');
  });

  test('bad requests: 2 corners, unknown ids, an option over a cap (422), a bad attack option', async () => {
    const four = ['m1', 'm2', 'm3', 'm4'].map((m) => ids[m]);
    assert.equal((await post(s.url, '/v1/surfaces', { models: four.slice(0, 2), data: ids.clean })).status, 400);
    assert.equal((await post(s.url, '/v1/surfaces', { models: [four[0], four[0], four[1]], data: ids.clean })).status, 400);
    const triangle = await post(s.url, '/v1/surfaces', { models: four.slice(0, 3), data: ids.clean, options: { degree: [2, 2] } });
    assert.equal(triangle.status, 400, JSON.stringify(triangle.body));
    assert.match(triangle.body.detail, /triangular patch \(3 models\) has one degree/);
    assert.equal((await post(s.url, '/v1/surfaces', { models: four, data: ids.clean, options: { degree: 9 } })).status, 400);
    const unknown = await post(s.url, '/v1/surfaces', { models: [...four.slice(0, 3), 'f'.repeat(64)], data: ids.clean });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    const capped = await post(s.url, '/v1/surfaces', { models: four, data: ids.clean, options: { epochs: 20_000 } });
    assert.equal(capped.status, 422, JSON.stringify(capped.body));
    assert.match(capped.body.detail, /surface\.epochs/);
    const other = await post(s.url, '/v1/surfaces', {
      models: [...four.slice(0, 2), ids.inj_model_a],
      data: ids.clean,
      options: { epochs: 0, grid: 3, ensemble: 1 },
    });
    assert.ok(other.status === 422 || other.status === 202, JSON.stringify(other.body));
    if (other.status === 202) {
      const job = await waitJob(s.url, other.body.job.id);
      assert.equal(job.state, 'failed');
      assert.match(job.error?.message ?? '', /not the same graph|input/);
    }
    const eps = await post(s.url, '/v1/attacks', { model: ids.m1, dataset: ids.test, options: { eps: -1 } });
    assert.equal(eps.status, 400, JSON.stringify(eps.body));
    assert.match(eps.body.detail, /eps/);
    assert.equal(
      (await post(s.url, '/v1/connectivity', { models: [ids.m1, ids.m2], data: ids.clean, options: { attack: { attack: 'cw' } } })).status,
      400,
    );
  });

  test('a running surface and a running attack are cancelled', async () => {
    for (const [path, body] of [
      [
        '/v1/surfaces',
        { models: ['m1', 'm2', 'm3', 'm4'].map((m) => ids[m]), data: ids.clean, options: { epochs: 500, samplesPerEpoch: 2000, seed: 9 } },
      ],
      ['/v1/attacks', { model: ids.m2, dataset: ids.test, options: { steps: 5000, batchSize: 50, inputHessian: false, seed: 9 } }],
    ] as const) {
      const sub = await post(s.url, path, body);
      assert.equal(sub.status, 202, JSON.stringify(sub.body));
      const id = sub.body.job.id as string;
      assert.equal((await runningWithProgress(s.url, id)).state, 'running');
      assert.equal((await fetch(`${s.url}/v1/jobs/${id}`, { method: 'DELETE' })).status, 200);
      assert.equal((await waitJob(s.url, id)).state, 'cancelled', path);
    }
  });
});
