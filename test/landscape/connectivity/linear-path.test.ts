/**
 * Exactness against PyTorch: the untrained straight line between fmnist-backdoor's model_a and model_b (a curve with
 * its 2 endpoints only) evaluated at t = 0, 0.1, …, 1 on test_clean (2000) and test_triggered (2000) gives the
 * reference's clean accuracy and ASR exactly (counts out of 2000).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadDataset } from '../../../src/runtime/dataset.js';
import { loadEndpoints } from '../../../src/landscape/connectivity/connect.js';
import {
  createPathEvaluator,
  evaluateCurve,
  loadTriggeredSet,
  summarize,
  type EvalSet,
} from '../../../src/landscape/connectivity/evaluate.js';
import { gridTs, linearCurve, pointAt } from '../../../src/landscape/connectivity/points.js';
import { fixture } from '../../helpers/fixtures.js';

interface Row {
  t: number;
  clean_acc: number;
  asr: number;
}
const ref = JSON.parse(readFileSync(fixture('fmnist-backdoor', 'reference.json'), 'utf8')) as { linear_path: { along_t: Row[] } };

test('linear path model_a→model_b, no training: clean accuracy and ASR at t = 0..1 step 0.1 equal reference.json exactly', async () => {
  const ep = await loadEndpoints(fixture('fmnist-backdoor', 'model_a.onnx'), fixture('fmnist-backdoor', 'model_b.onnx'));
  assert.deepEqual(
    ep.specs.map((s) => s.name),
    ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'],
  );
  const curve = linearCurve('bezier', 2, ep.specs, ep.a, ep.b);
  const sets: EvalSet[] = [
    { name: 'clean', role: 'clean', ds: await loadDataset(fixture('fmnist-backdoor', 'test_clean.safetensors')) },
    { name: 'triggered', role: 'triggered', ds: await loadTriggeredSet(fixture('fmnist-backdoor', 'test_triggered.safetensors')) },
  ];
  assert.equal(sets[1].ds.n, 2000, 'every triggered image is a non-target one');
  const evaluator = await createPathEvaluator(ep.model, ep.specs);
  const ts = gridTs(11);
  assert.deepEqual(
    ts,
    ref.linear_path.along_t.map((r) => r.t),
  );
  const rows = await evaluateCurve(evaluator, curve, ts, sets);
  const got = rows.map((r) => ({ t: r.t, clean_acc: r.sets.clean.accuracy, asr: r.sets.triggered.accuracy }));
  assert.deepEqual(got, ref.linear_path.along_t);
  // The straight line is also what an untrained quadratic Bezier with a linearly initialised bend traces.
  const bez = linearCurve('bezier', 3, ep.specs, ep.a, ep.b);
  const mid = pointAt(bez, 0.5).get('fc1.weight') as Float32Array;
  const lin = pointAt(curve, 0.5).get('fc1.weight') as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < mid.length; i++) maxDiff = Math.max(maxDiff, Math.abs(mid[i] - lin[i]));
  assert.ok(maxDiff < 1e-6, `bezier bend on the line: max |Δw| = ${maxDiff}`);
  // mc on clean test error: endpoints 12.75% / 13.2%, the worst point t = 0.5 at 63.95% error → a barrier of −51.0.
  const s = summarize(rows, sets, curve);
  assert.ok(Math.abs(s.mc.clean - ((12.75 + 13.2) / 2 - 63.95)) < 1e-9, `mc ${s.mc.clean}`);
  assert.equal(s.mc.triggered, undefined, 'mc is defined on clean sets only');
});
