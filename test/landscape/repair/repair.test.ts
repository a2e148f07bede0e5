/**
 * Repair on fmnist-backdoor with CI-sized budgets (stated per test). The triggered set is for reporting only: with
 * and without it the chosen t and the written files are byte-identical. The output loads in onnxruntime and in the
 * project's readers, and its HT-SR analysis runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { openCheckpoint } from '../../../src/io/open.js';
import { analyze } from '../../../src/report/analyze.js';
import { loadDataset, makeDataset, sliceBatch } from '../../../src/runtime/dataset.js';
import { classificationSums } from '../../../src/runtime/metrics.js';
import {
  repair,
  writeRepaired,
  safetensorsPathFor,
  type RepairInputs,
  type RepairOptionsInput,
} from '../../../src/landscape/repair/repair.js';
import { createPathEvaluator } from '../../../src/landscape/connectivity/evaluate.js';
import { curveParamSpecs } from '../../../src/landscape/connectivity/connect.js';
import { splitClean } from '../../../src/landscape/connectivity/split.js';
import { selectPolished, selectT, type PolishedSelection } from '../../../src/landscape/repair/select.js';
import { fixture } from '../../helpers/fixtures.js';

const F = (f: string) => fixture('fmnist-backdoor', f);
const base: RepairInputs = { modelA: F('model_a.onnx'), modelB: F('model_b.onnx'), data: F('clean_subset.safetensors') };
// 2 epochs × 256 samples, batch 64 (8 curve steps); 5 evaluation points; polishing 1 epoch × 128 samples per try.
const tiny: RepairOptionsInput = {
  epochs: 2,
  samplesPerEpoch: 256,
  batchSize: 64,
  ts: [0, 0.25, 0.5, 0.75, 1],
  baseline: false,
  seed: 3,
  l2: 0.03,
  polishEpochs: 1,
  polishSamplesPerEpoch: 128,
  polishTries: 2,
};

test('repair (2 epochs × 256 samples): chosen t and output files identical with and without --triggered; output loads everywhere', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-repair-'));
  try {
    const withTrig = await repair({ ...base, triggered: F('test_triggered.safetensors') }, tiny);
    const without = await repair(base, tiny);
    assert.deepEqual(withTrig.report.choice, without.report.choice);
    assert.equal(withTrig.report.data.triggered, 2000);
    assert.equal(without.report.data.triggered, null);
    assert.deepEqual(
      withTrig.report.along.map((r) => r.sets.heldOut),
      without.report.along.map((r) => r.sets.heldOut),
    );
    assert.ok(withTrig.report.along.every((r) => r.sets.triggered.n === 2000));
    assert.deepEqual(withTrig.report.data, { train: 2400, heldOut: 600, heldOutSource: 'split', triggered: 2000, targets: null });
    const p1 = join(dir, 'a.onnx');
    const p2 = join(dir, 'b.onnx');
    const o1 = await writeRepaired(withTrig, p1);
    await writeRepaired(without, p2);
    assert.equal(o1.safetensors, join(dir, 'a.safetensors'));
    assert.deepEqual(await readFile(p1), await readFile(p2));
    assert.deepEqual(await readFile(safetensorsPathFor(p1)), await readFile(safetensorsPathFor(p2)));

    // Polishing tried 0.5 first; the choice is one of the tried points.
    const choice = withTrig.report.choice as PolishedSelection;
    assert.equal(choice.tried[0].t, 0.5);
    assert.ok(choice.tried.some((x) => x.t === choice.t));
    assert.ok(withTrig.report.polishSeconds !== null);

    // onnxruntime runs the written file; its loss and accuracy on 300 test images equal the project's forward pass.
    const test300 = sliceBatch(await loadDataset(F('test_clean.safetensors')), 0, 300);
    const session = await ort.InferenceSession.create(p1);
    const out = await session.run({
      [session.inputNames[0]]: new ort.Tensor('float32', test300.x.data as Float32Array, [...test300.x.dims]),
    });
    const logits = out[session.outputNames[0]];
    const sums = classificationSums(logits.data as Float32Array, logits.dims as number[], test300.y!.data as BigInt64Array);
    const ours = await createPathEvaluator(withTrig.model, curveParamSpecs(withTrig.model));
    const r300 = await ours.evaluate(withTrig.params, [
      { name: 'test', role: 'clean', ds: makeDataset(test300.x, test300.y!.data as BigInt64Array) },
    ]);
    assert.equal(sums.correct / 300, r300.test.accuracy);
    assert.ok(Math.abs(sums.loss / 300 - r300.test.loss) < 1e-6);
    // The project's readers see the chosen point's weights in both files.
    const w = withTrig.params;
    for (const name of ['conv1.weight', 'fc2.bias']) {
      const st = await openCheckpoint(o1.safetensors);
      const on = await openCheckpoint(p1);
      try {
        assert.ok(st.reader.tensors.some((t) => t.name === name));
        assert.deepEqual([...(await st.reader.readFloat64(name))], [...(w.get(name) as Float32Array)].map(Number));
        assert.deepEqual([...(await on.reader.readFloat64(name))], [...(w.get(name) as Float32Array)].map(Number));
      } finally {
        await st.reader.close();
        await on.reader.close();
      }
    }
    // HT-SR analysis of the repaired model: one row per weight matrix it plans (conv2 slices and the two fc layers).
    const rep = await analyze(p1, { fits: ['pl'] });
    assert.ok(rep.layers.length >= 2, `${rep.layers.length} layers analysed`);
    assert.ok(rep.layers.some((l) => String(l.name).startsWith('fc1')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('repair with one model, no polishing (1 epoch × 128 samples each): endpoint B is A fine-tuned, which is also the baseline', async () => {
  const r = await repair(
    { modelA: F('model_a.onnx'), data: F('clean_subset.safetensors') },
    { ...tiny, epochs: 1, samplesPerEpoch: 128, baseline: true, schedule: 'constant', ts: [0, 0.5, 1], polishEpochs: 0 },
  );
  assert.deepEqual(r.report.repaired, r.report.atT);
  assert.equal(r.report.polishSeconds, null);
  assert.equal(r.report.secondEndpoint, 'fine-tuned');
  assert.deepEqual(r.report.baseline?.heldOut, r.report.endpoints[1].heldOut);
  assert.notDeepEqual(r.report.endpoints[0].heldOut, r.report.endpoints[1].heldOut);
  assert.equal(r.report.choice.t, 0.5);
});

test('selectT: nearest 0.5 within δ of the endpoints, ties to the better accuracy; fallback named; held-out split is seeded', () => {
  const rows = [0, 0.2, 0.4, 0.5, 0.6, 1].map((t, i) => ({ t, accuracy: [0.88, 0.87, 0.86, 0.8, 0.865, 0.86][i] }));
  const s = selectT(rows, 0.02);
  assert.equal(s.reference, 0.87);
  assert.deepEqual(s.candidates, [0.2, 0.4, 0.6]);
  assert.equal(s.t, 0.6, '0.4 and 0.6 are equally near 0.5; 0.6 has the better accuracy');
  const none = selectT(rows, 0);
  assert.equal(none.t, 0.2);
  assert.deepEqual(none.candidates, [0.2]);
  const low = selectT(
    rows.map((r) => (r.t > 0 && r.t < 1 ? { ...r, accuracy: 0.5 + r.t / 10 } : r)),
    0.01,
  );
  assert.deepEqual(low.candidates, []);
  assert.equal(low.t, 0.6);
  assert.match(low.reason, /no interior point/);
  assert.throws(() => selectT(rows.slice(1), 0.02), /t = 0 and t = 1/);
});

test('selectPolished: polishes nearest 0.5 first (ties: better curve accuracy), stops at the first within δ, else the best tried', async () => {
  const rows = [0, 0.2, 0.4, 0.5, 0.6, 1].map((t, i) => ({ t, accuracy: [0.88, 0.87, 0.75, 0.7, 0.76, 0.86][i] }));
  const seen: number[] = [];
  const after = new Map([
    [0.5, 0.84],
    [0.6, 0.855],
    [0.4, 0.86],
    [0.2, 0.87],
  ]);
  const s = await selectPolished(rows, 0.02, 3, async (t) => (seen.push(t), after.get(t) as number));
  assert.deepEqual(seen, [0.5, 0.6]);
  assert.equal(s.t, 0.6);
  assert.deepEqual(s.tried, [
    { t: 0.5, curveAccuracy: 0.7, accuracy: 0.84 },
    { t: 0.6, curveAccuracy: 0.76, accuracy: 0.855 },
  ]);
  const strict = await selectPolished(rows, 0, 2, async (t) => after.get(t) as number);
  assert.equal(strict.t, 0.6, 'best of the two tried');
  assert.match(strict.reason, /none of the 2 points/);
});

test('clean split: 20% held out by a seeded permutation, disjoint and complete', async () => {
  const ds = await loadDataset(F('clean_subset.safetensors'));
  const a = splitClean(ds, 0.2, 7);
  const b = splitClean(ds, 0.2, 7);
  assert.equal(a.train.n, 2400);
  assert.equal(a.heldOut.n, 600);
  assert.deepEqual(a.heldOut.y, b.heldOut.y);
  const labels = (d: typeof ds) => [...(d.y as BigInt64Array)].reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<bigint, number>());
  const all = labels(ds);
  const tr = labels(a.train);
  const ho = labels(a.heldOut);
  for (const [k, n] of all) assert.equal((tr.get(k) ?? 0) + (ho.get(k) ?? 0), n);
});

test("selectPolished 'best': polishes every try and takes the best polished accuracy, ties to the point nearer 0.5", async () => {
  const rows = [0, 0.2, 0.4, 0.5, 0.6, 1].map((t, i) => ({ t, accuracy: [0.88, 0.87, 0.75, 0.7, 0.76, 0.86][i] }));
  const seen: number[] = [];
  const after = new Map([
    [0.5, 0.86],
    [0.6, 0.855],
    [0.4, 0.865],
    [0.2, 0.9],
  ]);
  const s = await selectPolished(rows, 0.02, 3, async (t) => (seen.push(t), after.get(t) as number), 'best');
  assert.deepEqual(seen, [0.5, 0.6, 0.4], 'all three tried although 0.5 was already within δ');
  assert.equal(s.t, 0.4);
  assert.match(s.reason, /best held-out clean accuracy after polishing \(86\.50%\) of the 3 points nearest 0\.5/);
  const tie = await selectPolished(rows, 0.02, 3, async (t) => (t === 0.2 ? 0.9 : 0.85), 'best');
  assert.equal(tie.t, 0.5);
  const low = await selectPolished(rows, 0.0, 2, async () => 0.8, 'best');
  assert.match(low.reason, /none of the 2 points nearest 0\.5 reached/);
});

test("selectPolished 'one-se' (the default): among the tries within one standard error of the best held-out accuracy, the one nearest 0.5", async () => {
  const rows = [0, 0.4, 0.5, 0.6, 1].map((t, i) => ({ t, accuracy: [0.88, 0.75, 0.7, 0.76, 0.86][i] }));
  // n = 400: SE at 0.8675 is √(0.8675·0.1325/400) = 1.70 points; 0.8625 is within it, 0.845 is not.
  const after = new Map([
    [0.5, 0.8625],
    [0.6, 0.8675],
    [0.4, 0.845],
  ]);
  const s = await selectPolished(rows, 0.02, 3, async (t) => after.get(t) as number, 'one-se', 400);
  assert.equal(s.t, 0.5);
  assert.match(s.reason, /t = 0\.6 scored 86\.75%, within one standard error \(1\.70% on 400 held-out samples\)/);
  const far = new Map([
    [0.5, 0.82],
    [0.6, 0.8675],
    [0.4, 0.86],
  ]);
  assert.equal(
    (await selectPolished(rows, 0.02, 3, async (t) => far.get(t) as number, 'one-se', 400)).t,
    0.6,
    '0.5 is outside; 0.4 and 0.6 are equally near 0.5, the higher accuracy wins',
  );
  await assert.rejects(
    selectPolished(rows, 0.02, 3, async () => 0.8, 'one-se'),
    /needs the held-out size/,
  );
});
