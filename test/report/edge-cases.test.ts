/** Bad weights (issue 2): NaN/Inf → that layer `failed` with a reason, others analysed; all-zero and 1×N handled. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { analyze, valueProblem } from '../../src/report/analyze.js';
import { WeightscopeError } from '../../src/errors.js';
import { fixture } from '../helpers/fixtures.js';

let dir = '';
let model = '';

/** Deterministic pseudo-random matrix (LCG), values in [-1, 1). */
function matrix(rows: number, cols: number, seed: number): Float64Array {
  const out = new Float64Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.fround(s / 2 ** 31 - 1);
  }
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ws-edge-'));
  model = join(dir, 'model.safetensors');
  const nan = matrix(20, 30, 2);
  nan[7] = NaN;
  const inf = matrix(20, 30, 3);
  inf[0] = Infinity;
  inf[1] = -Infinity;
  await writeSafetensors(model, [
    { name: 'a_good.weight', dtype: 'F32', shape: [20, 30], data: matrix(20, 30, 1) },
    { name: 'b_nan.weight', dtype: 'F32', shape: [20, 30], data: nan },
    { name: 'c_inf.weight', dtype: 'F32', shape: [20, 30], data: inf },
    { name: 'd_zero.weight', dtype: 'F32', shape: [20, 30], data: new Float64Array(600) },
    { name: 'e_row.weight', dtype: 'F32', shape: [1, 30], data: matrix(1, 30, 4) },
    { name: 'f_good.weight', dtype: 'F32', shape: [30, 12], data: matrix(30, 12, 5) },
  ]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('NaN, Inf and all-zero layers fail with a reason; the others are analysed', async () => {
  const r = await analyze(model, { fits: ['pl', 'etpl', 'exp'] });
  const byName = new Map(r.layers.map((l) => [l.name, l]));
  assert.deepEqual(
    r.layers.map((l) => [l.layer_id, l.name, l.status]),
    [
      [0, 'a_good', 'success'],
      [1, 'b_nan', 'failed'],
      [2, 'c_inf', 'failed'],
      [3, 'd_zero', 'failed'],
      [5, 'f_good', 'success'],
    ],
  );
  assert.equal(byName.get('b_nan')!.reason, 'weights contain 1 NaN value');
  assert.equal(byName.get('c_inf')!.reason, 'weights contain 2 infinite values');
  assert.match(byName.get('d_zero')!.reason!, /all weights are zero/);
  for (const name of ['b_nan', 'c_inf', 'd_zero']) {
    const l = byName.get(name)!;
    assert.equal(l.has_esd, false);
    assert.equal(l.alpha, null);
    assert.equal(l.N, 30);
  }
  const good = byName.get('a_good')!;
  assert.equal(good.num_evals, 20);
  assert.ok(typeof good.alpha === 'number' && good.alpha > 1);
  // 1×N: one eigenvalue, below min_evals → skipped with the reason, not a crash.
  const row = r.skipped!.find((s) => s.name === 'e_row')!;
  assert.equal(row.layer_id, 4);
  assert.match(row.reason, /1 eigenvalues < min_evals 10/);
  // the summary averages only analysed rows that have the metric
  assert.ok(Number.isFinite(r.summary.alpha as number));
});

test('1×N with min_evals 0: one eigenvalue, the fit fails with a reason', async () => {
  const r = await analyze(model, { fits: ['pl'], minEvals: 0, layers: ['e_row'] });
  assert.equal(r.layers.length, 1);
  const l = r.layers[0];
  assert.equal(l.num_evals, 1);
  assert.equal(l.status, 'failed');
  assert.ok(l.reason && l.reason.length > 0, 'a reason is given');
  assert.equal(l.alpha, -1); // WW's failed-fit convention
});

test('valueProblem', () => {
  assert.equal(valueProblem(Float64Array.of(0, 1)), null);
  assert.equal(valueProblem(Float64Array.of(NaN, NaN, Infinity)), 'weights contain 2 NaN and 1 infinite values');
  assert.equal(valueProblem(new Float64Array(3)), 'all weights are zero (empty spectrum)');
});

test('bad options and missing files are WeightscopeErrors', async () => {
  await assert.rejects(
    analyze(model, { minEvals: -1 }),
    (e) => e instanceof WeightscopeError && e.code === 'invalid-input' && /minEvals/.test(e.message),
  );
  await assert.rejects(analyze(model, { fits: ['powerlaw' as 'pl'] }), (e) => e instanceof WeightscopeError && /fits/.test(e.message));
  await assert.rejects(analyze(model, { layers: ['nope'] }), (e) => e instanceof WeightscopeError && e.code === 'not-found');
  await assert.rejects(analyze(join(dir, 'missing.safetensors')), (e) => e instanceof WeightscopeError);
});

test('the worker pool gives the same rows as this thread (gpt2-tiny, both eigen backends)', async () => {
  const file = fixture('gpt2-tiny', 'model.safetensors');
  const inline = await analyze(file, { fits: ['pl'], workers: 1, eigenBackend: 'ts' });
  const pooled = await analyze(file, { fits: ['pl'], workers: 2, eigenBackend: 'ts' });
  assert.deepEqual(pooled.layers, inline.layers);
  assert.equal(pooled.layers.length, 18);
});
