/**
 * Hessian diagnostics on fmnist-hessian's mlp48 (38,170 parameters) and its 1000-sample batch, against the PyTorch
 * references in reference.json (Lanczos on exact Hv) and exact math.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createEngine, type Engine } from '../../../src/runtime/engine.js';
import { loadDataset, type Dataset } from '../../../src/runtime/dataset.js';
import { engineOperator } from '../../../src/landscape/hessian/engine-operator.js';
import { hessianBatches, runHessian } from '../../../src/landscape/hessian/run.js';
import { slq, smoothDensity } from '../../../src/landscape/hessian/density.js';
import { dot } from '../../../src/landscape/hessian/operator.js';
import { Rng } from '../../../src/util/random.js';
import { fixture } from '../../helpers/fixtures.js';

const ref = JSON.parse(readFileSync(fixture('fmnist-hessian', 'reference.json'), 'utf8')).mlp48 as {
  loss: number;
  num_params: number;
  top_eigenvalues: number[];
  trace_exact: number;
};

let cached: Promise<{ engine: Engine; ds: Dataset }> | null = null;
function setup(): Promise<{ engine: Engine; ds: Dataset }> {
  cached ??= (async () => ({
    engine: await createEngine(fixture('fmnist-hessian', 'mlp48.onnx'), { loss: 'classification' }),
    ds: await loadDataset(fixture('fmnist-hessian', 'batch.safetensors')),
  }))();
  return cached;
}

function assertRel(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const rel = Math.abs(a - expected[i]) / Math.abs(expected[i]);
    assert.ok(rel < tol, `${what}[${i}]: ${a} vs ${expected[i]} (rel ${rel.toExponential(2)} ≥ ${tol})`);
  });
}

test('mlp48: top-5 by power iteration at tol 1e-6 within 1e-4 of the reference; loss and size agree', async () => {
  const { engine, ds } = await setup();
  const r = await runHessian({ engine, dataset: ds }, { topK: 5, tol: 1e-6, batchSize: 1000, seed: 1 });
  assert.equal(r.num_params, ref.num_params);
  assert.equal(r.samples, 1000);
  assert.ok(Math.abs(r.loss - ref.loss) < 1e-5 * ref.loss, `loss ${r.loss} vs ${ref.loss}`);
  assertRel(r.top_eigenvalues!, ref.top_eigenvalues, 1e-4, 'power tol 1e-6');
  assert.equal(r.eigen_method, 'power');
  assert.equal(r.eigen_iterations!.length, 5);
  for (const it of r.eigen_iterations!) assert.ok(it >= 2 && it <= 100);
  // A converged pair has a residual far below λ; 1e-2 of λ5 is loose enough for float32 Hv, tight enough to fail on junk.
  for (const res of r.residuals!) assert.ok(res < 0.03, `residual ${res}`);
  assert.equal(r.hv_products, r.eigen_iterations!.reduce((a, b) => a + b, 0) + 5);
});

test('mlp48: Lanczos top-5 within 1e-4 with far fewer Hv; uneven batches give the same spectrum; seeded', async () => {
  const { engine, ds } = await setup();
  const a = await runHessian({ engine, dataset: ds }, { topK: 5, tol: 1e-6, lanczos: true, batchSize: 1000, seed: 3 });
  assertRel(a.top_eigenvalues!, ref.top_eigenvalues, 1e-4, 'lanczos');
  assert.ok(a.hv_products < 80, `Lanczos used ${a.hv_products} Hv`);
  for (const res of a.residuals!) assert.ok(res < 1e-3, `residual ${res}`);
  // 1000 samples as batches of 300, 300, 300, 100: the size-weighted mean is the same operator.
  const b = await runHessian({ engine, dataset: ds }, { topK: 5, tol: 1e-6, lanczos: true, batchSize: 300, seed: 3 });
  assert.equal(b.batches, 4);
  assertRel(b.top_eigenvalues!, ref.top_eigenvalues, 1e-4, 'lanczos, 4 batches');
  const c = await runHessian({ engine, dataset: ds }, { topK: 5, tol: 1e-6, lanczos: true, batchSize: 1000, seed: 3 });
  assert.deepEqual(c.top_eigenvalues, a.top_eigenvalues);
});

test('mlp48: top-5 at the default tol (1e-3) within 1%', async () => {
  const { engine, ds } = await setup();
  const r = await runHessian({ engine, dataset: ds }, { topK: 5, batchSize: 1000, seed: 2 });
  assertRel(r.top_eigenvalues!, ref.top_eigenvalues, 1e-2, 'power tol 1e-3');
});

test('mlp48: Hutchinson within 3 standard errors of the exact trace, and the errors are honest over 5 seeds', async () => {
  const { engine, ds } = await setup();
  const z: number[] = [];
  for (let seed = 0; seed < 5; seed++) {
    const r = await runHessian({ engine, dataset: ds }, { topK: 0, trace: true, traceMinIter: 20, batchSize: 1000, seed });
    const t = r.trace!;
    assert.ok(t.samples! >= 20 && t.sample_values!.length === t.samples);
    const zi = (t.mean! - ref.trace_exact) / t.stderr!;
    assert.ok(Math.abs(zi) < 3, `seed ${seed}: ${t.mean} ± ${t.stderr} vs ${ref.trace_exact}`);
    z.push(zi);
  }
  // Honest errors: the z-scores' RMS is near 1 (χ²₅/5 lies in [0.17, 2.6] with 95% probability); a stderr off by
  // a factor of 3 either way fails.
  const rms = Math.sqrt(z.reduce((s, v) => s + v * v, 0) / z.length);
  assert.ok(rms > 0.3 && rms < 1.8, `RMS z-score ${rms} (z = ${z.map((v) => v.toFixed(2)).join(', ')})`);
});

test('mlp48: SLQ weights sum to 1, P·Σωτ is the Hutchinson sample of the same start vector, density integrates to 1', async () => {
  const { engine, ds } = await setup();
  const op = engineOperator(engine, engine.initialParams(), hessianBatches(ds, { batchSize: 1000 }));
  const runs = await slq(op, { steps: 30, runs: 2, rng: new Rng(11) });
  // The same stream replayed gives the same normalised Rademacher starts (no breakdown in 30 steps).
  const replay = new Rng(11);
  const P = op.dim;
  for (const run of runs) {
    const v0 = new Float64Array(P);
    for (let i = 0; i < P; i++) v0[i] = replay.rademacher();
    const s = 1 / Math.sqrt(P);
    for (let i = 0; i < P; i++) v0[i] *= s;
    const hutch = P * dot(v0, await op.apply(v0));
    const sw = run.weights.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sw - 1) < 1e-10, `Σω = ${sw}`);
    const quad = P * run.nodes.reduce((a, t, l) => a + t * run.weights[l], 0);
    assert.ok(Math.abs(quad - hutch) < 1e-6 * Math.abs(hutch), `P·Σωτ ${quad} vs zᵀHz ${hutch}`);
    // 30 Lanczos steps pin down the extreme eigenvalue.
    const top = Math.max(...run.nodes);
    assert.ok(Math.abs(top - ref.top_eigenvalues[0]) < 1e-3 * ref.top_eigenvalues[0], `largest Ritz value ${top}`);
  }
  const d = smoothDensity(runs, { bins: 4000 });
  const dx = d.grid[1] - d.grid[0];
  const riemann = d.values.reduce((a, b) => a + b, 0) * dx;
  let trapezoid = 0;
  for (let i = 1; i < d.values.length; i++) trapezoid += 0.5 * (d.values[i] + d.values[i - 1]) * dx;
  assert.ok(Math.abs(riemann - 1) < 1e-9, `Riemann ${riemann}`);
  assert.ok(Math.abs(trapezoid - 1) < 1e-3, `trapezoid ${trapezoid}`);
  // The output of runHessian carries the same pieces.
  const r = await runHessian(
    { engine, dataset: ds },
    { topK: 0, density: true, densitySteps: 10, densityRuns: 1, densityBins: 500, batchSize: 1000 },
  );
  assert.equal(r.density!.grid.length, 500);
  assert.equal(r.density!.nodes[0].length, 10);
  assert.ok(Math.abs(r.density!.weights[0].reduce((a, b) => a + b, 0) - 1) < 1e-10);
});

test('mlp48: exact trace over the last layer equals the closed form mean_n Σ_c p_c(1−p_c)(‖h_n‖²+1)', async () => {
  // The whole model (38,170 Hv) is trace-exact.test.ts; the last layer's
  // 490 parameters have a closed form, which tests the operator and exactTrace exactly.
  const { engine: full, ds } = await setup();
  const n = 200;
  const engine = await createEngine(fixture('fmnist-hessian', 'mlp48.onnx'), {
    loss: 'classification',
    params: ['layers.1.weight', 'layers.1.bias'],
  });
  assert.equal(
    engine.params.reduce((s, p) => s + p.size, 0),
    490,
  );
  const r = await runHessian({ engine, dataset: ds }, { topK: 0, traceExact: true, samples: n, batchSize: n });
  const w = full.initialParams();
  const W0 = w.get('layers.0.weight')!,
    b0 = w.get('layers.0.bias')!,
    W1 = w.get('layers.1.weight')!,
    b1 = w.get('layers.1.bias')!;
  const x = ds.x.data as Float32Array;
  const y = ds.y!;
  let trace = 0;
  let loss = 0;
  for (let s = 0; s < n; s++) {
    const h = new Float64Array(48);
    for (let j = 0; j < 48; j++) {
      let a = b0[j];
      for (let i = 0; i < 784; i++) a += W0[j * 784 + i] * x[s * 784 + i];
      h[j] = Math.max(0, a);
    }
    const z = new Float64Array(10);
    for (let c = 0; c < 10; c++) {
      let a = b1[c];
      for (let j = 0; j < 48; j++) a += W1[c * 48 + j] * h[j];
      z[c] = a;
    }
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const Z = e.reduce((a, b) => a + b, 0);
    const hh = h.reduce((a, b) => a + b * b, 0) + 1;
    for (let c = 0; c < 10; c++) {
      const p = e[c] / Z;
      trace += p * (1 - p) * hh;
    }
    loss -= Math.log(e[Number(y[s])] / Z);
  }
  trace /= n;
  loss /= n;
  assert.ok(Math.abs(r.loss - loss) < 1e-5 * loss, `loss ${r.loss} vs ${loss}`);
  assert.ok(Math.abs(r.trace!.exact! - trace) < 1e-5 * trace, `exact trace ${r.trace!.exact} vs closed form ${trace}`);
  assert.equal(r.trace!.mean, undefined);
});
