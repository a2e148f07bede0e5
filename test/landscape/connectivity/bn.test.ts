/**
 * BatchNorm along a curve on a small synthetic model (x [N,3,4,4] → BN1 → BN2 → Flatten → Gemm): the recomputed
 * running statistics equal PyTorch's update_bn arithmetic (size-weighted means of batch means and unbiased batch
 * variances, each BN normalising with its batch's statistics in training mode), evaluation uses them, and curve
 * training differentiates the training-mode graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataset, sliceBatch } from '../../../src/runtime/dataset.js';
import { bnStatNames, createBnStatsRunner, trainModeModel } from '../../../src/landscape/connectivity/bn.js';
import { curveEngine, curveParamSpecs } from '../../../src/landscape/connectivity/connect.js';
import { createPathEvaluator } from '../../../src/landscape/connectivity/evaluate.js';
import { linearCurve } from '../../../src/landscape/connectivity/points.js';
import { trainCurve } from '../../../src/landscape/connectivity/train-curve.js';
import type { ParamMap } from '../../../src/runtime/params.js';
import { Rng } from '../../../src/util/random.js';

import { bnModel, C, EPS, HW, K } from './bn-model.js';

const N = 50;
const rng = new Rng(3);
const rand = (n: number, s = 1, o = 0) => Float32Array.from({ length: n }, () => o + s * rng.normal());

const P = {
  'bn1.weight': rand(C, 0.5, 1),
  'bn1.bias': rand(C, 0.3),
  'bn2.weight': rand(C, 0.5, 1),
  'bn2.bias': rand(C, 0.3),
  'fc.weight': rand(K * C * HW, 0.2),
  'fc.bias': rand(K, 0.1),
};
const model = bnModel(P);
// Channels with different offsets and scales, so wrong axes or a missing correction show.
const xs = new Float32Array(N * C * HW);
for (let n = 0; n < N; n++)
  for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++) xs[(n * C + c) * HW + i] = (c - 1) * 2 + (c + 1) * rng.normal();
const ds = makeDataset(
  { type: 'float32', data: xs, dims: [N, C, 4, 4] },
  BigInt64Array.from({ length: N }, () => BigInt(rng.int(K))),
);
const params: ParamMap = new Map(Object.entries(P).map(([k, v]) => [k, v.slice()]));

/** update_bn in float64: per batch, BN1 stats of x; BN1's train-mode output; BN2 stats of that. */
function expectedStats(batch: number): Map<string, Float64Array> {
  const acc = { m1: new Float64Array(C), v1: new Float64Array(C), m2: new Float64Array(C), v2: new Float64Array(C) };
  for (let s = 0; s < N; s += batch) {
    const e = Math.min(N, s + batch);
    const M = (e - s) * HW;
    const w = (e - s) / e; // momentum b/(n + b) with n = s seen before
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let n = s; n < e; n++) for (let i = 0; i < HW; i++) sum += xs[(n * C + c) * HW + i];
      const mean = sum / M;
      let sq = 0;
      for (let n = s; n < e; n++) for (let i = 0; i < HW; i++) sq += (xs[(n * C + c) * HW + i] - mean) ** 2;
      const vb = sq / M;
      // BN1 output has mean β1 and biased variance γ1²·vb/(vb + ε).
      const g = P['bn1.weight'][c];
      const m2 = P['bn1.bias'][c];
      const v2 = (g * g * vb) / (vb + EPS);
      acc.m1[c] = (1 - w) * acc.m1[c] + w * mean;
      acc.v1[c] = (1 - w) * acc.v1[c] + (w * vb * M) / (M - 1);
      acc.m2[c] = (1 - w) * acc.m2[c] + w * m2;
      acc.v2[c] = (1 - w) * acc.v2[c] + (w * v2 * M) / (M - 1);
    }
  }
  return new Map([
    ['bn1.running_mean', acc.m1],
    ['bn1.running_var', acc.v1],
    ['bn2.running_mean', acc.m2],
    ['bn2.running_var', acc.v2],
  ]);
}

