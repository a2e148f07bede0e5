import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/util/random.js';
import { l2Distance, linearCka } from '../../../src/landscape/similarity/cka.js';

const rng = new Rng(5);
const n = 30;
const p = 6;
const X = new Float64Array(n * p).map(() => rng.normal());
const Y = new Float64Array(n * 4).map(() => rng.normal());

/** The formula as Yang et al. write it: HSIC(K, L) = tr(K H L H)/(n−1)² on Gram matrices K = XXᵀ. */
function ckaByGram(A: Float64Array, a: number, B: Float64Array, b: number): number {
  const gram = (M: Float64Array, d: number): number[][] =>
    Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let k = 0; k < d; k++) s += M[i * d + k] * M[j * d + k];
        return s;
      }),
    );
  const center = (K: number[][]): number[][] => {
    const row = K.map((r) => r.reduce((s, v) => s + v, 0) / n);
    const all = row.reduce((s, v) => s + v, 0) / n;
    return K.map((r, i) => r.map((v, j) => v - row[i] - row[j] + all));
  };
  const hsic = (K: number[][], L: number[][]): number => {
    const Kc = center(K);
    const Lc = center(L);
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += Kc[i][j] * Lc[j][i];
    return s / (n - 1) ** 2;
  };
  const K = gram(A, a);
  const L = gram(B, b);
  return hsic(K, L) / Math.sqrt(hsic(K, K) * hsic(L, L));
}

test('CKA of a representation with itself is 1', () => {
  assert.ok(Math.abs(linearCka(X, X, n, p, p) - 1) < 1e-12);
});

test('CKA equals the Gram-matrix HSIC formula on a small case', () => {
  const direct = ckaByGram(X, p, Y, 4);
  assert.ok(Math.abs(linearCka(X, Y, n, p, 4) - direct) < 1e-12, `${linearCka(X, Y, n, p, 4)} vs ${direct}`);
  assert.ok(direct > 0 && direct < 1);
});

test('CKA is invariant to an orthogonal rotation and isotropic scaling of the outputs', () => {
  // Rotation in the (0,1) and (2,5) planes, then scale by 3.7.
  const c = Math.cos(0.7);
  const s = Math.sin(0.7);
  const Z = Float64Array.from(X);
  for (let i = 0; i < n; i++) {
    const [a, b] = [X[i * p], X[i * p + 1]];
    Z[i * p] = 3.7 * (c * a - s * b);
    Z[i * p + 1] = 3.7 * (s * a + c * b);
    const [d, e] = [X[i * p + 2], X[i * p + 5]];
    Z[i * p + 2] = 3.7 * (c * d + s * e);
    Z[i * p + 5] = 3.7 * (-s * d + c * e);
    for (const k of [3, 4]) Z[i * p + k] = 3.7 * X[i * p + k];
  }
  assert.ok(Math.abs(linearCka(Z, Y, n, p, 4) - linearCka(X, Y, n, p, 4)) < 1e-12);
  assert.ok(Math.abs(linearCka(Z, X, n, p, p) - 1) < 1e-12);
});

test('L2 distance is exact and refuses mismatched lengths', () => {
  assert.equal(l2Distance([0, 3, 1], [4, 0, 1]), 5);
  assert.throws(() => l2Distance([1], [1, 2]), /differ in length/);
});
