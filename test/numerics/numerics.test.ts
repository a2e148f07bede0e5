/** The numerics home (src/numerics): each building block against exact math or closed forms. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brentRoot } from '../../src/numerics/brent.js';
import { logGamma, logGamma1p } from '../../src/numerics/gamma.js';
import { suffixAt, suffixSums } from '../../src/numerics/sums.js';
import { firstMinimum, loses } from '../../src/numerics/first-min.js';

test('brentRoot: cube root of 2 and the fixed point of cos, within the tolerance, in few evaluations', () => {
  let calls = 0;
  const f = (x: number): number => {
    calls++;
    return x * x * x - 2;
  };
  const r = brentRoot(f, 0, f(0), 2, f(2));
  assert.ok(Math.abs(r - Math.cbrt(2)) < 1e-12, `${r}`);
  assert.ok(calls < 20, `${calls} evaluations`);
  const g = (x: number): number => Math.cos(x) - x;
  const s = brentRoot(g, 0, g(0), 1, g(1), { absTol: 0, relTol: 1e-15 });
  assert.ok(Math.abs(s - 0.7390851332151607) < 2e-15, `${s}`);
  // an end point that is already a root is returned at once
  assert.equal(brentRoot(g, 0, g(0), s, 0), s);
});

test('logGamma: Γ(n) = (n−1)!, Γ(1/2) = √π, reflection below 1/2; logGamma1p agrees with logGamma(1 + t)', () => {
  let fact = 1;
  for (let n = 1; n <= 20; n++) {
    assert.ok(Math.abs(logGamma(n) - Math.log(fact)) <= 1e-14 * Math.max(1, Math.log(fact)), `n=${n}`);
    fact *= n;
  }
  assert.ok(Math.abs(logGamma(0.5) - Math.log(Math.sqrt(Math.PI))) < 1e-15);
  // Γ(1/4)Γ(3/4) = π/sin(π/4)
  assert.ok(Math.abs(logGamma(0.25) + logGamma(0.75) - Math.log(Math.PI / Math.SQRT1_2)) < 1e-14);
  for (let t = -0.5; t <= 0.5; t += 0.0625) {
    assert.ok(Math.abs(logGamma1p(t) - logGamma(1 + t)) < 2e-15, `t=${t}`);
  }
  assert.equal(logGamma1p(0), 0);
  assert.throws(() => logGamma1p(0.75), RangeError);
});

test('suffixSums: compensated sums are exact where the plain sum loses everything', () => {
  // from the right: 3, 4, −1e16+4, −1e16+5 (not a double), 5, 6; plain summation drops a 1 and ends at 5
  const v = [1, 1e16, 1, -1e16, 1, 3];
  const s = suffixSums(v);
  let plain = 0;
  for (let i = v.length - 1; i >= 0; i--) plain += v[i];
  assert.equal(plain, 5);
  assert.equal(suffixAt(s, 0), 6);
  assert.equal(suffixAt(s, 1), 5);
  assert.equal(suffixAt(s, 3), -1e16 + 4);
  assert.equal(suffixAt(s, 5), 3);
  assert.equal(suffixAt(s, 6), 0);
  // with a map: Σ ln x_k
  const l = suffixSums([Math.E, Math.E ** 2], Math.log);
  assert.ok(Math.abs(suffixAt(l, 0) - 3) < 1e-15);
});

test('firstMinimum: the first index of the smallest value, whatever the seeds and the pruning', () => {
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rnd() * 300);
    // few distinct values: many ties
    const vals = Array.from({ length: n }, () => Math.floor(rnd() * 8));
    const skip = new Set(Array.from({ length: Math.floor(n / 10) }, () => Math.floor(rnd() * n)));
    let want = -1;
    for (let i = 0; i < n; i++) if (!skip.has(i) && (want < 0 || vals[i] < vals[want])) want = i;
    let pruned = 0;
    const got = firstMinimum(n, 1 + Math.floor(rnd() * 64), (i, best) => {
      if (skip.has(i)) return null;
      // a pruning evaluator returns any partial value that already loses
      if (loses(vals[i], i, best)) {
        pruned++;
        return best!.value + (vals[i] > best!.value ? 0.5 : 0);
      }
      return vals[i];
    });
    if (want < 0) assert.equal(got, null);
    else assert.deepEqual(got, { index: want, value: vals[want] }, `trial ${trial}`);
    if (n > 50) assert.ok(pruned > 0);
  }
});
