import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeDataset } from '../../../src/runtime/dataset.js';
import { specOf, type ParamMap } from '../../../src/runtime/params.js';
import { curveCoefficients } from '../../../src/landscape/connectivity/curve.js';
import { linearCurve, parseTs, pointAt } from '../../../src/landscape/connectivity/points.js';
import { lrAt, trainCurve, type GradientEngine } from '../../../src/landscape/connectivity/train-curve.js';
import { Rng } from '../../../src/util/random.js';

// A fake engine with L(w) = ½‖w − m‖² (any batch): the curve objective then has a closed-form optimum.
const D = 5;
const specs = [specOf('w', [D])];
const m = Float32Array.from([1, -2, 0.5, 3, -1]);
const a = Float32Array.from([0, 1, 2, -1, 0.5]);
const b = Float32Array.from([2, -1, 0, 1, -0.5]);
const quadratic: GradientEngine = {
  async grad(params) {
    const w = params.get('w') as Float32Array;
    const g = new Float32Array(D);
    let loss = 0;
    for (let i = 0; i < D; i++) {
      g[i] = w[i] - m[i];
      loss += 0.5 * g[i] ** 2;
    }
    return { loss, grads: new Map([['w', g]]) };
  },
};
const ds = makeDataset({ type: 'float32', data: new Float32Array(64), dims: [64, 1] }, new BigInt64Array(64));
const end = (x: Float32Array): ParamMap => new Map([['w', x.slice()]]);

test('curve gradient: control point k gets c_k(t)·(∇L(w(t)) + c·w(t)); endpoints never move', async () => {
  const c = 0.3;
  const curve = linearCurve('bezier', 4, specs, end(a), end(b));
  const before = curve.points.map((p) => (p.get('w') as Float32Array).slice());
  // One step of plain SGD (momentum 0, lr 1, constant schedule) on one batch: θ_k ← θ_k − c_k(t)(w(t) − m + c·w(t)).
  const r = await trainCurve(quadratic, curve, ds, { epochs: 1, batchSize: 64, lr: 1, momentum: 0, l2: c, seed: 5, schedule: 'constant' });
  assert.equal(r.steps, 1);
  // Reproduce t: train() draws the shuffle first, then the objective draws t from the same generator.
  const rng = new Rng(5);
  rng.shuffle(new Uint32Array(64));
  const t = rng.uniform();
  const coef = curveCoefficients('bezier', 4, t);
  const w = new Float64Array(D);
  for (let k = 0; k < 4; k++) for (let i = 0; i < D; i++) w[i] += coef[k] * before[k][i];
  for (let k = 0; k < 4; k++) {
    const after = curve.points[k].get('w') as Float32Array;
    for (let i = 0; i < D; i++) {
      const want = k === 0 || k === 3 ? before[k][i] : before[k][i] - coef[k] * (w[i] - m[i] + c * w[i]);
      assert.ok(Math.abs(after[i] - want) < 1e-6, `point ${k}[${i}]: ${after[i]} vs ${want}`);
    }
  }
  // The reported objective includes ½·c·‖w(t)‖².
  let want = 0;
  for (let i = 0; i < D; i++) want += 0.5 * (w[i] - m[i]) ** 2 + 0.5 * c * w[i] ** 2;
  assert.ok(Math.abs(r.epochs[0].trainLoss - want) < 1e-5, `${r.epochs[0].trainLoss} vs ${want}`);
});

test('quadratic Bezier on L = ½‖w − m‖² (16 seeds × 200 epochs × 64 samples, batch 8): the mean bend is the closed form', async () => {
  // E_t over U(0,1) with Bernstein c0,c1,c2: E[c1c0] = E[c1c2] = 1/10, E[c1²] = 2/15, E[c1] = 1/3, so
  // θ* = (E[c1]·m/(1+c) − (a + b)/10) / (2/15).
  const c = 0.05;
  // The sampled t makes each run's final bend noisy; the mean over seeds is not.
  const seeds = 16;
  const theta = new Float64Array(D);
  let curve = linearCurve('bezier', 3, specs, end(a), end(b));
  for (let s = 0; s < seeds; s++) {
    curve = linearCurve('bezier', 3, specs, end(a), end(b));
    await trainCurve(quadratic, curve, ds, { epochs: 200, batchSize: 8, lr: 0.5, momentum: 0.9, l2: c, seed: 100 + s });
    const w = curve.points[1].get('w') as Float32Array;
    for (let i = 0; i < D; i++) theta[i] += w[i] / seeds;
  }
  for (let i = 0; i < D; i++) {
    const want = (m[i] / 3 / (1 + c) - (a[i] + b[i]) / 10) / (2 / 15);
    const init = (a[i] + b[i]) / 2;
    assert.ok(Math.abs(theta[i] - want) < 0.05 * Math.max(1, Math.abs(want - init)), `θ[${i}] = ${theta[i]} vs ${want} (init ${init})`);
  }
  assert.deepEqual([...(curve.points[0].get('w') as Float32Array)], [...a]);
  assert.deepEqual([...(curve.points[2].get('w') as Float32Array)], [...b]);
});

test('PolyChain with 3 points passes through the bend at t = 0.5; Garipov lr per epoch; t grids', () => {
  const mid = Float32Array.from([9, 9, 9, 9, 9]);
  const curve = { kind: 'polychain' as const, specs, points: [end(a), end(mid), end(b)] };
  assert.deepEqual([...(pointAt(curve, 0.5).get('w') as Float32Array)], [...mid]);
  assert.deepEqual(
    [...(pointAt(curve, 0.25).get('w') as Float32Array)],
    [...a].map((v, i) => Math.fround((v + mid[i]) / 2)),
  );
  // 10 epochs: factor 1 through epoch 5, then 1 − 0.99·(α − 0.5)/0.4, then 0.01 from epoch 10 (α = 1).
  const lrs = Array.from({ length: 10 }, (_, e) => lrAt('garipov', 0.01, e, 10));
  assert.deepEqual(lrs.slice(0, 5), [0.01, 0.01, 0.01, 0.01, 0.01]);
  assert.ok(Math.abs(lrs[5] - 0.01 * (1 - 0.99 * 0.25)) < 1e-15);
  assert.ok(Math.abs(lrs[9] - 0.0001) < 1e-15);
  assert.deepEqual(parseTs('11'), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  assert.deepEqual(parseTs('0.5,0,1'), [0, 0.5, 1]);
  assert.deepEqual(parseTs('1'), [1]);
  assert.throws(() => parseTs('0.2,1.5'), /in \[0, 1\]/);
  assert.throws(() => linearCurve('bezier', 1, specs, end(a), end(b)), /at least 2 control points/);
  assert.throws(() => linearCurve('bezier', 3, specs, end(a), new Map([['w', new Float32Array(3)]])), /second endpoint's 'w' has 3 values/);
});
