import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eigenvaluesTs, tridiagonalize, tridiagonalEigenvalues } from '../../src/linalg/eigh-ts.js';
import { gramTs } from '../../src/linalg/gram.js';
import { symmetricEigenvalues, matrixEigenvalues } from '../../src/linalg/eigen.js';
import { isWeightscopeError } from '../../src/errors.js';
import { gaussian, maxRelDiff, withSingularValues } from './linalg-fixtures.js';

test('1-D Laplacian tridiag(−1, 2, −1): eigenvalues 2 − 2cos(kπ/(n+1))', () => {
  const n = 97;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    A[i * n + i] = 2;
    if (i > 0) A[i * n + i - 1] = A[(i - 1) * n + i] = -1;
  }
  const got = eigenvaluesTs(A, n);
  const want = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1))).sort((a, b) => a - b);
  assert.ok(maxRelDiff(got, want) < 1e-14, `rel diff ${maxRelDiff(got, want)}`);
  assert.equal(A[0], 2, 'input left intact');
});

test('tridiagonalisation preserves trace and Frobenius norm', () => {
  const n = 64;
  const { G } = gramTs(gaussian(n * 80, 3), 80, n);
  let tr = 0;
  let fro = 0;
  for (let i = 0; i < n; i++) {
    tr += G[i * n + i];
    for (let j = 0; j < n; j++) fro += G[i * n + j] ** 2;
  }
  const { d, e } = tridiagonalize(G.slice(), n);
  let tr2 = 0;
  let fro2 = 0;
  for (let i = 0; i < n; i++) {
    tr2 += d[i];
    fro2 += d[i] ** 2 + 2 * e[i] ** 2;
  }
  assert.ok(Math.abs(tr2 - tr) < 1e-12 * tr, `trace ${tr2} vs ${tr}`);
  assert.ok(Math.abs(fro2 - fro) < 1e-12 * fro, `fro ${fro2} vs ${fro}`);
  const evals = tridiagonalEigenvalues(d, e);
  assert.ok(Math.abs(evals.reduce((s, x) => s + x, 0) - tr) < 1e-12 * tr);
});

test('diagonal matrices: eigenvalues are the squared diagonal, sorted (tall and wide)', () => {
  const diag = [3, -0.5, 0, 1e3, 1e-4, 7];
  for (const [rows, cols] of [
    [9, 6],
    [6, 11],
  ]) {
    const W = new Float64Array(rows * cols);
    diag.forEach((v, i) => (W[i * cols + i] = v));
    const got = matrixEigenvalues(W, rows, cols, { backend: 'ts' });
    assert.deepEqual(
      Array.from(got),
      diag.map((v) => v * v).sort((a, b) => a - b),
    );
  }
});

test('Gram of identity blocks: [I I] and [I; I] give 2·I exactly', () => {
  const k = 13;
  const tall = new Float64Array(2 * k * k);
  for (let i = 0; i < k; i++) tall[i * k + i] = tall[(k + i) * k + i] = 1;
  const wide = new Float64Array(2 * k * k);
  for (let i = 0; i < k; i++) wide[i * 2 * k + i] = wide[i * 2 * k + k + i] = 1;
  assert.deepEqual(Array.from(matrixEigenvalues(tall, 2 * k, k, { backend: 'ts' })), new Array(k).fill(2));
  assert.deepEqual(Array.from(matrixEigenvalues(wide, k, 2 * k, { backend: 'ts' })), new Array(k).fill(2));
});

test('known singular values 1e-4..1e3: eigenvalues = s² to 1e-12 of the largest', () => {
  const k = 60;
  const s = Array.from({ length: k }, (_, i) => 10 ** (-4 + (7 * i) / (k - 1)));
  const want = s.map((v) => v * v).sort((a, b) => a - b);
  for (const [rows, cols] of [
    [90, 60],
    [60, 150],
  ]) {
    const W = withSingularValues(rows, cols, s);
    const got = matrixEigenvalues(W, rows, cols, { backend: 'ts' });
    assert.ok(maxRelDiff(got, want) < 1e-12, `${rows}×${cols}: rel diff ${maxRelDiff(got, want)}`);
  }
});

test('rank-deficient, all-zero, 1×N and N×1 matrices', () => {
  const W = new Float64Array(20 * 8);
  for (let r = 0; r < 20; r++) W[r * 8] = r; // rank 1: one non-zero column
  const got = matrixEigenvalues(W, 20, 8, { backend: 'ts' });
  const top = Array.from({ length: 20 }, (_, r) => r * r).reduce((a, b) => a + b);
  assert.equal(got[7], top);
  for (let i = 0; i < 7; i++) assert.equal(got[i], 0);
  assert.deepEqual(Array.from(matrixEigenvalues(new Float64Array(12), 3, 4, { backend: 'ts' })), [0, 0, 0]);
  assert.deepEqual(Array.from(matrixEigenvalues(Float64Array.of(1, 2, 2), 1, 3, { backend: 'ts' })), [9]);
  assert.deepEqual(Array.from(matrixEigenvalues(Float64Array.of(1, 2, 2), 3, 1, { backend: 'ts' })), [9]);
  assert.deepEqual(Array.from(symmetricEigenvalues(new Float64Array(0), 0, { backend: 'ts' })), []);
});

test('bad input: NaN/Inf, wrong length, bad shape → WeightscopeError', () => {
  const isCode = (code: string) => (e: unknown) => isWeightscopeError(e) && e.code === code;
  assert.throws(() => matrixEigenvalues(Float64Array.of(1, NaN, 3, 4), 2, 2, { backend: 'ts' }), isCode('numerical'));
  assert.throws(() => matrixEigenvalues(Float64Array.of(1, Infinity, 3, 4), 2, 2), isCode('numerical'));
  assert.throws(() => matrixEigenvalues(Float64Array.of(1, 2, 3), 2, 2), isCode('shape-mismatch'));
  assert.throws(() => matrixEigenvalues(Float64Array.of(1, 2), 0, 2), isCode('shape-mismatch'));
  assert.throws(() => symmetricEigenvalues(Float64Array.of(1, 2, 3), 2), isCode('shape-mismatch'));
  // Finite weights whose Gram overflows are caught too.
  assert.throws(() => matrixEigenvalues(Float64Array.of(1e200, 1, 1, 1), 2, 2, { backend: 'ts' }), isCode('numerical'));
});
