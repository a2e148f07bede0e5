import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mixupBatch } from '../../src/runtime/mixup.js';
import type { Batch } from '../../src/runtime/dataset.js';
import { Rng } from '../../src/util/random.js';
import { isCode } from '../helpers/errors.js';

/** Row i of x is the basis vector e_i and its label is i: a mixed row shows λ, its partner j and the label drawn. */
function basisBatch(n: number): Batch {
  const x = new Float32Array(n * n);
  for (let i = 0; i < n; i++) x[i * n + i] = 1;
  return {
    x: { type: 'float32', data: x, dims: [n, n] },
    y: { type: 'int64', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), dims: [n] },
    size: n,
  };
}

test('mixup: each mixed row is λ·x_i + (1−λ)·x_j with λ in [½, 1], its label y_i or y_j; the input is untouched', () => {
  const n = 64;
  const b = basisBatch(n);
  const before = Float32Array.from(b.x.data as Float32Array);
  const m = mixupBatch(b, 1, new Rng(5));
  assert.deepEqual(b.x.data, before);
  const x = m.x.data as Float32Array;
  const y = m.y!.data as BigInt64Array;
  let mixed = 0;
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * n, (i + 1) * n);
    const nz = [...row.keys()].filter((k) => row[k] !== 0);
    const lam = row[i];
    assert.ok(lam >= 0.5 - 1e-7 && lam <= 1, `row ${i}: own weight ${lam}`);
    if (nz.length === 1) {
      assert.deepEqual(nz, [i]); // mixed with itself (j = i) or λ = 1
      assert.equal(y[i], BigInt(i));
      continue;
    }
    mixed++;
    assert.equal(nz.length, 2);
    const j = nz.find((k) => k !== i)!;
    assert.ok(Math.abs(row[j] - (1 - lam)) < 1e-6, `row ${i}: weights ${lam} + ${row[j]} ≠ 1`);
    assert.ok(y[i] === BigInt(i) || y[i] === BigInt(j), `row ${i}: label ${y[i]} is neither ${i} nor ${j}`);
  }
  assert.ok(mixed >= n - 4, `only ${mixed} of ${n} rows mixed with share 1`);
});

test("mixup: the own label is kept with probability E[λ] = ¾ (unbiased for mixup's λ-weighted loss); share = fraction of rows mixed", () => {
  const n = 4000;
  const m = mixupBatch(basisBatch(n), 1, new Rng(11));
  const y = m.y!.data as BigInt64Array;
  const x = m.x.data as Float32Array;
  let kept = 0;
  let lamSum = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] === BigInt(i)) kept++;
    lamSum += x[i * n + i];
  }
  // 4000 Bernoulli(¾) draws: sd 0.0068; λ ~ U(½, 1): mean ¾, sd of the mean 0.0023.
  assert.ok(Math.abs(kept / n - 0.75) < 0.03, `kept ${kept / n}`);
  assert.ok(Math.abs(lamSum / n - 0.75) < 0.01, `mean λ ${lamSum / n}`);
  const half = mixupBatch(basisBatch(n), 0.5, new Rng(12));
  const hx = half.x.data as Float32Array;
  let untouched = 0;
  for (let i = 0; i < n; i++) if (hx[i * n + i] === 1) untouched++;
  assert.ok(Math.abs(untouched / n - 0.5) < 0.04, `untouched ${untouched / n}`);
});

test('mixup: share 0 is the batch itself; seeded; token ids, missing labels and a share outside [0, 1] are refused', () => {
  const b = basisBatch(8);
  assert.equal(mixupBatch(b, 0, new Rng(1)), b);
  assert.deepEqual(mixupBatch(b, 0.7, new Rng(3)), mixupBatch(b, 0.7, new Rng(3)));
  const tokens: Batch = { x: { type: 'int64', data: new BigInt64Array(8), dims: [2, 4] }, y: b.y, size: 2 };
  assert.throws(() => mixupBatch(tokens, 0.5, new Rng(1)), isCode('invalid-input', /token ids/));
  assert.throws(() => mixupBatch({ ...b, y: null }, 0.5, new Rng(1)), isCode('invalid-input', /labels/));
  for (const s of [-0.1, 1.5, Number.NaN]) assert.throws(() => mixupBatch(b, s, new Rng(1)), isCode('invalid-input', /share/));
});
