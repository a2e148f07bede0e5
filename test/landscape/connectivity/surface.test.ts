/**
 * Bezier surfaces on surface-mlp (four MLPs from four seeds) against its reference.json: the untrained surface is
 * the bilinear one (its centre = the plain average of the four), training lowers the centre's loss, keeps every grid
 * point within 3 points of the worst corner, and the surface's output ensemble beats the best corner. CI budget:
 * 10 epochs × 10,000 samples (790 steps of batch 128).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { connectSurface, type SurfaceInputs } from '../../../src/landscape/connectivity/connect-surface.js';
import { writeModelPoint } from '../../../src/landscape/connectivity/export.js';
import { loadDataset } from '../../../src/runtime/dataset.js';
import { classificationSums } from '../../../src/runtime/metrics.js';
import { fixture } from '../../helpers/fixtures.js';

const F = (f: string) => fixture('surface-mlp', f);
const ref = JSON.parse(readFileSync(F('reference.json'), 'utf8')) as {
  models: Record<string, { test_acc: number }>;
  bilinear_center: { test_acc: number; test_loss: number };
  corner_test_loss: number[];
  corner_ensemble_acc: number;
};
const four: SurfaceInputs = {
  models: [1, 2, 3, 4].map((i) => F(`m${i}.onnx`)),
  data: F('clean_subset.safetensors'),
  test: F('test.safetensors'),
};
const cornerAcc = [1, 2, 3, 4].map((i) => ref.models[`m${i}`].test_acc);

test('untrained surface (4 corners): centre = the plain average (reference), corners = the models, corner ensemble = reference', async () => {
  const { result: r } = await connectSurface(four, { epochs: 0, grid: 5, ensemble: 2 });
  assert.equal(r.training.steps, 0);
  assert.equal(r.gridSet, 'test');
  assert.deepEqual(
    r.corners.map((c) => c.accuracy),
    cornerAcc,
  );
  r.corners.forEach((c, i) =>
    assert.ok(Math.abs(c.loss - ref.corner_test_loss[i]) < 1e-5, `corner ${i}: ${c.loss} vs ${ref.corner_test_loss[i]}`),
  );
  assert.equal(r.center.accuracy, ref.bilinear_center.test_acc);
  assert.ok(Math.abs(r.center.loss - ref.bilinear_center.test_loss) < 1e-5, `${r.center.loss}`);
  assert.ok(Math.abs(r.ensemble.corners.accuracy - ref.corner_ensemble_acc) < 1e-6, `${r.ensemble.corners.accuracy}`); // reference stored in float32
  assert.deepEqual(r.patch, { kind: 'tensor', degree: [2, 2], controlPoints: 9, free: 5 });
  assert.equal(r.grid.length, 25);
  assert.ok(r.barrier.loss > 0.5, 'the bilinear surface rises far above its corners');
});

test('trained surface (4 corners, 10 epochs × 10,000): centre loss below the bilinear centre, worst grid accuracy within 3 points of the worst corner, ensemble ≥ best corner; --out exports the best interior point', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-surface-'));
  try {
    const run = await connectSurface(four, { epochs: 10, seed: 1 });
    const r = run.result;
    assert.equal(r.training.steps, 790);
    assert.equal(r.grid.length, 121);
    assert.equal(r.data.train + r.data.heldOut, 3000);
    assert.ok(r.center.loss < ref.bilinear_center.test_loss, `centre loss ${r.center.loss}`);
    assert.ok(r.center.loss < 0.9, `centre loss ${r.center.loss} (bilinear: ${ref.bilinear_center.test_loss})`);
    const worstCorner = Math.min(...cornerAcc);
    const worstGrid = Math.min(...r.grid.map((g) => g.accuracy));
    assert.ok(worstGrid >= worstCorner - 0.03, `worst grid accuracy ${worstGrid} vs worst corner ${worstCorner}`);
    assert.ok(
      r.ensemble.surface.accuracy >= Math.max(...cornerAcc),
      `surface ensemble ${r.ensemble.surface.accuracy} vs best corner ${Math.max(...cornerAcc)}`,
    );
    assert.equal(r.ensemble.points.length, 10);
    // Corners stay the models.
    assert.deepEqual(
      r.corners.map((c) => c.accuracy),
      cornerAcc,
    );
    // The best point is interior and chosen on held-out data; the barrier is measured against the corners' mean.
    assert.ok(!r.corners.some((c) => c.u === r.best.u && c.v === r.best.v));
    assert.equal(r.best.heldOut?.accuracy, Math.max(...r.grid.filter((g) => !r.corners.includes(g)).map((g) => g.heldOut?.accuracy ?? 0)));
    assert.ok(Math.abs(r.barrier.loss - (Math.max(...r.grid.map((g) => g.loss)) - r.corners.reduce((a, c) => a + c.loss, 0) / 4)) < 1e-12);

    // The exported average runs in onnxruntime with the grid point's test accuracy.
    const out = await writeModelPoint(run.best.model, run.best.params, join(dir, 'avg.onnx'), { u: String(r.best.u), v: String(r.best.v) });
    const test = await loadDataset(F('test.safetensors'));
    const session = await ort.InferenceSession.create(out.onnx);
    const o = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', test.x.data as Float32Array, [...test.x.dims]) });
    const logits = o[session.outputNames[0]];
    assert.equal(
      classificationSums(logits.data as Float32Array, logits.dims as number[], test.y as BigInt64Array).correct / test.n,
      r.best.accuracy,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('triangular surface (3 corners, 5 epochs): the centroid loses most of its barrier; the linear-triangle start is exact', async () => {
  const three: SurfaceInputs = { ...four, models: four.models.slice(0, 3) };
  const [{ result: flat }, { result: trained }] = [
    await connectSurface(three, { epochs: 0, grid: 6, ensemble: 3 }),
    await connectSurface(three, { epochs: 5, grid: 6, ensemble: 3 }),
  ];
  assert.deepEqual(trained.patch, { kind: 'triangle', degree: [2], controlPoints: 6, free: 3 });
  assert.equal(trained.grid.length, 21);
  assert.deepEqual([trained.center.u, trained.center.v], [1 / 3, 1 / 3]);
  assert.deepEqual(
    trained.corners.map((c) => c.accuracy),
    cornerAcc.slice(0, 3),
  );
  assert.ok(flat.center.loss > 1, `untrained centroid loss ${flat.center.loss}`);
  assert.ok(trained.center.loss < flat.center.loss - 0.4, `trained centroid loss ${trained.center.loss} vs untrained ${flat.center.loss}`);
  assert.ok(trained.barrier.loss < flat.barrier.loss);
});

test('surface: bad inputs give clear errors', async () => {
  await assert.rejects(connectSurface({ ...four, models: four.models.slice(0, 2) }), /3 or 4 models, got 2/);
  await assert.rejects(
    connectSurface({ ...four, models: four.models.slice(0, 3) }, { degree: [2, 2] }),
    /triangular patch \(3 models\) has one degree/,
  );
  await assert.rejects(connectSurface(four, { degree: 9 }), /invalid surface options: degree/);
  await assert.rejects(connectSurface(four, { grid: 2 }), /invalid surface options: grid/);
  await assert.rejects(
    connectSurface({ ...four, models: [...four.models.slice(0, 3), fixture('fmnist-backdoor', 'model_a.onnx')] }),
    /not the same graph/,
  );
});
