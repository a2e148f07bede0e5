import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EigenPool } from '../../src/linalg/pool.js';
import { matrixEigenvalues } from '../../src/linalg/eigen.js';
import { isWeightscopeError } from '../../src/errors.js';
import { gaussian } from './linalg-fixtures.js';
import { skipMissingSystemPackage } from '../helpers/system.js';

const shapes: [number, number][] = [
  [120, 40],
  [40, 130],
  [64, 64],
  [1, 9],
  [90, 33],
];

for (const backend of ['auto', 'ts'] as const) {
  test(`EigenPool (${backend}) returns exactly the in-thread eigenvalues`, async () => {
    const pool = new EigenPool({ size: 2, backend });
    try {
      const mats = shapes.map(([r, c], i) => gaussian(r * c, 100 + i));
      const want = mats.map((W, i) => matrixEigenvalues(W, shapes[i][0], shapes[i][1], { backend }));
      const got = await Promise.all(mats.map((W, i) => pool.run(W.slice(), shapes[i][0], shapes[i][1])));
      got.forEach((g, i) => assert.deepEqual(g, want[i], `matrix ${i}`));
    } finally {
      await pool.close();
    }
  });
}

test('EigenPool transfers (detaches) the buffer unless copy is asked; errors come back typed', async () => {
  const pool = new EigenPool({ size: 1, backend: 'ts' });
  try {
    const W = gaussian(30 * 10, 1);
    const kept = W.slice();
    const a = await pool.run(kept, 30, 10, { copy: true });
    assert.equal(kept.length, 300, 'copy leaves the array usable');
    const b = await pool.run(W, 30, 10);
    assert.equal(W.length, 0, 'transferred buffer is detached');
    assert.deepEqual(a, b);
    // A view into a larger buffer is copied, not transferred.
    const big = gaussian(400, 2);
    const view = big.subarray(100, 400);
    await pool.run(view, 30, 10);
    assert.equal(big.length, 400);
    await assert.rejects(pool.run(Float64Array.of(1, NaN, 0, 1), 2, 2), (e) => isWeightscopeError(e) && e.code === 'numerical');
    await assert.rejects(pool.run(Float64Array.of(1, 2, 3), 2, 2), (e) => isWeightscopeError(e) && e.code === 'shape-mismatch');
    // The pool still works after a failed job.
    assert.deepEqual(await pool.run(Float64Array.of(3, 0, 0, 4), 2, 2), Float64Array.of(9, 16));
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run(Float64Array.of(1), 1, 1), /closed/);
});

test('EigenPool sets 1 OpenBLAS thread while open and restores the previous count on close', async (t) => {
  const { getBlasThreads, setBlasThreads } = await import('../../src/linalg/lapack.js');
  const before = getBlasThreads();
  if (before === null) {
    skipMissingSystemPackage(t, 'no OpenBLAS thread control (LAPACK absent or not OpenBLAS): apt-get install -y libopenblas0-pthread');
    return;
  }
  setBlasThreads(2);
  const pool = new EigenPool({ size: 2 });
  assert.equal(getBlasThreads(), 1);
  await pool.close();
  assert.equal(getBlasThreads(), 2);
  setBlasThreads(before);
});
