/**
 * Trigger reverse-engineering (Neural Cleanse) and unlearning on the path: the anomaly index's exact math, the stamp,
 * the chain rule to the raw mask/pattern parameters against central differences, the unlearning batches, the
 * verified t rule, when reversal is skipped or refused. On real backdoored models (the reversal finds the target, flags it and puts the
 * mask on the trigger): repair-unlearn.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anomalyIndices, layoutOf, logL1Stats, rawGradients, stampRow, type TriggerLayout } from '../../../src/landscape/repair/cleanse.js';
import { selectVerified } from '../../../src/landscape/repair/select.js';
import { MAX_REVERSAL_CLASSES, reversalSkipped, unlearningBatches, type Cleansing } from '../../../src/landscape/repair/unlearn.js';
import type { Dataset } from '../../../src/runtime/dataset.js';
import { Rng } from '../../../src/util/random.js';
import { isCode } from '../../helpers/errors.js';

test('anomaly index: (median − log L1) / (1.4826·MAD) of log L1, exactly; no trigger and zero MAD give 0', () => {
  const l1 = [1, 3, 3.5, 4, 2.5].map(Math.exp);
  // logs 1, 3, 3.5, 4, 2.5: median 3, |deviations| 2, 0, 0.5, 1, 0.5 → MAD 0.5.
  const s = logL1Stats(l1);
  assert.ok(Math.abs(s.median - 3) < 1e-12);
  assert.ok(Math.abs(s.mad - 1.4826 * 0.5) < 1e-12);
  const a = anomalyIndices(l1);
  const want = [2, 0, -0.5, -1, 0.5].map((v) => v / (1.4826 * 0.5));
  for (let k = 0; k < 5; k++) assert.ok(Math.abs(a[k] - want[k]) < 1e-12, `class ${k}: ${a[k]} vs ${want[k]}`);
  // An even count takes the mean of the middle two; a class with no successful mask (∞) sorts last and scores 0.
  const b = anomalyIndices([Math.exp(1), Math.exp(2), Math.exp(4), Infinity]);
  assert.equal(b[3], 0);
  assert.ok(Math.abs(logL1Stats([Math.exp(1), Math.exp(2), Math.exp(4), Infinity]).median - 3) < 1e-12);
  assert.deepEqual(anomalyIndices([5, 5, 5, 1]), [0, 0, 0, 0], 'MAD 0: nothing can be called anomalous');
  assert.throws(() => anomalyIndices([1, 2]), isCode('invalid-input', /3 classes/));
});

test('stamp: (1 − m)·x + m·p per channel, the mask shared over channels', () => {
  const L: TriggerLayout = { channels: 2, pixels: 3, lo: 0, hi: 1 };
  const x = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1, 1, 1, 1, 1, 1]);
  const out = new Float32Array(12);
  const t = { mask: Float32Array.from([0, 0.5, 1]), pattern: Float32Array.from([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]) };
  stampRow(x, out, 0, t, L);
  stampRow(x, out, 1, t, L);
  const want = [0.1, 0.5, 0.7, 0.4, 0.5, 0.4, 1, 0.9, 0.7, 1, 0.75, 0.4];
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(out[i] - want[i]) < 1e-6, `${i}: ${out[i]} vs ${want[i]}`);
});

test('raw-parameter gradients equal central differences of Σ w·x′ + λ‖m‖₁ through the sigmoids', () => {
  const L: TriggerLayout = { channels: 2, pixels: 5, lo: -1, hi: 2 };
  const rows = 3;
  const D = 10;
  const rng = new Rng(5);
  const xb = Float32Array.from({ length: rows * D }, () => rng.uniform() * 3 - 1);
  const w = Float32Array.from({ length: rows * D }, () => rng.normal());
  const mr = Array.from({ length: 5 }, () => rng.normal());
  const pr = Array.from({ length: D }, () => rng.normal());
  const lambda = 0.3;
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  // In float64 throughout: float32 rounding of m and p would swamp a central difference with h = 1e-5.
  const F = (m: number[], p: number[]) => {
    const mask = m.map(sig);
    const pattern = p.map((v) => L.lo + (L.hi - L.lo) * sig(v));
    let f = lambda * mask.reduce((a, v) => a + v, 0);
    for (let i = 0; i < rows; i++)
      for (let c = 0; c < 2; c++)
        for (let j = 0; j < 5; j++) {
          const q = i * D + c * 5 + j;
          f += w[q] * ((1 - mask[j]) * xb[q] + mask[j] * pattern[c * 5 + j]);
        }
    return f;
  };
  const mask = Float32Array.from(mr.map(sig));
  const pattern = Float32Array.from(pr.map((v) => L.lo + (L.hi - L.lo) * sig(v)));
  const [gm, gp] = rawGradients(w, xb, rows, mask, pattern, L, lambda);
  // Central differences of F along each raw parameter of one block (`which`: 0 mask, 1 pattern).
  const check = (which: 0 | 1, analytic: Float64Array) => {
    const h = 1e-5;
    const base = [mr, pr];
    for (let j = 0; j < analytic.length; j++) {
      const shifted = (d: number) => base.map((v, q) => (q === which ? v.map((x, i) => (i === j ? x + d : x)) : v));
      const [mu, pu] = shifted(h);
      const [md, pd] = shifted(-h);
      const num = (F(mu, pu) - F(md, pd)) / (2 * h);
      assert.ok(Math.abs(analytic[j] - num) < 1e-4 * Math.max(1, Math.abs(num)), `block ${which}, ${j}: ${analytic[j]} vs ${num}`);
    }
  };
  check(0, gm);
  check(1, gp);
});

test('unlearning batches: each row stamped with probability share by one flagged trigger, labels kept; no trigger: unchanged', () => {
  const L: TriggerLayout = { channels: 1, pixels: 4, lo: 0, hi: 1 };
  const t0 = { target: 0, l1: 1, success: 1, mask: Float32Array.from([1, 0, 0, 0]), pattern: Float32Array.from([1, 0, 0, 0]) };
  const t1 = { target: 3, l1: 1, success: 1, mask: Float32Array.from([0, 0, 0, 1]), pattern: Float32Array.from([0, 0, 0, 0.5]) };
  const c: Cleansing = { endpoints: [], triggers: [t0, t1], layout: L, seconds: 0 };
  const n = 4000;
  const x = new Float32Array(n * 4).fill(0.25);
  const y = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 10));
  const batch = { x: { type: 'float32' as const, data: x, dims: [n, 4] }, y: { type: 'int64' as const, data: y, dims: [n] }, size: n };
  const out = unlearningBatches(c, 0.2, 1)(batch);
  assert.equal(out.y, batch.y, 'labels are the true ones');
  assert.equal(x[0], 0.25, 'the input batch is untouched');
  const o = out.x.data as Float32Array;
  let first = 0;
  let last = 0;
  for (let i = 0; i < n; i++) {
    const r = Array.from(o.subarray(i * 4, i * 4 + 4));
    if (r[0] === 1) first++;
    if (r[3] === 0.5) last++;
    const stamped = r[0] === 1 || r[3] === 0.5;
    assert.ok(!(r[0] === 1 && r[3] === 0.5), 'one trigger per row');
    assert.deepEqual(r.slice(1, 3), [0.25, 0.25]);
    if (!stamped) assert.deepEqual(r, [0.25, 0.25, 0.25, 0.25]);
  }
  assert.ok(Math.abs((first + last) / n - 0.2) < 0.02, `stamped share ${(first + last) / n}`);
  assert.ok(Math.abs(first / (first + last) - 0.5) < 0.06, 'the triggers are drawn evenly');
  assert.equal(unlearningBatches({ ...c, triggers: [] }, 0.2, 1)(batch), batch);
  assert.throws(() => unlearningBatches(c, 0, 1), isCode('invalid-input', /share/));
});

test('verified t rule: best held-out accuracy first among points the trained curve weighs ≥ 1/4, the first that passes; none passing gives null; tries bound the checks', async () => {
  const rows = [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1].map((t, i) => ({ t, accuracy: [0.86, 0.855, 0.83, 0.81, 0.84, 0.868, 0.865][i] }));
  const asked: number[] = [];
  const all = () => 1;
  const v = await selectVerified(rows, 0.02, 3, all, async (t) => {
    asked.push(t);
    return t !== 0.9;
  });
  assert.deepEqual(asked, [0.9, 0.1]);
  assert.equal(v?.t, 0.1);
  assert.deepEqual(
    v?.checked.map((c) => [c.t, c.pass]),
    [
      [0.9, false],
      [0.1, true],
    ],
  );
  assert.match(v?.reason ?? '', /t = 0\.9 still showed it/);
  const none = await selectVerified(rows, 0.02, 2, all, async (t) => {
    asked.push(t);
    return false;
  });
  assert.equal(none, null);
  assert.deepEqual(asked.slice(2), [0.9, 0.1], 'two tries, best first');
  await assert.rejects(
    selectVerified(rows, 0.02, 0, all, async () => true),
    isCode('invalid-input', /tries/),
  );
  // Points dominated by the endpoints' own weights are never candidates: a quadratic Bezier's 2t(1 − t) < 1/4 at 0.1, 0.9.
  const bezier = (t: number) => 2 * t * (1 - t);
  const edge: number[] = [];
  const mid = await selectVerified(rows, 0.02, 5, bezier, async (t) => {
    edge.push(t);
    return true;
  });
  assert.deepEqual(edge, [0.7], 'best held-out among t in [0.15, 0.85]');
  assert.equal(mid?.t, 0.7);
});

test('reversal skipped with a reason by the recipe, refused when asked for: over 100 classes, under 3, BatchNorm', () => {
  const ok = { classes: MAX_REVERSAL_CLASSES, batchNorm: false };
  assert.equal(reversalSkipped(ok, true), null);
  assert.equal(reversalSkipped({ ...ok, classes: 3 }, true), null);
  assert.match(reversalSkipped({ ...ok, classes: 1000 }, false) ?? '', /1000 classes is over the 100 .* skipped/);
  assert.throws(() => reversalSkipped({ ...ok, classes: 1000 }, true), isCode('invalid-input', /1000 classes .* set unlearn 0/));
  assert.match(reversalSkipped({ ...ok, classes: 2 }, false) ?? '', /at least 3 classes, got 2, so the recipe's unlearning was skipped/);
  assert.throws(() => reversalSkipped({ ...ok, classes: 2 }, true), isCode('invalid-input', /at least 3 classes/));
  assert.match(reversalSkipped({ ...ok, batchNorm: true }, false) ?? '', /without BatchNormalization, so/);
  assert.throws(() => reversalSkipped({ ...ok, batchNorm: true }, true), isCode('invalid-input', /BatchNormalization: set unlearn 0/));
});

test('layout: [C, H, W] images share the mask over channels; token ids and constant data are refused', () => {
  const img = (dims: number[], v: (i: number) => number): Dataset => {
    const n = dims.reduce((a, b) => a * b, 1);
    return { n: dims[0], x: { type: 'float32', data: Float32Array.from({ length: n }, (_, i) => v(i)), dims }, y: null };
  };
  assert.deepEqual(layoutOf(img([2, 3, 4, 5], (i) => i % 7)), { channels: 3, pixels: 20, lo: 0, hi: 6 });
  assert.deepEqual(layoutOf(img([2, 6], (i) => 5 - i)), { channels: 1, pixels: 6, lo: -6, hi: 5 });
  assert.throws(() => layoutOf(img([2, 6], () => 1)), isCode('invalid-input', /constant/));
  const tokens: Dataset = { n: 1, x: { type: 'int64', data: new BigInt64Array(4), dims: [1, 4] }, y: null };
  assert.throws(() => layoutOf(tokens), isCode('invalid-input', /real-valued/));
});
