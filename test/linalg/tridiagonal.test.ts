import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tridiagonalEigen } from '../../src/linalg/tridiagonal.js';

test('tridiag(−1, 2, −1) has eigenvalues 2 − 2cos(kπ/(n+1)) and orthonormal eigenvectors', () => {
  const n = 40;
  const { values, vectors } = tridiagonalEigen(new Array(n).fill(2), [0, ...new Array(n - 1).fill(-1)]);
  for (let k = 1; k <= n; k++) {
    assert.ok(Math.abs(values[k - 1] - (2 - 2 * Math.cos((k * Math.PI) / (n + 1)))) < 1e-13);
  }
  // Eigenvector k is sin(i·kπ/(n+1)) up to sign and scale; check T v = λ v and unit norm.
  for (let j = 0; j < n; j++) {
    let nrm = 0;
    for (let i = 0; i < n; i++) {
      const v = (i: number): number => (i < 0 || i >= n ? 0 : vectors[j * n + i]);
      const tv = 2 * v(i) - v(i - 1) - v(i + 1);
      assert.ok(Math.abs(tv - values[j] * v(i)) < 1e-12);
      nrm += v(i) ** 2;
    }
    assert.ok(Math.abs(nrm - 1) < 1e-12);
  }
});

test('a 1×1 and a diagonal tridiagonal matrix', () => {
  assert.deepEqual(Array.from(tridiagonalEigen([3], [0]).values), [3]);
  const r = tridiagonalEigen([5, -1, 2], [0, 0, 0]);
  assert.deepEqual(Array.from(r.values), [-1, 2, 5]);
});
