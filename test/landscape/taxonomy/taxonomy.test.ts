/**
 * The loss-landscape taxonomy (src/landscape/taxonomy) on models trained here, three seeds per setting, on a
 * 4-class problem in R^16 (Gaussian clusters; settings.ts). What each case shows (Yang et al. 2021):
 *
 * - few clean samples (100), width 8: the models interpolate — every point of the trained curves has 0–1% training
 *   error (mc ≈ 0: well connected), the Hessian is tiny (flat), and the models agree (high CKA): phase IV-B, with the
 *   best test accuracy of the three settings;
 * - many samples with 30% noisy labels, width 2: the models cannot fit (training error ≈ 40%), the loss is sharp,
 *   and the trained curves cross barriers (mc clearly negative): phase I — globally poorly connected, sharp;
 * - the same noisy data at width 8: more capacity for the same load removes most of the barrier (mc rises towards
 *   0) while the landscape stays sharp (the models still cannot fit the noise): the load-like knob moves the set
 *   along the global axis, as in the paper's width × temperature diagrams.
 * Plus the pure parts: phase rules and thresholds, the mixup's Beta draw, pairs, and the refusals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyPhase, PhaseThresholdsSchema } from '../../../src/landscape/taxonomy/phase.js';
import { betaSample, mixupInputs, parseTaxonomyOptions, taxonomy, type TaxonomyResult } from '../../../src/landscape/taxonomy/run.js';
import { Rng } from '../../../src/util/random.js';
import { fixture } from '../../helpers/fixtures.js';
import { sampleData, trainModels, writeData, type Problem } from './settings.js';

const P: Problem = { d: 16, classes: 4, spread: 1, noise: 1 };
const SEEDS = [1, 2, 3];

async function setting(
  dir: string,
  tag: string,
  n: number,
  flip: number,
  width: number,
  epochs: number,
  batchSize: number,
): Promise<TaxonomyResult> {
  const trainSet = sampleData(P, n, 11, flip);
  const train = await writeData(join(dir, `${tag}_train.safetensors`), trainSet);
  const testPath = await writeData(join(dir, 'test.safetensors'), sampleData(P, 1000, 99));
  const models = await trainModels(P, trainSet, { width, epochs, batchSize, lr: 0.1 }, SEEDS, dir, tag);
  return taxonomy({ models, train, test: testPath });
}

test('taxonomy: few clean samples → IV-B; many noisy samples at width 2 → I; width 8 on the same noisy data removes the barrier', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-taxonomy-'));
  try {
    const clean = await setting(dir, 'clean', 100, 0, 8, 300, 100);
    const narrow = await setting(dir, 'narrow', 1000, 0.3, 2, 20, 50);
    const wide = await setting(dir, 'wide', 1000, 0.3, 8, 20, 50);

    // Few clean samples: interpolation, no barrier, flat, similar models.
    assert.equal(clean.phase, 'IV-B', clean.verdict.reasons.join('; '));
    for (const m of clean.models) assert.equal(m.train_accuracy, 1);
    for (const p of clean.pairs) {
      assert.ok(Math.abs(p.mc) <= 2, `clean pair mc ${p.mc}`);
      assert.ok(Math.max(...p.errors) <= 2, `clean curve errors ${p.errors}`);
      assert.equal(p.errors.length, 5);
    }
    assert.ok(clean.summary.lambda_max < 0.5 && clean.summary.cka > 0.8, JSON.stringify(clean.summary));

    // Many noisy samples, width 2: a barrier on the curves and a sharp landscape.
    assert.equal(narrow.phase, 'I', narrow.verdict.reasons.join('; '));
    assert.ok(narrow.summary.mc < -4, `narrow mean mc ${narrow.summary.mc}`);
    assert.ok(Math.min(...narrow.pairs.map((p) => p.mc)) < -8, 'at least one pair crosses a large barrier');
    assert.ok(narrow.summary.train_accuracy < 0.7);
    assert.ok(narrow.summary.lambda_max > 1);

    // The same noisy data at width 8: the barrier shrinks; still sharp (the noise cannot be fitted).
    assert.equal(wide.verdict.local, 'sharp');
    assert.ok(wide.summary.mc > narrow.summary.mc + 4, `wide mc ${wide.summary.mc} vs narrow ${narrow.summary.mc}`);
    assert.ok(wide.summary.lambda_max > 10 * clean.summary.lambda_max);

    // The best test accuracy is in IV-B.
    assert.ok(
      clean.summary.test_accuracy! > wide.summary.test_accuracy! && wide.summary.test_accuracy! > narrow.summary.test_accuracy!,
      `test accuracy ${clean.summary.test_accuracy} / ${wide.summary.test_accuracy} / ${narrow.summary.test_accuracy}`,
    );
    // The report carries its evidence: per model, per pair, and the aggregates the paper plots.
    assert.equal(clean.models.length, 3);
    assert.equal(clean.pairs.length, 3);
    assert.ok(Math.abs(clean.summary.log_lambda_max - Math.log(clean.summary.lambda_max)) < 1e-12);
    assert.deepEqual(clean.pairs[0].ts, [0, 0.25, 0.5, 0.75, 1]);
    assert.equal(clean.criterion, 'ce');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('phase rules: each quadrant, the CKA split, the low-energy path, and thresholds that move the verdict', () => {
  const t = PhaseThresholdsSchema.parse({});
  assert.deepEqual(t, { mcBarrier: 2, sharpLambda: 1, ckaSimilar: 0.8 });
  assert.equal(classifyPhase({ mc: -5, lambdaMax: 3, cka: 0.9 }, t).phase, 'I');
  assert.equal(classifyPhase({ mc: 0, lambdaMax: 3, cka: 0.9 }, t).phase, 'II');
  assert.equal(classifyPhase({ mc: -5, lambdaMax: 0.2, cka: 0.9 }, t).phase, 'III');
  assert.equal(classifyPhase({ mc: 0, lambdaMax: 0.2, cka: 0.5 }, t).phase, 'IV-A');
  const b = classifyPhase({ mc: 0, lambdaMax: 0.2, cka: 0.9 }, t);
  assert.equal(b.phase, 'IV-B');
  assert.equal(b.similarity, 'similar');
  assert.equal(b.reasons.length, 3);
  assert.equal(classifyPhase({ mc: -5, lambdaMax: 0.2, cka: 0.1 }, t).similarity, null, 'CKA is read only for well-connected flat sets');
  const ii = classifyPhase({ mc: 4, lambdaMax: 3, cka: 0.9 }, t);
  assert.ok(ii.lowEnergyPath && ii.reasons.some((r) => r.includes('low-energy path')));
  assert.equal(
    classifyPhase({ mc: -2, lambdaMax: 1, cka: 0.8 }, t).phase,
    'IV-B',
    'boundaries: mc = barrier is connected, λ = threshold is flat',
  );
  assert.equal(
    classifyPhase({ mc: -3, lambdaMax: 3, cka: 0.9 }, PhaseThresholdsSchema.parse({ mcBarrier: 4, sharpLambda: 5 })).phase,
    'IV-B',
  );
  assert.throws(() => PhaseThresholdsSchema.parse({ mcBarrier: -1 }));
  assert.throws(() => PhaseThresholdsSchema.parse({ ckaSimilar: 2 }));
});

test('mixup: Beta(α, α) has mean 1/2 and variance 1/(4(2α + 1)); the mixed inputs are seeded convex combinations', () => {
  for (const alpha of [16, 0.5]) {
    const r = new Rng(3);
    const xs = Array.from({ length: 20000 }, () => betaSample(alpha, r));
    const m = xs.reduce((a, v) => a + v, 0) / xs.length;
    const v = xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
    const want = 1 / (4 * (2 * alpha + 1));
    assert.ok(Math.abs(m - 0.5) < 4 * Math.sqrt(want / xs.length), `α ${alpha}: mean ${m}`);
    assert.ok(Math.abs(v - want) < 0.05 * want, `α ${alpha}: var ${v} vs ${want}`);
    assert.ok(xs.every((x) => x > 0 && x < 1));
  }
  const ds = sampleData(P, 300, 5);
  const a = mixupInputs(ds, 256, 128, 16, new Rng(1));
  const b = mixupInputs(ds, 256, 128, 16, new Rng(1));
  assert.equal(a.n, 256);
  assert.deepEqual(a.x.data, b.x.data);
  // Each mixed row lies between the smallest and largest value of its batch's rows, coordinate by coordinate.
  const x = ds.x.data as Float32Array,
    mx = a.x.data as Float32Array;
  for (let j = 0; j < P.d; j++) {
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < 128; i++) {
      lo = Math.min(lo, x[i * P.d + j]);
      hi = Math.max(hi, x[i * P.d + j]);
    }
    for (let i = 0; i < 128; i++) assert.ok(mx[i * P.d + j] >= lo - 1e-6 && mx[i * P.d + j] <= hi + 1e-6);
  }
  assert.deepEqual(mixupInputs(ds, 10, 128, 0, new Rng(1)).x.data, x.subarray(0, 10 * P.d));
});

test('refusals: fewer than 3 models, different graphs, evaluation points without 0 and 1, unlabelled data, bad thresholds', async () => {
  const mlp = fixture('fmnist-hessian', 'mlp48.onnx');
  const cnn = fixture('fmnist-backdoor', 'model_a.onnx');
  const data = fixture('fmnist-hessian', 'batch.safetensors');
  await assert.rejects(taxonomy({ models: [mlp, mlp], train: data }), /at least 3 models/);
  await assert.rejects(taxonomy({ models: [mlp, mlp, cnn], train: data }), /not the same graph/);
  await assert.rejects(
    taxonomy({ models: [mlp, mlp, mlp], train: fixture('gpt2-tiny', 'lm_batch.safetensors') }),
    /labelled training data/,
  );
  assert.throws(() => parseTaxonomyOptions({ ts: [0.25, 0.5, 1] }), /t = 0 and t = 1/);
  assert.throws(() => parseTaxonomyOptions({ thresholds: { sharpLambda: -1 } }), /sharpLambda/);
  assert.throws(() => parseTaxonomyOptions({ pairs: 'some' }), /pairs/);
  assert.equal(parseTaxonomyOptions({}).epochs, 50);
  assert.equal(parseTaxonomyOptions({}).l2, 5e-4);
  assert.deepEqual(parseTaxonomyOptions({ thresholds: { sharpLambda: 3 } }).thresholds, { mcBarrier: 2, sharpLambda: 3, ckaSimilar: 0.8 });
});