test('BN statistics at a point: size-weighted batch means and unbiased variances in training mode (batches 16,16,16,2)', async () => {
  assert.deepEqual(bnStatNames(model), ['bn1.running_mean', 'bn1.running_var', 'bn2.running_mean', 'bn2.running_var']);
  const specs = curveParamSpecs(model);
  assert.deepEqual(
    specs.map((s) => s.name),
    ['bn1.weight', 'bn1.bias', 'bn2.weight', 'bn2.bias', 'fc.weight', 'fc.bias'],
  );
  const runner = await createBnStatsRunner(model, specs);
  assert.ok(runner);
  const got = await runner.compute(params, ds, 16);
  for (const [name, want] of expectedStats(16)) {
    const g = got.get(name) as Float32Array;
    for (let c = 0; c < C; c++)
      assert.ok(Math.abs(g[c] - want[c]) < 2e-5 * Math.max(1, Math.abs(want[c])), `${name}[${c}] ${g[c]} vs ${want[c]}`);
  }
});

test('evaluation at a point uses the recomputed statistics; a BN model without clean data is refused', async () => {
  const specs = curveParamSpecs(model);
  await assert.rejects(createPathEvaluator(model, specs), /BatchNormalization.*clean data/);
  const ev = await createPathEvaluator(model, specs, { bnData: ds, batchSize: 16 });
  assert.equal(ev.hasBatchNorm, true);
  const stats = expectedStats(16);
  // Host forward in eval mode with those statistics.
  let loss = 0;
  let correct = 0;
  for (let n = 0; n < N; n++) {
    const h = new Float64Array(C * HW);
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < HW; i++) {
        const x = xs[(n * C + c) * HW + i];
        const h1 =
          ((x - stats.get('bn1.running_mean')![c]) / Math.sqrt(stats.get('bn1.running_var')![c] + EPS)) * P['bn1.weight'][c] +
          P['bn1.bias'][c];
        h[c * HW + i] =
          ((h1 - stats.get('bn2.running_mean')![c]) / Math.sqrt(stats.get('bn2.running_var')![c] + EPS)) * P['bn2.weight'][c] +
          P['bn2.bias'][c];
      }
    }
    const z = Array.from({ length: K }, (_, k) => P['fc.bias'][k] + h.reduce((s, v, j) => s + v * P['fc.weight'][k * C * HW + j], 0));
    const mx = Math.max(...z);
    const lse = Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0)) + mx;
    const y = Number(ds.y![n]);
    loss += lse - z[y];
    if (z.indexOf(mx) === y) correct++;
  }
  const r = await ev.evaluate(params, [{ name: 'd', role: 'clean', ds }]);
  assert.ok(Math.abs(r.d.loss - loss / N) < 1e-4, `${r.d.loss} vs ${loss / N}`);
  assert.equal(r.d.accuracy, correct / N);
});

test('curve training on a BN model differentiates the training-mode graph (1 epoch × 50 samples, batch 25)', async () => {
  const specs = curveParamSpecs(model);
  const tm = trainModeModel(model);
  assert.equal(
    (tm.model.graph?.node ?? []).some((n) => n.opType === 'BatchNormalization'),
    false,
  );
  const engine = await curveEngine(model, specs, 'cpu');
  // Gradient w.r.t. bn1.weight against central differences of the training-mode loss.
  const batch = sliceBatch(ds, 0, 25);
  const g = (await engine.grad(params, batch)).grads.get('bn1.weight') as Float32Array;
  const h = 1e-2;
  for (let c = 0; c < C; c++) {
    const plus = new Map(params);
    const minus = new Map(params);
    const wp = params.get('bn1.weight')!.slice();
    const wm = params.get('bn1.weight')!.slice();
    wp[c] += h;
    wm[c] -= h;
    plus.set('bn1.weight', wp);
    minus.set('bn1.weight', wm);
    const fd = ((await engine.loss(plus, batch)) - (await engine.loss(minus, batch))) / (2 * h);
    assert.ok(Math.abs(g[c] - fd) < 2e-3 + 0.02 * Math.abs(fd), `d/dγ1[${c}]: ${g[c]} vs ${fd}`);
  }
  const other = new Map([...params].map(([k, v]) => [k, Float32Array.from(v, (x) => x + 0.1)]));
  const curve = linearCurve('bezier', 3, specs, params, other);
  const before = curve.points[1].get('fc.weight')!.slice();
  const r = await trainCurve(engine, curve, ds, { epochs: 1, batchSize: 25, lr: 0.05, seed: 1, schedule: 'constant' });
  assert.equal(r.steps, 2);
  assert.ok(
    curve.points[1].get('fc.weight')!.some((v, i) => v !== before[i]),
    'the bend moved',
  );
});
