/** Bezier patches: the math (coefficients, corners, linear precision, sampling, grids) and one training step. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cornerIndices,
  controlCount,
  controlSites,
  patchCenter,
  patchCoefficients,
  patchGrid,
  sampleUV,
  tensorPatch,
  trianglePatch,
} from '../../../src/landscape/connectivity/patch.js';
import { freeControlPoints, interpolatedSurface, surfacePoint } from '../../../src/landscape/connectivity/surface.js';
import { trainControlPoints, trainControlPointsFused } from '../../../src/landscape/connectivity/train-points.js';
import { buildStepGraph, createStepRunner } from '../../../src/landscape/connectivity/step-graph.js';
import { createEngine } from '../../../src/runtime/engine.js';
import { loadModelParams } from '../../../src/landscape/connectivity/connect.js';
import { loadDataset, makeDataset } from '../../../src/runtime/dataset.js';
import { specOf, type ParamMap } from '../../../src/runtime/params.js';
import { Rng } from '../../../src/util/random.js';
import { fixture } from '../../helpers/fixtures.js';

const shapes = [tensorPatch(2), tensorPatch(3, 1), tensorPatch(1), trianglePatch(2), trianglePatch(3), trianglePatch(1)];

test('patch coefficients: sum to 1, are non-negative, put each corner on its model, and reproduce linear functions', () => {
  const rng = new Rng(3);
  for (const p of shapes) {
    const sites = controlSites(p);
    assert.equal(sites.length, controlCount(p));
    const corners = cornerIndices(p);
    assert.equal(corners.length, p.kind === 'tensor' ? 4 : 3);
    const cornerUV = [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ];
    corners.forEach((k, c) => {
      const coef = patchCoefficients(p, cornerUV[c][0], cornerUV[c][1]);
      assert.deepEqual(
        [...coef],
        [...coef].map((_, j) => (j === k ? 1 : 0)),
        `${p.kind} corner ${c}`,
      );
    });
    for (let r = 0; r < 50; r++) {
      const [u, v] = sampleUV(p, rng);
      const c = patchCoefficients(p, u, v);
      assert.ok(Math.abs(c.reduce((a, b) => a + b, 0) - 1) < 1e-12);
      assert.ok(c.every((x) => x >= 0));
      // Σ c_k·(u_k, v_k) = (u, v): the sites' linear precision (why the bilinear start is exact).
      const su = sites.reduce((a, s, k) => a + c[k] * s.u, 0);
      const sv = sites.reduce((a, s, k) => a + c[k] * s.v, 0);
      assert.ok(Math.abs(su - u) < 1e-12 && Math.abs(sv - v) < 1e-12, `${p.kind} at (${u}, ${v}): ${su}, ${sv}`);
      if (p.kind === 'triangle') assert.ok(u + v <= 1);
    }
  }
  // Tensor patch (2, 2) at (u, v): Bernstein products, e.g. the centre control point 2u(1−u)·2v(1−v).
  const c = patchCoefficients(tensorPatch(2), 0.3, 0.6);
  assert.ok(Math.abs(c[4] - 2 * 0.3 * 0.7 * 2 * 0.6 * 0.4) < 1e-15);
  // Triangle of degree 2 at barycentric (0.5, 0.3, 0.2): θ_{1,1,0} has 2·λ1·λ2.
  const t = trianglePatch(2);
  const k110 = controlSites(t).findIndex((s) => s.index.join() === '1,1,0');
  assert.ok(Math.abs(patchCoefficients(t, 0.3, 0.2)[k110] - 2 * 0.5 * 0.3) < 1e-15);
  assert.deepEqual(patchGrid(tensorPatch(2), 11).length, 121);
  assert.deepEqual(patchGrid(trianglePatch(2), 11).length, 66);
  assert.deepEqual(patchGrid(tensorPatch(2), 11)[3], [0, 0.3]);
  assert.deepEqual(patchCenter(trianglePatch(2)), [1 / 3, 1 / 3]);
  assert.throws(() => patchCoefficients(t, 0.7, 0.5), /outside the triangle/);
  assert.throws(() => tensorPatch(0), /degree must be an integer in 1\.\.8/);
  assert.throws(() => patchGrid(t, 1), /at least 2 points/);
});

test('uniform (u, v) sampling: means ½ on the square and ⅓ on the triangle (20,000 draws)', () => {
  for (const [p, want] of [
    [tensorPatch(2), 0.5],
    [trianglePatch(2), 1 / 3],
  ] as const) {
    const rng = new Rng(11);
    let su = 0;
    let sv = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const [u, v] = sampleUV(p, rng);
      su += u;
      sv += v;
    }
    // Standard error of a mean of U(0,1) (or the triangle's marginal) is < 0.3/√n ≈ 0.002.
    assert.ok(Math.abs(su / n - want) < 0.01 && Math.abs(sv / n - want) < 0.01, `${p.kind}: ${su / n}, ${sv / n}`);
  }
});

test('surface-mlp: the untrained surface is the bilinear (triangle: linear) interpolation at every grid point (1e-6); corners are the models exactly', async () => {
  const ms = await Promise.all([1, 2, 3, 4].map((i) => loadModelParams(fixture('surface-mlp', `m${i}.onnx`))));
  const specs = ms[0].specs;
  // The default patch on the default 11 × 11 grid; other degrees and the triangle on coarser grids.
  for (const [p, corners, g] of [
    [tensorPatch(2), ms, 11],
    [tensorPatch(3, 2), ms, 5],
    [trianglePatch(2), ms.slice(0, 3), 5],
  ] as const) {
    const s = interpolatedSurface(
      p,
      specs,
      corners.map((m) => m.values),
    );
    for (const [u, v] of patchGrid(p, g)) {
      const wts = p.kind === 'tensor' ? [(1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v] : [1 - u - v, u, v];
      const w = surfacePoint(s, u, v);
      let worst = 0;
      for (const sp of specs) {
        const got = w.get(sp.name) as Float32Array;
        const cs = corners.map((m) => m.values.get(sp.name) as Float32Array);
        for (let i = 0; i < got.length; i++) {
          let want = 0;
          for (let c = 0; c < cs.length; c++) want += wts[c] * cs[c][i];
          worst = Math.max(worst, Math.abs(got[i] - want));
        }
      }
      assert.ok(worst < 1e-6, `${p.kind} (${u}, ${v}): max deviation ${worst}`);
    }
    for (const [c, [u, v]] of [
      [0, [0, 0]],
      [1, [1, 0]],
      [2, [0, 1]],
      [3, [1, 1]],
    ] as const) {
      if (c >= corners.length) continue;
      const w = surfacePoint(s, u, v);
      for (const sp of specs) assert.deepEqual(w.get(sp.name), corners[c].values.get(sp.name), `${p.kind} corner M${c + 1} '${sp.name}'`);
    }
  }
  assert.throws(
    () =>
      interpolatedSurface(
        tensorPatch(2),
        specs,
        ms.slice(0, 3).map((m) => m.values),
      ),
    /needs 4 corner models, got 3/,
  );
});

test('surface training step: free control point k moves by −lr·c_k(u, v)·(∇L + c·w); corners never move', async () => {
  // L(w) = ½‖w − m‖² on a 3-vector, plain SGD (momentum 0, lr 1, constant schedule), one batch.
  const D = 3;
  const m = Float32Array.from([1, -2, 0.5]);
  const corners = [
    [0, 1, 2],
    [2, -1, 0],
    [1, 1, 1],
    [-1, 0, 3],
  ].map((x): ParamMap => new Map([['w', Float32Array.from(x)]]));
  const p = tensorPatch(2);
  const s = interpolatedSurface(p, [specOf('w', [D])], corners);
  const before = s.points.map((q) => (q.get('w') as Float32Array).slice());
  const quadratic = {
    async grad(params: ReadonlyMap<string, Float32Array>) {
      const w = params.get('w') as Float32Array;
      return { loss: 0, grads: new Map([['w', Float32Array.from(w, (x, i) => x - m[i])]]) };
    },
  };
  const ds = makeDataset({ type: 'float32', data: new Float32Array(8), dims: [8, 1] }, new BigInt64Array(8));
  const c = 0.2;
  await trainControlPoints(
    quadratic,
    { specs: s.specs, points: s.points, trainable: freeControlPoints(p) },
    (rng) => {
      const [u, v] = sampleUV(p, rng);
      return patchCoefficients(p, u, v);
    },
    ds,
    { epochs: 1, batchSize: 8, lr: 1, momentum: 0, l2: c, seed: 9, schedule: 'constant' },
  );
  const rng = new Rng(9);
  rng.shuffle(new Uint32Array(8));
  const [u, v] = sampleUV(p, rng);
  const coef = patchCoefficients(p, u, v);
  const w = new Float64Array(D);
  before.forEach((b, k) => b.forEach((x, i) => (w[i] += coef[k] * x)));
  const corner = new Set(cornerIndices(p));
  s.points.forEach((q, k) => {
    const after = q.get('w') as Float32Array;
    for (let i = 0; i < D; i++) {
      const want = corner.has(k) ? before[k][i] : before[k][i] - coef[k] * (w[i] - m[i] + c * w[i]);
      assert.ok(Math.abs(after[i] - want) < 1e-6, `point ${k}[${i}]: ${after[i]} vs ${want}`);
    }
  });
  assert.deepEqual(freeControlPoints(p), [1, 3, 4, 5, 7]);
});

test('the fused step graph (one onnxruntime run per step, float32) trains the same control points as the float64 step (surface-mlp, 6 steps, momentum)', async () => {
  const ms = await Promise.all([1, 2, 3, 4].map((i) => loadModelParams(fixture('surface-mlp', `m${i}.onnx`))));
  const ds = await loadDataset(fixture('surface-mlp', 'test.safetensors'));
  const p = tensorPatch(2);
  const sample = (rng: Rng) => {
    const [u, v] = sampleUV(p, rng);
    return patchCoefficients(p, u, v);
  };
  const opts = { epochs: 2, batchSize: 64, samplesPerEpoch: 192, lr: 0.05, momentum: 0.9, l2: 0.01, seed: 4, schedule: 'garipov' as const };
  const a = interpolatedSurface(
    p,
    ms[0].specs,
    ms.map((m) => m.values),
  );
  const b = interpolatedSurface(
    p,
    ms[0].specs,
    ms.map((m) => m.values),
  );
  const engine = await createEngine(ms[0].model, { loss: 'classification', params: ms[0].specs.map((s) => s.name), shards: 1 });
  const slow = await trainControlPoints(engine, { specs: a.specs, points: a.points, trainable: freeControlPoints(p) }, sample, ds, opts);
  const runner = await createStepRunner(buildStepGraph(ms[0].model, ms[0].specs, 9, 5), 'cpu');
  const fast = await trainControlPointsFused(
    runner,
    { specs: b.specs, points: b.points, trainable: freeControlPoints(p) },
    sample,
    ds,
    opts,
  );
  assert.equal(fast.steps, 6);
  fast.epochs.forEach((e, i) =>
    assert.ok(
      Math.abs(e.trainLoss - slow.epochs[i].trainLoss) < 1e-5 * slow.epochs[i].trainLoss,
      `epoch ${i}: ${e.trainLoss} vs ${slow.epochs[i].trainLoss}`,
    ),
  );
  let worst = 0;
  let moved = 0;
  a.points.forEach((pa, k) => {
    for (const s of a.specs) {
      const x = pa.get(s.name) as Float32Array;
      const y = b.points[k].get(s.name) as Float32Array;
      const x0 = interpolatedSurface(
        p,
        ms[0].specs,
        ms.map((m) => m.values),
      ).points[k].get(s.name) as Float32Array;
      for (let i = 0; i < x.length; i++) {
        worst = Math.max(worst, Math.abs(x[i] - y[i]));
        moved = Math.max(moved, Math.abs(x[i] - x0[i]));
      }
    }
  });
  assert.ok(moved > 1e-3 && worst < 1e-5 * Math.max(1, moved) + 2e-6, `largest difference ${worst} after moves up to ${moved}`);
  // Corners stay the models exactly.
  for (const [c, k] of cornerIndices(p).entries())
    assert.deepEqual(b.points[k].get('layers.0.weight'), ms[c].values.get('layers.0.weight'));
});
