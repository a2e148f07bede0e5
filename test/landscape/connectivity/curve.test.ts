import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combine, curveCoefficients, garipovFactor, linearInit, modeConnectivity } from '../../../src/landscape/connectivity/curve.js';

test('quadratic Bezier coefficients are (1−t)², 2t(1−t), t² and sum to 1 for any K', () => {
  for (const t of [0, 0.13, 0.5, 0.9, 1]) {
    const c = curveCoefficients('bezier', 3, t);
    assert.ok(Math.abs(c[0] - (1 - t) ** 2) < 1e-15);
    assert.ok(Math.abs(c[1] - 2 * t * (1 - t)) < 1e-15);
    assert.ok(Math.abs(c[2] - t * t) < 1e-15);
    for (const K of [2, 4, 7]) {
      for (const kind of ['bezier', 'polychain'] as const) {
        const s = curveCoefficients(kind, K, t).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(s - 1) < 1e-12, `${kind} K=${K} t=${t}: ${s}`);
      }
    }
  }
  // Cubic: C(3,1) t (1−t)²
  assert.ok(Math.abs(curveCoefficients('bezier', 4, 0.3)[1] - 3 * 0.3 * 0.7 ** 2) < 1e-15);
});

test('PolyChain with K = 3 is two straight segments bending at t = 0.5', () => {
  assert.deepEqual(Array.from(curveCoefficients('polychain', 3, 0.25)), [0.5, 0.5, 0]);
  assert.deepEqual(Array.from(curveCoefficients('polychain', 3, 0.5)), [0, 1, 0]);
  assert.deepEqual(Array.from(curveCoefficients('polychain', 3, 1)), [0, 0, 1]);
});

test('a linearly initialised Bezier curve is the straight line at every t', () => {
  const a = Float32Array.from([1, -2, 3]);
  const b = Float32Array.from([5, 0, -1]);
  const pts = linearInit(a, b, 4);
  for (const t of [0, 0.2, 0.7, 1]) {
    const w = combine(pts, curveCoefficients('bezier', 4, t));
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(w[i] - ((1 - t) * a[i] + t * b[i])) < 1e-6);
  }
});

test('Garipov schedule and the mc sign convention', () => {
  assert.equal(garipovFactor(50, 100), 1);
  assert.ok(Math.abs(garipovFactor(70, 100) - (1 - 0.5 * 0.99)) < 1e-12);
  assert.equal(garipovFactor(95, 100), 0.01);
  assert.equal(modeConnectivity([10, 12, 30, 14, 10]), -20); // barrier
  assert.equal(modeConnectivity([10, 8, 5, 7, 10]), 5); // curve better than its endpoints
});
