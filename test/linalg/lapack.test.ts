import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { lapackAvailable, lapackUnavailableReason, setBlasThreads, getBlasThreads, dsyevdValuesInPlace } from '../../src/linalg/lapack.js';
import { gram, gramTs } from '../../src/linalg/gram.js';
import { matrixEigenvalues, symmetricEigenvalues, resolveBackend } from '../../src/linalg/eigen.js';
import { candidatePaths } from '../../src/linalg/native.js';
import { gaussian, maxRelDiff, withSingularValues } from './linalg-fixtures.js';
import { skipMissingSystemPackage } from '../helpers/system.js';

/** LAPACK tests skip loudly when the library is absent, and fail in CI (which installs it). */
function needLapack(t: TestContext): boolean {
  if (lapackAvailable()) return true;
  skipMissingSystemPackage(t, `system LAPACK absent (${lapackUnavailableReason()}): apt-get install -y libopenblas0-pthread`);
  return false;
}

test('search order: WEIGHTSCOPE_LAPACK first, then OpenBLAS, then liblapack', () => {
  const p = candidatePaths({ WEIGHTSCOPE_LAPACK: '/opt/x/libfoo.so' });
  assert.equal(p[0], '/opt/x/libfoo.so');
  const ob = p.findIndex((x) => x.includes('libopenblas'));
  const lp = p.findIndex((x) => x.includes('liblapack'));
  assert.ok(ob > 0 && lp > ob);
});

test('dsyevd and the TS solver agree to 1e-10 on a Gaussian 300×100 Gram', (t) => {
  if (!needLapack(t)) return;
  const W = gaussian(300 * 100, 7);
  const a = matrixEigenvalues(W, 300, 100, { backend: 'lapack' });
  const b = matrixEigenvalues(W, 300, 100, { backend: 'ts' });
  assert.equal(a.length, 100);
  assert.ok(maxRelDiff(b, a) < 1e-10, `rel diff ${maxRelDiff(b, a)}`);
  // Sanity: Marchenko–Pastur edges for Q = 3 (σ = 1): λ ∈ 300·(1 ± 1/√3)² ≈ [53.6, 746].
  assert.ok(a[0] > 30 && a[99] < 900 && a[0] < a[99]);
});

test('dsyevd and TS give s² for known singular values 1e-4..1e3 (1e-12 of the largest)', (t) => {
  if (!needLapack(t)) return;
  const k = 80;
  const s = Array.from({ length: k }, (_, i) => 10 ** (-4 + (7 * i) / (k - 1)));
  const want = s.map((v) => v * v).sort((x, y) => x - y);
  for (const [rows, cols] of [
    [120, 80],
    [80, 200],
  ]) {
    const W = withSingularValues(rows, cols, s, 5);
    const a = matrixEigenvalues(W, rows, cols, { backend: 'lapack' });
    const b = matrixEigenvalues(W, rows, cols, { backend: 'ts' });
    assert.ok(maxRelDiff(a, want) < 1e-12, `lapack ${rows}×${cols}: ${maxRelDiff(a, want)}`);
    assert.ok(maxRelDiff(b, want) < 1e-12, `ts ${rows}×${cols}: ${maxRelDiff(b, want)}`);
    assert.ok(maxRelDiff(b, a) < 1e-10);
  }
});

test('BLAS dsyrk Gram equals the TS Gram (tall and wide)', (t) => {
  if (!needLapack(t)) return;
  for (const [rows, cols] of [
    [300, 100],
    [70, 301],
    [1, 5],
  ]) {
    const W = gaussian(rows * cols, rows + cols);
    const a = gram(W, rows, cols, { backend: 'blas' });
    const b = gramTs(W, rows, cols);
    assert.equal(a.n, b.n);
    assert.ok(maxRelDiff(a.G, b.G) < 1e-14, `${rows}×${cols}: ${maxRelDiff(a.G, b.G)}`);
  }
});

test('dsyevd: symmetric input, auto backend, input not modified, threads control', (t) => {
  if (!needLapack(t)) return;
  assert.equal(resolveBackend('auto'), 'lapack');
  const n = 50;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    A[i * n + i] = 2;
    if (i > 0) A[i * n + i - 1] = A[(i - 1) * n + i] = -1;
  }
  const copy = A.slice();
  const got = symmetricEigenvalues(A, n);
  assert.deepEqual(A, copy);
  const want = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1))).sort((x, y) => x - y);
  assert.ok(maxRelDiff(got, want) < 1e-14);
  assert.deepEqual(Array.from(dsyevdValuesInPlace(new Float64Array(0), 0)), []);
  const before = getBlasThreads();
  if (setBlasThreads(1)) {
    assert.equal(getBlasThreads(), 1);
    if (before) setBlasThreads(before);
  }
});
