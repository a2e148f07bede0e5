import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/util/random.js';
import { denseOperator, dot } from '../../../src/landscape/hessian/operator.js';
import { powerIteration } from '../../../src/landscape/hessian/power.js';
import { lanczosTopK } from '../../../src/landscape/hessian/lanczos.js';
import { exactTrace, hutchinsonTrace } from '../../../src/landscape/hessian/trace.js';
import { slq, smoothDensity } from '../../../src/landscape/hessian/density.js';
import { matrixWithSpectrum } from './spectral-test-matrix.js';

const n = 120;
// A Hessian-like spectrum: a few outliers, a bulk near zero, some negative values.
const spectrum = Array.from({ length: n }, (_, i) => (i < 5 ? [30, 22, 15, 11, 8][i] : 0.5 * Math.sin(i) + 0.01 * i));
const H = matrixWithSpectrum(spectrum, 7);
const op = denseOperator(H, n);
const top = [...spectrum].sort((a, b) => b - a);
const trueTrace = spectrum.reduce((a, b) => a + b, 0);

test('power iteration with deflation finds the top eigenvalues (tight tol) and reports small residuals', async () => {
  const r = await powerIteration(op, { k: 5, maxIter: 1000, tol: 1e-12, rng: new Rng(1) });
  r.values.forEach((v, i) => assert.ok(Math.abs(v - top[i]) / top[i] < 1e-6, `${v} vs ${top[i]}`));
  r.residuals.forEach((res) => assert.ok(res < 1e-3, `residual ${res}`));
  r.iterations.forEach((it) => assert.ok(it >= 2 && it <= 1000));
});

test('power iteration at the default tol 1e-3 is within 1% and stops early', async () => {
  const r = await powerIteration(op, { k: 3, maxIter: 100, tol: 1e-3, rng: new Rng(2) });
  r.values.forEach((v, i) => assert.ok(Math.abs(v - top[i]) / top[i] < 0.01));
  assert.ok(r.iterations[0] < 100);
});

test('Lanczos top-k matches the spectrum to 1e-9 with explicit residuals', async () => {
  const rng = new Rng(3);
  const v0 = new Float64Array(n).map(() => rng.normal());
  const s = Math.sqrt(dot(v0, v0));
  v0.forEach((x, i) => (v0[i] = x / s));
  const r = await lanczosTopK(op, v0, 5, 200, 1e-12);
  r.values.forEach((v, i) => assert.ok(Math.abs(v - top[i]) / top[i] < 1e-9, `${v} vs ${top[i]}`));
  r.residuals.forEach((res) => assert.ok(res < 1e-6));
  assert.ok(r.iterations < n + 5);
});

test('exact trace is Σλ', async () => {
  assert.ok(Math.abs((await exactTrace(op)) - trueTrace) < 1e-9);
});

test('Hutchinson: unbiased within 3 standard errors, and the standard errors are honest over 20 seeds', async () => {
  let within1 = 0;
  for (let seed = 0; seed < 20; seed++) {
    const t = await hutchinsonTrace(op, { maxIter: 60, tol: 0, rng: new Rng(100 + seed) });
    assert.equal(t.samples.length, 60);
    const z = Math.abs(t.mean - trueTrace) / t.stderr;
    assert.ok(z < 3.5, `seed ${seed}: z = ${z}`);
    if (z < 1) within1++;
  }
  // About 68% of estimates fall within one standard error; a too-small stderr would make this fail.
  assert.ok(within1 >= 8, `only ${within1}/20 within one stderr`);
});

test('SLQ: weights sum to 1 and P·Σωτ equals the Hutchinson sample of the same start vector', async () => {
  const runs = await slq(op, { steps: 40, runs: 3, rng: new Rng(9) });
  const rngProbe = new Rng(9);
  for (const run of runs) {
    const sumW = run.weights.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sumW - 1) < 1e-12);
    const quad = run.nodes.reduce((a, t, l) => a + t * run.weights[l], 0);
    const z = new Float64Array(n).map(() => rngProbe.rademacher());
    const hz = await op.apply(z);
    const hutch = dot(z, hz);
    assert.ok(Math.abs(n * quad - hutch) < 1e-6 * Math.abs(hutch), `${n * quad} vs ${hutch}`);
    assert.ok(Math.abs(n * run.startQuadratic - hutch) < 1e-6 * Math.abs(hutch));
  }
  // Full Lanczos (steps = n) recovers the extreme eigenvalues as nodes.
  const full = await slq(op, { steps: n, runs: 1, rng: new Rng(4) });
  assert.ok(Math.abs(Math.max(...full[0].nodes) - top[0]) < 1e-8);
  const d = smoothDensity(runs);
  const dx = d.grid[1] - d.grid[0];
  assert.ok(Math.abs(d.values.reduce((a, b) => a + b, 0) * dx - 1) < 1e-12);
  assert.equal(d.grid.length, 10000);
});
