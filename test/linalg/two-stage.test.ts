/**
 * Acceptance (issue 13): the two-stage tridiagonal reduction gives dsyevd's eigenvalues (|Δλ| ≤ 1e-10·λmax) on
 * Gaussian, low-rank and heavy-tailed Gram matrices, and the power-law fit the same xmin and alpha; the Gram matrix built from panels equals the one-shot product.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { GramAccumulator, gram, gramTs } from '../../src/linalg/gram.js';
import {
  lapackAvailable,
  lapackEigenvalues,
  lapackUnavailableReason,
  twoStageValuesInPlace,
  type EigenTimings,
} from '../../src/linalg/lapack.js';
import { nativeLinalg } from '../../src/linalg/native.js';
import { symmetricEigenvalues } from '../../src/linalg/eigen.js';
import { fitPowerLaw } from '../../src/spectral/pl.js';
import { gaussian, withSingularValues } from './linalg-fixtures.js';
import { skipMissingSystemPackage } from '../helpers/system.js';

function needTwoStage(t: TestContext): boolean {
  if (lapackAvailable() && nativeLinalg()?.twoStage) return true;
  skipMissingSystemPackage(
    t,
    `LAPACK with dsytrd_sy2sb/sb2st absent (${lapackUnavailableReason() || 'old LAPACK'}): apt-get install -y libopenblas0-pthread`,
  );
  return false;
}

/** Heavy-tailed entries: Student-t with 2 degrees of freedom (infinite variance), as trained weights' ESD tails. */
function studentT2(len: number, seed: number): Float64Array {
  const z = gaussian(len, seed);
  const w = gaussian(2 * len, seed + 1);
  const out = new Float64Array(len);
  for (let i = 0; i < len; i++) out[i] = z[i] / Math.sqrt((w[2 * i] ** 2 + w[2 * i + 1] ** 2) / 2);
  return out;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const CASES: { name: string; rows: number; cols: number; W: () => Float64Array }[] = [
  { name: 'Gaussian 900×400', rows: 900, cols: 400, W: () => gaussian(900 * 400, 3) },
  {
    name: 'low-rank (rank 40) 300×500',
    rows: 300,
    cols: 500,
    W: () =>
      withSingularValues(
        300,
        500,
        Array.from({ length: 40 }, (_, i) => 1 + i),
        5,
      ),
  },
  { name: 'heavy-tailed (Student-t₂) 700×350', rows: 700, cols: 350, W: () => studentT2(700 * 350, 11) },
];

for (const c of CASES) {
  test(`two-stage eigenvalues = dsyevd's: ${c.name}`, (t) => {
    if (!needTwoStage(t)) return;
    const { G, n } = gram(c.W(), c.rows, c.cols);
    const one = lapackEigenvalues(G.slice(), n, { method: 'dsyevd' });
    for (const kd of [8, 32, 64]) {
      const timings: EigenTimings = { method: 'dsyevd', reduce: 0, band: 0, solve: 0 };
      const two = twoStageValuesInPlace(G.slice(), n, kd, timings);
      const lmax = one[n - 1];
      assert.ok(maxAbsDiff(two, one) <= 1e-10 * lmax, `kd ${kd}: |Δλ| = ${maxAbsDiff(two, one)} vs λmax ${lmax}`);
      assert.equal(timings.method, '2stage');
      assert.ok(timings.reduce > 0 && timings.band >= 0 && timings.solve >= 0);
      for (let i = 1; i < n; i++) assert.ok(two[i] >= two[i - 1], 'ascending');
    }
    // and the power-law fit chooses the same xmin and alpha from either
    const [p1, p2] = [fitPowerLaw(one), fitPowerLaw(twoStageValuesInPlace(G.slice(), n, 64))];
    assert.equal(p2.num_pl_spikes, p1.num_pl_spikes);
    assert.ok(
      Math.abs(p2.xmin - p1.xmin) <= 1e-10 * p1.xmin && Math.abs(p2.alpha - p1.alpha) <= 1e-9 * p1.alpha,
      `${p2.xmin} ${p2.alpha} vs ${p1.xmin} ${p1.alpha}`,
    );
    // 'auto' picks one of the two; either way the same eigenvalues
    const auto = lapackEigenvalues(G.slice(), n);
    assert.ok(maxAbsDiff(auto, one) <= 1e-10 * one[n - 1]);
    // and the pure-TypeScript solver agrees as well
    assert.ok(maxAbsDiff(symmetricEigenvalues(G, n, { backend: 'ts' }), one) <= 1e-10 * one[n - 1]);
  });
}

test('two-stage: tiny orders, a zero matrix, and values needing LAPACK-style scaling', (t) => {
  if (!needTwoStage(t)) return;
  assert.deepEqual([...twoStageValuesInPlace(Float64Array.of(4), 1, 32)], [4]);
  assert.deepEqual(
    [...twoStageValuesInPlace(Float64Array.of(2, 1, 1, 2), 2, 32)].map((v) => Math.round(v * 1e12) / 1e12),
    [1, 3],
  );
  assert.deepEqual([...twoStageValuesInPlace(new Float64Array(9), 3, 32)], [0, 0, 0]);
  // diag(1e-300, 2e-300, 3e-300): below LAPACK's safe range unless scaled by a power of two
  const D = new Float64Array(9);
  [1e-300, 2e-300, 3e-300].forEach((v, i) => (D[4 * i] = v));
  const w = twoStageValuesInPlace(D, 3, 1);
  [1e-300, 2e-300, 3e-300].forEach((v, i) => assert.ok(Math.abs(w[i] - v) <= 1e-15 * v, `${w[i]} vs ${v}`));
});

test('GramAccumulator: panels of rows (tall) or columns (wide) give the one-shot Gram matrix, BLAS and TS', () => {
  for (const [rows, cols] of [
    [257, 40],
    [40, 257],
    [64, 64],
  ] as const) {
    const W = gaussian(rows * cols, rows * 7 + cols);
    const want = gramTs(W, rows, cols);
    for (const backend of ['auto', 'ts'] as const) {
      const acc = new GramAccumulator(rows, cols, backend);
      const long = acc.wide ? cols : rows;
      const short = acc.wide ? rows : cols;
      for (let p0 = 0; p0 < long; p0 += 50) {
        const b = Math.min(50, long - p0);
        const panel = new Float64Array(b * short);
        // tall: rows p0.. (b×cols); wide: columns p0.. (rows×b), both row-major
        for (let i = 0; i < b; i++) {
          for (let j = 0; j < short; j++)
            panel[acc.wide ? j * b + i : i * short + j] = acc.wide ? W[j * cols + p0 + i] : W[(p0 + i) * cols + j];
        }
        acc.add(panel, b);
      }
      const got = acc.finish();
      assert.equal(got.n, want.n);
      let d = 0;
      let m = 0;
      for (let i = 0; i < got.G.length; i++) {
        d = Math.max(d, Math.abs(got.G[i] - want.G[i]));
        m = Math.max(m, Math.abs(want.G[i]));
      }
      assert.ok(d <= 1e-13 * m, `${rows}×${cols} ${backend}: ${d}`);
      assert.equal(acc.madds, ((want.n * (want.n + 1)) / 2) * long);
    }
  }
  assert.throws(() => new GramAccumulator(3, 4).add(new Float64Array(2), 1), /needs 3 values/);
});
