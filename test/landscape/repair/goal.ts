/** Issue 15's repair goal, asserted on a report: clean ≥ the endpoints' mean − 2 points, attack success ≤ 10%. */
import assert from 'node:assert/strict';
import type { RepairInputs, RepairReport } from '../../../src/landscape/repair/repair.js';
import { fixture } from '../../helpers/fixtures.js';

/** A fixture pair's two models and clean subset (model_{a,b}.onnx, clean_subset.safetensors), plus the sets given by file name. */
export function pairInputs(name: string, sets: { triggered?: string; targets?: string; test?: string } = {}): RepairInputs {
  const F = (f: string) => fixture(name, f);
  return {
    modelA: F('model_a.onnx'),
    modelB: F('model_b.onnx'),
    data: F('clean_subset.safetensors'),
    ...(sets.triggered ? { triggered: F(sets.triggered) } : {}),
    ...(sets.targets ? { targets: F(sets.targets) } : {}),
    ...(sets.test ? { reportData: [{ name: 'test', path: F(sets.test) }] } : {}),
  };
}

export function checkGoal(name: string, rep: RepairReport, attack: 'triggered' | 'targets'): void {
  const testAcc = (m: RepairReport['repaired']) => m.report?.test.accuracy ?? NaN;
  const goal = (testAcc(rep.endpoints[0]) + testAcc(rep.endpoints[1])) / 2 - 0.02;
  const success = rep.repaired[attack]?.accuracy ?? NaN;
  console.log(
    `${name}: t = ${rep.choice.t}, test ${(100 * testAcc(rep.repaired)).toFixed(2)}% (goal ${(100 * goal).toFixed(2)}%), attack success ${(100 * success).toFixed(2)}% (endpoints ${(100 * (rep.endpoints[0][attack]?.accuracy ?? NaN)).toFixed(2)}%, ${(100 * (rep.endpoints[1][attack]?.accuracy ?? NaN)).toFixed(2)}%)`,
  );
  assert.ok(
    (rep.endpoints[0][attack]?.accuracy ?? 0) > 0.9 && (rep.endpoints[1][attack]?.accuracy ?? 0) > 0.9,
    'both endpoints are attacked',
  );
  assert.ok(
    testAcc(rep.repaired) >= goal,
    `${name}: clean test accuracy ${testAcc(rep.repaired)} below the endpoints' mean − 2 points (${goal})`,
  );
  assert.ok(success <= 0.1, `${name}: attack success ${success} above 10%`);
  // The trade-off over t is in the report: every evaluated t, with the polished points marked (a point chosen by
  // trigger verification on an unlearned path is exported unpolished).
  assert.deepEqual(
    rep.tradeoff.map((x) => x.t),
    rep.along.map((x) => x.t),
  );
  if ('checked' in rep.choice) assert.ok(rep.choice.checked.some((c) => c.t === rep.choice.t && c.pass));
  else assert.ok(rep.tradeoff.some((x) => x.polished !== null && x.t === rep.choice.t));
}
